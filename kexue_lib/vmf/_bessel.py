"""Bessel functions in log space, for the vMF normaliser (chapter ``book/vae/vmf-vae``).

``I_ν(κ)`` overflows for large κ and underflows for large ν and small κ (at d = 1024, κ
= 1 it is about 1e-1320), so nothing here evaluates it directly. We use the
exponentially scaled ``scipy.special.ive`` where it is a normal double, and otherwise
the power series

    I_ν(κ) = (κ/2)^ν / Γ(ν+1) · ₀F₁(; ν+1; κ²/4),   ₀F₁(; b; x) = Σ_k x^k / (k! (b)_k),

summed in log space. When κ²/4 ≤ 4(ν+1) the series is used in every formula (its terms
fall at least like 4^k/k!, so 80 terms are exact to double precision), which also makes
the KL exact for tiny κ where the textbook formula cancels catastrophically.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import gammaln, ive

_SERIES_TERMS = 80  # enough when x = κ²/4 <= 4(ν+1): the k-th term is <= 4^k / k!
#: below this an ive() value is treated as underflowed (denormals lose precision)
_TINY = 1e-290


def _log_0f1(b: float, x: np.ndarray) -> np.ndarray:
    """log ₀F₁(; b; x) for x >= 0 (elementwise, 1-D array), by the power series summed
    in log space.
    """
    out = np.empty_like(x)
    small = x <= 4.0 * b
    if np.any(small):
        xs = x[small][:, None]
        k = np.arange(1, _SERIES_TERMS + 1, dtype=np.float64)
        # term_k / term_{k-1} = x / (k (b + k - 1)); the sum of terms k >= 1 goes
        # through log1p (exact as x -> 0)
        terms = np.cumprod(xs / (k * (b + k - 1.0)), axis=-1)
        out[small] = np.log1p(terms.sum(-1))
    for i in np.nonzero(~small)[0]:
        xi = float(x[i])
        # terms peak near k* with k*(b + k* - 1) = x; sum far past the peak (the terms'
        # spread is ~sqrt(k*))
        k_peak = 0.5 * (-(b - 1.0) + math.sqrt((b - 1.0) ** 2 + 4.0 * xi))
        n = int(k_peak + 40.0 * math.sqrt(k_peak + 1.0) + 100)
        k = np.arange(1, n + 1, dtype=np.float64)
        logt = np.concatenate(
            [[0.0], np.cumsum(math.log(xi) - np.log(k) - np.log(b + k - 1.0))]
        )
        m = logt.max()
        out[i] = m + math.log(np.exp(logt - m).sum())
    return out


def _log_bessel_i(nu: float, kappa: np.ndarray) -> np.ndarray:
    """log I_ν(κ) for ν >= 0 and a 1-D array κ > 0; finite for every double κ > 0 and
    any ν.
    """
    x = 0.25 * kappa * kappa
    out = np.empty_like(kappa)
    with np.errstate(divide="ignore", over="ignore", under="ignore", invalid="ignore"):
        scaled = ive(nu, kappa)
    use_ive = (x > 4.0 * (nu + 1.0)) & np.isfinite(scaled) & (scaled > _TINY)
    out[use_ive] = np.log(scaled[use_ive]) + kappa[use_ive]
    rest = ~use_ive
    if np.any(rest):
        out[rest] = (
            nu * np.log(0.5 * kappa[rest])
            - gammaln(nu + 1.0)
            + _log_0f1(nu + 1.0, x[rest])
        )
    return out
