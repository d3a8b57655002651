"""Small data sets that need no download.

* :func:`digits` — scikit-learn's bundled 8×8 handwritten digits (1797 images), scaled
  to [0, 1].
* :func:`train_test` — a seeded split.
* :func:`ring_of_gaussians`, :func:`two_moons` — 2-D toy sets for GANs, flows and
  diffusion.

Synthetic sequence tasks for the attention and position chapters live further down this
module.
"""

from __future__ import annotations

import torch

from . import _validate as V

__all__ = [
    "digits",
    "train_test",
    "ring_of_gaussians",
    "two_moons",
    "copy_task",
    "reverse_task",
    "random_transitions",
    "markov_language",
]


def digits(
    *,
    binarize: bool = False,
    threshold: float = 0.5,
    dtype: torch.dtype = torch.float32,
):
    """scikit-learn's 8×8 digits as tensors ``(x, y)``: ``x`` of shape (1797, 64) in
    [0, 1], ``y`` int64.

    The data ship inside scikit-learn (``load_digits``), so nothing is downloaded. Pixel
    intensities 0…16 are divided by 16. With ``binarize=True`` pixels become
    ``(x > threshold)`` as 0/1 floats (the binarised digits of the VAE chapters).
    """
    binarize = V.boolean("binarize", binarize)
    threshold = V.real("threshold", threshold, gt=0, lt=1)
    data, target = _digits_arrays()
    x = torch.as_tensor(data / 16.0, dtype=dtype)
    if binarize:
        x = (x > threshold).to(dtype)
    y = torch.as_tensor(target, dtype=torch.long)
    return x, y


def _digits_arrays():
    """``(data, target)`` exactly as ``sklearn.datasets.load_digits()`` returns them,
    read from the file that ships inside scikit-learn without importing scikit-learn
    (whose import costs more than a second in every chapter that only needs the
    digits); falls back to ``load_digits`` if the file is not where it is expected."""
    import gzip
    import importlib.util
    from pathlib import Path

    import numpy as np

    spec = importlib.util.find_spec("sklearn")  # locates the package, runs nothing
    roots = spec.submodule_search_locations if spec is not None else None
    path = (
        Path(next(iter(roots))) / "datasets" / "data" / "digits.csv.gz"
        if roots
        else None
    )
    if path is None or not path.is_file():
        from sklearn.datasets import load_digits

        d = load_digits()
        return d.data, d.target
    with gzip.open(path, "rt") as f:
        flat = np.loadtxt(f, delimiter=",")
    return flat[:, :-1], flat[:, -1].astype(int, copy=False)


def train_test(x, y, *, test_fraction: float = 0.25, seed: int = 0):
    """Seeded random split ``(x_train, y_train, x_test, y_test)`` along the first
    dimension.
    """
    test_fraction = V.real("test_fraction", test_fraction, gt=0, lt=1)
    seed = V.integer("seed", seed, minimum=0)
    for name, v in (("x", x), ("y", y)):
        if not hasattr(v, "__len__") or not hasattr(v, "__getitem__"):
            raise TypeError(
                f"{name} must be an indexable sequence (tensor or array), "
                f"got {V.describe(v)}"
            )
    if len(x) != len(y):
        raise ValueError(
            f"x and y must have the same length, got {len(x)} and {len(y)}"
        )
    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(len(x), generator=g)
    n_test = max(1, int(round(test_fraction * len(x))))
    te, tr = perm[:n_test], perm[n_test:]
    return x[tr], y[tr], x[te], y[te]


def ring_of_gaussians(
    n: int, *, modes: int = 8, radius: float = 2.0, std: float = 0.05, generator=None
):
    """``n`` points from ``modes`` isotropic Gaussians equally spaced on a circle;
    returns ``(x, mode)``.
    """
    n = V.integer("n", n, minimum=1)
    modes = V.integer("modes", modes, minimum=1)
    radius = V.real("radius", radius)
    std = V.real("std", std, gt=0)
    V.generator("generator", generator)
    k = torch.randint(0, modes, (n,), generator=generator)
    ang = 2 * torch.pi * k.to(torch.float32) / modes
    centres = radius * torch.stack([torch.cos(ang), torch.sin(ang)], dim=1)
    return centres + std * torch.randn(n, 2, generator=generator), k


def two_moons(n: int, *, noise: float = 0.05, seed: int = 0):
    """scikit-learn's two interleaving half circles as a float32 tensor of shape (n, 2),
    plus labels.
    """
    from sklearn.datasets import make_moons

    n = V.integer("n", n, minimum=2)
    noise = V.real("noise", noise, ge=0)
    seed = V.integer("seed", seed, minimum=0)
    x, y = make_moons(n_samples=n, noise=noise, random_state=seed)
    return torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y, dtype=torch.long)


# ------------------------------------------------------------------------------------
# Synthetic sequence tasks for length generalisation (book/position/*).
#
# Each task returns ``(tokens, loss_mask)``: int64 tokens of shape (batch, n) and a
# boolean mask of the same shape marking the positions whose token a causal LM is asked
# to predict (it is never position 0). Train at a fixed length and call the same
# function with a larger ``n`` to test length extrapolation. Pass a seeded
# ``torch.Generator`` for reproducible batches.


def _check_task_args(
    batch: int, n: int, vocab: int, min_n: int = 2, min_vocab: int = 2
) -> None:
    V.integer("batch", batch, minimum=1)
    V.integer("n", n, minimum=min_n)
    V.integer("vocab", vocab, minimum=min_vocab)


def copy_task(
    batch: int,
    n: int,
    vocab: int = 16,
    *,
    period=None,
    generator: torch.Generator | None = None,
):
    """Repeat a random string: ``tokens[t] = s[t mod p]`` with ``s`` uniform over
    ``[0, vocab)`` of length ``p``.

    ``period=None`` copies a string of length ``p = n // 2`` once (the classic copy
    task); an int fixes ``p``; a pair ``(lo, hi)`` draws ``p`` uniformly from ``lo…hi``
    per sequence. The loss mask selects ``t >= p``, the positions that are determined by
    the past (the first ``p`` tokens are pure noise). Returns ``(tokens, loss_mask)`` of
    shape (batch, n). Chapter: book/position/beta-base-rope (experiment).
    """
    _check_task_args(batch, n, vocab)
    V.generator("generator", generator)
    if period is None:
        lo = hi = n // 2
    elif isinstance(period, int) and not isinstance(period, bool):
        lo = hi = period
    else:
        expected = "None, an int or a pair of ints (lo, hi)"
        if not isinstance(period, tuple | list):
            raise TypeError(f"period must be {expected}, got {V.describe(period)}")
        if len(period) != 2:
            raise ValueError(f"period must be {expected}, got {period!r}")
        lo, hi = (V.integer("period", v) for v in period)
    if not 1 <= lo <= hi < n:
        raise ValueError(f"period must satisfy 1 <= lo <= hi < n = {n}, got {period!r}")
    p = torch.randint(lo, hi + 1, (batch, 1), generator=generator)
    s = torch.randint(0, vocab, (batch, n), generator=generator)
    t = torch.arange(n)[None, :]
    tokens = s.gather(1, t % p)
    return tokens, t >= p


def reverse_task(
    batch: int, m: int, vocab: int = 10, *, generator: torch.Generator | None = None
):
    """``x_1 … x_m, SEP, x_m … x_1``: a random string over ``[0, vocab−1)`` then, after
    the separator ``SEP = vocab − 1``, the same string reversed. Length ``n = 2m + 1``;
    the loss mask selects the reversed part (positions ``m+1 … 2m``). Returns
    ``(tokens, loss_mask)``. Chapter: book/position/position-robustness.
    """
    m = V.integer("m", m, minimum=1)
    V.generator("generator", generator)
    _check_task_args(batch, 2 * m + 1, vocab, min_n=3, min_vocab=3)
    x = torch.randint(0, vocab - 1, (batch, m), generator=generator)
    sep = torch.full((batch, 1), vocab - 1, dtype=torch.long)
    tokens = torch.cat([x, sep, x.flip(1)], dim=1)
    loss_mask = torch.zeros_like(tokens, dtype=torch.bool)
    loss_mask[:, m + 1 :] = True
    return tokens, loss_mask


def random_transitions(
    batch: int,
    vocab: int,
    *,
    sharpness: float = 2.0,
    generator: torch.Generator | None = None,
):
    """Random Markov transition matrices ``P[b, i, :] = softmax(sharpness · z)``, ``z``
    standard normal.

    Shape (batch, vocab, vocab); each row sums to 1. Larger ``sharpness`` gives more
    predictable chains.
    """
    _check_task_args(batch, 2, vocab)
    sharpness = V.real("sharpness", sharpness, ge=0)
    V.generator("generator", generator)
    z = torch.randn(batch, vocab, vocab, generator=generator, dtype=torch.float64)
    return torch.softmax(sharpness * z, dim=-1)


def markov_language(
    batch: int,
    n: int,
    vocab: int = 8,
    *,
    transitions: torch.Tensor | None = None,
    sharpness: float = 2.0,
    generator: torch.Generator | None = None,
    return_transitions: bool = False,
):
    """Sequences from first-order Markov chains — by default a *fresh random chain per
    sequence*.

    With ``transitions=None`` each sequence draws its own matrix
    (:func:`random_transitions`), so a model must infer the bigram table *in context*
    from all earlier occurrences of the current token: longer contexts help a model that
    generalises and hurt one that does not. Passing a fixed ``(vocab, vocab)`` matrix
    gives an ordinary stationary Markov language instead. The first token is uniform.
    The loss mask selects positions ``1 … n−1``. With ``return_transitions=True`` also
    returns the (batch, vocab, vocab) matrices, from which the oracle loss
    ``−log P[x_{t−1}, x_t]`` can be computed. Chapters: book/position/local-attention,
    book/position/beta-base-rope.
    """
    _check_task_args(batch, n, vocab)
    if transitions is None:
        P = random_transitions(batch, vocab, sharpness=sharpness, generator=generator)
    else:
        P = torch.as_tensor(V.real_array("transitions", transitions))
        if P.shape == (vocab, vocab):
            P = P.expand(batch, vocab, vocab)
        if P.shape != (batch, vocab, vocab):
            raise ValueError(
                f"transitions must have shape ({vocab}, {vocab}) or "
                f"({batch}, {vocab}, {vocab}), got {tuple(P.shape)}"
            )
        if bool((P < 0).any()) or not torch.allclose(
            P.sum(-1), torch.ones((), dtype=P.dtype)
        ):
            raise ValueError(
                "transitions must have non-negative rows summing to 1, got row sums "
                f"in [{float(P.sum(-1).min()):.6g}, {float(P.sum(-1).max()):.6g}] "
                f"and min entry {float(P.min()):.3g}"
            )
    tokens = torch.empty(batch, n, dtype=torch.long)
    tokens[:, 0] = torch.randint(0, vocab, (batch,), generator=generator)
    u = torch.rand(batch, n, generator=generator, dtype=torch.float64)
    cdf = P.cumsum(-1)
    rows = torch.arange(batch)
    for t in range(1, n):
        c = cdf[rows, tokens[:, t - 1]]  # (batch, vocab)
        tokens[:, t] = torch.searchsorted(c, u[:, t : t + 1].contiguous()).clamp_max(
            vocab - 1
        )[:, 0]
    loss_mask = torch.ones(batch, n, dtype=torch.bool)
    loss_mask[:, 0] = False
    return (tokens, loss_mask, P) if return_transitions else (tokens, loss_mask)
