"""Diagonal Gaussians: the reparameterisation trick and closed-form KL divergences.

Chapters ``vae/vae-geometry``, ``vae/vae-bn`` and ``vae/nvae``. ``mu`` and ``logvar``
have shape (..., d); KLs are summed over the last dimension, shape (...), in nats.
"""

from __future__ import annotations

import torch

from .. import _validate as V

__all__ = ["reparameterize", "kl_std_normal", "kl_diag_gaussians"]


def _check_pair(a: torch.Tensor, b: torch.Tensor, na: str, nb: str) -> None:
    """Two parameter tensors of one diagonal Gaussian: floating, same shape (..., d)."""
    V.tensor(na, a, shape="(..., d)", min_ndim=1, floating=True)
    V.tensor(nb, b, shape="(..., d)", min_ndim=1, floating=True)
    V.same_shape(nb, b, na, a)


def reparameterize(
    mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Sample z = μ + ε ⊙ σ with ε ~ N(0, I) and σ = exp(logvar / 2) (chapter
    ``vae/vae-geometry``, C1).

    The sample is differentiable in ``mu`` and ``logvar``; ``generator`` makes ε
    reproducible.
    """
    _check_pair(mu, logvar, "mu", "logvar")
    V.generator("generator", generator)
    eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype, device=mu.device)
    return mu + eps * torch.exp(0.5 * logvar)


def kl_std_normal(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(μ, diag σ²) ‖ N(0, I)) = ½ Σ (μ² + σ² − log σ² − 1), summed over the last
    dim (chapters ``vae/vae-geometry`` C2 and ``vae/vae-bn`` C1). Shape (...)."""
    _check_pair(mu, logvar, "mu", "logvar")
    return 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1.0).sum(-1)


def kl_diag_gaussians(
    mu_q: torch.Tensor,
    logvar_q: torch.Tensor,
    mu_p: torch.Tensor,
    logvar_p: torch.Tensor,
) -> torch.Tensor:
    """KL(N(μ_q, diag σ_q²) ‖ N(μ_p, diag σ_p²)), summed over the last dim; arguments
    broadcast.

    = ½ Σ [ log σ_p²/σ_q² + (σ_q² + (μ_q − μ_p)²)/σ_p² − 1 ] (chapter ``vae/nvae``, C2).
    """
    _check_pair(mu_q, logvar_q, "mu_q", "logvar_q")
    _check_pair(mu_p, logvar_p, "mu_p", "logvar_p")
    V.broadcast(mu_q=mu_q.shape, mu_p=mu_p.shape)
    return 0.5 * (
        logvar_p
        - logvar_q
        + (logvar_q.exp() + (mu_q - mu_p).pow(2)) / logvar_p.exp()
        - 1.0
    ).sum(-1)
