"""The reference: quadratic softmax attention, and the input checks all kernels share.

Chapters ``attention/linear-attention`` (C1), ``attention/performer-linear`` and
``attention/nystromformer`` compare their approximations with :func:`softmax_attention`.
"""

from __future__ import annotations

import math

import torch

from .. import _validate as V

__all__ = ["softmax_attention"]


def _check_qkv(q, k, v, causal) -> bool:
    """Check the ``(q, k, v, causal)`` arguments every attention kernel takes."""
    for name, t in (("q", q), ("k", k), ("v", v)):
        V.tensor(name, t, shape="(..., n, d)", min_ndim=2, floating=True)
    causal = V.boolean("causal", causal)
    if not (q.dtype == k.dtype == v.dtype):
        raise TypeError(
            f"q, k, v must share one dtype, got {q.dtype}, {k.dtype}, {v.dtype}"
        )
    if not (q.shape[:-2] == k.shape[:-2] == v.shape[:-2]):
        raise ValueError(
            "q, k, v must have the same leading (batch) dimensions, got "
            f"{tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}"
        )
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(
            "q and k must have the same feature dimension d, got "
            f"{q.shape[-1]} and {k.shape[-1]}"
        )
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(
            f"k and v must have the same length n, got {k.shape[-2]} and {v.shape[-2]}"
        )
    if causal and q.shape[-2] != k.shape[-2]:
        raise ValueError(
            "q and k must have the same length n for causal attention, got "
            f"{q.shape[-2]} and {k.shape[-2]}"
        )
    if q.shape[-2] == 0 or k.shape[-2] == 0:
        raise ValueError(
            f"q and k must have length n >= 1, got {q.shape[-2]} and {k.shape[-2]}"
        )
    return causal


def _default_scale(scale, d: int) -> float:
    if scale is None:
        return 1.0 / math.sqrt(d)
    return V.real("scale", scale)


def softmax_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    causal: bool = False,
    bias: torch.Tensor | None = None,
    *,
    scale: float | None = None,
) -> torch.Tensor:
    """Standard (quadratic) attention ``softmax(s·QKᵀ + bias [+ causal mask]) V``, shape
    ``(..., n, d_v)``.

    ``scale`` ``s`` defaults to ``1/√d`` as in ``scaled_dot_product_attention``; pass
    ``scale=1`` for ``exp(q·k)`` weights. ``bias`` is added to the logits and must
    broadcast to ``(..., n, n_k)``. With ``causal=True`` position ``i`` attends to
    ``j ≤ i``. The reference every approximation is compared with (chapters
    ``attention/linear-attention`` C1, ``attention/performer-linear``,
    ``attention/nystromformer``).
    """
    causal = _check_qkv(q, k, v, causal)
    s = _default_scale(scale, q.shape[-1])
    logits = (q @ k.transpose(-1, -2)) * s
    if bias is not None:
        V.tensor("bias", bias, shape=f"broadcastable to {tuple(logits.shape)}")
        V.broadcasts_to("bias", bias.shape, "the logits' shape", logits.shape)
        logits = logits + bias
    if causal:
        n = q.shape[-2]
        mask = torch.ones(n, n, dtype=torch.bool, device=q.device).triu_(1)
        logits = logits.masked_fill(mask, float("-inf"))
    return torch.softmax(logits, dim=-1) @ v
