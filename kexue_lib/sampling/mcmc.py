"""Markov-chain samplers: Metropolis–Hastings, Gibbs, the edit proposal and the exact
kernels of a small space (C4); see :mod:`kexue_lib.sampling`."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch

from .. import _validate as V
from ._common import LogDensity, _categorical, _log_values

__all__ = [
    "propose_edit",
    "metropolis_hastings",
    "gibbs_sweep",
    "mh_acceptance",
    "mh_kernel",
]


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
    V.function("log_rho", log_rho)
    V.function("propose", propose)
    if log_q is not None:
        V.function("log_q", log_q)
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
    V.function("log_rho", log_rho)
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
