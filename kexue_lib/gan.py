"""GAN building blocks shared by Part 3 (GANs and optimal transport).

* :func:`mlp` — the small fully connected network used as generator, critic or encoder in the toy runs.
* :func:`gradient_penalty` — the WGAN-GP penalty E[(‖∇ₓD(x̂)‖ − 1)²] on random interpolates
  (chapter ``gan/wasserstein-duality``: the soft 1-Lipschitz constraint on the critic).

The O-GAN and single-loss pieces (standardisation, Pearson correlation, their losses) are added by their
chapters (``gan/o-gan``, ``gan/single-loss-gan``).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["mlp", "gradient_penalty"]


def mlp(
    d_in: int,
    d_out: int,
    hidden: int = 64,
    depth: int = 2,
    activation: type[nn.Module] = nn.LeakyReLU,
) -> nn.Sequential:
    """A multilayer perceptron ``d_in → hidden (× depth) → d_out`` with ``activation`` between layers.

    ``depth`` is the number of hidden layers (≥ 1). Used as the toy generator, critic and encoder of Part 3.
    """
    for name, v in (("d_in", d_in), ("d_out", d_out), ("hidden", hidden), ("depth", depth)):
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


def gradient_penalty(
    critic: nn.Module,
    real: torch.Tensor,
    fake: torch.Tensor,
    *,
    generator: torch.Generator | None = None,
    target: float = 1.0,
) -> torch.Tensor:
    """WGAN-GP penalty ``mean((‖∇ₓ critic(x̂)‖₂ − target)²)`` at ``x̂ = ε·real + (1 − ε)·fake``.

    ``real`` and ``fake`` have the same shape (batch, ...); ``ε ~ U(0, 1)`` is drawn per sample from
    ``generator`` (so the penalty is a deterministic function of its inputs when a generator is given). The
    result is differentiable with respect to the critic's parameters (``create_graph=True``).
    Chapter ``gan/wasserstein-duality``: the Kantorovich–Rubinstein dual asks for a 1-Lipschitz critic;
    penalising the gradient norm towards 1 on the segments between the two samples is its soft relaxation.
    """
    if not isinstance(real, torch.Tensor) or not isinstance(fake, torch.Tensor):
        raise TypeError(
            f"real and fake must be tensors, got {type(real).__name__} and {type(fake).__name__}"
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
