"""Helpers shared by the samplers of :mod:`kexue_lib.sampling`."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from .. import _validate as V

#: A callable returning log ρ(x) of shape (n,) for states x of shape (n, L).
LogDensity = Callable[[torch.Tensor], torch.Tensor]


def _log_values(name: str, values, n: int) -> torch.Tensor:
    """The output of a log-density callable: a float tensor of shape (n,), no NaN and
    no +inf (``-inf`` means density 0)."""
    if not isinstance(values, torch.Tensor) or not values.is_floating_point():
        raise TypeError(
            f"{name} must return a floating-point tensor, got {V.describe(values)}"
        )
    if tuple(values.shape) != (n,):
        raise ValueError(f"{name} must return shape ({n},), got {tuple(values.shape)}")
    if bool(torch.isnan(values).any()) or bool((values == math.inf).any()):
        raise ValueError(f"{name} must return values < +inf and not NaN, got some")
    return values


def _categorical(probs: torch.Tensor, generator) -> torch.Tensor:
    """One draw per row of ``probs`` (..., K) by inverse CDF with ``generator``."""
    cdf = probs.cumsum(-1)
    u = torch.rand(probs.shape[:-1], generator=generator, dtype=probs.dtype)
    u = u * cdf[..., -1]  # rows summing to 1 up to rounding
    idx = (cdf <= u.unsqueeze(-1)).sum(-1)
    return idx.clamp_max(probs.shape[-1] - 1)
