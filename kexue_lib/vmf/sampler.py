"""Sampling vMF(μ, κ): Wood's rejection sampler and a reparameterised inverse-CDF
sampler.

Chapter ``book/vae/vmf-vae``, claim C3.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from .. import _validate as V
from .density import _check_d, _kappa_array, _kl_np, _mean_resultant_np

__all__ = ["sample_vmf", "VMFSampler"]


def _check_mu(mu: Any, d: int | None = None) -> torch.Tensor:
    V.tensor("mu", mu, shape="(..., d)", floating=True)
    if mu.dim() < 1 or mu.shape[-1] < 2:
        raise ValueError(
            f"mu must have shape (..., d) with d >= 2, got {tuple(mu.shape)}"
        )
    if d is not None:
        V.tensor("mu", mu, shape=f"(..., {d})", last=d)
    V.tensor("mu", mu, finite=True)
    norm = mu.detach().norm(dim=-1)
    tol = 1e-3 if mu.dtype in (torch.float16, torch.bfloat16, torch.float32) else 1e-6
    if norm.numel() and float((norm - 1).abs().max()) > tol:
        raise ValueError(
            f"mu must have unit norm along the last dim (tolerance {tol:g}), "
            f"got norms in [{float(norm.min()):.6g}, {float(norm.max()):.6g}]"
        )
    return mu


def _tangent_direction(
    mu: torch.Tensor, generator: torch.Generator | None
) -> torch.Tensor:
    """A uniform unit vector orthogonal to each row of mu (Gaussian, project out μ,
    normalise).
    """
    g = torch.randn(
        mu.shape, generator=generator, dtype=torch.float64, device=mu.device
    ).to(mu.dtype)
    v = g - (g * mu).sum(-1, keepdim=True) * mu
    return v / v.norm(dim=-1, keepdim=True).clamp_min(torch.finfo(mu.dtype).tiny)


def _assemble(
    mu: torch.Tensor, w: torch.Tensor, sin_theta: torch.Tensor, generator
) -> torch.Tensor:
    # exact unit norm; the gradient still flows into mu
    mu_u = mu / mu.norm(dim=-1, keepdim=True)
    # v depends on μ through the projection; keeping that dependence in the graph makes
    # x = T(μ, noise) an exact reparameterisation, so autograd gives the pathwise
    # gradient of E f(x)
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
    """Wood's (1994) rejection sampler for w = μ·x. Returns (w, 1 - w), both float64,
    shape of kappa.
    """
    m = d - 1.0
    # b = (-2κ + sqrt(4κ² + m²)) / m, written stably
    b = m / (2.0 * kappa + torch.sqrt(4.0 * kappa**2 + m * m))
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
        # z ~ Beta(m/2, m/2): (1 + t)/2 with t the first coordinate of a uniform point
        # on S^{d-1}
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
    raise RuntimeError(  # pragma: no cover
        f"Wood's sampler did not finish in {max_rounds} rounds"
    )


def sample_vmf(
    mu: torch.Tensor, kappa, generator: torch.Generator | None = None
) -> torch.Tensor:
    """One sample x ~ vMF(μ, κ) per row of ``mu`` (chapter ``vae/vmf-vae``, claim C3).

    ``mu``: tensor of shape (..., d), d >= 2, unit norm along the last dim (within 1e-3
    for float32, 1e-6 for float64; it is renormalised exactly). ``kappa``: positive
    number or tensor broadcastable to ``mu.shape[:-1]``. Returns a tensor shaped like
    ``mu`` on the unit sphere.

    Method: x = w μ + sqrt(1 - w²) v, where v is uniform on the unit sphere of the
    tangent space at μ (a Gaussian with its μ-component removed, normalised) and w = μ·x
    has density ∝ e^{κw} (1 - w²)^{(d-3)/2} on [-1, 1], drawn exactly by Wood's
    rejection sampler (Wood 1994): a Beta proposal transformed by a Möbius map, then an
    accept/reject step (rejected rows are redrawn). The Beta variate is built from
    Gaussians, so ``generator`` makes the draw reproducible. Gradients flow to ``mu`` (w
    does not depend on μ); none flow to κ.
    """
    mu = _check_mu(mu)
    V.generator("generator", generator)
    d = mu.shape[-1]
    k_arr, _ = _kappa_array(kappa)
    k = torch.as_tensor(k_arr, dtype=torch.float64, device=mu.device)
    V.broadcasts_to("kappa", k.shape, "mu.shape[:-1] =", mu.shape[:-1])
    k = torch.broadcast_to(k, mu.shape[:-1]).contiguous()
    w, omw = _wood_w(d, k.reshape(-1), generator)
    sin_theta = torch.sqrt(omw * (1.0 + w))
    return _assemble(mu, w.reshape(k.shape), sin_theta.reshape(k.shape), generator)


class VMFSampler:
    """Reparameterised vMF sampler for a fixed (d, κ), as used in a vMF-VAE (chapter
    ``vae/vmf-vae``, C3).

    With κ fixed the law of w = μ·x does not depend on μ, so it is tabulated once: the
    angle θ = arccos w has density ∝ exp(κ (cos θ - 1)) sin^{d-2} θ on [0, π] (smooth,
    no endpoint singularity even for d = 2). The constructor puts ``grid`` points
    uniformly on the interval of θ where the log-density is within 60 of its maximum
    (the rest holds < 1e-20 of the mass), integrates with the trapezoid rule, and stores
    the CDF. :meth:`sample` draws u ~ U(0, 1), inverts the CDF by linear interpolation,
    and returns x = cos θ μ + sin θ v with v uniform orthogonal to μ: a differentiable
    function of μ (gradients flow to the encoder), the reparameterisation trick on the
    sphere.

    Attributes: ``d``, ``kappa``, ``theta`` and ``cdf`` (float64 tensors of length
    ``grid``), ``kl`` = KL(vMF ‖ uniform) (a constant), ``mean_resultant`` = A_d(κ).
    """

    def __init__(self, d: int, kappa: float, grid: int = 8192):
        self.d = _check_d(d)
        k_arr, _ = _kappa_array(kappa)
        if k_arr.size != 1:
            raise ValueError(f"kappa must be a single number, got {V.describe(kappa)}")
        grid = V.integer("grid", grid, minimum=16)
        self.kappa = float(k_arr.reshape(()))
        kap, p = self.kappa, self.d - 2.0

        def logp(th):
            # log density of θ up to a constant; κ(cos θ - 1) = -2κ sin²(θ/2) without
            # cancellation
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

        def edge(a: float, b: float) -> float:
            """The point between a (inside) and b where logp = top - 60."""
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
        """x ~ vMF(μ, κ) for each row of ``mu`` (shape (..., d), unit norm);
        differentiable in ``mu``.
        """
        mu = _check_mu(mu, self.d)
        th = self.sample_theta(mu.shape[:-1], generator=generator, device=mu.device)
        return _assemble(mu, torch.cos(th), torch.sin(th), generator)
