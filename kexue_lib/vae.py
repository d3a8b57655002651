"""Variational autoencoders: the Gaussian pieces shared by the VAE chapters (part 2 of the book).

Conventions: ``mu`` and ``logvar`` have shape (..., d); KLs are summed over the last dimension and returned
with shape (...), in nats.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

__all__ = [
    "reparameterize",
    "kl_std_normal",
    "kl_diag_gaussians",
    "BNScaler",
    "discrete_mi",
    "RelativePosterior",
    "relative_posterior",
    "HierVAE",
    "GaussianVAE",
    "VAEOutput",
    "ELBOTerms",
]


def _check_pair(a: torch.Tensor, b: torch.Tensor, na: str, nb: str) -> None:
    if not isinstance(a, torch.Tensor) or not isinstance(b, torch.Tensor):
        raise TypeError(
            f"{na} and {nb} must be tensors, got {type(a).__name__} and {type(b).__name__}"
        )
    if a.shape != b.shape:
        raise ValueError(
            f"{na} and {nb} must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}"
        )
    if a.dim() < 1:
        raise ValueError(
            f"{na} must have at least one dimension (..., d), got a scalar"
        )


def reparameterize(
    mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Sample z = μ + ε ⊙ σ with ε ~ N(0, I) and σ = exp(logvar / 2) (chapter ``vae/vae-geometry``, C1).

    The sample is differentiable in ``mu`` and ``logvar``; ``generator`` makes ε reproducible.
    """
    _check_pair(mu, logvar, "mu", "logvar")
    eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype, device=mu.device)
    return mu + eps * torch.exp(0.5 * logvar)


def kl_std_normal(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(μ, diag σ²) ‖ N(0, I)) = ½ Σ (μ² + σ² − log σ² − 1), summed over the last dim
    (chapters ``vae/vae-geometry`` C2 and ``vae/vae-bn`` C1). Shape (...)."""
    _check_pair(mu, logvar, "mu", "logvar")
    return 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1.0).sum(-1)


def kl_diag_gaussians(
    mu_q: torch.Tensor,
    logvar_q: torch.Tensor,
    mu_p: torch.Tensor,
    logvar_p: torch.Tensor,
) -> torch.Tensor:
    """KL(N(μ_q, diag σ_q²) ‖ N(μ_p, diag σ_p²)), summed over the last dim; arguments broadcast.

    = ½ Σ [ log σ_p²/σ_q² + (σ_q² + (μ_q − μ_p)²)/σ_p² − 1 ]  (chapter ``vae/nvae``, C2).
    """
    _check_pair(mu_q, logvar_q, "mu_q", "logvar_q")
    _check_pair(mu_p, logvar_p, "mu_p", "logvar_p")
    try:
        torch.broadcast_shapes(mu_q.shape, mu_p.shape)
    except RuntimeError:
        raise ValueError(
            f"q and p parameters must broadcast, got {tuple(mu_q.shape)} and {tuple(mu_p.shape)}"
        ) from None
    return 0.5 * (
        logvar_p
        - logvar_q
        + (logvar_q.exp() + (mu_q - mu_p).pow(2)) / logvar_p.exp()
        - 1.0
    ).sum(-1)


# ---------------------------------------------------------------------------------------------------------
# VAE + BN (chapter vae/vae-bn) and the discrete identities of chapter vae/vae-prior-mi.


class BNScaler(torch.nn.Module):
    """Batch-normalise the encoder's μ and σ and rescale them so that the KL term cannot vanish.

    ``forward(mu, s)`` takes the raw encoder outputs for the mean and the standard deviation, both of shape
    (..., d), and returns ``(mu_hat, std)``: each feature is standardised over all leading (batch) dimensions
    without a learned shift, then

        mu_hat = γ_μ · BN(mu),   std = γ_σ · BN(s),
        γ_μ = √(τ + (1 − τ)·sigmoid θ),   γ_σ = √((1 − τ)·sigmoid(−θ)),

    with one learnable θ per feature (``dim`` of them, initialised at 0). Since
    sigmoid θ + sigmoid(−θ) = 1 the scales satisfy γ_μ² + γ_σ² = 1, so over a training batch
    mean(mu_hat²) + mean(std²) = 1 per feature (up to ``eps``) and the batch-mean KL to N(0, I) is at least
    ½ Σ_j γ_μj² ≥ dτ/2 (chapter ``vae/vae-bn``, claims C3 and C4). ``std`` may be negative; only std² enters
    the Gaussian, so use ``z = mu_hat + ε·std`` and ``logvar = log std²``.

    In ``eval()`` mode running statistics (exponential average with ``momentum``) replace batch statistics,
    as in ``torch.nn.BatchNorm1d``.
    """

    def __init__(
        self, tau: float, dim: int, *, eps: float = 1e-8, momentum: float = 0.1
    ) -> None:
        super().__init__()
        if not isinstance(tau, (int, float)) or not 0.0 < float(tau) < 1.0:
            raise ValueError(f"tau must be in (0, 1), got {tau!r}")
        if not isinstance(dim, int) or dim < 1:
            raise ValueError(f"dim must be a positive int, got {dim!r}")
        if not eps > 0:
            raise ValueError(f"eps must be > 0, got {eps}")
        if not 0.0 < momentum <= 1.0:
            raise ValueError(f"momentum must be in (0, 1], got {momentum}")
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
                    f"batch normalisation in training mode needs >= 2 samples, got {flat.shape[0]}"
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
        if mu.shape[-1] != self.dim:
            raise ValueError(
                f"mu must have last dimension dim={self.dim}, got shape {tuple(mu.shape)}"
            )
        g_mu, g_sigma = self.scales()
        return g_mu * self._normalise(mu, "mu"), g_sigma * self._normalise(s, "s")


def discrete_mi(p_xz, *, atol: float = 1e-9) -> float:
    """Mutual information I(X; Z) in nats of a joint probability table ``p_xz[x, z]`` (shape (|X|, |Z|)).

    I = Σ p(x, z) log[p(x, z) / (p(x) p(z))], with 0·log 0 = 0, computed in float64 (NumPy array, nested
    list or torch tensor accepted; returns a float). Chapters ``vae/vae-prior-mi`` (C2, C3) and
    ``vae/vae-ib-normal`` (C1).

    Raises ``ValueError`` if the table is not 2-D, has negative or non-finite entries, or does not sum to 1
    within ``atol``.
    """
    import numpy as np

    if hasattr(p_xz, "detach"):
        p_xz = p_xz.detach().cpu().numpy()
    p = np.asarray(p_xz, dtype=np.float64)
    if p.ndim != 2:
        raise ValueError(
            f"p_xz must be a 2-D table p[x, z], got {p.ndim} dimension(s) with shape {p.shape}"
        )
    if p.size == 0:
        raise ValueError(f"p_xz must not be empty, got shape {p.shape}")
    if not np.all(np.isfinite(p)):
        raise ValueError("p_xz must be finite, got NaN or inf entries")
    if np.any(p < 0):
        raise ValueError(f"p_xz must be non-negative, got minimum {p.min():.3g}")
    total = p.sum()
    if abs(total - 1.0) > atol:
        raise ValueError(f"p_xz must sum to 1 (within atol={atol:g}), got {total:.12g}")
    px, pz = p.sum(1, keepdims=True), p.sum(0, keepdims=True)
    nz = p > 0
    return float(np.sum(p[nz] * (np.log(p[nz]) - np.log((px * pz)[nz]))))


# ---------------------------------------------------------------------------------------------------------
# Hierarchical VAE pieces (chapter ``vae/nvae``).


class RelativePosterior(NamedTuple):
    """What :func:`relative_posterior` returns: the posterior's ``mu`` and ``logvar`` (shape (..., d)) and
    ``kl`` = KL(posterior ‖ prior) summed over the last dim (shape (...))."""

    mu: torch.Tensor
    logvar: torch.Tensor
    kl: torch.Tensor


def relative_posterior(
    mu_p: torch.Tensor, logvar_p: torch.Tensor, dmu: torch.Tensor, dlogvar: torch.Tensor
) -> RelativePosterior:
    """NVAE's residual ("relative") posterior, parameterised relative to the prior N(μ_p, σ_p²).

    The posterior is N(μ_p + Δμ, σ_p² Δσ²) with ``dmu`` = Δμ and ``dlogvar`` = log Δσ², so
    ``logvar = logvar_p + dlogvar``. Its KL to the prior is

        ½ Σ ( Δμ² / σ_p² + Δσ² − log Δσ² − 1 ),

    which does not involve μ_p (chapter ``vae/nvae``, C2). The prior pair and the residual pair must each
    have matching shapes (..., d); the two pairs broadcast against each other. Returns a
    :class:`RelativePosterior` ``(mu, logvar, kl)``.
    """
    _check_pair(mu_p, logvar_p, "mu_p", "logvar_p")
    _check_pair(dmu, dlogvar, "dmu", "dlogvar")
    try:
        torch.broadcast_shapes(mu_p.shape, dmu.shape)
    except RuntimeError:
        raise ValueError(
            f"prior (mu_p) and residual (dmu) parameters must broadcast, got {tuple(mu_p.shape)} and {tuple(dmu.shape)}"
        ) from None
    kl = 0.5 * (dmu.pow(2) * torch.exp(-logvar_p) + dlogvar.exp() - dlogvar - 1.0).sum(
        -1
    )
    return RelativePosterior(mu_p + dmu, logvar_p + dlogvar, kl)


class HierVAE(torch.nn.Module):
    """A small fully connected VAE with one or two latent levels (chapter ``vae/nvae``, C1 and experiment).

    Generative model: z₁ ~ N(0, I), [z₂ ~ N(μ_p(z₁), σ_p²(z₁))], x ~ Bernoulli(sigmoid(dec(z₁, z₂))).
    Inference: a shared feature h = enc(x); q(z₁|x) = N(μ₁(h), σ₁²(h)); q(z₂|z₁, x) from a head fed
    (h, z₁), either **absolute** (the head outputs μ_q, log σ_q² directly; KL by
    :func:`kl_diag_gaussians`) or **relative** (the head outputs Δμ, log Δσ² and the posterior is
    :func:`relative_posterior` of the prior). ``z_dims=(d1,)`` gives a plain one-level VAE.

    ``forward(x, generator=None)`` takes x of shape (n, x_dim) with entries in [0, 1] and returns
    ``(logits, kls)``: decoder logits (n, x_dim) and a list with one per-sample KL (n,) per level.
    :meth:`neg_elbo` returns the per-sample negative ELBO (n,) in nats.
    """

    def __init__(
        self,
        x_dim: int = 64,
        hidden: int = 64,
        z_dims: tuple = (4, 8),
        relative: bool = True,
    ) -> None:
        super().__init__()
        if not isinstance(x_dim, int) or x_dim < 1:
            raise ValueError(f"x_dim must be a positive int, got {x_dim!r}")
        if not isinstance(hidden, int) or hidden < 1:
            raise ValueError(f"hidden must be a positive int, got {hidden!r}")
        z_dims = tuple(z_dims)
        if len(z_dims) not in (1, 2) or not all(
            isinstance(d, int) and d >= 1 for d in z_dims
        ):
            raise ValueError(f"z_dims must be one or two positive ints, got {z_dims!r}")
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
        if not isinstance(x, torch.Tensor) or x.dim() != 2 or x.shape[1] != self.x_dim:
            raise ValueError(
                f"x must have shape (n, {self.x_dim}), got {tuple(getattr(x, 'shape', ()))}"
            )
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
        """Per-sample −ELBO = Bernoulli reconstruction NLL + Σ_levels KL, shape (n,), nats."""
        logits, kls = self(x, generator)
        rec = torch.nn.functional.binary_cross_entropy_with_logits(
            logits, x, reduction="none"
        ).sum(-1)
        return rec + sum(kls)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Ancestral samples: Bernoulli means sigmoid(dec(z₁, z₂)) of shape (n, x_dim)."""
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a positive int, got {n!r}")
        p = next(self.parameters())
        z1 = torch.randn(
            n, self.z_dims[0], generator=generator, dtype=p.dtype, device=p.device
        )
        zs = [z1]
        if len(self.z_dims) == 2:
            mu_p, lv_p = self.prior2(z1).chunk(2, -1)
            zs.append(reparameterize(mu_p, lv_p, generator))
        return torch.sigmoid(self.dec(torch.cat(zs, -1)))


# ---------------------------------------------------------------------------------------------------------
# A small reusable Gaussian VAE (chapter ``vae/vmf-vae`` trains it against a vMF-VAE; other VAE chapters reuse it)


class VAEOutput(NamedTuple):
    """What :class:`GaussianVAE` returns: decoder ``logits`` (..., x_dim), ``mu``/``logvar``/``z`` (..., z_dim)."""

    logits: torch.Tensor
    mu: torch.Tensor
    logvar: torch.Tensor
    z: torch.Tensor


class ELBOTerms(NamedTuple):
    """Batch means of the negative ELBO ``loss = rec + beta·kl``, the reconstruction NLL and the KL (nats)."""

    loss: torch.Tensor
    rec: torch.Tensor
    kl: torch.Tensor


def _mlp(sizes: list[int]) -> torch.nn.Sequential:
    layers: list[torch.nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(torch.nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


class _MLPDecoder(torch.nn.Module):
    def __init__(self, sizes: list[int]) -> None:
        super().__init__()
        self.net = _mlp(sizes)

    def forward(self, z: torch.Tensor, x: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(z)


def _positive_ints(v, name: str) -> tuple[int, ...]:
    if isinstance(v, int) and not isinstance(v, bool):
        v = (v,)
    try:
        v = tuple(v)
    except TypeError:
        raise ValueError(
            f"{name} must be a positive int or a sequence of them, got {v!r}"
        ) from None
    if not all(isinstance(h, int) and not isinstance(h, bool) and h >= 1 for h in v):
        raise ValueError(f"{name} must be positive ints, got {v!r}")
    return v


class GaussianVAE(torch.nn.Module):
    """A VAE with a diagonal-Gaussian posterior N(μ(x), diag σ²(x)) and prior N(0, I).

    Encoder: an MLP ``x_dim → enc_hidden… → 2·z_dim`` (ReLU) whose output is split into ``mu`` and
    ``logvar``. Decoder: by default an MLP ``z_dim → dec_hidden… → x_dim`` giving logits; or any module passed
    as ``decoder``, called as ``decoder(z, x)`` — ``x`` is the input being reconstructed, so an autoregressive
    decoder can use it with teacher forcing (chapter ``vae/vmf-vae`` uses one to provoke posterior collapse).

    ``forward(x, generator=None)`` returns :class:`VAEOutput` ``(logits, mu, logvar, z)`` with z drawn by
    :func:`reparameterize`; ``loss(x, ...)`` returns :class:`ELBOTerms` (negative ELBO per example,
    averaged over the batch). Shapes: ``x`` is (batch, x_dim).
    """

    def __init__(
        self,
        x_dim: int,
        z_dim: int,
        enc_hidden=(256,),
        dec_hidden=(256,),
        decoder: torch.nn.Module | None = None,
    ) -> None:
        super().__init__()
        (x_dim,) = _positive_ints(x_dim, "x_dim")
        (z_dim,) = _positive_ints(z_dim, "z_dim")
        enc_hidden, dec_hidden = (
            _positive_ints(enc_hidden, "enc_hidden"),
            _positive_ints(dec_hidden, "dec_hidden"),
        )
        if decoder is not None and not isinstance(decoder, torch.nn.Module):
            raise ValueError(
                f"decoder must be a torch.nn.Module or None, got {type(decoder).__name__}"
            )
        self.x_dim, self.z_dim = x_dim, z_dim
        self.encoder = _mlp([x_dim, *enc_hidden, 2 * z_dim])
        self.decoder = (
            decoder if decoder is not None else _MLPDecoder([z_dim, *dec_hidden, x_dim])
        )

    def _check_x(self, x: torch.Tensor) -> None:
        if not isinstance(x, torch.Tensor) or x.dim() != 2 or x.shape[1] != self.x_dim:
            got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(
                f"x must be a tensor of shape (batch, {self.x_dim}), got {got}"
            )

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mu, logvar)`` of q(z|x), each (batch, z_dim)."""
        self._check_x(x)
        mu, logvar = self.encoder(x).chunk(2, dim=-1)
        return mu, logvar

    def decode(self, z: torch.Tensor, x: torch.Tensor | None = None) -> torch.Tensor:
        """Decoder logits (batch, x_dim) given latents ``z`` (and ``x`` for teacher-forced decoders)."""
        if not isinstance(z, torch.Tensor) or z.dim() != 2 or z.shape[1] != self.z_dim:
            got = tuple(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__
            raise ValueError(
                f"z must be a tensor of shape (batch, {self.z_dim}), got {got}"
            )
        return self.decoder(z, x)

    def forward(
        self, x: torch.Tensor, generator: torch.Generator | None = None
    ) -> VAEOutput:
        mu, logvar = self.encode(x)
        z = reparameterize(mu, logvar, generator=generator)
        return VAEOutput(self.decode(z, x), mu, logvar, z)

    def loss(
        self,
        x: torch.Tensor,
        out: VAEOutput | None = None,
        *,
        beta: float = 1.0,
        likelihood: str = "bernoulli",
        generator: torch.Generator | None = None,
    ) -> ELBOTerms:
        """Negative ELBO ``rec + beta·KL(q(z|x) ‖ N(0, I))``, batch-averaged, in nats.

        ``likelihood="bernoulli"``: rec = Σ BCE(logits, x) (x in [0, 1]); ``"gaussian"``: rec = ½ Σ (x − logits)²
        (unit variance, constant dropped). ``out`` reuses a forward pass; otherwise one is run.
        """
        self._check_x(x)
        if not (isinstance(beta, (int, float)) and beta >= 0 and math.isfinite(beta)):
            raise ValueError(f"beta must be a finite number >= 0, got {beta!r}")
        if out is None:
            out = self(x, generator=generator)
        if likelihood == "bernoulli":
            rec = torch.nn.functional.binary_cross_entropy_with_logits(
                out.logits, x, reduction="none"
            ).sum(-1)
        elif likelihood == "gaussian":
            rec = 0.5 * (x - out.logits).pow(2).sum(-1)
        else:
            raise ValueError(
                f"likelihood must be 'bernoulli' or 'gaussian', got {likelihood!r}"
            )
        kl = kl_std_normal(out.mu, out.logvar)
        return ELBOTerms((rec + beta * kl).mean(), rec.mean(), kl.mean())
