"""Multi-head self-attention with a free mask, additive bias, rotary hook and logit
scale.

What :meth:`MultiHeadAttention.forward` (and so every block and model of
:mod:`kexue_lib.nn`) accepts:

* ``mask`` — which keys each query may see. Boolean (``True`` = may attend, the
  convention of ``torch.nn.functional.scaled_dot_product_attention``) or additive float
  (``0`` / ``-inf``). Shapes ``(n, n)``, ``(b, n, n)`` (one mask per sample) or
  ``(b|1, h|1, n, n)``.
* ``attn_bias`` — an additive float bias on the logits, e.g. ALiBi ``-λ_h|m-n|`` or
  KERPLE; shapes ``(n, n)``, ``(h, n, n)`` (one per head) or ``(b|1, h|1, n, n)``. It is
  *not* multiplied by ``logit_scale``.
* ``positions`` and ``inv_freq`` — rotary position embedding: q and k are rotated by
  :func:`kexue_lib.position.apply_rope` (its pairing convention) before the inner
  product; ``rotary`` is a free hook ``(q, k) -> (q, k)`` for other schemes (2-D RoPE,
  XPOS).
* ``logit_scale`` — multiplies ``q·k/√d`` (the log-n trick): a float, a tensor of shape
  ``(n,)`` (one factor per query position) or anything broadcastable to
  ``(b, h, n, 1)``.

The logits of one head are ``s_ij = logit_scale_i · (R_i q_i)·(R_j k_j)/√d_head +
bias_ij + mask_ij`` and the output is ``softmax_j(s_ij) v_j``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ... import _validate as V

__all__ = [
    "causal_mask",
    "unilm_mask",
    "attention_logits_bias",
    "MultiHeadAttention",
]


Rotary = Callable[[torch.Tensor, torch.Tensor], "tuple[torch.Tensor, torch.Tensor]"]


def causal_mask(n: int, device=None) -> torch.Tensor:
    """Boolean lower-triangular mask of shape ``(n, n)``: entry ``[i, j]`` is True iff
    ``j <= i``.

    Chapter: book/position/local-attention (the causal LM of the experiment).
    """
    n = V.integer("n", n, minimum=1)
    return torch.ones(n, n, dtype=torch.bool, device=device).tril()


def unilm_mask(segment_ids: torch.Tensor) -> torch.Tensor:
    """Boolean UniLM sequence-to-sequence mask (``True`` = may attend) for
    ``segment_ids`` of shape ``(n,)`` or ``(batch, n)``: 0 marks the source, 1 the
    target, every source position before every target position.

    Entry ``[i, j]`` (query i, key j) is True iff key j is in the source, or j ≤ i: the
    source attends bidirectionally within itself (its queries never see the target,
    which comes after it), and each target position sees the whole source and the
    target up to itself (causal). One Transformer with this mask is an encoder for the
    source and a decoder for the target (chapter ``nlp/seq2seq-qa``; the model of
    ``nlp/conditional-layernorm`` uses the purely causal mask).

    Returns ``(n, n)`` or ``(batch, n, n)`` on the device of ``segment_ids``.
    ``TypeError`` for a non-integer tensor, ``ValueError`` for another shape, values
    other than 0 and 1, or a source position after a target position.
    """
    shape = "(n,) or (batch, n)"
    V.tensor("segment_ids", segment_ids, shape=shape, ndim=(1, 2), integral=True)
    s = segment_ids.long()
    if not bool(((s == 0) | (s == 1)).all()):
        raise ValueError(
            "segment_ids must contain only 0 (source) and 1 (target), "
            f"got values {sorted(set(s.flatten().tolist()))}"
        )
    if s.shape[-1] > 1 and bool((s[..., 1:] < s[..., :-1]).any()):
        raise ValueError(
            "segment_ids must be non-decreasing (every source position before every "
            "target position), got a 0 after a 1"
        )
    n = s.shape[-1]
    causal = torch.ones(n, n, dtype=torch.bool, device=s.device).tril()
    return (s == 0).unsqueeze(-2) | causal


def _as_4d(
    t: torch.Tensor, name: str, n_q: int, n_k: int, three_d: str
) -> torch.Tensor:
    """Bring a mask/bias to 4-D ``(b|1, h|1, n_q, n_k)``; ``three_d`` says whether a 3-D
    tensor is per batch or head.
    """
    V.tensor(name, t, shape="(n_q, n_k), (b|h, n_q, n_k) or (b, h, n_q, n_k)")
    if t.dim() < 2 or t.dim() > 4:
        raise ValueError(
            f"{name} must have 2, 3 or 4 dimensions, got shape {tuple(t.shape)}"
        )
    if tuple(t.shape[-2:]) != (n_q, n_k):
        raise ValueError(
            f"{name} must end in (n_q, n_k) = ({n_q}, {n_k}), "
            f"got shape {tuple(t.shape)}"
        )
    if t.dim() == 2:
        return t[None, None]
    if t.dim() == 3:
        return t[:, None] if three_d == "batch" else t[None]
    return t


def attention_logits_bias(
    mask: torch.Tensor | None,
    attn_bias: torch.Tensor | None,
    n_q: int,
    n_k: int,
    dtype: torch.dtype,
) -> torch.Tensor | None:
    """Combine a (boolean or additive) ``mask`` and an additive ``attn_bias`` into one
    float tensor.

    Returns ``None`` if both are ``None``; otherwise a tensor broadcastable to
    ``(b, h, n_q, n_k)`` holding ``bias + (0 where allowed, -inf where masked)``. Raises
    ``ValueError`` if a boolean mask leaves some query with no key at all (its softmax
    would be NaN).
    """
    out = None
    if mask is not None:
        m = _as_4d(mask, "mask", n_q, n_k, "batch")
        if m.dtype == torch.bool:
            if not bool(m.any(-1).all()):
                raise ValueError(
                    "mask must allow at least one key for every query, "
                    "got a row that is all False"
                )
            out = torch.zeros(m.shape, dtype=dtype, device=m.device).masked_fill(
                ~m, float("-inf")
            )
        elif m.is_floating_point():
            if bool(torch.isnan(m).any()) or bool((m == float("inf")).any()):
                raise ValueError("mask (additive) must not contain NaN or +inf")
            if not bool(torch.isfinite(m).any(-1).all()):
                raise ValueError(
                    "mask must allow at least one key for every query, "
                    "got a row that is all -inf"
                )
            out = m.to(dtype)
        else:
            raise TypeError(f"mask must be bool or floating point, got dtype {m.dtype}")
    if attn_bias is not None:
        b = _as_4d(attn_bias, "attn_bias", n_q, n_k, "head")
        if not b.is_floating_point():
            raise TypeError(f"attn_bias must be floating point, got dtype {b.dtype}")
        if not bool(torch.isfinite(b).all()):
            raise ValueError("attn_bias must be finite (use mask for -inf entries)")
        out = b.to(dtype) if out is None else out + b.to(dtype)
    return out


class MultiHeadAttention(nn.Module):
    """Multi-head self-attention with a free mask, additive bias, rotary hook and logit
    scale.

    ``x`` has shape ``(b, n, d_model)``; the output has the same shape. ``d_model`` must
    be divisible by ``n_heads`` and the head size ``d_model // n_heads`` must be even
    (RoPE rotates pairs). See the module docstring for the arguments of :meth:`forward`.

    Chapters: book/position/local-attention (C2, C3), book/position/position-robustness
    (C1), book/position/beta-base-rope (C2–C4), book/vae/univae (C1).
    """

    def __init__(self, d_model: int, n_heads: int, *, bias: bool = False):
        super().__init__()
        d_model = V.integer("d_model", d_model, minimum=1)
        n_heads = V.integer("n_heads", n_heads, minimum=1)
        bias = V.boolean("bias", bias)
        if d_model % n_heads:
            raise ValueError(
                f"d_model must be divisible by n_heads = {n_heads}, got {d_model}"
            )
        self.d_model, self.n_heads, self.d_head = d_model, n_heads, d_model // n_heads
        self.qkv = nn.Linear(d_model, 3 * d_model, bias=bias)
        self.out = nn.Linear(d_model, d_model, bias=bias)

    def forward(
        self,
        x: torch.Tensor,
        *,
        mask: torch.Tensor | None = None,
        attn_bias: torch.Tensor | None = None,
        positions: torch.Tensor | None = None,
        inv_freq: torch.Tensor | None = None,
        rotary: Rotary | None = None,
        logit_scale: float | torch.Tensor | None = None,
        return_weights: bool = False,
    ):
        shape = f"(batch, n, {self.d_model})"
        V.tensor("x", x, shape=shape, ndim=3, floating=True)
        if x.shape[-1] != self.d_model:
            raise ValueError(f"x must have shape {shape}, got {tuple(x.shape)}")
        return_weights = V.boolean("return_weights", return_weights)
        if rotary is not None and not callable(rotary):
            raise TypeError(
                f"rotary must be a callable (q, k) -> (q, k) or None, "
                f"got {V.describe(rotary)}"
            )
        b, n, _ = x.shape
        qkv = self.qkv(x).view(b, n, 3, self.n_heads, self.d_head)
        qkv = qkv.permute(2, 0, 3, 1, 4)  # (3, b, h, n, dh)
        q, k, v = qkv
        if inv_freq is not None:
            from kexue_lib.position import apply_rope

            shape = f"(d_head/2,) = ({self.d_head // 2},)"
            V.tensor("inv_freq", inv_freq, shape=shape, ndim=1)
            if 2 * inv_freq.shape[0] != self.d_head:
                raise ValueError(
                    f"inv_freq must have shape {shape}, got {tuple(inv_freq.shape)}"
                )
            if positions is None:
                pos = torch.arange(n, device=x.device)
            else:
                pos = V.tensor("positions", positions, shape="(n,) or (b, n)")
            if pos.dim() not in (1, 2) or pos.shape[-1] != n:
                raise ValueError(
                    f"positions must have shape (n,) or (b, n) with n = {n}, "
                    f"got {tuple(pos.shape)}"
                )
            if pos.dim() == 2:
                # (b, n): one position vector per sample, broadcast over heads
                pos = pos[:, None, :]
            # q and k in one call (one set of angles): the same numbers as two calls
            q, k = apply_rope(qkv[:2], pos, inv_freq)
        if rotary is not None:
            q, k = rotary(q, k)
        # fold 1/sqrt(d_head) and the per-query logit scale into q:
        # (s_i q_i)·k_j = s_i (q_i·k_j)
        q = q / math.sqrt(self.d_head)
        if logit_scale is not None:
            if not isinstance(logit_scale, torch.Tensor):
                logit_scale = V.real("logit_scale", logit_scale)
            elif logit_scale.dtype == torch.bool or logit_scale.is_complex():
                raise TypeError(
                    f"logit_scale must be a real number or tensor, "
                    f"got dtype {logit_scale.dtype}"
                )
            s = torch.as_tensor(logit_scale, dtype=q.dtype, device=q.device)
            if s.dim() == 1:
                if s.shape[0] != n:
                    raise ValueError(
                        f"logit_scale must have shape (n,) = ({n},) when 1-D, "
                        f"got {tuple(s.shape)}"
                    )
                s = s[:, None]
            q = q * s
        extra = attention_logits_bias(mask, attn_bias, n, n, q.dtype)
        if not return_weights:  # fused kernel; same math as the explicit branch below
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=extra, scale=1.0)
            return self.out(y.transpose(1, 2).reshape(b, n, self.d_model))
        scores = q @ k.transpose(-1, -2)
        if extra is not None:
            scores = scores + extra
        w = scores.softmax(-1)
        y = (w @ v).transpose(1, 2).reshape(b, n, self.d_model)
        y = self.out(y)
        return (y, w) if return_weights else y
