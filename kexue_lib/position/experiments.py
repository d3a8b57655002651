"""Pieces of the length-extrapolation experiments that are not position encodings.

* :func:`equal_mean_positions` — the "equal-mean" random positions of
  ``book/position/position-robustness``: a random range with mean ``N`` and ``N``
  evenly spaced (float) positions in it;
* :func:`in_context_bigram_nll` — the reference predictor of
  ``book/position/local-attention``: for sequences of
  :func:`kexue_lib.data.markov_language` (a fresh random chain per sequence) it
  estimates the transition table from the bigrams it can see — all of the past, or only
  a window — and scores the next token.
"""

from __future__ import annotations

import torch

from .. import _validate as V

__all__ = ["EQUAL_MEAN_LAWS", "equal_mean_positions", "in_context_bigram_nll"]

EQUAL_MEAN_LAWS = ("exponential", "poisson")


def equal_mean_positions(
    n: int,
    batch: int,
    mean_range: float | None = None,
    *,
    law: str = "exponential",
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Equal-mean random positions: ``linspace(0, 1, n) · R`` with a random range ``R``.

    For each of the ``batch`` rows a range ``R ≥ 0`` is drawn with mean ``mean_range``
    (default ``n``, the training length) from ``law``: ``"exponential"`` (standard
    deviation ``mean_range``, so ranges up to several times ``n`` are trained) or
    ``"poisson"`` (standard deviation ``√mean_range``). The ``n`` positions of the row
    are evenly spaced from 0 to ``R``; their mean spacing is ``E R/(n−1) ≈ 1``, the
    spacing of ordinary positions, while the largest position varies from sample to
    sample. Float positions suit functional encodings (RoPE, Sinusoidal) only.

    Returns a tensor of shape ``(batch, n)``. Chapter: book/position/position-robustness
    (the post's "equal-mean random position training").
    """
    n = V.integer("n", n, minimum=2)
    batch = V.integer("batch", batch, minimum=1)
    mean = float(n) if mean_range is None else V.real("mean_range", mean_range, gt=0)
    V.choice("law", law, EQUAL_MEAN_LAWS)
    V.generator("generator", generator)
    if law == "exponential":
        r = torch.empty(batch, dtype=torch.float64).exponential_(
            1.0 / mean, generator=generator
        )
    else:
        r = torch.poisson(
            torch.full((batch,), mean, dtype=torch.float64), generator=generator
        )
    grid = torch.linspace(0.0, 1.0, n, dtype=torch.float64)
    return (r[:, None] * grid[None, :]).to(dtype)


def in_context_bigram_nll(
    tokens: torch.Tensor,
    vocab: int,
    *,
    window: int | None = None,
    alpha: float = 0.5,
) -> torch.Tensor:
    """Next-token NLL (nats) of the add-``alpha`` bigram estimate from the visible
    context.

    To predict ``tokens[:, t]`` (``t ≥ 1``) the estimator counts the bigrams
    ``(tokens[:, s-1], tokens[:, s])`` it can see and returns
    ``p(b | a) = (c[a, b] + α) / (Σ_b' c[a, b'] + Vα)`` with ``a = tokens[:, t-1]``.
    With ``window=None`` it sees every earlier token; with ``window = w`` only the
    ``w`` most recent ones, ``tokens[:, t-w … t-1]`` — what a query at position ``t-1``
    sees under :func:`~kexue_lib.position.sliding_window_mask` ``(n, w)`` — so only
    bigrams inside them count. ``α = 1/2`` is the Krichevsky–Trofimov estimator.

    ``tokens`` is an integer tensor of shape ``(b, n)`` with values in ``[0, vocab)``;
    returns a float64 tensor of shape ``(b, n − 1)`` (entry ``t − 1`` scores token
    ``t``). Chapter: book/position/local-attention (what a window costs on a task whose
    statistics must be read from the context).
    """
    V.tensor("tokens", tokens, shape="(b, n)", ndim=2, integral=True)
    vocab = V.integer("vocab", vocab, minimum=2)
    alpha = V.real("alpha", alpha, gt=0)
    if window is not None:
        window = V.integer("window", window, minimum=1)
    b, n = tokens.shape
    if n < 2:
        raise ValueError(f"tokens must have at least 2 columns, got {n}")
    if int(tokens.min()) < 0 or int(tokens.max()) >= vocab:
        raise ValueError(
            f"tokens must lie in [0, {vocab}), got range "
            f"[{int(tokens.min())}, {int(tokens.max())}]"
        )
    tok = tokens.long()
    # E[:, s] = one-hot of the bigram (tok[s-1], tok[s]) ending at s (s = 1 … n-1),
    # counts up to s: C[:, s] = Σ_{s' ≤ s} E[:, s']; C[:, 0] = 0.
    pair = tok[:, :-1] * vocab + tok[:, 1:]
    ends = torch.zeros(b, n, vocab * vocab, dtype=torch.float64)
    ends[:, 1:].scatter_(2, pair[..., None], 1.0)
    cum = ends.cumsum(1)
    t = torch.arange(1, n)
    hi = cum[:, t - 1]  # bigrams ending at s ≤ t-1
    if window is None:
        counts = hi
    else:
        # visible tokens t-w … t-1: bigrams ending at s with s-1 ≥ t-w, i.e. s ≥ t-w+1
        lo_idx = t - window  # bigrams ending at s ≤ t-w are not visible
        lo = torch.where(
            (lo_idx >= 0)[None, :, None],
            cum[:, lo_idx.clamp_min(0)],
            torch.zeros((), dtype=torch.float64),
        )
        counts = hi - lo
    counts = counts.view(b, n - 1, vocab, vocab)
    a, nxt = tok[:, :-1], tok[:, 1:]
    row = counts.gather(2, a[:, :, None, None].expand(b, n - 1, 1, vocab)).squeeze(
        2
    )  # (b, n-1, V): counts of bigrams starting with a
    c_ab = row.gather(2, nxt[..., None]).squeeze(2)
    p = (c_ab + alpha) / (row.sum(-1) + vocab * alpha)
    return -torch.log(p)
