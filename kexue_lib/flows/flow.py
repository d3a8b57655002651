"""A stack of invertible residual blocks as a density model (chapter
``generative/iresnet``, experiment; see :mod:`kexue_lib.flows`)."""

from __future__ import annotations

import math

import torch
from torch import nn

from .. import _validate as V
from .block import IResBlock

__all__ = ["IResFlow"]


def _logdet_identity_plus(J: torch.Tensor) -> torch.Tensor:
    """``log det(I + J)`` for a batch of Jacobians with ``det(I + J) > 0`` (claim C3):
    closed form for 1×1 and 2×2 (a batched LU is slow for tiny matrices), else
    ``torch.linalg.slogdet``."""
    d = J.shape[-1]
    if d == 1:
        return torch.log1p(J[..., 0, 0])
    if d == 2:
        a, b, c, e = J[..., 0, 0], J[..., 0, 1], J[..., 1, 0], J[..., 1, 1]
        return torch.log((1 + a) * (1 + e) - b * c)
    eye = torch.eye(d, dtype=J.dtype, device=J.device)
    return torch.linalg.slogdet(eye + J)[1]


class IResFlow(nn.Module):
    """A normalising flow ``z = F_K ∘ … ∘ F_1(x)`` of :class:`IResBlock` s on a
    standard normal base ``N(0, I_dim)`` (chapter ``generative/iresnet``, experiment).

    ``log p(x) = log N(z; 0, I) + Σ_i log det(I + J_{g_i})``, with the exact
    log-determinants of the ``dim × dim`` Jacobians (closed form for ``dim <= 2``,
    ``torch.linalg.slogdet`` otherwise: cheap in low dimension; the series estimators
    of :meth:`IResBlock.logdet` are what a large
    model would use). Sampling inverts the blocks one by one by the fixed point.

    Parameters
    ----------
    dim, hidden, coeff
        As for :class:`IResBlock`.
    n_blocks : int >= 1
    """

    def __init__(
        self,
        dim: int,
        hidden: int | tuple[int, ...] = 64,
        n_blocks: int = 4,
        coeff: float = 0.9,
        *,
        n_power_iterations: int = 1,
    ) -> None:
        super().__init__()
        n_blocks = V.integer("n_blocks", n_blocks, minimum=1)
        self.dim = V.integer("dim", dim, minimum=1)
        self.blocks = nn.ModuleList(
            IResBlock(dim, hidden, coeff, n_power_iterations=n_power_iterations)
            for _ in range(n_blocks)
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(z, logdet)``: the image of ``x`` and the exact ``log |det ∂z/∂x|`` per
        row."""
        x = self.blocks[0]._check_x(x)
        logdet = x.new_zeros(x.shape[0])
        for block in self.blocks:
            x, J = block._forward_and_jacobian(x)
            logdet = logdet + _logdet_identity_plus(J)
        return x, logdet

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """``log p(x)`` per row, shape ``(batch,)``."""
        z, logdet = self(x)
        base = -0.5 * (z**2).sum(-1) - 0.5 * self.dim * math.log(2 * math.pi)
        return base + logdet

    def inverse(self, z: torch.Tensor, n_iter: int = 100) -> torch.Tensor:
        """``x = F_1⁻¹ ∘ … ∘ F_K⁻¹(z)``, each by ``n_iter`` fixed-point steps."""
        x = self.blocks[0]._check_x(z, "z")
        n_iter = V.integer("n_iter", n_iter, minimum=0)
        for block in reversed(self.blocks):
            x = block.inverse(x, n_iter)
        return x

    def sample(
        self, n: int, generator: torch.Generator | None = None, n_iter: int = 100
    ) -> torch.Tensor:
        """``n`` samples: ``z ~ N(0, I)`` pushed through :meth:`inverse`."""
        n = V.integer("n", n, minimum=1)
        generator = V.generator("generator", generator)
        p = next(self.parameters())
        z = torch.randn(n, self.dim, generator=generator, dtype=p.dtype).to(p.device)
        return self.inverse(z, n_iter)
