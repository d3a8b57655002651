"""The toy language model of ``math/search-sampling`` and two small helpers (see
:mod:`kexue_lib.sampling`)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .. import _validate as V
from ._common import _categorical

__all__ = ["BigramLM", "contains_keywords", "total_variation"]


class BigramLM:
    """A bigram language model over ``V`` words that emits sentences of exactly
    ``length`` words: ``p(x) = start[x_1] · Π_t trans[x_{t-1}, x_t]``.

    Chapter ``math/search-sampling``: the unconditional model ``p_LM`` of claim C1 and
    the proposal ``q`` of claims C2–C3. ``start`` (V,) and ``trans`` (V, V) are
    probability vectors / row-stochastic matrices (float64 tensors).
    """

    def __init__(self, start: torch.Tensor, trans: torch.Tensor, length: int) -> None:
        start = V.tensor("start", start, shape="(V,)", ndim=1, floating=True)
        trans = V.tensor("trans", trans, shape="(V, V)", ndim=2, floating=True)
        n = start.shape[0]
        if n < 1 or tuple(trans.shape) != (n, n):
            raise ValueError(
                f"trans must have shape ({n}, {n}) to match start, "
                f"got {tuple(trans.shape)}"
            )
        for name, p in (("start", start), ("trans", trans)):
            if not bool(torch.isfinite(p).all()) or bool((p < 0).any()):
                raise ValueError(f"{name} must be finite and >= 0, got other entries")
            if not torch.allclose(p.sum(-1), torch.ones((), dtype=p.dtype), atol=1e-9):
                raise ValueError(f"{name} must sum to 1 (along its last axis), got not")
        self.start = start.to(torch.float64)
        self.trans = trans.to(torch.float64)
        self.length = V.integer("length", length, minimum=1)

    @property
    def vocab_size(self) -> int:
        return self.start.shape[0]

    def _check_x(self, x) -> torch.Tensor:
        x = V.tensor("x", x, shape=f"(n, {self.length})", ndim=2, integral=True)
        if x.shape[1] != self.length:
            raise ValueError(
                f"x must have shape (n, {self.length}), got {tuple(x.shape)}"
            )
        if x.numel() and (int(x.min()) < 0 or int(x.max()) >= self.vocab_size):
            raise ValueError(
                f"x must hold word ids in [0, {self.vocab_size - 1}], "
                f"got ids in [{int(x.min())}, {int(x.max())}]"
            )
        return x

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Exact ``log p(x)`` of each row of ``x`` (n, length); ``-inf`` where zero."""
        x = self._check_x(x)
        with torch.no_grad():
            out = self.start.log()[x[:, 0]]
            out = out + self.trans.log()[x[:, :-1], x[:, 1:]].sum(-1)
        return out

    def sample(self, n: int, *, generator: torch.Generator | None = None):
        """``n`` sentences by ancestral sampling, word after word; shape (n, length)."""
        n = V.integer("n", n, minimum=0)
        generator = V.generator("generator", generator)
        x = torch.empty(n, self.length, dtype=torch.long)
        x[:, 0] = _categorical(self.start.expand(n, -1), generator)
        for t in range(1, self.length):
            x[:, t] = _categorical(self.trans[x[:, t - 1]], generator)
        return x

    def tempered(self, temperature: float) -> BigramLM:
        """The model with every next-word distribution raised to ``1/temperature`` and
        renormalised (``temperature > 1`` flattens it): a proposal for C2–C3."""
        tau = V.real("temperature", temperature, gt=0)
        s = self.start ** (1 / tau)
        t = self.trans ** (1 / tau)
        return BigramLM(s / s.sum(), t / t.sum(-1, keepdim=True), self.length)

    def enumerate(self) -> torch.Tensor:
        """All ``V**length`` sentences in lexicographic order (row ``i`` is ``i``
        written in base ``V``); shape (V**length, length)."""
        v, L = self.vocab_size, self.length
        codes = torch.arange(v**L)
        powers = v ** torch.arange(L - 1, -1, -1)
        return (codes[:, None] // powers) % v


def contains_keywords(x: torch.Tensor, keywords: Sequence[int]) -> torch.Tensor:
    """``χ(x, c)``: True for each row of ``x`` (n, L) that contains every word id in
    ``keywords`` (claim C1's indicator; an empty set is always satisfied)."""
    x = V.tensor("x", x, shape="(n, L)", ndim=2, integral=True)
    if isinstance(keywords, str) or not isinstance(keywords, Sequence):
        raise TypeError(
            f"keywords must be a sequence of ints, got {V.describe(keywords)}"
        )
    ids = [V.integer("keywords", k, minimum=0) for k in keywords]
    out = torch.ones(x.shape[0], dtype=torch.bool)
    for k in ids:
        out &= (x == k).any(-1)
    return out


def total_variation(p, q) -> float:
    """``½ Σ |p − q|`` of two probability vectors of the same shape."""
    p = V.real_tensor("p", p).to(torch.float64)
    q = V.real_tensor("q", q).to(torch.float64)
    V.same_shape("q", q, "p", p)
    return 0.5 * float((p - q).abs().sum())
