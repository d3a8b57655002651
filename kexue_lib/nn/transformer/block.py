"""The pre-LayerNorm Transformer block that every model of the book is built from."""

from __future__ import annotations

import torch
from torch import nn

from ... import _validate as V
from .attention import MultiHeadAttention

__all__ = ["TransformerBlock"]


class TransformerBlock(nn.Module):
    """Pre-LayerNorm block: ``x + MHA(LN(x))`` then ``x + MLP(LN(x))`` with a GELU MLP
    of width ``mlp_ratio·d``.

    ``forward(x, **attn_kwargs)`` passes every keyword (mask, attn_bias, positions,
    inv_freq, rotary, logit_scale, return_weights) to :class:`MultiHeadAttention`.
    """

    def __init__(self, d_model: int, n_heads: int, *, mlp_ratio: int = 4):
        super().__init__()
        mlp_ratio = V.integer("mlp_ratio", mlp_ratio, minimum=1)
        self.ln1, self.ln2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.attn = MultiHeadAttention(d_model, n_heads)
        self.mlp = nn.Sequential(
            nn.Linear(d_model, mlp_ratio * d_model),
            nn.GELU(),
            nn.Linear(mlp_ratio * d_model, d_model),
        )

    def forward(self, x: torch.Tensor, return_weights: bool = False, **attn_kwargs):
        a = self.attn(self.ln1(x), return_weights=return_weights, **attn_kwargs)
        a, w = a if return_weights else (a, None)
        x = x + a
        x = x + self.mlp(self.ln2(x))
        return (x, w) if return_weights else x
