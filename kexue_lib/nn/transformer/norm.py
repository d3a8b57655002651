"""Conditional Layer Normalization: LayerNorm whose gain and bias depend on a condition.

Chapter ``nlp/conditional-layernorm`` (the part's flagship): a fixed-length condition
vector ``c`` (a class embedding, an image code) steers a pretrained Transformer by
shifting the ``γ`` and ``β`` of every LayerNorm,

    CLN(x, c) = γ(c) ⊙ (x − mean(x)) / sqrt(var(x) + eps) + β(c),
    γ(c) = γ + W_γ h(c),   β(c) = β + W_β h(c),

with ``h(c) = c`` or, for a wide condition, a low-rank projection ``h(c) = act(P c)``.
``W_γ`` and ``W_β`` start at zero, so before fine-tuning the layer *is* the pretrained
LayerNorm for every condition (C1 of the chapter); the projection ``P`` is initialised
randomly (a zero ``P`` and zero ``W`` would give zero gradients to both).
"""

from __future__ import annotations

import torch
from torch import nn

from ... import _validate as V

__all__ = ["ConditionalLayerNorm"]


class ConditionalLayerNorm(nn.Module):
    """LayerNorm over the last axis with condition-dependent gain and bias.

    Parameters
    ----------
    hidden : int
        Size of the normalised (last) axis of ``x``.
    cond_dim : int
        Size of the condition vector ``c``.
    low_rank : int, optional
        If given, ``c`` is first projected to ``low_rank`` numbers (``nn.Linear`` with
        its default random initialisation, then ``activation``) and the zero-initialised
        maps to γ and β start from there: ``(cond_dim + 2·hidden)·low_rank`` weights
        instead of ``2·cond_dim·hidden``.
    activation : nn.Module, optional
        Applied after the low-rank projection (default: none, a linear projection).
    eps : float
        As in :class:`torch.nn.LayerNorm`.

    ``forward(x, c)``: ``x`` of shape ``(batch, ..., hidden)``, ``c`` of shape
    ``(batch, cond_dim)``; the condition is broadcast over the middle axes (the
    positions of a sequence). ``c=None`` gives the unconditional LayerNorm (γ, β).

    :meth:`from_layernorm` builds one whose unconditional part copies a trained
    :class:`torch.nn.LayerNorm`. Chapter ``nlp/conditional-layernorm``, C1–C2.
    """

    def __init__(
        self,
        hidden: int,
        cond_dim: int,
        low_rank: int | None = None,
        *,
        activation: nn.Module | None = None,
        eps: float = 1e-5,
    ):
        super().__init__()
        self.hidden = V.integer("hidden", hidden, minimum=1)
        self.cond_dim = V.integer("cond_dim", cond_dim, minimum=1)
        self.eps = V.real("eps", eps, gt=0)
        V.module("activation", activation, optional=True)
        self.weight = nn.Parameter(torch.ones(hidden))
        self.bias = nn.Parameter(torch.zeros(hidden))
        if low_rank is None:
            self.project = None
            width = cond_dim
        else:
            low_rank = V.integer("low_rank", low_rank, minimum=1)
            layers: list[nn.Module] = [nn.Linear(cond_dim, low_rank)]
            if activation is not None:
                layers.append(activation)
            self.project = nn.Sequential(*layers)
            width = low_rank
        self.to_gain = nn.Linear(width, hidden, bias=False)
        self.to_bias = nn.Linear(width, hidden, bias=False)
        nn.init.zeros_(self.to_gain.weight)
        nn.init.zeros_(self.to_bias.weight)

    @classmethod
    def from_layernorm(
        cls, ln: nn.LayerNorm, cond_dim: int, low_rank: int | None = None, **kwargs
    ) -> ConditionalLayerNorm:
        """A conditional LayerNorm whose γ, β (and eps) are copies of ``ln``'s."""
        if not isinstance(ln, nn.LayerNorm):
            raise TypeError(f"ln must be a torch.nn.LayerNorm, got {V.describe(ln)}")
        if len(ln.normalized_shape) != 1 or not ln.elementwise_affine:
            raise ValueError(
                "ln must normalise one axis with a gain and a bias, got "
                f"normalized_shape={tuple(ln.normalized_shape)}, "
                f"elementwise_affine={ln.elementwise_affine}"
            )
        out = cls(ln.normalized_shape[0], cond_dim, low_rank, eps=ln.eps, **kwargs)
        out = out.to(ln.weight)  # dtype and device first, so the copy is exact
        with torch.no_grad():
            out.weight.copy_(ln.weight)
            if ln.bias is not None:
                out.bias.copy_(ln.bias)
        # a frozen LayerNorm stays frozen: only the new maps are trainable then
        out.weight.requires_grad_(ln.weight.requires_grad)
        out.bias.requires_grad_(ln.bias is not None and ln.bias.requires_grad)
        return out

    def shifts(self, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(γ(c) − γ, β(c) − β) = (W_γ h(c), W_β h(c))``, each ``(batch, hidden)``."""
        V.tensor("c", c, shape=f"(batch, {self.cond_dim})", ndim=2, floating=True)
        if c.shape[-1] != self.cond_dim:
            raise ValueError(
                f"c must have shape (batch, {self.cond_dim}), got {tuple(c.shape)}"
            )
        h = c if self.project is None else self.project(c)
        return self.to_gain(h), self.to_bias(h)

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        V.tensor("x", x, shape=f"(batch, ..., {self.hidden})", min_ndim=1)
        if x.shape[-1] != self.hidden:
            raise ValueError(
                f"x must have shape (batch, ..., {self.hidden}), got {tuple(x.shape)}"
            )
        # the unconditional LayerNorm, computed exactly as torch.nn.LayerNorm does ...
        out = nn.functional.layer_norm(
            x, (self.hidden,), self.weight, self.bias, self.eps
        )
        if c is None:
            return out
        d_gain, d_bias = self.shifts(c)
        if x.ndim < 2 or x.shape[0] != c.shape[0]:
            raise ValueError(
                f"c must have one row per batch element of x, got c of shape "
                f"{tuple(c.shape)} for x of shape {tuple(x.shape)}"
            )
        # ... plus the condition's part (W_γ h) ⊙ normed + W_β h, exactly 0 while the
        # maps are 0: then the output equals the LayerNorm's bit for bit
        normed = nn.functional.layer_norm(x, (self.hidden,), eps=self.eps)
        view = (x.shape[0],) + (1,) * (x.ndim - 2) + (self.hidden,)
        return out + (normed * d_gain.reshape(view) + d_bias.reshape(view))

    def extra_repr(self) -> str:
        rank = "" if self.project is None else f", low_rank={self.to_gain.in_features}"
        return f"hidden={self.hidden}, cond_dim={self.cond_dim}{rank}, eps={self.eps:g}"
