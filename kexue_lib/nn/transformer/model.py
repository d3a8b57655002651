""":class:`TinyTransformer`: a pre-LayerNorm causal language model built from
:class:`~kexue_lib.nn.transformer.block.TransformerBlock`; optional absolute sinusoidal
or learned position embeddings are added to the token embeddings.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ... import _validate as V
from .attention import causal_mask
from .block import TransformerBlock, apply_norm
from .norm import ConditionalLayerNorm

__all__ = ["TinyTransformer"]


class TinyTransformer(nn.Module):
    """A tiny Transformer language model: embedding → ``n_layers`` ×
    :class:`TransformerBlock` → LN → logits.

    Parameters
    ----------
    vocab : int
        Vocabulary size; tokens are ints in ``[0, vocab)``.
    d_model, n_heads, n_layers : int
        Width, heads (head size must be even for RoPE), depth.
    abs_pos : {"none", "sinusoidal", "learned"}
        Absolute position embedding added to the token embeddings. ``"sinusoidal"`` uses
        :func:`kexue_lib.position.sinusoidal_pe` at the given positions (any length);
        ``"learned"`` needs ``max_len`` and fails for positions ``>= max_len``.
    causal : bool
        If True (default) a causal mask is AND-ed with any ``mask`` passed to
        :meth:`forward`.

    ``forward(tokens, mask=None, positions=None, **attn_kwargs)``: ``tokens`` of shape
    ``(b, n)`` → logits ``(b, n, vocab)``. ``mask`` may also be a list with one mask per
    layer (UniVAE's first-k-layers mask). ``positions`` (``(n,)`` or ``(b, n)``, default
    ``0..n-1``) feed both RoPE and absolute embeddings. Other keywords (``attn_bias``,
    ``inv_freq``, ``rotary``, ``logit_scale``) go to every layer. With
    ``return_weights=True`` also returns the list of attention weights ``(b, h, n, n)``
    per layer.

    Conditional generation (chapter ``nlp/conditional-layernorm``): with ``cond_dim``
    every LayerNorm (two per block and the final one) is a
    :class:`~kexue_lib.nn.transformer.norm.ConditionalLayerNorm` and ``forward`` takes
    ``cond`` of shape ``(b, cond_dim)``; :meth:`condition_on` converts a trained model.
    """

    def __init__(
        self,
        vocab: int,
        d_model: int = 32,
        n_heads: int = 2,
        n_layers: int = 2,
        *,
        abs_pos: str = "none",
        max_len: int | None = None,
        causal: bool = True,
        mlp_ratio: int = 4,
        cond_dim: int | None = None,
        cond_low_rank: int | None = None,
    ):
        super().__init__()
        vocab = V.integer("vocab", vocab, minimum=2)
        d_model = V.integer("d_model", d_model, minimum=1)
        n_layers = V.integer("n_layers", n_layers, minimum=1)
        V.choice("abs_pos", abs_pos, ("none", "sinusoidal", "learned"))
        causal = V.boolean("causal", causal)
        if abs_pos == "learned" and max_len is None:
            raise ValueError("max_len must be a positive int when abs_pos='learned'")
        if max_len is not None:
            max_len = V.integer("max_len", max_len, minimum=1)
        self.vocab, self.d_model, self.n_layers = vocab, d_model, n_layers
        self.abs_pos, self.max_len, self.causal = abs_pos, max_len, causal
        self.embed = nn.Embedding(vocab, d_model)
        self.pos_embed = (
            nn.Embedding(max_len, d_model) if abs_pos == "learned" else None
        )
        self.blocks = nn.ModuleList(
            TransformerBlock(
                d_model,
                n_heads,
                mlp_ratio=mlp_ratio,
                cond_dim=cond_dim,
                cond_low_rank=cond_low_rank,
            )
            for _ in range(n_layers)
        )
        self.norm = (
            nn.LayerNorm(d_model)
            if cond_dim is None
            else ConditionalLayerNorm(d_model, cond_dim, cond_low_rank)
        )
        self.head = nn.Linear(d_model, vocab)

    def condition_on(
        self, cond_dim: int, low_rank: int | None = None
    ) -> list[nn.Parameter]:
        """Make every LayerNorm conditional, keeping its trained γ and β: until the new
        (zero-initialised) maps are trained, the model's logits are unchanged for every
        condition. Returns the new maps' parameters, to fine-tune only those."""
        new = []
        for block in self.blocks:
            new += block.condition_on(cond_dim, low_rank)
        self.norm = ConditionalLayerNorm.from_layernorm(self.norm, cond_dim, low_rank)
        new += [
            p for n, p in self.norm.named_parameters() if n not in ("weight", "bias")
        ]
        return new

    def _absolute(self, positions: torch.Tensor) -> torch.Tensor:
        if self.abs_pos == "learned":
            if int(positions.max()) >= self.max_len:
                raise ValueError(
                    f"positions must be < max_len = {self.max_len}, "
                    f"got max {int(positions.max())}"
                )
            return self.pos_embed(positions)
        from kexue_lib.position import sinusoidal_pe

        table = sinusoidal_pe(int(positions.max()) + 1, self.d_model).to(
            self.embed.weight
        )
        return table[positions]

    def forward(
        self,
        tokens: torch.Tensor,
        *,
        mask: torch.Tensor | Sequence[torch.Tensor] | None = None,
        positions: torch.Tensor | None = None,
        return_weights: bool = False,
        cond: torch.Tensor | None = None,
        **attn_kwargs,
    ):
        V.tensor("tokens", tokens, shape="(batch, n)", ndim=2, integral=True)
        return_weights = V.boolean("return_weights", return_weights)
        if tokens.numel() and (
            int(tokens.min()) < 0 or int(tokens.max()) >= self.vocab
        ):
            raise ValueError(
                f"tokens must lie in [0, {self.vocab}), "
                f"got range [{int(tokens.min())}, {int(tokens.max())}]"
            )
        b, n = tokens.shape
        if positions is not None:
            positions = V.real_tensor("positions", positions, tokens.device)
            if positions.shape[-1] != n or positions.dim() not in (1, 2):
                raise ValueError(
                    f"positions must have shape (n,) or (batch, n) with n = {n}, "
                    f"got {tuple(positions.shape)}"
                )
            if positions.is_floating_point() and self.abs_pos != "none":
                raise TypeError(
                    f"positions must be integers when abs_pos is used, "
                    f"got dtype {positions.dtype}"
                )
            if int(positions.min()) < 0:
                raise ValueError(
                    f"positions must be >= 0, got min {int(positions.min())}"
                )
        masks = list(mask) if isinstance(mask, list | tuple) else [mask] * self.n_layers
        if len(masks) != self.n_layers:
            raise ValueError(
                f"mask as a list must have n_layers = {self.n_layers} entries, "
                f"got {len(masks)}"
            )
        for m in masks:
            if m is not None:
                V.tensor("mask", m, shape="(n, n), (b, n, n) or (b, h, n, n)")
        if self.causal:
            c = causal_mask(n, device=tokens.device)
            masks = [c if m is None else _and_causal(m, c) for m in masks]
        h = self.embed(tokens)
        if self.abs_pos != "none":
            pos = (
                torch.arange(n, device=tokens.device)
                if positions is None
                else positions.long()
            )
            h = h + self._absolute(pos)
        weights = []
        for block, m in zip(self.blocks, masks):
            out = block(
                h,
                mask=m,
                positions=positions,
                return_weights=return_weights,
                cond=cond,
                **attn_kwargs,
            )
            if return_weights:
                h, w = out
                weights.append(w)
            else:
                h = out
        logits = self.head(apply_norm(self.norm, h, cond))
        return (logits, weights) if return_weights else logits


def _and_causal(m: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """Intersect a boolean or additive mask with the boolean causal mask ``c``."""
    if m.dtype == torch.bool:
        return m & c
    return m.masked_fill(~c, float("-inf"))
