"""Normaliser, mean resultant length and KL to the uniform law of vMF(μ, κ).

Chapter ``book/vae/vmf-vae``, claims C1, C2 and C4. The numerics are in
:mod:`kexue_lib.vmf._bessel`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from scipy.special import gammaln, ive

from .. import _validate as V
from ._bessel import _TINY, _log_0f1, _log_bessel_i

__all__ = ["vmf_log_norm", "vmf_mean_resultant", "vmf_kl_uniform", "log_sphere_area"]


def _check_d(d: Any) -> int:
    return V.integer("d", d, minimum=2)


def _kappa_array(kappa: Any) -> tuple[np.ndarray, Any]:
    """κ as a float64 array plus a function that converts a result back to the caller's
    type.
    """
    expected = "a real number, a NumPy array or a torch tensor"
    if isinstance(kappa, torch.Tensor):
        if kappa.dtype == torch.bool or kappa.is_complex():
            raise TypeError(f"kappa must be {expected}, got {V.describe(kappa)}")
        ref = kappa
        arr = kappa.detach().cpu().to(torch.float64).numpy()

        def back(v: np.ndarray):
            dtype = ref.dtype if ref.is_floating_point() else torch.get_default_dtype()
            return torch.as_tensor(v, dtype=dtype, device=ref.device)

    elif isinstance(kappa, np.ndarray):
        if not np.issubdtype(kappa.dtype, np.number) or np.iscomplexobj(kappa):
            raise TypeError(f"kappa must be {expected}, got {V.describe(kappa)}")
        arr = kappa.astype(np.float64)

        def back(v: np.ndarray):
            return v

    elif isinstance(kappa, int | float | np.integer | np.floating) and not isinstance(
        kappa, bool
    ):
        arr = np.asarray(float(kappa))

        def back(v: np.ndarray):
            return float(v)

    else:
        raise TypeError(f"kappa must be {expected}, got {V.describe(kappa)}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(
            f"kappa must be finite, got {arr[~np.isfinite(arr)].ravel()[:3].tolist()}"
        )
    if not np.all(arr > 0):
        raise ValueError(
            f"kappa must be > 0, got {arr[~(arr > 0)].ravel()[:3].tolist()}"
        )
    return arr, back


def log_sphere_area(d: int) -> float:
    """log of the surface area of the unit sphere S^{d-1} in R^d: log(2 π^{d/2} /
    Γ(d/2)).
    """
    d = _check_d(d)
    return math.log(2.0) + 0.5 * d * math.log(math.pi) - math.lgamma(0.5 * d)


def _log_norm_np(d: int, k: np.ndarray) -> np.ndarray:
    nu = 0.5 * d - 1.0
    return nu * np.log(k) - 0.5 * d * math.log(2.0 * math.pi) - _log_bessel_i(nu, k)


def _mean_resultant_np(d: int, k: np.ndarray) -> np.ndarray:
    nu = 0.5 * d - 1.0
    x = 0.25 * k * k
    out = np.empty_like(k)
    small = x <= 4.0 * (nu + 1.0)
    if np.any(small):
        ks, xs = k[small], x[small]
        # A_d = I_{ν+1}/I_ν = κ/(2(ν+1)) · ₀F₁(;ν+2;x) / ₀F₁(;ν+1;x)
        out[small] = (
            ks
            / (2.0 * (nu + 1.0))
            * np.exp(_log_0f1(nu + 2.0, xs) - _log_0f1(nu + 1.0, xs))
        )
    if np.any(~small):
        kb = k[~small]
        with np.errstate(
            divide="ignore", over="ignore", under="ignore", invalid="ignore"
        ):
            num, den = ive(nu + 1.0, kb), ive(nu, kb)
            ratio = num / den
        ok = np.isfinite(ratio) & (num > _TINY) & (den > _TINY)
        if not np.all(ok):
            ratio[~ok] = np.exp(
                _log_bessel_i(nu + 1.0, kb[~ok]) - _log_bessel_i(nu, kb[~ok])
            )
        out[~small] = ratio
    return out


def _kl_np(d: int, k: np.ndarray) -> np.ndarray:
    nu = 0.5 * d - 1.0
    x = 0.25 * k * k
    # log C_d(κ) + log|S^{d-1}| = -log ₀F₁(; ν+1; κ²/4) (the Γ and π factors cancel
    # exactly)
    log_f = np.empty_like(k)
    small = x <= 4.0 * (nu + 1.0)
    log_f[small] = _log_0f1(nu + 1.0, x[small])
    big = ~small
    if np.any(big):
        log_f[big] = (
            _log_bessel_i(nu, k[big]) + gammaln(nu + 1.0) - nu * np.log(0.5 * k[big])
        )
    kl = k * _mean_resultant_np(d, k) - log_f
    # KL >= 0; the clip removes only rounding noise (order 1e-16·κ) at large κ
    return np.maximum(kl, 0.0)


def vmf_log_norm(d: int, kappa):
    """log C_d(κ), the log normaliser of vMF(μ, κ) on S^{d-1} ⊂ R^d (chapter
    ``vae/vmf-vae``, claim C1).

    C_d(κ) = κ^{d/2-1} / ((2π)^{d/2} I_{d/2-1}(κ)), so that ∫_{S^{d-1}} C_d(κ) e^{κ μ·x}
    dS(x) = 1. As κ → 0 it tends to -log|S^{d-1}| (the uniform density). Finite for all
    d >= 2 and all finite κ > 0.

    ``kappa``: float, ndarray or tensor of any shape; the result has the same type and
    shape. Raises ``ValueError`` for ``d < 2`` or non-integer ``d``, ``kappa <= 0`` or
    non-finite ``kappa``.
    """
    d = _check_d(d)
    k, back = _kappa_array(kappa)
    return back(_log_norm_np(d, k.ravel()).reshape(k.shape))


def vmf_mean_resultant(d: int, kappa):
    """A_d(κ) = I_{d/2}(κ) / I_{d/2-1}(κ), so that E[x] = A_d(κ) μ for x ~ vMF(μ, κ)
    (claim C2).

    A_d increases from 0 (A_d ≈ κ/d for small κ) to 1 (A_d ≈ 1 - (d-1)/(2κ) for large
    κ). Same argument types, shapes and errors as :func:`vmf_log_norm`.
    """
    d = _check_d(d)
    k, back = _kappa_array(kappa)
    return back(_mean_resultant_np(d, k.ravel()).reshape(k.shape))


def vmf_kl_uniform(d: int, kappa):
    """KL(vMF(μ, κ) ‖ uniform on S^{d-1}) in nats (claim C4); it does not depend on μ.

    KL = κ A_d(κ) + log C_d(κ) + log|S^{d-1}| = κ A_d(κ) - log ₀F₁(; d/2; κ²/4). The
    second form is what is evaluated: it has no cancellation for small κ, where KL ≈
    κ²/(2d). For d = 3 it equals κ coth κ - 1 + log(κ / sinh κ). Same argument types,
    shapes and errors as :func:`vmf_log_norm`.
    """
    d = _check_d(d)
    k, back = _kappa_array(kappa)
    return back(_kl_np(d, k.ravel()).reshape(k.shape))
