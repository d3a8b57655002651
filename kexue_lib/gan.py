"""GAN building blocks shared by Part 3 (GANs and optimal transport).

* :func:`mlp` — the small fully connected network used as generator, critic or encoder
  in the toy runs.
* :class:`MLPEnsemble` — ``k`` independent copies of :func:`mlp` evaluated by batched
  matrix products, to train several seeds or settings at the cost of about one.
* :func:`gradient_penalty` — the WGAN-GP penalty E[(‖∇ₓD(x̂)‖ − 1)²] on random
  interpolates (chapter ``gan/wasserstein-duality``: the soft 1-Lipschitz constraint on
  the critic).
* :func:`gan_losses` — the discriminator and generator losses of the logistic
  (non-saturating), hinge and WGAN games, written with one sign convention: the
  discriminator scores real data *high*.
* :func:`standardize`, :func:`pearson_rho`, :func:`ogan_losses`,
  :func:`ogan_reconstruct` — O-GAN (chapter ``gan/o-gan``): the encoder's mean is the
  discriminator's score, the Pearson correlation between ``z`` and ``E(G(z))`` is the
  extra loss, and ``G(N(E(x)))`` reconstructs.
* :func:`single_loss` — both players of a GAN trained by one loss through
  stop-gradients (chapter ``gan/single-loss-gan``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import nn

__all__ = [
    "mlp",
    "MLPEnsemble",
    "gradient_penalty",
    "KINDS",
    "GANLosses",
    "gan_losses",
    "standardize",
    "pearson_rho",
    "OGANLosses",
    "ogan_losses",
    "ogan_reconstruct",
    "single_loss",
]


def mlp(
    d_in: int,
    d_out: int,
    hidden: int = 64,
    depth: int = 2,
    activation: type[nn.Module] = nn.LeakyReLU,
) -> nn.Sequential:
    """A multilayer perceptron ``d_in → hidden (× depth) → d_out`` with
    ``activation`` between layers.

    ``depth`` is the number of hidden layers (≥ 1). Used as the toy generator, critic
    and encoder of Part 3.
    """
    for name, v in (
        ("d_in", d_in),
        ("d_out", d_out),
        ("hidden", hidden),
        ("depth", depth),
    ):
        if not isinstance(v, int) or isinstance(v, bool):
            raise TypeError(f"{name} must be an int, got {type(v).__name__}")
        if v < 1:
            raise ValueError(f"{name} must be >= 1, got {v}")
    layers: list[nn.Module] = []
    width = d_in
    for _ in range(depth):
        layers += [nn.Linear(width, hidden), activation()]
        width = hidden
    layers.append(nn.Linear(width, d_out))
    return nn.Sequential(*layers)


class MLPEnsemble(nn.Module):
    """``k`` independent copies of ``mlp(d_in, d_out, hidden, depth, activation)``,
    evaluated together with batched matrix products.

    The input has shape ``(k·b, d_in)``; rows ``i·b … (i+1)·b − 1`` go through copy
    ``i`` and the output has shape ``(k·b, d_out)``. Copy ``i`` starts with the weights
    of the ``i``-th of ``k`` networks ``mlp(...)`` created in a row (so the same seed
    gives the same copies as a loop over :func:`mlp`). The copies share nothing: a loss
    that is a sum of per-copy losses gives each copy exactly its own gradient, and an
    element-wise optimiser such as Adam then trains ``k`` independent networks. For
    networks this small a step costs mostly fixed overhead, so ``k`` copies cost little
    more than one. :meth:`member` returns copy ``i`` as an ordinary
    :class:`torch.nn.Sequential`. Chapters ``gan/single-loss-gan`` (eight seeds at once)
    and ``gan/o-gan`` (``λ = 0.5`` and ``λ = 0`` side by side).
    """

    def __init__(
        self,
        k: int,
        d_in: int,
        d_out: int,
        hidden: int = 64,
        depth: int = 2,
        activation: type[nn.Module] = nn.LeakyReLU,
    ) -> None:
        super().__init__()
        if not isinstance(k, int) or isinstance(k, bool):
            raise TypeError(f"k must be an int, got {type(k).__name__}")
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        nets = [mlp(d_in, d_out, hidden, depth, activation) for _ in range(k)]
        layers = list(
            zip(*([m for m in net if isinstance(m, nn.Linear)] for net in nets))
        )
        self.k, self.d_in = k, d_in
        self.weights = nn.ParameterList(
            torch.stack([lin.weight.detach().T for lin in ls]) for ls in layers
        )
        self.biases = nn.ParameterList(
            torch.stack([lin.bias.detach()[None] for lin in ls]) for ls in layers
        )
        self.activation = activation()
        self._template = (d_in, d_out, hidden, depth, activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
        if x.ndim != 2 or x.shape[1] != self.d_in or x.shape[0] % self.k:
            raise ValueError(
                f"x must have shape (k·b, {self.d_in}) with k = {self.k}, "
                f"got {tuple(x.shape)}"
            )
        h = x.reshape(self.k, -1, self.d_in)
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            h = torch.baddbmm(b, h, w)
            if i < last:
                h = self.activation(h)
        return h.reshape(-1, h.shape[-1])

    def member(self, i: int) -> nn.Sequential:
        """Copy ``i`` as a standalone ``mlp`` holding a copy of its current weights."""
        if not isinstance(i, int) or not 0 <= i < self.k:
            raise ValueError(f"i must be an int in [0, {self.k}), got {i!r}")
        with torch.random.fork_rng(devices=[]):  # leave the global RNG untouched
            net = mlp(*self._template).to(self.weights[0].device, self.weights[0].dtype)
        linears = [m for m in net if isinstance(m, nn.Linear)]
        with torch.no_grad():
            for lin, w, b in zip(linears, self.weights, self.biases):
                lin.weight.copy_(w[i].T)
                lin.bias.copy_(b[i, 0])
        return net


def gradient_penalty(
    critic: nn.Module,
    real: torch.Tensor,
    fake: torch.Tensor,
    *,
    generator: torch.Generator | None = None,
    target: float = 1.0,
) -> torch.Tensor:
    """WGAN-GP penalty ``mean((‖∇ₓ critic(x̂)‖₂ − target)²)`` at
    ``x̂ = ε·real + (1 − ε)·fake``.

    ``real`` and ``fake`` have the same shape (batch, ...); ``ε ~ U(0, 1)`` is drawn per
    sample from ``generator`` (so the penalty is a deterministic function of its inputs
    when a generator is given). The result is differentiable with respect to the
    critic's parameters (``create_graph=True``).
    Chapter ``gan/wasserstein-duality``: the Kantorovich–Rubinstein dual asks for a
    1-Lipschitz critic; penalising the gradient norm towards 1 on the segments between
    the two samples is its soft relaxation.
    """
    if not isinstance(real, torch.Tensor) or not isinstance(fake, torch.Tensor):
        raise TypeError(
            "real and fake must be tensors, "
            f"got {type(real).__name__} and {type(fake).__name__}"
        )
    if real.shape != fake.shape or real.ndim < 2:
        raise ValueError(
            "real and fake must have the same shape (batch, ...), "
            f"got {tuple(real.shape)} and {tuple(fake.shape)}"
        )
    if target <= 0:
        raise ValueError(f"target must be > 0, got {target}")
    shape = (real.shape[0],) + (1,) * (real.ndim - 1)
    eps = torch.rand(shape, generator=generator, dtype=real.dtype).to(real.device)
    x_hat = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    out = critic(x_hat)
    (grad,) = torch.autograd.grad(out.sum(), x_hat, create_graph=True)
    norms = grad.flatten(1).norm(dim=1)
    return ((norms - target) ** 2).mean()


# ------------------------------------------------------------------------------------
# Checks shared by the losses below.


def _check_tensor(x, name: str) -> None:
    """``x`` must be a finite floating-point tensor with at least one axis."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    if x.ndim < 1 or x.numel() == 0:
        raise ValueError(
            f"{name} must be a non-empty tensor with at least one axis, "
            f"got shape {tuple(x.shape)}"
        )
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} must be finite, got NaN or inf")


def _check_weight(lam, name: str = "lam") -> float:
    if isinstance(lam, bool) or not isinstance(lam, (int, float)):
        raise TypeError(f"{name} must be a real number, got {type(lam).__name__}")
    if not math.isfinite(lam) or lam < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {lam}")
    return float(lam)


# ------------------------------------------------------------------------------------
# The adversarial losses.

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
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
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


# ------------------------------------------------------------------------------------
# O-GAN: the encoder as discriminator.


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
            f"{name} has a row with zero standard deviation (all its entries equal): "
            f"its standardisation ({name} − avg)/std is undefined"
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
    for name, v in ((z_name, z), (zhat_name, zhat)):
        if not isinstance(v, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(v).__name__}")
    if z.shape != zhat.shape:
        raise ValueError(
            f"{z_name} and {zhat_name} must have the same shape (..., n), "
            f"got {tuple(z.shape)} and {tuple(zhat.shape)}"
        )
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
    lam = _check_weight(lam)
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
    ``generator`` is not callable; :func:`standardize` checks the codes.
    """
    for name, f in (("encoder", encoder), ("generator", generator)):
        if not callable(f):
            raise TypeError(f"{name} must be callable, got {type(f).__name__}")
    _, _, code = _standardize(encoder(x), "encoder(x)")
    return generator(code)


# ------------------------------------------------------------------------------------
# One loss for both players.


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
    for name, f in (("discriminator", discriminator), ("generator", generator)):
        if not callable(f):
            raise TypeError(f"{name} must be callable, got {type(f).__name__}")
    _check_tensor(x, "x")
    _check_tensor(z, "z")
    lam = _check_weight(lam)
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    fake = generator(z)
    d_real = discriminator(x)
    d_fake_sg = discriminator(fake.detach())
    d_fake = discriminator(fake)
    stopped = gan_losses(d_real, d_fake_sg, kind)
    live_g = gan_losses(d_real, d_fake, kind).generator
    return stopped.discriminator + lam * (live_g - stopped.generator)
