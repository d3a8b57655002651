"""Hierarchical VAE pieces: NVAE's relative posterior and a two-level VAE.

Chapter ``vae/nvae``.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from .. import _validate as V
from .gaussian import (
    _check_pair,
    kl_diag_gaussians,
    kl_std_normal,
    reparameterize,
)

__all__ = ["RelativePosterior", "relative_posterior", "HierVAE"]


class RelativePosterior(NamedTuple):
    """What :func:`relative_posterior` returns: the posterior's ``mu`` and ``logvar``
    (shape (..., d)) and ``kl`` = KL(posterior ‖ prior) summed over the last dim (shape
    (...))."""

    mu: torch.Tensor
    logvar: torch.Tensor
    kl: torch.Tensor


def relative_posterior(
    mu_p: torch.Tensor, logvar_p: torch.Tensor, dmu: torch.Tensor, dlogvar: torch.Tensor
) -> RelativePosterior:
    """NVAE's residual ("relative") posterior, parameterised relative to the prior
    N(μ_p, σ_p²).

    The posterior is N(μ_p + Δμ, σ_p² Δσ²) with ``dmu`` = Δμ and ``dlogvar`` = log Δσ²,
    so ``logvar = logvar_p + dlogvar``. Its KL to the prior is

        ½ Σ ( Δμ² / σ_p² + Δσ² − log Δσ² − 1 ),

    which does not involve μ_p (chapter ``vae/nvae``, C2). The prior pair and the
    residual pair must each have matching shapes (..., d); the two pairs broadcast
    against each other. Returns a :class:`RelativePosterior` ``(mu, logvar, kl)``.
    """
    _check_pair(mu_p, logvar_p, "mu_p", "logvar_p")
    _check_pair(dmu, dlogvar, "dmu", "dlogvar")
    V.broadcast(mu_p=mu_p.shape, dmu=dmu.shape)
    kl = 0.5 * (dmu.pow(2) * torch.exp(-logvar_p) + dlogvar.exp() - dlogvar - 1.0).sum(
        -1
    )
    return RelativePosterior(mu_p + dmu, logvar_p + dlogvar, kl)


class HierVAE(torch.nn.Module):
    """A small fully connected VAE with one or two latent levels (chapter ``vae/nvae``,
    C1 and experiment).

    Generative model: z₁ ~ N(0, I), [z₂ ~ N(μ_p(z₁), σ_p²(z₁))], x ~
    Bernoulli(sigmoid(dec(z₁, z₂))). Inference: a shared feature h = enc(x); q(z₁|x) =
    N(μ₁(h), σ₁²(h)); q(z₂|z₁, x) from a head fed (h, z₁), either **absolute** (the head
    outputs μ_q, log σ_q² directly; KL by :func:`kl_diag_gaussians`) or **relative**
    (the head outputs Δμ, log Δσ² and the posterior is :func:`relative_posterior` of the
    prior). ``z_dims=(d1,)`` gives a plain one-level VAE.

    ``forward(x, generator=None)`` takes x of shape (n, x_dim) with entries in [0, 1]
    and returns ``(logits, kls)``: decoder logits (n, x_dim) and a list with one
    per-sample KL (n,) per level. :meth:`neg_elbo` returns the per-sample negative ELBO
    (n,) in nats.
    """

    def __init__(
        self,
        x_dim: int = 64,
        hidden: int = 64,
        z_dims: tuple = (4, 8),
        relative: bool = True,
    ) -> None:
        super().__init__()
        x_dim = V.integer("x_dim", x_dim, minimum=1)
        hidden = V.integer("hidden", hidden, minimum=1)
        z_dims = V.positive_ints("z_dims", z_dims)
        if len(z_dims) not in (1, 2):
            raise ValueError(f"z_dims must be one or two positive ints, got {z_dims!r}")
        relative = V.boolean("relative", relative)
        nn = torch.nn
        self.x_dim, self.z_dims, self.relative = x_dim, z_dims, bool(relative)
        self.enc = nn.Sequential(
            nn.Linear(x_dim, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU()
        )
        self.q1 = nn.Linear(hidden, 2 * z_dims[0])
        if len(z_dims) == 2:
            self.prior2 = nn.Sequential(
                nn.Linear(z_dims[0], hidden),
                nn.SiLU(),
                nn.Linear(hidden, 2 * z_dims[1]),
            )
            self.q2 = nn.Sequential(
                nn.Linear(hidden + z_dims[0], hidden),
                nn.SiLU(),
                nn.Linear(hidden, 2 * z_dims[1]),
            )
        self.dec = nn.Sequential(
            nn.Linear(sum(z_dims), hidden),
            nn.SiLU(),
            nn.Linear(hidden, hidden),
            nn.SiLU(),
            nn.Linear(hidden, x_dim),
        )

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None):
        shape = f"(n, {self.x_dim})"
        V.tensor("x", x, shape=shape, ndim=2, last=self.x_dim, floating=True)
        V.generator("generator", generator)
        h = self.enc(x)
        mu1, lv1 = self.q1(h).chunk(2, -1)
        z1 = reparameterize(mu1, lv1, generator)
        kls, zs = [kl_std_normal(mu1, lv1)], [z1]
        if len(self.z_dims) == 2:
            mu_p, lv_p = self.prior2(z1).chunk(2, -1)
            a, b = self.q2(torch.cat([h, z1], -1)).chunk(2, -1)
            if self.relative:
                mu_q, lv_q, kl2 = relative_posterior(mu_p, lv_p, a, b)
            else:
                mu_q, lv_q = a, b
                kl2 = kl_diag_gaussians(mu_q, lv_q, mu_p, lv_p)
            zs.append(reparameterize(mu_q, lv_q, generator))
            kls.append(kl2)
        return self.dec(torch.cat(zs, -1)), kls

    def neg_elbo(
        self, x: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Per-sample −ELBO = Bernoulli reconstruction NLL + Σ_levels KL, shape (n,),
        nats.
        """
        logits, kls = self(x, generator)
        rec = torch.nn.functional.binary_cross_entropy_with_logits(
            logits, x, reduction="none"
        ).sum(-1)
        return rec + sum(kls)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Ancestral samples: Bernoulli means sigmoid(dec(z₁, z₂)) of shape (n,
        x_dim).
        """
        n = V.integer("n", n, minimum=1)
        V.generator("generator", generator)
        p = next(self.parameters())
        z1 = torch.randn(
            n, self.z_dims[0], generator=generator, dtype=p.dtype, device=p.device
        )
        zs = [z1]
        if len(self.z_dims) == 2:
            mu_p, lv_p = self.prior2(z1).chunk(2, -1)
            zs.append(reparameterize(mu_p, lv_p, generator))
        return torch.sigmoid(self.dec(torch.cat(zs, -1)))
