"""Small networks and the gradient penalty of Part 3 (see :mod:`kexue_lib.gan`)."""

from __future__ import annotations

import torch
from torch import nn

from .. import _validate as V

__all__ = ["mlp", "MLPEnsemble", "gradient_penalty"]


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
        V.integer(name, v, minimum=1)
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
        k = V.integer("k", k, minimum=1)
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
        V.tensor("x", x)
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
        i = V.integer("i", i, minimum=0, maximum=self.k - 1)
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
    V.function("critic", critic)
    V.tensor("real", real, shape="(batch, ...)", min_ndim=2, floating=True)
    V.tensor("fake", fake, floating=True)
    V.same_shape("fake", fake, "real", real)
    target = V.real("target", target, gt=0)
    V.generator("generator", generator)
    shape = (real.shape[0],) + (1,) * (real.ndim - 1)
    eps = torch.rand(shape, generator=generator, dtype=real.dtype).to(real.device)
    x_hat = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    out = critic(x_hat)
    (grad,) = torch.autograd.grad(out.sum(), x_hat, create_graph=True)
    norms = grad.flatten(1).norm(dim=1)
    return ((norms - target) ** 2).mean()
