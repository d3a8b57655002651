"""GlobalPointer: named entities as scored (start, end) pairs, and the multi-label loss
that trains it.

Chapter ``nlp/globalpointer``. A sentence of n tokens with hidden states h_1 … h_n has
n(n+1)/2 candidate spans [i, j], i ≤ j. For each entity type α GlobalPointer scores
every span by one inner product,

    s_α(i, j) = ⟨R_i q_{i,α}, R_j k_{j,α}⟩ / √d = q_{i,α}ᵀ R_{j−i} k_{j,α} / √d,

with q, k linear in h and R the rotary position embedding (RoPE, the book's one
implementation in :mod:`kexue_lib.position`), so a span's score sees the relative
offset of its two ends; without R the score cannot tell a span from the same two
tokens in the other order or at another distance. Nested and flat entities are then the
same problem: a multi-label classification over all spans, decoded by a threshold
(:func:`decode_spans`) and trained by :func:`multilabel_categorical_crossentropy`,

    log(1 + Σ_{positive} e^{−s}) + log(1 + Σ_{negative} e^{s}),

the softmax cross-entropy generalised to any number of target classes, with 0 as the
threshold between them. :func:`entity_f1` scores sets of ``(type, start, end)``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import NamedTuple

import torch
from torch import nn

from .. import _validate as V
from ..position import apply_rope, rope_inv_freq

__all__ = [
    "GlobalPointer",
    "span_mask",
    "multilabel_categorical_crossentropy",
    "decode_spans",
    "EntityScore",
    "entity_f1",
]


def span_mask(token_mask: torch.Tensor) -> torch.Tensor:
    """Which (start, end) pairs are candidate spans: bool ``(batch, 1, n, n)``, True
    where ``start <= end`` and both tokens are real (``token_mask`` True).

    ``token_mask`` is a bool tensor ``(batch, n)`` (False marks padding).
    """
    V.tensor("token_mask", token_mask, shape="(batch, n)", ndim=2)
    if token_mask.dtype != torch.bool:
        raise TypeError(
            f"token_mask must be a bool tensor, got dtype {token_mask.dtype}"
        )
    n = token_mask.shape[1]
    upper = torch.ones(n, n, dtype=torch.bool, device=token_mask.device).triu()
    both = token_mask[:, :, None] & token_mask[:, None, :]
    return (both & upper)[:, None]


class GlobalPointer(nn.Module):
    """Span scores ``s_α(i, j)`` for ``heads`` entity types from hidden states.

    Parameters
    ----------
    hidden : int
        Size of the hidden states ``h`` (last axis of the input).
    heads : int
        Number of entity types α.
    head_dim : int
        Size d of each q and k (even when ``rope``).
    rope : bool
        Rotate q and k by RoPE (positions 0 … n−1) so that ``s(i, j)`` depends on the
        positions through ``j − i`` (chapter ``nlp/globalpointer``, C2).
    base : float
        RoPE base.

    ``forward(h, token_mask=None)``: ``h`` of shape ``(batch, n, hidden)`` → logits
    ``(batch, heads, n, n)``; entry ``[b, α, i, j]`` is ``s_α(i, j)``. Entries that are
    not candidate spans (``i > j`` or padding, see :func:`span_mask`) are set to
    ``-inf`` only when ``fill_invalid=True``; by default they are left as computed, and
    the loss and the decoder take the mask.
    """

    def __init__(
        self,
        hidden: int,
        heads: int,
        head_dim: int,
        *,
        rope: bool = True,
        base: float = 10000.0,
    ):
        super().__init__()
        self.hidden = V.integer("hidden", hidden, minimum=1)
        self.heads = V.integer("heads", heads, minimum=1)
        self.rope = V.boolean("rope", rope)
        self.head_dim = V.integer("head_dim", head_dim, minimum=2, even=self.rope)
        self.base = V.real("base", base, gt=1)
        self.proj = nn.Linear(hidden, 2 * heads * head_dim)

    def forward(
        self,
        h: torch.Tensor,
        token_mask: torch.Tensor | None = None,
        *,
        fill_invalid: bool = False,
    ) -> torch.Tensor:
        V.tensor("h", h, shape=f"(batch, n, {self.hidden})", ndim=3, floating=True)
        if h.shape[-1] != self.hidden:
            raise ValueError(
                f"h must have shape (batch, n, {self.hidden}), got {tuple(h.shape)}"
            )
        b, n, _ = h.shape
        qk = self.proj(h).view(b, n, self.heads, 2, self.head_dim)
        q, k = qk[..., 0, :].transpose(1, 2), qk[..., 1, :].transpose(1, 2)
        if self.rope:
            inv = rope_inv_freq(
                self.head_dim, self.base, dtype=h.dtype, device=h.device
            )
            pos = torch.arange(n, device=h.device)
            q, k = apply_rope(q, pos, inv), apply_rope(k, pos, inv)
        logits = q @ k.transpose(-1, -2) / math.sqrt(self.head_dim)
        if fill_invalid:
            if token_mask is None:
                token_mask = torch.ones(b, n, dtype=torch.bool, device=h.device)
            V.tensor("token_mask", token_mask, shape="(batch, n)", ndim=2)
            V.same_shape("token_mask", token_mask, "h.shape[:2] =", h[..., 0])
            mask = span_mask(token_mask)
            logits = logits.masked_fill(~mask, float("-inf"))
        return logits


def _check_labels(y_true, logits, mask):
    V.tensor("logits", logits, min_ndim=1, floating=True)
    V.tensor("y_true", y_true)
    V.same_shape("y_true", y_true, "logits", logits)
    if y_true.is_floating_point() or y_true.dtype != torch.bool:
        if not bool(((y_true == 0) | (y_true == 1)).all()):
            raise ValueError("y_true must hold only 0 and 1, got other values")
    y = y_true.bool()
    if mask is None:
        return y, torch.ones_like(y)
    V.tensor("mask", mask)
    if mask.dtype != torch.bool:
        raise TypeError(f"mask must be a bool tensor, got dtype {mask.dtype}")
    V.broadcasts_to("mask", mask.shape, "logits", logits.shape)
    mask = mask.expand_as(y)
    if bool((y & ~mask).any()):
        raise ValueError(
            "y_true must be 0 wherever mask is False, got a masked positive"
        )
    return y, mask


def multilabel_categorical_crossentropy(
    y_true: torch.Tensor,
    logits: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    flatten: int = 1,
) -> torch.Tensor:
    """``log(1 + Σ_{pos} e^{−s}) + log(1 + Σ_{neg} e^{s})`` over the last ``flatten``
    axes of ``logits`` (the classes), one loss per leading index.

    ``y_true`` has the shape of ``logits`` with entries 0/1 (bool, int or float);
    ``mask`` (bool, broadcastable to it) excludes entries from both sums — they count
    neither as positives nor as negatives. Computed as two ``logsumexp`` with a 0
    appended, so it stays finite for scores of any size (1e4, 1e30) and its gradient
    is a pair of softmaxes. ``flatten=2`` treats an ``(n, n)`` span matrix as n² classes
    (GlobalPointer). Chapter ``nlp/globalpointer``, C3.
    """
    flatten = V.integer("flatten", flatten, minimum=1)
    y, mask = _check_labels(y_true, logits, mask)
    if logits.ndim < flatten:
        raise ValueError(
            f"logits must have at least flatten = {flatten} axes, got shape "
            f"{tuple(logits.shape)}"
        )
    s, y, mask = (t.flatten(-flatten) if flatten > 1 else t for t in (logits, y, mask))
    ninf = torch.tensor(float("-inf"), dtype=s.dtype, device=s.device)
    pos = torch.where(y & mask, -s, ninf)
    neg = torch.where(~y & mask, s, ninf)
    zero = torch.zeros_like(s[..., :1])
    return torch.logsumexp(torch.cat([zero, pos], -1), -1) + torch.logsumexp(
        torch.cat([zero, neg], -1), -1
    )


def decode_spans(
    logits: torch.Tensor,
    threshold: float = 0.0,
    token_mask: torch.Tensor | None = None,
) -> list[set[tuple[int, int, int]]]:
    """The predicted entities of each sentence: ``{(type, start, end)}`` for every span
    ``start <= end`` (of real tokens) with ``s_type(start, end) > threshold``.

    ``logits`` of shape ``(batch, heads, n, n)``; returns one set per sentence.
    """
    V.tensor("logits", logits, shape="(batch, heads, n, n)", ndim=4, floating=True)
    if logits.shape[-1] != logits.shape[-2]:
        raise ValueError(
            f"logits must have shape (batch, heads, n, n), got {tuple(logits.shape)}"
        )
    threshold = V.real("threshold", threshold, finite=False)
    b, _, n, _ = logits.shape
    if token_mask is None:
        token_mask = torch.ones(b, n, dtype=torch.bool, device=logits.device)
    mask = span_mask(token_mask)
    if mask.shape[0] != b or mask.shape[-1] != n:
        raise ValueError(
            f"token_mask must have shape ({b}, {n}), got {tuple(token_mask.shape)}"
        )
    hits = ((logits > threshold) & mask).nonzero().tolist()
    out: list[set[tuple[int, int, int]]] = [set() for _ in range(b)]
    for bi, t, i, j in hits:
        out[bi].add((t, i, j))
    return out


class EntityScore(NamedTuple):
    """Entity-level scores: ``f1 = 2·|T ∩ P| / (|T| + |P|)``."""

    f1: float
    precision: float
    recall: float


def entity_f1(true: Iterable, pred: Iterable) -> EntityScore:
    """Micro F1, precision and recall of predicted entities against the true ones.

    ``true`` and ``pred`` are either two sets of hashable entities (e.g.
    ``(type, start, end)``) or two equally long sequences of such sets, one per sentence
    (then the counts are summed over sentences). Conventions for empty sets: precision
    is 1 when nothing is predicted, recall 1 when there is nothing to find, F1 1 when
    both are empty.
    """
    if isinstance(true, set | frozenset) != isinstance(pred, set | frozenset):
        raise TypeError(
            "true and pred must be both sets or both sequences of sets, got "
            f"{V.describe(true)} and {V.describe(pred)}"
        )
    if isinstance(true, set | frozenset):
        true, pred = [true], [pred]
    true, pred = list(true), list(pred)
    if len(true) != len(pred):
        raise ValueError(
            f"pred must have one set per sentence of true ({len(true)}), "
            f"got {len(pred)}"
        )
    hit = n_true = n_pred = 0
    for i, (t, p) in enumerate(zip(true, pred)):
        for name, s in (("true", t), ("pred", p)):
            if not isinstance(s, set | frozenset):
                raise TypeError(f"{name}[{i}] must be a set, got {V.describe(s)}")
        hit += len(t & p)
        n_true += len(t)
        n_pred += len(p)
    precision = hit / n_pred if n_pred else 1.0
    recall = hit / n_true if n_true else 1.0
    f1 = 2 * hit / (n_true + n_pred) if n_true + n_pred else 1.0
    return EntityScore(f1, precision, recall)
