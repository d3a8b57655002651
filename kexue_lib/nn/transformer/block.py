"""The pre-LayerNorm Transformer block that every model of the book is built from."""

from __future__ import annotations

import torch
from torch import nn

from ... import _validate as V
from .attention import MultiHeadAttention
from .norm import ConditionalLayerNorm

__all__ = ["TransformerBlock"]


def apply_norm(ln: nn.Module, x: torch.Tensor, cond) -> torch.Tensor:
    """``ln(x, cond)`` for a conditional LayerNorm, ``ln(x)`` for a plain one (which
    must then get ``cond=None``)."""
    if isinstance(ln, ConditionalLayerNorm):
        return ln(x, cond)
    if cond is not None:
        raise ValueError(
            "cond must be None for a model without conditional LayerNorm (build it "
            "with cond_dim or call condition_on), got a tensor"
        )
    return ln(x)


class TransformerBlock(nn.Module):
    """Pre-LayerNorm block: ``x + MHA(LN(x))`` then ``x + MLP(LN(x))`` with a GELU MLP
    of width ``mlp_ratio·d``.

    ``forward(x, cond=None, **attn_kwargs)`` passes every other keyword (mask,
    attn_bias, positions, inv_freq, rotary, logit_scale, return_weights) to
    :class:`MultiHeadAttention`.

    With ``cond_dim`` the two LayerNorms are :class:`ConditionalLayerNorm` and
    ``forward`` takes the condition ``cond`` of shape ``(batch, cond_dim)`` (chapter
    ``nlp/conditional-layernorm``); :meth:`condition_on` converts a trained block in
    place, keeping its γ, β.
    """

    def __init__(
        self,
        d_model: int,
        n_heads: int,
        *,
        mlp_ratio: int = 4,
        cond_dim: int | None = None,
        cond_low_rank: int | None = None,
    ):
        super().__init__()
        mlp_ratio = V.integer("mlp_ratio", mlp_ratio, minimum=1)
        if cond_dim is None:
            self.ln1, self.ln2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        else:
            self.ln1, self.ln2 = (
                ConditionalLayerNorm(d_model, cond_dim, cond_low_rank) for _ in range(2)
            )
        self.attn = MultiHeadAttention(d_model, n_heads)
        self.mlp = nn.Sequential(
            nn.Linear(d_model, mlp_ratio * d_model),
            nn.GELU(),
            nn.Linear(mlp_ratio * d_model, d_model),
        )

    def condition_on(
        self, cond_dim: int, low_rank: int | None = None
    ) -> list[nn.Parameter]:
        """Replace both LayerNorms by conditional ones with the same γ, β (so the block
        computes exactly what it did, for every condition, until the new maps are
        trained); returns the new maps' parameters (to fine-tune only those)."""
        new = []
        for name in ("ln1", "ln2"):
            cln = ConditionalLayerNorm.from_layernorm(
                getattr(self, name), cond_dim, low_rank
            )
            setattr(self, name, cln)
            new += [p for n, p in cln.named_parameters() if n not in ("weight", "bias")]
        return new

    def forward(
        self,
        x: torch.Tensor,
        return_weights: bool = False,
        cond: torch.Tensor | None = None,
        **attn_kwargs,
    ):
        h = apply_norm(self.ln1, x, cond)
        a = self.attn(h, return_weights=return_weights, **attn_kwargs)
        a, w = a if return_weights else (a, None)
        x = x + a
        x = x + self.mlp(apply_norm(self.ln2, x, cond))
        return (x, w) if return_weights else x
