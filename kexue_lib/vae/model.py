"""A small reusable Gaussian VAE.

Chapter ``vae/vmf-vae`` trains it against a vMF-VAE; other VAE chapters reuse it.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from .. import _validate as V
from .gaussian import kl_std_normal, reparameterize

__all__ = ["GaussianVAE", "VAEOutput", "ELBOTerms"]


class VAEOutput(NamedTuple):
    """What :class:`GaussianVAE` returns: decoder ``logits`` (..., x_dim),
    ``mu``/``logvar``/``z`` (..., z_dim).
    """

    logits: torch.Tensor
    mu: torch.Tensor
    logvar: torch.Tensor
    z: torch.Tensor


class ELBOTerms(NamedTuple):
    """Batch means of the negative ELBO ``loss = rec + beta·kl``, the reconstruction NLL
    and the KL (nats).
    """

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


class GaussianVAE(torch.nn.Module):
    """A VAE with a diagonal-Gaussian posterior N(μ(x), diag σ²(x)) and prior N(0, I).

    Encoder: an MLP ``x_dim → enc_hidden… → 2·z_dim`` (ReLU) whose output is split into
    ``mu`` and ``logvar``. Decoder: by default an MLP ``z_dim → dec_hidden… → x_dim``
    giving logits; or any module passed as ``decoder``, called as ``decoder(z, x)`` —
    ``x`` is the input being reconstructed, so an autoregressive decoder can use it with
    teacher forcing (chapter ``vae/vmf-vae`` uses one to provoke posterior collapse).

    ``forward(x, generator=None)`` returns :class:`VAEOutput`
    ``(logits, mu, logvar, z)`` with z drawn by :func:`reparameterize`; ``loss(x, ...)``
    returns :class:`ELBOTerms` (negative ELBO per example, averaged over the batch).
    Shapes: ``x`` is (batch, x_dim).
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
        x_dim = V.integer("x_dim", x_dim, minimum=1)
        z_dim = V.integer("z_dim", z_dim, minimum=1)
        enc_hidden = V.positive_ints("enc_hidden", enc_hidden)
        dec_hidden = V.positive_ints("dec_hidden", dec_hidden)
        V.module("decoder", decoder, optional=True)
        self.x_dim, self.z_dim = x_dim, z_dim
        self.encoder = _mlp([x_dim, *enc_hidden, 2 * z_dim])
        self.decoder = (
            decoder if decoder is not None else _MLPDecoder([z_dim, *dec_hidden, x_dim])
        )

    def _check_x(self, x: torch.Tensor) -> None:
        shape = f"(batch, {self.x_dim})"
        V.tensor("x", x, shape=shape, ndim=2, last=self.x_dim, floating=True)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mu, logvar)`` of q(z|x), each (batch, z_dim)."""
        self._check_x(x)
        mu, logvar = self.encoder(x).chunk(2, dim=-1)
        return mu, logvar

    def decode(self, z: torch.Tensor, x: torch.Tensor | None = None) -> torch.Tensor:
        """Decoder logits (batch, x_dim) given latents ``z`` (and ``x`` for
        teacher-forced decoders).
        """
        shape = f"(batch, {self.z_dim})"
        V.tensor("z", z, shape=shape, ndim=2, last=self.z_dim, floating=True)
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

        ``likelihood="bernoulli"``: rec = Σ BCE(logits, x) (x in [0, 1]);
        ``"gaussian"``: rec = ½ Σ (x − logits)² (unit variance, constant dropped).
        ``out`` reuses a forward pass; otherwise one is run.
        """
        self._check_x(x)
        beta = V.real("beta", beta, ge=0)
        V.choice("likelihood", likelihood, ("bernoulli", "gaussian"))
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
