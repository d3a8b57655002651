"""Performer random features (FAVOR+): chapter ``attention/performer-linear``.

:func:`performer_features` maps queries and keys so that ``E[φ(q)·φ(k)] = exp(q·k)``;
:func:`gaussian_orthogonal_projection` draws the directions, orthogonal in blocks.
"""

from __future__ import annotations

import math

import torch

from .. import _validate as V

__all__ = ["gaussian_orthogonal_projection", "performer_features"]


def gaussian_orthogonal_projection(
    m: int,
    d: int,
    generator: torch.Generator | None = None,
    *,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """``m`` random directions ``ω_1..ω_m ∈ ℝ^d`` (rows of an ``(m, d)`` tensor), each
    marginally ``N(0, I_d)``.

    Rows come in blocks of ``d`` that are exactly orthogonal to each other (QR of a
    Gaussian matrix, sign-fixed so the block is Haar-distributed); each row is rescaled
    to the norm of an independent Gaussian vector, so its length is chi-distributed with
    ``d`` degrees of freedom as for an i.i.d. Gaussian row. The last block is truncated
    when ``d`` does not divide ``m``. Orthogonality lowers the variance of the Performer
    estimator (chapter ``attention/performer-linear``, C1).
    """
    m = V.integer("m", m, minimum=1)
    d = V.integer("d", d, minimum=1)
    V.generator("generator", generator)
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(
            f"dtype must be a floating torch.dtype, got {V.describe(dtype)}"
        )
    blocks = []
    for _ in range(-(-m // d)):
        g = torch.randn(d, d, generator=generator, dtype=torch.float64)
        qmat, rmat = torch.linalg.qr(g)
        qmat = qmat * torch.sign(torch.diagonal(rmat)).unsqueeze(0)
        blocks.append(qmat.T)
    w = torch.cat(blocks, 0)[:m]
    norms = torch.randn(m, d, generator=generator, dtype=torch.float64).norm(
        dim=1, keepdim=True
    )
    return (w * norms).to(dtype)


def performer_features(
    x: torch.Tensor, proj: torch.Tensor, kind: str = "positive"
) -> torch.Tensor:
    """Random features ``φ(x)`` with ``E[φ(q)·φ(k)] = exp(q·k)`` for ``ω`` rows of
    ``proj`` drawn ``N(0, I)``.

    ``x`` is ``(..., n, d)``, ``proj`` is ``(m, d)``.

    * ``"positive"``: ``φ(x) = exp(ω·x − ‖x‖²/2)/√m``, shape ``(..., n, m)``; every
      feature is positive.
    * ``"trig"``: ``φ(x) = exp(‖x‖²/2)/√m · [cos(ω·x), sin(ω·x)]``, shape
      ``(..., n, 2m)``; the estimate can be negative and its variance blows up where
      ``‖q‖, ‖k‖`` are large (large logits).

    Chapter ``attention/performer-linear``, C1. For ``exp(q·k/√d)`` pass ``x·d^{-1/4}``.
    """
    V.tensor("x", x, shape="(..., n, d)", min_ndim=1, floating=True)
    V.tensor("proj", proj, shape="(m, d)", ndim=2, floating=True)
    if proj.shape[1] != x.shape[-1]:
        raise ValueError(
            f"proj must have shape (m, d) with d = x.shape[-1] = {x.shape[-1]}, "
            f"got {tuple(proj.shape)}"
        )
    V.choice("kind", kind, ("positive", "trig"))
    m = proj.shape[0]
    wx = x @ proj.to(x.dtype).T
    half_sq = 0.5 * (x * x).sum(dim=-1, keepdim=True)
    if kind == "positive":
        return torch.exp(wx - half_sq) / math.sqrt(m)
    return (
        torch.exp(half_sq)
        / math.sqrt(m)
        * torch.cat([torch.cos(wx), torch.sin(wx)], dim=-1)
    )
