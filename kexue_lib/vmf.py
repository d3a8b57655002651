"""The von Mises–Fisher distribution on the unit sphere, and the pieces of a vMF-VAE.

vMF(μ, κ) on the sphere :math:`S^{d-1} \\subset \\mathbb{R}^d` has density, with respect to the surface measure,

    p(x) = C_d(κ) exp(κ μ·x),    C_d(κ) = κ^{d/2-1} / ((2π)^{d/2} I_{d/2-1}(κ)),

where I_ν is the modified Bessel function of the first kind. Chapter: ``book/vae/vmf-vae``.

Numerics. ``I_ν(κ)`` overflows for large κ and underflows for large ν and small κ (at d = 1024, κ = 1 it is
about 1e-1320), so nothing here evaluates it directly. We use the exponentially scaled ``scipy.special.ive``
where it is a normal double, and otherwise the power series

    I_ν(κ) = (κ/2)^ν / Γ(ν+1) · ₀F₁(; ν+1; κ²/4),   ₀F₁(; b; x) = Σ_k x^k / (k! (b)_k),

summed in log space. When κ²/4 ≤ 4(ν+1) the series is used in every formula (its terms fall at least like
4^k/k!, so 80 terms are exact to double precision), which also makes the KL exact for tiny κ where the
textbook formula cancels catastrophically.

The scalar functions accept Python numbers, NumPy arrays or torch tensors for ``kappa`` and return the same
kind (a tensor keeps its dtype and device; the computation itself runs in float64 NumPy and is not
differentiable in κ — in a vMF-VAE κ is a fixed hyperparameter).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from scipy.special import gammaln, ive

__all__ = [
    "vmf_log_norm",
    "vmf_mean_resultant",
    "vmf_kl_uniform",
    "log_sphere_area",
    "sample_vmf",
    "VMFSampler",
]

_SERIES_TERMS = 80  # enough when x = κ²/4 <= 4(ν+1): the k-th term is <= 4^k / k!
_TINY = 1e-290  # below this an ive() value is treated as underflowed (denormals lose precision)


# ---------------------------------------------------------------------------------------------------------
# argument checks and type round-tripping


def _check_d(d: Any) -> int:
    if isinstance(d, bool) or not isinstance(d, (int, np.integer)):
        if isinstance(d, float) and float(d).is_integer():
            d = int(d)
        else:
            raise ValueError(f"d must be an integer >= 2, got {d!r}")
    if d < 2:
        raise ValueError(f"d must be an integer >= 2, got {d}")
    return int(d)


def _kappa_array(kappa: Any) -> tuple[np.ndarray, Any]:
    """κ as a float64 array plus a function that converts a result back to the caller's type."""
    if isinstance(kappa, torch.Tensor):
        ref = kappa
        arr = kappa.detach().cpu().to(torch.float64).numpy()

        def back(v: np.ndarray):
            dtype = ref.dtype if ref.is_floating_point() else torch.get_default_dtype()
            return torch.as_tensor(v, dtype=dtype, device=ref.device)

    elif isinstance(kappa, np.ndarray):
        arr = kappa.astype(np.float64)

        def back(v: np.ndarray):
            return v

    elif isinstance(kappa, (int, float, np.integer, np.floating)) and not isinstance(
        kappa, bool
    ):
        arr = np.asarray(float(kappa))

        def back(v: np.ndarray):
            return float(v)

    else:
        raise ValueError(
            f"kappa must be a number, a NumPy array or a torch tensor, got {type(kappa).__name__}"
        )
    if not np.all(np.isfinite(arr)):
        raise ValueError(
            f"kappa must be finite, got {arr[~np.isfinite(arr)].ravel()[:3].tolist()}"
        )
    if not np.all(arr > 0):
        raise ValueError(
            f"kappa must be > 0, got {arr[~(arr > 0)].ravel()[:3].tolist()}"
        )
    return arr, back


# ---------------------------------------------------------------------------------------------------------
# Bessel functions in log space


def _log_0f1(b: float, x: np.ndarray) -> np.ndarray:
    """log ₀F₁(; b; x) for x >= 0 (elementwise, 1-D array), by the power series summed in log space."""
    out = np.empty_like(x)
    small = x <= 4.0 * b
    if np.any(small):
        xs = x[small][:, None]
        k = np.arange(1, _SERIES_TERMS + 1, dtype=np.float64)
        # term_k / term_{k-1} = x / (k (b + k - 1)); the sum of terms k >= 1 goes through log1p (exact as x -> 0)
        terms = np.cumprod(xs / (k * (b + k - 1.0)), axis=-1)
        out[small] = np.log1p(terms.sum(-1))
    for i in np.nonzero(~small)[0]:
        xi = float(x[i])
        # terms peak near k* with k*(b + k* - 1) = x; sum far past the peak (the terms' spread is ~sqrt(k*))
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
    """log I_ν(κ) for ν >= 0 and a 1-D array κ > 0; finite for every double κ > 0 and any ν."""
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


def log_sphere_area(d: int) -> float:
    """log of the surface area of the unit sphere S^{d-1} in R^d: log(2 π^{d/2} / Γ(d/2))."""
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
    # log C_d(κ) + log|S^{d-1}| = -log ₀F₁(; ν+1; κ²/4)  (the Γ and π factors cancel exactly)
    log_f = np.empty_like(k)
    small = x <= 4.0 * (nu + 1.0)
    log_f[small] = _log_0f1(nu + 1.0, x[small])
    big = ~small
    if np.any(big):
        log_f[big] = (
            _log_bessel_i(nu, k[big]) + gammaln(nu + 1.0) - nu * np.log(0.5 * k[big])
        )
    kl = k * _mean_resultant_np(d, k) - log_f
    return np.maximum(
        kl, 0.0
    )  # KL >= 0; clips only rounding noise (order 1e-16·κ) at large κ


def vmf_log_norm(d: int, kappa):
    """log C_d(κ), the log normaliser of vMF(μ, κ) on S^{d-1} ⊂ R^d (chapter ``vae/vmf-vae``, claim C1).

    C_d(κ) = κ^{d/2-1} / ((2π)^{d/2} I_{d/2-1}(κ)), so that ∫_{S^{d-1}} C_d(κ) e^{κ μ·x} dS(x) = 1.
    As κ → 0 it tends to -log|S^{d-1}| (the uniform density). Finite for all d >= 2 and all finite κ > 0.

    ``kappa``: float, ndarray or tensor of any shape; the result has the same type and shape.
    Raises ``ValueError`` for ``d < 2`` or non-integer ``d``, ``kappa <= 0`` or non-finite ``kappa``.
    """
    d = _check_d(d)
    k, back = _kappa_array(kappa)
    return back(_log_norm_np(d, k.ravel()).reshape(k.shape))


def vmf_mean_resultant(d: int, kappa):
    """A_d(κ) = I_{d/2}(κ) / I_{d/2-1}(κ), so that E[x] = A_d(κ) μ for x ~ vMF(μ, κ) (claim C2).

    A_d increases from 0 (A_d ≈ κ/d for small κ) to 1 (A_d ≈ 1 - (d-1)/(2κ) for large κ).
    Same argument types, shapes and errors as :func:`vmf_log_norm`.
    """
    d = _check_d(d)
    k, back = _kappa_array(kappa)
    return back(_mean_resultant_np(d, k.ravel()).reshape(k.shape))


def vmf_kl_uniform(d: int, kappa):
    """KL(vMF(μ, κ) ‖ uniform on S^{d-1}) in nats (claim C4); it does not depend on μ.

    KL = κ A_d(κ) + log C_d(κ) + log|S^{d-1}| = κ A_d(κ) - log ₀F₁(; d/2; κ²/4).
    The second form is what is evaluated: it has no cancellation for small κ, where KL ≈ κ²/(2d).
    For d = 3 it equals κ coth κ - 1 + log(κ / sinh κ).
    Same argument types, shapes and errors as :func:`vmf_log_norm`.
    """
    d = _check_d(d)
    k, back = _kappa_array(kappa)
    return back(_kl_np(d, k.ravel()).reshape(k.shape))


# ---------------------------------------------------------------------------------------------------------
# sampling


def _check_mu(mu: Any, d: int | None = None) -> torch.Tensor:
    if not isinstance(mu, torch.Tensor):
        raise ValueError(
            f"mu must be a torch tensor of shape (..., d), got {type(mu).__name__}"
        )
    if mu.dim() < 1 or mu.shape[-1] < 2:
        raise ValueError(
            f"mu must have shape (..., d) with d >= 2, got {tuple(mu.shape)}"
        )
    if d is not None and mu.shape[-1] != d:
        raise ValueError(f"mu must have shape (..., {d}), got {tuple(mu.shape)}")
    if not mu.is_floating_point():
        raise ValueError(f"mu must be a floating-point tensor, got dtype {mu.dtype}")
    if not bool(torch.isfinite(mu).all()):
        raise ValueError("mu must be finite, got NaN or inf entries")
    norm = mu.detach().norm(dim=-1)
    tol = 1e-3 if mu.dtype in (torch.float16, torch.bfloat16, torch.float32) else 1e-6
    if norm.numel() and float((norm - 1).abs().max()) > tol:
        raise ValueError(
            f"mu must have unit norm along the last dim (tolerance {tol:g}), got norms in "
            f"[{float(norm.min()):.6g}, {float(norm.max()):.6g}]"
        )
    return mu


def _tangent_direction(
    mu: torch.Tensor, generator: torch.Generator | None
) -> torch.Tensor:
    """A uniform unit vector orthogonal to each row of mu (Gaussian, project out μ, normalise)."""
    g = torch.randn(
        mu.shape, generator=generator, dtype=torch.float64, device=mu.device
    ).to(mu.dtype)
    v = g - (g * mu).sum(-1, keepdim=True) * mu
    return v / v.norm(dim=-1, keepdim=True).clamp_min(torch.finfo(mu.dtype).tiny)


def _assemble(
    mu: torch.Tensor, w: torch.Tensor, sin_theta: torch.Tensor, generator
) -> torch.Tensor:
    mu_u = mu / mu.norm(
        dim=-1, keepdim=True
    )  # exact unit norm; the gradient still flows into mu
    # v depends on μ through the projection; keeping that dependence in the graph makes x = T(μ, noise) an
    # exact reparameterisation, so autograd gives the pathwise gradient of E f(x)
    v = _tangent_direction(mu_u, generator)
    return (
        w.to(mu.dtype).unsqueeze(-1) * mu_u + sin_theta.to(mu.dtype).unsqueeze(-1) * v
    )


def _wood_w(
    d: int,
    kappa: torch.Tensor,
    generator: torch.Generator | None,
    max_rounds: int = 1000,
):
    """Wood's (1994) rejection sampler for w = μ·x. Returns (w, 1 - w), both float64, shape of kappa."""
    m = d - 1.0
    b = m / (
        2.0 * kappa + torch.sqrt(4.0 * kappa**2 + m * m)
    )  # = (-2κ + sqrt(4κ² + m²)) / m, stably
    x0 = (1.0 - b) / (1.0 + b)
    c = kappa * x0 + m * torch.log1p(-x0 * x0)
    w = torch.empty_like(kappa)
    omw = torch.empty_like(kappa)
    todo = torch.ones_like(kappa, dtype=torch.bool)
    for _ in range(max_rounds):
        n = int(todo.sum())
        if n == 0:
            return w, omw
        bt, x0t, ct, kt = b[todo], x0[todo], c[todo], kappa[todo]
        # z ~ Beta(m/2, m/2): (1 + t)/2 with t the first coordinate of a uniform point on S^{d-1}
        gauss = torch.randn(
            n, d, generator=generator, dtype=torch.float64, device=kappa.device
        )
        t = gauss[:, 0] / gauss.norm(dim=1)
        z = 0.5 * (1.0 + t)
        den = 1.0 - (1.0 - bt) * z
        wt = (1.0 - (1.0 + bt) * z) / den
        omwt = 2.0 * bt * z / den  # 1 - w without cancellation
        u = torch.rand(n, generator=generator, dtype=torch.float64, device=kappa.device)
        accept = kt * wt + m * torch.log(1.0 - x0t * wt) - ct >= torch.log(u)
        idx = todo.nonzero(as_tuple=True)
        sel = tuple(i[accept] for i in idx)
        w[sel] = wt[accept]
        omw[sel] = omwt[accept]
        todo[sel] = False
    raise RuntimeError(
        f"Wood's sampler did not finish in {max_rounds} rounds"
    )  # pragma: no cover


def sample_vmf(
    mu: torch.Tensor, kappa, generator: torch.Generator | None = None
) -> torch.Tensor:
    """One sample x ~ vMF(μ, κ) per row of ``mu`` (chapter ``vae/vmf-vae``, claim C3).

    ``mu``: tensor of shape (..., d), d >= 2, unit norm along the last dim (within 1e-3 for float32,
    1e-6 for float64; it is renormalised exactly). ``kappa``: positive number or tensor broadcastable to
    ``mu.shape[:-1]``. Returns a tensor shaped like ``mu`` on the unit sphere.

    Method: x = w μ + sqrt(1 - w²) v, where v is uniform on the unit sphere of the tangent space at μ
    (a Gaussian with its μ-component removed, normalised) and w = μ·x has density
    ∝ e^{κw} (1 - w²)^{(d-3)/2} on [-1, 1], drawn exactly by Wood's rejection sampler (Wood 1994): a Beta
    proposal transformed by a Möbius map, then an accept/reject step (rejected rows are redrawn). The Beta
    variate is built from Gaussians, so ``generator`` makes the draw reproducible. Gradients flow to ``mu``
    (w does not depend on μ); none flow to κ.
    """
    mu = _check_mu(mu)
    d = mu.shape[-1]
    if isinstance(kappa, torch.Tensor):
        k = kappa.detach().to(device=mu.device, dtype=torch.float64)
    else:
        k_arr, _ = _kappa_array(kappa)
        k = torch.as_tensor(k_arr, dtype=torch.float64, device=mu.device)
    if not bool(torch.isfinite(k).all()):
        raise ValueError("kappa must be finite, got NaN or inf entries")
    if not bool((k > 0).all()):
        raise ValueError(f"kappa must be > 0, got min {float(k.min())}")
    try:
        k = torch.broadcast_to(k, mu.shape[:-1]).contiguous()
    except RuntimeError:
        raise ValueError(
            f"kappa must broadcast to mu.shape[:-1] = {tuple(mu.shape[:-1])}, got shape {tuple(k.shape)}"
        ) from None
    w, omw = _wood_w(d, k.reshape(-1), generator)
    sin_theta = torch.sqrt(omw * (1.0 + w))
    return _assemble(mu, w.reshape(k.shape), sin_theta.reshape(k.shape), generator)


class VMFSampler:
    """Reparameterised vMF sampler for a fixed (d, κ), as used in a vMF-VAE (chapter ``vae/vmf-vae``, C3).

    With κ fixed the law of w = μ·x does not depend on μ, so it is tabulated once: the angle θ = arccos w has
    density ∝ exp(κ (cos θ - 1)) sin^{d-2} θ on [0, π] (smooth, no endpoint singularity even for d = 2).
    The constructor puts ``grid`` points uniformly on the interval of θ where the log-density is within 60 of
    its maximum (the rest holds < 1e-20 of the mass), integrates with the trapezoid rule, and stores the CDF.
    :meth:`sample` draws u ~ U(0, 1), inverts the CDF by linear interpolation, and returns
    x = cos θ μ + sin θ v with v uniform orthogonal to μ: a differentiable function of μ (gradients flow to
    the encoder), the reparameterisation trick on the sphere.

    Attributes: ``d``, ``kappa``, ``theta`` and ``cdf`` (float64 tensors of length ``grid``),
    ``kl`` = KL(vMF ‖ uniform) (a constant), ``mean_resultant`` = A_d(κ).
    """

    def __init__(self, d: int, kappa: float, grid: int = 8192):
        self.d = _check_d(d)
        if isinstance(kappa, torch.Tensor):
            if kappa.numel() != 1:
                raise ValueError(
                    f"kappa must be a single number, got a tensor of shape {tuple(kappa.shape)}"
                )
            kappa = float(kappa)
        k_arr, _ = _kappa_array(kappa)
        if k_arr.ndim != 0:
            raise ValueError(
                f"kappa must be a single number, got an array of shape {k_arr.shape}"
            )
        if isinstance(grid, bool) or not isinstance(grid, int) or grid < 16:
            raise ValueError(f"grid must be an integer >= 16, got {grid!r}")
        self.kappa = float(k_arr)
        kap, p = self.kappa, self.d - 2.0

        def logp(
            th,
        ):  # log density of θ up to a constant; κ(cos θ - 1) = -2κ sin²(θ/2) without cancellation
            th = np.asarray(th, dtype=np.float64)
            out = -2.0 * kap * np.sin(0.5 * th) ** 2
            if p > 0:
                with np.errstate(divide="ignore"):
                    out = out + p * np.log(np.sin(th))
            return out

        # mode: κ sin²θ = (d-2) cos θ  ->  cos θ* = (-(d-2) + sqrt((d-2)² + 4κ²)) / (2κ)
        c_star = 2.0 * kap / (p + math.sqrt(p * p + 4.0 * kap * kap))
        th_star = math.acos(min(1.0, c_star)) if p > 0 else 0.0
        top = float(logp(th_star)) if p > 0 else 0.0

        def edge(
            a: float, b: float
        ) -> float:  # point between a (inside) and b where logp = top - 60
            if float(logp(b)) > top - 60.0:
                return b
            for _ in range(200):
                mid = 0.5 * (a + b)
                if float(logp(mid)) > top - 60.0:
                    a = mid
                else:
                    b = mid
            return b

        lo = edge(th_star, 0.0) if p > 0 else 0.0
        hi = edge(th_star, math.pi)
        theta = np.linspace(lo, hi, grid)
        dens = np.exp(logp(theta) - top)
        cdf = np.concatenate(
            [[0.0], np.cumsum(0.5 * (dens[1:] + dens[:-1]) * np.diff(theta))]
        )
        cdf /= cdf[-1]
        self.theta = torch.as_tensor(theta, dtype=torch.float64)
        self.cdf = torch.as_tensor(cdf, dtype=torch.float64)
        self.kl = float(_kl_np(self.d, np.array([self.kappa]))[0])
        self.mean_resultant = float(
            _mean_resultant_np(self.d, np.array([self.kappa]))[0]
        )

    def __repr__(self) -> str:
        return f"VMFSampler(d={self.d}, kappa={self.kappa:g}, KL={self.kl:.4f} nats)"

    def sample_theta(
        self, shape, generator: torch.Generator | None = None, device=None
    ) -> torch.Tensor:
        """Angles θ = arccos(μ·x) of ``shape`` (float64) by inverse-CDF sampling."""
        u = torch.rand(shape, generator=generator, dtype=torch.float64, device=device)
        cdf, theta = self.cdf.to(u.device), self.theta.to(u.device)
        j = torch.searchsorted(cdf, u.reshape(-1), right=True).clamp(1, len(cdf) - 1)
        c0, c1 = cdf[j - 1], cdf[j]
        frac = ((u.reshape(-1) - c0) / (c1 - c0).clamp_min(1e-300)).clamp(0.0, 1.0)
        return (theta[j - 1] + frac * (theta[j] - theta[j - 1])).reshape(u.shape)

    def sample(
        self, mu: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """x ~ vMF(μ, κ) for each row of ``mu`` (shape (..., d), unit norm); differentiable in ``mu``."""
        mu = _check_mu(mu, self.d)
        th = self.sample_theta(mu.shape[:-1], generator=generator, device=mu.device)
        return _assemble(mu, torch.cos(th), torch.sin(th), generator)
