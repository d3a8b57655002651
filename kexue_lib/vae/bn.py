"""VAE + BatchNorm: a posterior whose KL term cannot vanish (chapter ``vae/vae-bn``)."""

from __future__ import annotations

import torch

from .. import _validate as V
from .gaussian import _check_pair

__all__ = ["BNScaler"]


class BNScaler(torch.nn.Module):
    """Batch-normalise the encoder's μ and σ and rescale them so that the KL term cannot
    vanish.

    ``forward(mu, s)`` takes the raw encoder outputs for the mean and the standard
    deviation, both of shape (..., d), and returns ``(mu_hat, std)``: each feature is
    standardised over all leading (batch) dimensions without a learned shift, then

        mu_hat = γ_μ · BN(mu),   std = γ_σ · BN(s),
        γ_μ = √(τ + (1 − τ)·sigmoid θ),   γ_σ = √((1 − τ)·sigmoid(−θ)),

    with one learnable θ per feature (``dim`` of them, initialised at 0). Since sigmoid
    θ + sigmoid(−θ) = 1 the scales satisfy γ_μ² + γ_σ² = 1, so over a training batch
    mean(mu_hat²) + mean(std²) = 1 per feature (up to ``eps``) and the batch-mean KL to
    N(0, I) is at least ½ Σ_j γ_μj² ≥ dτ/2 (chapter ``vae/vae-bn``, claims C3 and C4).
    ``std`` may be negative; only std² enters the Gaussian, so use
    ``z = mu_hat + ε·std`` and ``logvar = log std²``.

    In ``eval()`` mode running statistics (exponential average with ``momentum``)
    replace batch statistics, as in ``torch.nn.BatchNorm1d``.
    """

    def __init__(
        self, tau: float, dim: int, *, eps: float = 1e-8, momentum: float = 0.1
    ) -> None:
        super().__init__()
        tau = V.real("tau", tau, gt=0, lt=1)
        dim = V.integer("dim", dim, minimum=1)
        eps = V.real("eps", eps, gt=0)
        momentum = V.real("momentum", momentum, gt=0, le=1)
        self.tau, self.dim, self.eps, self.momentum = (
            float(tau),
            dim,
            float(eps),
            float(momentum),
        )
        self.theta = torch.nn.Parameter(torch.zeros(dim))
        for name in ("mu", "s"):
            self.register_buffer(f"running_mean_{name}", torch.zeros(dim))
            self.register_buffer(f"running_var_{name}", torch.ones(dim))

    def scales(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(γ_μ, γ_σ)``, each of shape (dim,)."""
        return (
            torch.sqrt(self.tau + (1.0 - self.tau) * torch.sigmoid(self.theta)),
            torch.sqrt((1.0 - self.tau) * torch.sigmoid(-self.theta)),
        )

    def _normalise(self, x: torch.Tensor, name: str) -> torch.Tensor:
        rm, rv = (
            getattr(self, f"running_mean_{name}"),
            getattr(self, f"running_var_{name}"),
        )
        if self.training:
            flat = x.reshape(-1, x.shape[-1])
            if flat.shape[0] < 2:
                raise ValueError(
                    f"{name} must hold >= 2 samples for batch normalisation in "
                    f"training mode, got {flat.shape[0]}"
                )
            mean, var = flat.mean(0), flat.var(0, unbiased=False)
            with torch.no_grad():
                n = flat.shape[0]
                rm.mul_(1 - self.momentum).add_(self.momentum * mean.detach())
                rv.mul_(1 - self.momentum).add_(
                    self.momentum * var.detach() * n / (n - 1)
                )
        else:
            mean, var = rm, rv
        return (x - mean) / torch.sqrt(var + self.eps)

    def forward(
        self, mu: torch.Tensor, s: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        _check_pair(mu, s, "mu", "s")
        V.tensor("mu", mu, shape=f"(..., dim) = (..., {self.dim})", last=self.dim)
        g_mu, g_sigma = self.scales()
        return g_mu * self._normalise(mu, "mu"), g_sigma * self._normalise(s, "s")
