"""Sampling from a distribution known only up to a constant: importance sampling,
rejection sampling, Metropolis–Hastings and Gibbs.

Chapter ``math/search-sampling`` (posts kexue.fm/archives/8062 and 8084). The target is
always given as ``log_rho``, the logarithm of an *unnormalised* density
``ρ(x) ∝ p(x)`` (``-inf`` where ``ρ = 0``, e.g. a sentence without its keywords); no
function here needs the normaliser ``Z = Σ_x ρ(x)``.

* :func:`importance_weights`, :func:`importance_expectation` — self-normalised
  importance sampling ``Σ w_i f(x_i) / Σ w_i`` with ``w = ρ/q`` (claim C2).
* :func:`rejection_sample` — propose from ``q``, accept with ``α = ρ/(M q)`` (claim C3).
* :func:`metropolis_hastings` — the MH chain with acceptance
  ``min(1, q(x←y)ρ(y) / (q(y←x)ρ(x)))`` (claim C4), vectorised over chains;
  :func:`propose_edit` is the symmetric edit proposal the chapter uses.
* :func:`gibbs_sweep` — resample positions of a sequence from their exact conditionals
  (claim C4: MH with acceptance 1).
* :func:`mh_acceptance`, :func:`mh_kernel` — the exact MH acceptance and transition
  matrices of a small finite space, for checking detailed balance by enumeration.
* :class:`BigramLM` — a fixed-length bigram language model (ancestral sampling, exact
  log-probabilities, enumeration of all sequences, tempering), the chapter's toy model.

Conventions: states are rows of an integer tensor ``x`` of shape ``(n, L)``;
``log_rho(x)`` and ``log_q(x)`` return shape ``(n,)``. Every random function takes a
``torch.Generator`` (keyword ``generator``, ``None`` = PyTorch's global one), so a
chapter is reproducible by seeding its generators.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch

from . import _validate as V

__all__ = [
    "BigramLM",
    "importance_weights",
    "importance_expectation",
    "rejection_sample",
    "metropolis_hastings",
    "propose_edit",
    "gibbs_sweep",
    "mh_acceptance",
    "mh_kernel",
    "contains_keywords",
    "total_variation",
]

LogDensity = Callable[[torch.Tensor], torch.Tensor]


def _callable(name: str, value) -> Callable:
    if not callable(value):
        raise TypeError(f"{name} must be callable, got {V.describe(value)}")
    return value


def _log_values(name: str, values, n: int) -> torch.Tensor:
    """The output of a log-density callable: a float tensor of shape (n,), no NaN and
    no +inf (``-inf`` means density 0)."""
    if not isinstance(values, torch.Tensor) or not values.is_floating_point():
        raise TypeError(
            f"{name} must return a floating-point tensor, got {V.describe(values)}"
        )
    if tuple(values.shape) != (n,):
        raise ValueError(f"{name} must return shape ({n},), got {tuple(values.shape)}")
    if bool(torch.isnan(values).any()) or bool((values == math.inf).any()):
        raise ValueError(f"{name} must return values < +inf and not NaN, got some")
    return values


def _categorical(probs: torch.Tensor, generator) -> torch.Tensor:
    """One draw per row of ``probs`` (..., K) by inverse CDF with ``generator``."""
    cdf = probs.cumsum(-1)
    u = torch.rand(probs.shape[:-1], generator=generator, dtype=probs.dtype)
    u = u * cdf[..., -1]  # rows summing to 1 up to rounding
    idx = (cdf <= u.unsqueeze(-1)).sum(-1)
    return idx.clamp_max(probs.shape[-1] - 1)


# --- the toy model -------------------------------------------------------------------


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


# --- C2: importance sampling ---------------------------------------------------------


def importance_weights(log_rho: torch.Tensor, log_q: torch.Tensor) -> torch.Tensor:
    """Self-normalised importance weights ``w_i = (ρ/q)(x_i) / Σ_j (ρ/q)(x_j)`` from
    the values ``log ρ(x_i)`` and ``log q(x_i)`` at samples ``x_i ~ q``; shape (n,).

    Computed in log space, so ``ρ`` may be unnormalised and tiny. Chapter
    ``math/search-sampling``, claim C2. ``ValueError`` if ``q(x_i) = 0`` for a sample
    (it could not have been drawn) or if every sample has ``ρ = 0`` (no estimate).
    """
    log_rho = V.tensor("log_rho", log_rho, shape="(n,)", ndim=1, floating=True)
    log_q = V.tensor("log_q", log_q, shape="(n,)", ndim=1, floating=True)
    V.same_shape("log_q", log_q, "log_rho", log_rho)
    if bool(torch.isnan(log_rho).any()) or bool((log_rho == math.inf).any()):
        raise ValueError("log_rho must be < +inf and not NaN, got such entries")
    if not bool(torch.isfinite(log_q).all()):
        raise ValueError("log_q must be finite (q > 0 at every sample), got not")
    log_w = log_rho - log_q
    if not bool(torch.isfinite(log_w).any()):
        raise ValueError(
            "log_rho must be > -inf for at least one sample (all weights are 0), "
            "got none"
        )
    return torch.softmax(log_w, 0)


def importance_expectation(
    f: Callable[[torch.Tensor], torch.Tensor],
    log_rho: LogDensity,
    sample_q: Callable[..., torch.Tensor],
    log_q: LogDensity,
    n_samples: int,
    *,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Self-normalised importance-sampling estimate of ``E_p[f]`` with ``p ∝ ρ``:

    ``Σ_i (ρ/q)(x_i) f(x_i) / Σ_i (ρ/q)(x_i)``, ``x_1..x_N ~ q`` i.i.d.

    ``sample_q(n, generator=...)`` draws ``n`` states (n, ...), ``log_q`` and
    ``log_rho`` map them to (n,), and ``f`` to (n,) or (n, k); the result has shape
    ``()`` or ``(k,)``. Consistent as ``N → ∞`` (bias and variance O(1/N)) whenever
    ``q > 0`` wherever ``ρ > 0`` (chapter ``math/search-sampling``, claim C2).
    """
    for name, fn in (("f", f), ("log_rho", log_rho), ("sample_q", sample_q)):
        _callable(name, fn)
    _callable("log_q", log_q)
    n = V.integer("n_samples", n_samples, minimum=1)
    generator = V.generator("generator", generator)
    x = sample_q(n, generator=generator)
    w = importance_weights(
        _log_values("log_rho", log_rho(x), n), _log_values("log_q", log_q(x), n)
    )
    fx = f(x)
    if not isinstance(fx, torch.Tensor) or fx.dim() not in (1, 2) or fx.shape[0] != n:
        raise ValueError(
            f"f must return a tensor of shape ({n},) or ({n}, k), got {V.describe(fx)}"
        )
    fx = fx.to(w.dtype)
    return (w[:, None] * fx).sum(0) if fx.dim() == 2 else (w * fx).sum()


# --- C3: rejection sampling ----------------------------------------------------------


def rejection_sample(
    log_rho: LogDensity,
    sample_q: Callable[..., torch.Tensor],
    log_q: LogDensity,
    log_M: float,
    n_proposals: int,
    *,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, float]:
    """Rejection sampling with a fixed budget: draw ``n_proposals`` states from ``q``,
    keep each with probability ``α(x) = ρ(x) / (M q(x))``; return ``(accepted,
    acceptance_rate)``.

    The kept states are i.i.d. draws from ``q α / Σ q α = ρ / Z`` and the expected
    acceptance rate is ``Σ_x q α = Z / M`` (chapter ``math/search-sampling``, claim C3).
    The post's loop "repeat until accepted" is this with the budget spent until one
    state is kept; a fixed budget keeps the cost bounded when ``Z/M`` is tiny.
    ``ValueError`` (naming ``log_M``) when some proposal has ``ρ/q > M``: then ``α > 1``
    and the output would silently follow the wrong distribution.
    """
    _callable("log_rho", log_rho)
    _callable("sample_q", sample_q)
    _callable("log_q", log_q)
    log_M = V.real("log_M", log_M)
    n = V.integer("n_proposals", n_proposals, minimum=1)
    generator = V.generator("generator", generator)
    x = sample_q(n, generator=generator)
    lr = _log_values("log_rho", log_rho(x), n)
    lq = _log_values("log_q", log_q(x), n)
    if not bool(torch.isfinite(lq).all()):
        raise ValueError("log_q must be finite at every proposal, got -inf")
    log_alpha = lr - lq - log_M
    worst = float(log_alpha.max())
    if worst > 1e-9:
        raise ValueError(
            "log_M must bound log_rho − log_q (α = ρ/(Mq) <= 1), "
            f"got a proposal with α = {math.exp(worst):.4g}"
        )
    u = torch.rand(n, generator=generator, dtype=torch.float64)
    keep = u < log_alpha.exp()
    return x[keep], float(keep.double().mean())


# --- C4: Metropolis–Hastings and Gibbs -----------------------------------------------


_MOVES = ("substitute", "insert", "delete")


def propose_edit(
    x: torch.Tensor,
    vocab_size: int,
    *,
    generator: torch.Generator | None = None,
    moves: Sequence[str] = _MOVES,
) -> torch.Tensor:
    """One random local edit of each row of ``x`` (n, L), length kept fixed: a move is
    chosen uniformly from ``moves``, a position ``i`` uniformly from ``0..L-1`` and a
    word ``w`` uniformly from ``range(vocab_size)``:

    * ``"substitute"`` — ``x_i ← w`` (possibly the same word);
    * ``"insert"`` — ``w`` is inserted before position ``i``, the last word drops off;
    * ``"delete"`` — ``x_i`` is removed, the rest shifts left and ``w`` is appended.

    Substitution undoes itself, and insert(i, w) is undone by delete(i) appending the
    word that dropped off; every move has probability ``1/(|moves| L V)``, so the
    proposal is *symmetric*, ``q(y←x) = q(x←y)``, and MH's acceptance reduces to
    ``min(1, ρ(y)/ρ(x))`` (chapter ``math/search-sampling``, claim C4). These are the
    replace / insert / delete edits of CGMH (Miao et al., 2019) at a fixed length.
    """
    x = V.tensor("x", x, shape="(n, L)", ndim=2, integral=True)
    v = V.integer("vocab_size", vocab_size, minimum=1)
    generator = V.generator("generator", generator)
    if isinstance(moves, str) or not isinstance(moves, Sequence) or not moves:
        raise TypeError(
            f"moves must be a non-empty sequence of names from {_MOVES}, "
            f"got {V.describe(moves)}"
        )
    moves = [V.choice("moves", m, _MOVES) for m in moves]
    n, L = x.shape
    kind = torch.randint(len(moves), (n,), generator=generator)
    pos = torch.randint(L, (n,), generator=generator)
    word = torch.randint(v, (n,), generator=generator, dtype=x.dtype)
    j = torch.arange(L)[None, :]
    i = pos[:, None]
    rows = torch.arange(n)[:, None]
    w = word[:, None]
    edits = {
        "substitute": torch.where(j == i, w, x),
        # y_j = x_j before i, w at i, x_{j-1} after i
        "insert": torch.where(
            j < i, x, torch.where(j == i, w, x[rows, (j - 1).clamp(min=0)])
        ),
        # y_j = x_j before i, x_{j+1} from i on, w at the end
        "delete": torch.where(
            j == L - 1, w, torch.where(j < i, x, x[rows, (j + 1).clamp(max=L - 1)])
        ),
    }
    y = x.clone()
    for k, m in enumerate(moves):
        y = torch.where((kind == k)[:, None], edits[m], y)
    return y


def metropolis_hastings(
    log_rho: LogDensity,
    propose: Callable[..., torch.Tensor],
    x0: torch.Tensor,
    n_steps: int,
    *,
    generator: torch.Generator | None = None,
    log_q: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Run one Metropolis–Hastings chain per row of ``x0`` (n, ...) for ``n_steps``.

    Each step draws ``y = propose(x, generator=...)`` and ``ε ~ U[0, 1)`` and moves to
    ``y`` iff ``ε < A(y←x) = min(1, q(x←y) ρ(y) / (q(y←x) ρ(x)))``, else stays; the
    normaliser of ``ρ`` cancels. ``log_q(y, x)`` returns ``log q(y←x)`` (n,); ``None``
    declares the proposal symmetric. Returns ``(states, accepted)``: the state after
    each step, shape (n_steps, n, ...), and the accept flags, shape (n_steps, n).

    The kernel satisfies detailed balance with ``ρ`` (chapter
    ``math/search-sampling``, claim C4). ``ValueError`` if some ``ρ(x0) = 0``: the
    ratio is undefined there.
    """
    _callable("log_rho", log_rho)
    _callable("propose", propose)
    if log_q is not None:
        _callable("log_q", log_q)
    if not isinstance(x0, torch.Tensor) or x0.dim() < 1:
        raise TypeError(
            f"x0 must be a torch.Tensor of shape (n, ...), got {V.describe(x0)}"
        )
    steps = V.integer("n_steps", n_steps, minimum=1)
    generator = V.generator("generator", generator)
    n = x0.shape[0]
    x = x0.clone()
    lr_x = _log_values("log_rho", log_rho(x), n)
    if not bool(torch.isfinite(lr_x).all()):
        raise ValueError("x0 must have ρ(x0) > 0 in every chain, got ρ = 0")
    states = torch.empty((steps, *x.shape), dtype=x.dtype)
    accepted = torch.empty((steps, n), dtype=torch.bool)
    for s in range(steps):
        y = propose(x, generator=generator)
        lr_y = _log_values("log_rho", log_rho(y), n)
        log_a = lr_y - lr_x
        if log_q is not None:
            log_a = log_a + _log_values("log_q", log_q(x, y), n)
            log_a = log_a - _log_values("log_q", log_q(y, x), n)
        u = torch.rand(n, generator=generator, dtype=torch.float64)
        acc = u < log_a.clamp(max=0.0).exp()
        x = torch.where(acc.view(n, *([1] * (x.dim() - 1))), y, x)
        lr_x = torch.where(acc, lr_y, lr_x)
        states[s], accepted[s] = x, acc
    return states, accepted


def gibbs_sweep(
    log_rho: LogDensity,
    x: torch.Tensor,
    vocab_size: int,
    *,
    generator: torch.Generator | None = None,
    positions: Sequence[int] | str | None = None,
) -> torch.Tensor:
    """One Gibbs update of each row of ``x`` (n, L): for each position ``i`` in turn,
    replace ``x_i`` by a draw from ``p(y | x_{-i}) ∝ ρ(x with x_i = y)`` over all
    ``vocab_size`` words, computed exactly by evaluating ``log_rho`` ``V`` times.

    ``positions=None`` sweeps ``0, 1, …, L−1`` (systematic scan); ``"random"`` updates
    one uniformly chosen position per row (random scan, the post's version); a sequence
    of ints updates those positions in that order. Each single-site update is the MH
    kernel whose proposal is the conditional itself, so its acceptance is always 1
    (chapter ``math/search-sampling``, claim C4). Returns the new states (n, L).
    ``ValueError`` if a row has ``ρ(x) = 0`` at the start.
    """
    _callable("log_rho", log_rho)
    x = V.tensor("x", x, shape="(n, L)", ndim=2, integral=True)
    v = V.integer("vocab_size", vocab_size, minimum=1)
    generator = V.generator("generator", generator)
    n, L = x.shape
    if not bool(torch.isfinite(_log_values("log_rho", log_rho(x), n)).all()):
        raise ValueError("x must have ρ(x) > 0 in every row, got ρ = 0")
    if positions is None:
        plan = [torch.full((n,), i) for i in range(L)]
    elif isinstance(positions, str):
        V.choice("positions", positions, ("random",))
        plan = [torch.randint(L, (n,), generator=generator)]
    else:
        if not isinstance(positions, Sequence):
            raise TypeError(
                f"positions must be None, 'random' or a sequence of ints, "
                f"got {V.describe(positions)}"
            )
        plan = [
            torch.full((n,), V.integer("positions", i, minimum=0, maximum=L - 1))
            for i in positions
        ]
    x = x.clone()
    rows = torch.arange(n)
    words = torch.arange(v, dtype=x.dtype)
    for pos in plan:
        cand = x.unsqueeze(1).repeat(1, v, 1)  # (n, V, L)
        cand[rows, :, pos] = words
        logits = _log_values("log_rho", log_rho(cand.reshape(n * v, L)), n * v)
        probs = torch.softmax(logits.view(n, v).to(torch.float64), -1)
        x[rows, pos] = _categorical(probs, generator).to(x.dtype)
    return x


def _kernel_inputs(log_rho, Q) -> tuple[torch.Tensor, torch.Tensor]:
    log_rho = V.tensor("log_rho", log_rho, shape="(m,)", ndim=1, floating=True)
    Q = V.tensor("Q", Q, shape="(m, m)", ndim=2, floating=True)
    m = log_rho.shape[0]
    if tuple(Q.shape) != (m, m):
        raise ValueError(
            f"Q must have shape ({m}, {m}) to match log_rho, got {tuple(Q.shape)}"
        )
    if bool(torch.isnan(log_rho).any()) or bool((log_rho == math.inf).any()):
        raise ValueError("log_rho must be < +inf and not NaN, got such entries")
    if not bool(torch.isfinite(log_rho).any()):
        raise ValueError("log_rho must be > -inf somewhere, got all -inf")
    if not bool(torch.isfinite(Q).all()) or bool((Q < 0).any()):
        raise ValueError("Q must be finite and >= 0, got other entries")
    if not torch.allclose(Q.sum(1), torch.ones((), dtype=Q.dtype), atol=1e-9):
        raise ValueError("Q must have rows summing to 1 (Q[x, y] = q(y←x)), got not")
    return log_rho.to(torch.float64), Q.to(torch.float64)


def mh_acceptance(log_rho: torch.Tensor, Q: torch.Tensor) -> torch.Tensor:
    """The MH acceptance matrix ``A[x, y] = min(1, Q[y, x] ρ(y) / (Q[x, y] ρ(x)))`` of a
    finite space with ``m`` states, where ``Q[x, y] = q(y←x)`` (rows sum to 1) and
    ``log_rho`` (m,) is ``log ρ`` (``-inf`` allowed). Entries with ``Q[x, y] = 0``
    (never proposed) are 0; from a state with ``ρ(x) = 0`` every move is accepted.
    Chapter ``math/search-sampling``, claim C4.
    """
    log_rho, Q = _kernel_inputs(log_rho, Q)
    with torch.no_grad():
        log_num = Q.T.log() + log_rho[None, :]
        log_den = Q.log() + log_rho[:, None]
        ratio = torch.where(
            torch.isneginf(log_den),
            torch.ones_like(Q),
            (log_num - log_den).clamp(max=0.0).exp(),
        )
    return torch.where(Q > 0, ratio, torch.zeros_like(Q))


def mh_kernel(log_rho: torch.Tensor, Q: torch.Tensor) -> torch.Tensor:
    """The exact MH transition matrix ``P[x, y] = P(y←x)``: ``Q[x, y] A[x, y]`` off the
    diagonal, and the rejected mass ``1 − Σ_{y≠x} P[x, y]`` on it (the post's "stay
    put" correction). Satisfies ``ρ(x) P[x, y] = ρ(y) P[y, x]`` (claim C4).
    """
    A = mh_acceptance(log_rho, Q)
    _, Q = _kernel_inputs(log_rho, Q)
    P = Q * A
    P.fill_diagonal_(0.0)
    P += torch.diag(1.0 - P.sum(1))
    return P
