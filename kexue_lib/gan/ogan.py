"""O-GAN: the encoder as discriminator (chapter ``gan/o-gan``; see
:mod:`kexue_lib.gan`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch

from .. import _validate as V
from .losses import _check_tensor, gan_losses

__all__ = [
    "standardize",
    "pearson_rho",
    "OGANLosses",
    "ogan_losses",
    "ogan_reconstruct",
]


def _standardize(z: torch.Tensor, name: str):
    _check_tensor(z, name)
    if z.shape[-1] < 2:
        raise ValueError(
            f"{name} must have at least 2 entries along its last axis, "
            f"got shape {tuple(z.shape)}"
        )
    mean = z.mean(-1, keepdim=True)
    centred = z - mean
    std = centred.pow(2).mean(-1, keepdim=True).sqrt()
    if bool((std == 0).any()):
        raise ValueError(
            f"{name} must have rows with a non-zero standard deviation (its "
            f"standardisation ({name} − avg)/std is undefined otherwise), got a row "
            f"whose entries are all equal"
        )
    return mean.squeeze(-1), std.squeeze(-1), centred / std


def standardize(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(avg(z), std(z), N(z))`` over the last axis, with ``N(z) = (z − avg)/std``.

    ``std`` is the *population* standard deviation (divide by ``n_z``, ``ddof = 0``), so
    ``N(z)`` has mean 0 and mean square 1: ``‖N(z)‖² = n_z``. Shapes: ``z`` is
    ``(..., n_z)``; ``avg`` and ``std`` are ``(...)``, ``N(z)`` is ``(..., n_z)``, and
    ``z = avg[..., None] + std[..., None] * N(z)``. Differentiable.

    Chapter ``gan/o-gan``, C1: for ``n_z ≥ 3`` the three pieces are independent
    coordinates of ``z`` (``N(z)`` lives on a sphere of dimension ``n_z − 2``).
    Raises ``TypeError`` for a non-float tensor and ``ValueError`` for ``n_z < 2``,
    non-finite entries or a constant row (zero ``std``, where ``N`` would be NaN).
    """
    return _standardize(z, "z")


def pearson_rho(z: torch.Tensor, zhat: torch.Tensor) -> torch.Tensor:
    """Row-wise Pearson correlation ``ρ(z, ẑ) = mean(N(z) ⊙ N(ẑ)) = cos(N(z), N(ẑ))``.

    ``z`` and ``zhat`` have the same shape ``(..., n)``; the result has shape ``(...)``
    and lies in ``[−1, 1]`` (up to rounding). It is unchanged by ``ẑ → aẑ + b`` with
    ``a > 0`` (and by the same map of ``z``), and
    ``‖N(z) − N(ẑ)‖² = 2 n (1 − ρ)``. Chapter ``gan/o-gan``, C2 and C3 (the O-GAN
    correlation term). Raises ``TypeError``/``ValueError`` naming the argument for a
    non-tensor, a shape mismatch, ``n < 2``, non-finite entries or a constant row.
    """
    return _rho(z, zhat, "z", "zhat")


def _rho(z, zhat, z_name: str, zhat_name: str) -> torch.Tensor:
    V.tensor(z_name, z, shape="(..., n)")
    V.tensor(zhat_name, zhat, shape="(..., n)")
    V.same_shape(zhat_name, zhat, z_name, z)
    _, _, nz = _standardize(z, z_name)
    _, _, nh = _standardize(zhat, zhat_name)
    return (nz * nh).mean(-1)


class OGANLosses(NamedTuple):
    """The O-GAN losses (each minimised by its player) and the batch-mean ``ρ``."""

    encoder: torch.Tensor
    generator: torch.Tensor
    rho: torch.Tensor


def ogan_losses(
    e_real: torch.Tensor,
    e_fake: torch.Tensor,
    z: torch.Tensor,
    *,
    lam: float,
    kind: str = "logistic",
) -> OGANLosses:
    """O-GAN losses with the encoder's mean as the discriminator's score.

    With ``e_real = E(x)`` of shape (batch_x, n_z), ``e_fake = E(G(z))`` and ``z`` of
    shape (batch, n_z), and ``(f, g, h)`` the game ``kind`` of :func:`gan_losses`::

        encoder   = f(avg E(x)) + g(avg E(G(z))) − lam · mean ρ(z, E(G(z)))
        generator = h(avg E(G(z)))               − lam · mean ρ(z, E(G(z)))

    ``lam = 0`` is the ordinary GAN whose discriminator is ``avg ∘ E``. As in
    :func:`gan_losses` the caller detaches ``G(z)`` for the encoder's step. Returns
    :class:`OGANLosses` ``(encoder, generator, rho)``. Chapter ``gan/o-gan``, C4.
    Raises ``TypeError``/``ValueError`` naming the argument for non-tensors,
    mismatched shapes, ``n_z < 2``, a negative or non-finite ``lam``, an unknown
    ``kind``, non-finite entries or a constant row of ``z`` or ``e_fake``.
    """
    lam = V.real("lam", lam, ge=0)
    for name, v in (("e_real", e_real), ("e_fake", e_fake), ("z", z)):
        _check_tensor(v, name)
        if v.ndim != 2:
            raise ValueError(
                f"{name} must have shape (batch, n_z), got {tuple(v.shape)}"
            )
    if e_fake.shape != z.shape:
        raise ValueError(
            "e_fake = E(G(z)) must have the shape of z, "
            f"got {tuple(e_fake.shape)} and {tuple(z.shape)}"
        )
    if e_real.shape[1] != z.shape[1]:
        raise ValueError(
            f"e_real must have n_z = {z.shape[1]} columns like z, "
            f"got shape {tuple(e_real.shape)}"
        )
    adv = gan_losses(e_real.mean(-1), e_fake.mean(-1), kind)
    rho = _rho(z, e_fake, "z", "e_fake").mean()
    return OGANLosses(adv.discriminator - lam * rho, adv.generator - lam * rho, rho)


def ogan_reconstruct(
    encoder: Callable[[torch.Tensor], torch.Tensor],
    generator: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
) -> torch.Tensor:
    """The O-GAN reconstruction ``G(N(E(x)))``: the code is standardised (mean 0, std 1
    over its ``n_z`` entries, like a typical ``z ~ N(0, I)``) before decoding.

    Chapter ``gan/o-gan`` (experiment). Raises ``TypeError`` if ``encoder`` or
    ``generator`` is not callable or ``x`` is not a floating tensor, ``ValueError`` if
    ``x`` is not a batch (ndim < 2); :func:`standardize` checks the codes.
    """
    V.function("encoder", encoder)
    V.function("generator", generator)
    x = V.tensor("x", x, floating=True, min_ndim=2)
    _, _, code = _standardize(encoder(x), "encoder(x)")
    return generator(code)
