"""The adversarial losses of Part 3 and the single loss of ``gan/single-loss-gan``
(see :mod:`kexue_lib.gan`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import nn

from .. import _validate as V

__all__ = ["KINDS", "GANLosses", "gan_losses", "single_loss"]


def _check_tensor(x, name: str) -> torch.Tensor:
    """``x`` must be a finite floating-point tensor with at least one axis and one
    entry."""
    V.tensor(name, x, min_ndim=1, floating=True, finite=True)
    if x.numel() == 0:
        raise ValueError(f"{name} must be a non-empty tensor, got {V.describe(x)}")
    return x


#: The games :func:`gan_losses` knows.
KINDS = ("logistic", "hinge", "wgan")


class GANLosses(NamedTuple):
    """The two losses of one GAN game: each player *minimises* its own."""

    discriminator: torch.Tensor
    generator: torch.Tensor


def _check_scores(d, name: str) -> torch.Tensor:
    _check_tensor(d, name)
    if d.ndim > 2 or (d.ndim == 2 and d.shape[1] != 1):
        raise ValueError(
            f"{name} must hold one score per sample, shape (batch,) or (batch, 1), "
            f"got {tuple(d.shape)}"
        )
    return d.reshape(-1)


def gan_losses(
    d_real: torch.Tensor, d_fake: torch.Tensor, kind: str = "logistic"
) -> GANLosses:
    """Discriminator and generator losses ``(f(D(x)) + g(D(G(z))), h(D(G(z))))``,
    batch means, for the scores ``d_real = D(x)`` and ``d_fake = D(G(z))``.

    Sign convention: the discriminator scores real data *high*.

    ``kind="logistic"``: ``f(d) = softplus(−d)``, ``g(d) = softplus(d)``,
    ``h(d) = softplus(−d)`` (the original GAN with the non-saturating generator loss);
    ``kind="hinge"``: ``f(d) = relu(1 − d)``, ``g(d) = relu(1 + d)``, ``h(d) = −d``;
    ``kind="wgan"``: ``f(d) = −d``, ``g(d) = d``, ``h(d) = −d``.
    (A post written with "real scores low" is the same game with ``D → −D``.)

    The caller decides where gradients flow: for an alternating discriminator step pass
    scores of ``G(z).detach()``. Chapters ``gan/o-gan`` (C4) and ``gan/single-loss-gan``
    (C1–C3). Raises ``TypeError``/``ValueError`` for non-tensor, non-finite or
    wrongly shaped scores and an unknown ``kind``.
    """
    V.choice("kind", kind, KINDS)
    r = _check_scores(d_real, "d_real")
    f = _check_scores(d_fake, "d_fake")
    if kind == "logistic":
        d_loss = nn.functional.softplus(-r).mean() + nn.functional.softplus(f).mean()
        g_loss = nn.functional.softplus(-f).mean()
    elif kind == "hinge":
        d_loss = torch.relu(1 - r).mean() + torch.relu(1 + f).mean()
        g_loss = -f.mean()
    else:
        d_loss = f.mean() - r.mean()
        g_loss = -f.mean()
    return GANLosses(d_loss, g_loss)


def single_loss(
    discriminator: Callable[[torch.Tensor], torch.Tensor],
    generator: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    z: torch.Tensor,
    *,
    lam: float = 1.0,
    kind: str = "hinge",
) -> torch.Tensor:
    """One scalar whose gradient trains both players of the GAN ``kind``.

    With ``sg`` the stop-gradient (``detach``) and ``(f, g, h)`` from
    :func:`gan_losses`::

        L = f(D(x)) + g(D(sg G(z)))  +  lam · [h(D(G(z))) − h(D(sg G(z)))]

    The first part has gradient (∇_D L_D, 0); the bracket is 0 in value and has
    gradient (0, ∇_G L_G). So ``∇L = (∇_D L_D, lam · ∇_G L_G)``, both evaluated at the
    current parameters: one gradient step on ``L`` is a *simultaneous* update of D and
    G with learning-rate ratio 1 : lam (for SGD). The value of ``L`` equals the
    discriminator's loss. Chapter ``gan/single-loss-gan``, C1–C3.
    Raises ``TypeError`` for non-callable players or non-tensor inputs and
    ``ValueError`` for a negative or non-finite ``lam`` or an unknown ``kind``.
    """
    V.function("discriminator", discriminator)
    V.function("generator", generator)
    _check_tensor(x, "x")
    _check_tensor(z, "z")
    lam = V.real("lam", lam, ge=0)
    V.choice("kind", kind, KINDS)
    fake = generator(z)
    d_real = discriminator(x)
    d_fake_sg = discriminator(fake.detach())
    d_fake = discriminator(fake)
    stopped = gan_losses(d_real, d_fake_sg, kind)
    live_g = gan_losses(d_real, d_fake, kind).generator
    return stopped.discriminator + lam * (live_g - stopped.generator)
