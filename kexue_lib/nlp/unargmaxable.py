"""Which classes of a linear softmax layer can ever be predicted (chapter
``nlp/unargmaxable``).

A layer with weights ``W`` (n, d) and bias ``b`` (n,) predicts ``argmax_i (W z + b)_i``
for a feature vector ``z``. Class ``k`` is *argmaxable* when some ``z`` makes it the
**strict** argmax (claim C1)::

    exists z:  (w_k - w_i) · z + (b_k - b_i) > 0   for every i != k.

Homogenisation turns this system of strict inequalities into one linear programme per
class. Give the bias a weight ``s >= 0`` and look for the largest common lead ``t``::

    maximise t   subject to   (w_k - w_i) · z + (b_k - b_i) s >= t   (i != k),
                              -1 <= z_j <= 1,   0 <= s <= 1.

The box only fixes the scale. A point with ``s > 0`` and ``t > 0`` gives the witness ``z
/ s``; a point with ``s = 0`` and ``t > 0`` is a direction along which class ``k`` wins,
and a long enough step along it beats any bias. So class ``k`` is argmaxable iff the
optimum ``t*`` is positive.

**Margin used.** The optimum is only known to the LP solver's tolerance (about 1e-7), so
the lead of the point the solver returns is recomputed in float64, and a class counts as
argmaxable when that lead is larger than ``tol * S``, where ``S = 2 max_i ||(w_i,
b_i)||_1`` bounds every lead in the box and ``tol = 1e-8`` by default. Every ``True`` is
therefore backed by a point at which class ``k`` really is the strict argmax. A
``False`` means that no point leads by more than that relative margin. Rows that are
exact copies of each other (the same ``w`` and ``b``) always tie, so neither copy is
argmaxable.

Without a bias (C3) class ``k`` is argmaxable iff ``w_k`` is a vertex of the convex hull
of the rows. :func:`min_norm_point` is the Frank–Wolfe solver of the dual form in the
post (C4), ``min over the simplex of ||sum_i alpha_i (w_k - w_i)||``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["argmaxable", "argmax_margins", "argmax_witness", "min_norm_point"]

#: Default relative margin (see the module docstring).
DEFAULT_TOL = 1e-8


def _as_array(x, name: str) -> np.ndarray:
    """A float64 NumPy copy of a real ndarray or torch tensor; TypeError otherwise."""
    # a torch.Tensor, recognised without importing torch
    if hasattr(x, "detach") and hasattr(x, "cpu"):
        x = x.detach().cpu().numpy()
    if not isinstance(x, np.ndarray):
        raise TypeError(
            f"{name} must be a numpy array or torch tensor, got {type(x).__name__}"
        )
    if x.dtype == bool or not (
        np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)
    ):
        raise TypeError(f"{name} must hold real numbers, got dtype {x.dtype}")
    return x.astype(np.float64)


def _check(W, b) -> tuple[np.ndarray, np.ndarray]:
    W = _as_array(W, "W")
    if W.ndim != 2 or W.shape[0] < 1 or W.shape[1] < 1:
        raise ValueError(
            f"W must have shape (n, d) with n, d >= 1, got shape {W.shape}"
        )
    if not np.all(np.isfinite(W)):
        raise ValueError("W must be finite, got NaN or inf entries")
    n = W.shape[0]
    if b is None:
        b = np.zeros(n)
    else:
        b = _as_array(b, "b")
        if b.shape != (n,):
            raise ValueError(
                f"b must have shape (n,) = ({n},) to match W {W.shape}, got {b.shape}"
            )
        if not np.all(np.isfinite(b)):
            raise ValueError("b must be finite, got NaN or inf entries")
    return W, b


def _check_tol(tol) -> float:
    if isinstance(tol, bool) or not isinstance(tol, (int, float, np.floating)):
        raise TypeError(f"tol must be a float, got {type(tol).__name__}")
    if not (np.isfinite(tol) and 0 <= tol < 1):
        raise ValueError(f"tol must be in [0, 1), got {tol}")
    return float(tol)


def _scale(W: np.ndarray, b: np.ndarray) -> float:
    """S = 2 max_i ||(w_i, b_i)||_1: no lead in the unit box can exceed it."""
    return 2.0 * float(np.max(np.abs(W).sum(1) + np.abs(b)))


def _solve(D: np.ndarray, Db: np.ndarray) -> tuple[np.ndarray, float, float]:
    """max t s.t. D z + Db s >= t, z in [-1, 1]^d, s in [0, 1]; returns (z, s, t)."""
    m, d = D.shape
    c = np.zeros(d + 2)
    c[-1] = -1.0  # variables (z_1..z_d, s, t); minimise -t
    A = np.hstack([-D, -Db[:, None], np.ones((m, 1))])
    bounds = [(-1.0, 1.0)] * d + [(0.0, 1.0), (None, None)]
    from scipy.optimize import linprog  # imported here: half a second at import

    res = linprog(c, A_ub=A, b_ub=np.zeros(m), bounds=bounds, method="highs")
    # the LP is feasible (t = 0 at the origin) and bounded (the box): status 0
    if res.status != 0:
        raise RuntimeError(f"linprog failed: {res.message}")
    return res.x[:d], float(res.x[d]), float(res.x[d + 1])


def _lp(
    W: np.ndarray, b: np.ndarray, k: int, stop: float = -np.inf
) -> tuple[float, np.ndarray, float]:
    """The class-k LP: the float64 lead of the solver's point, and its z and s.

    Constraint generation: the LP is solved on a working set of constraints (first the
    ones most binding at the centred row of class k), then every constraint is checked
    at its solution and the most violated ones join the set, until none is violated. A
    working set gives an upper bound on the full optimum, so the loop may stop as soon
    as that bound is ``<= stop`` (the class then cannot pass the margin). The result
    equals the LP over all n - 1 constraints; only the cost differs.
    """
    n, d = W.shape
    D = np.delete(W[k] - W, k, axis=0)  # rows w_k - w_i, i != k
    Db = np.delete(b[k] - b, k)
    m = n - 1
    batch = 2 * (d + 2)
    if m <= 2 * batch:
        z, s, _ = _solve(D, Db)
        return float(np.min(D @ z + Db * s)), z, s
    z0 = W[k] - W.mean(0)
    work = np.zeros(m, dtype=bool)
    work[np.argsort(D @ z0 + Db)[:batch]] = True
    while True:
        z, s, t = _solve(D[work], Db[work])
        leads = D @ z + Db * s
        lead = float(leads.min())
        if t <= stop:
            return min(lead, t), z, s
        tiny = 1e-9 * max(1.0, abs(t))
        viol = np.flatnonzero((leads < t - tiny) & ~work)
        if viol.size == 0:
            return lead, z, s
        work[viol[np.argsort(leads[viol])[:batch]]] = True


def argmax_margins(W, b=None) -> np.ndarray:
    """The relative margin of every class: its best lead ``t*`` in the box, over ``S``.

    Parameters
    ----------
    W : array (n, d)
        One weight vector per class (numpy array or torch tensor, real, finite).
    b : array (n,), optional
        Biases; ``None`` means no bias.

    Returns
    -------
    numpy.ndarray of float, shape (n,)
        ``t* / S`` recomputed in float64 at the LP's solution (``S = 2 max_i ||(w_i,
        b_i)||_1``), in ``[0, 1]`` up to rounding; ``inf`` for the single class of a
        layer with ``n = 1``. Positive values larger than the tolerance mean argmaxable
        (see :func:`argmaxable`). One LP per class: use :func:`argmaxable` when only the
        verdicts are needed (it skips most LPs).

    Implements C1 of the chapter ``nlp/unargmaxable``.
    """
    W, b = _check(W, b)
    n = W.shape[0]
    if n == 1:
        return np.array([np.inf])
    S = _scale(W, b)
    if S == 0.0:  # every row is zero: all classes tie everywhere
        return np.zeros(n)
    return np.array([_lp(W, b, k)[0] / S for k in range(n)])


def _certified(W: np.ndarray, b: np.ndarray, S: float, tol: float) -> np.ndarray:
    """Classes certified by cheap candidate points: the rows of W and the centred rows.

    Each candidate is used with the bias (``s = 1``) and without it (``s = 0``) and
    scaled into the unit box; the class in first place is certified when its lead there
    exceeds ``tol * S``. Rounding cannot flip a verdict: a lead larger than ``tol * S``
    is far above float64 error.
    """
    n = W.shape[0]
    cand = np.vstack([W, W - W.mean(0)])
    box = np.maximum(np.abs(cand).max(1), 1e-300)
    ok = np.zeros(n, dtype=bool)
    for bias, scale in ((b, np.maximum(box, 1.0)), (np.zeros(n), box)):
        logits = cand @ W.T + bias
        top2 = np.argpartition(-logits, 1, axis=1)[:, :2]
        first = np.take_along_axis(logits, top2, 1)
        order = np.argsort(-first, axis=1)
        top2 = np.take_along_axis(top2, order, 1)
        first = np.take_along_axis(first, order, 1)
        lead = (first[:, 0] - first[:, 1]) / scale
        ok[top2[lead > tol * S, 0]] = True
    return ok


def argmaxable(W, b=None, *, tol: float = DEFAULT_TOL, classes=None) -> np.ndarray:
    """Which classes can be the strict argmax of ``W z + b`` for some ``z`` (C1).

    One LP per class (module docstring), skipped for classes certified by cheap points.

    Parameters
    ----------
    W : array (n, d)
        One weight vector per class (numpy array or torch tensor, real, finite).
    b : array (n,), optional
        Biases; ``None`` means no bias.
    tol : float
        The relative margin: a class is argmaxable when some point of the unit box gives
        it a lead larger than ``tol * S`` with ``S = 2 max_i ||(w_i, b_i)||_1`` (module
        docstring). Default ``1e-8``.
    classes : sequence of int, optional
        Check only these classes (each against all n); default all. For a large layer,
        checking a random sample of classes estimates the fraction of unargmaxable ones
        at a fraction of the cost.

    Returns
    -------
    numpy.ndarray of bool, shape (n,) or (len(classes),)
        ``True`` for argmaxable classes, in the order of ``classes``. Each ``True`` has
        a point where the class leads by more than the margin, checked in float64.
        Classes that the rows of ``W`` already certify (most of them, unless the layer
        is low-rank) need no LP.

    Raises
    ------
    TypeError
        ``W`` or ``b`` is not a real numpy array / torch tensor, or ``tol`` is not a
        float.
    ValueError
        Wrong shapes, non-finite entries, or ``tol`` outside ``[0, 1)``.
    """
    W, b = _check(W, b)
    tol = _check_tol(tol)
    n = W.shape[0]
    idx = _check_classes(classes, n)
    if n == 1:
        return np.ones(len(idx), dtype=bool)
    S = _scale(W, b)
    if S == 0.0:
        return np.zeros(len(idx), dtype=bool)
    ok = _certified(W, b, S, tol)[idx]
    for j in np.flatnonzero(~ok):
        ok[j] = _lp(W, b, int(idx[j]), stop=tol * S)[0] > tol * S
    return ok


def _check_classes(classes, n: int) -> np.ndarray:
    if classes is None:
        return np.arange(n)
    if isinstance(classes, (str, bytes)) or not hasattr(classes, "__len__"):
        raise TypeError(
            f"classes must be a sequence of ints, got {type(classes).__name__}"
        )
    idx = np.asarray(classes)
    if idx.ndim != 1 or not (idx.size == 0 or np.issubdtype(idx.dtype, np.integer)):
        raise TypeError(f"classes must be a 1-D sequence of ints, got {classes!r}")
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise ValueError(f"classes must lie in [0, {n}), got {idx.min()}..{idx.max()}")
    return idx.astype(np.int64)


def argmax_witness(W, b=None, k: int = 0, *, tol: float = DEFAULT_TOL):
    """A point ``z`` where class ``k`` is the strict argmax of ``W z + b``, or ``None``.

    The LP of :func:`argmaxable`. When its point has ``s > 0`` the witness is ``z / s``;
    when ``s = 0`` it is a long step along the direction ``z``, long enough to beat
    every bias. The witness is checked before it is returned: at it, class ``k`` leads
    every other class.

    Raises ``TypeError``/``ValueError`` like :func:`argmaxable`, and ``ValueError`` for
    ``k`` outside ``[0, n)``.
    """
    W, b = _check(W, b)
    tol = _check_tol(tol)
    n, d = W.shape
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise TypeError(f"k must be an int, got {type(k).__name__}")
    if not 0 <= k < n:
        raise ValueError(f"k must be in [0, {n}), got {k}")
    if n == 1:
        return np.zeros(d)
    S = _scale(W, b)
    if S == 0.0:
        return None
    lead, z, s = _lp(W, b, int(k))
    if lead <= tol * S:
        return None
    if s > 0:
        witness = z / s
    else:  # a direction: step far enough that the lead beats every bias gap
        D = np.delete(W[k] - W, k, axis=0)
        Db = np.delete(b[k] - b, k)
        g = float(np.min(D @ z))
        witness = z * 2.0 * max(1.0, float(np.max(-Db)) / g)
    logits = W @ witness + b
    others = np.delete(logits, k)
    if not logits[k] > others.max():  # pragma: no cover - guarded by the margin
        return None
    return witness


def min_norm_point(V, iters: int = 10_000, tol: float = 1e-12):
    """Frank–Wolfe for the min-norm point of the convex hull of the rows of ``V`` (C4).

    Minimises ``f(alpha) = ||alpha @ V||^2`` over the simplex. This is the *pairwise*
    Frank–Wolfe variant: each step moves weight from the active row with the largest
    inner product with the current point ``x`` to the row ``v_j`` with the smallest one,
    with an exact line search. Plain Frank–Wolfe only ever moves towards ``v_j``, so it
    zig-zags and converges like ``1/t``. The pairwise variant converges linearly on a
    polytope. The Frank–Wolfe gap ``x·x - v_j·x`` bounds ``(f(x) - f*) / 2``; the run
    stops when it is below ``tol * max_i ||v_i||^2``.

    Parameters
    ----------
    V : array (m, d)
        The points (for class k of the post: the rows ``w_k - w_i``, i != k).
    iters : int
        Maximum number of steps.
    tol : float
        Relative stopping tolerance on the gap.

    Returns
    -------
    alpha : numpy.ndarray (m,)
        Weights on the simplex.
    x : numpy.ndarray (d,)
        ``alpha @ V``, the (approximate) min-norm point. If ``min_i v_i·x > 0`` then
        ``x`` is a direction along which every ``v_i`` is positive. For rows ``w_k -
        w_i`` this certifies that class k is argmaxable. If ``||x||`` tends to 0, it is
        not.
    """
    V = _as_array(V, "V")
    if V.ndim != 2 or V.shape[0] < 1 or V.shape[1] < 1:
        raise ValueError(f"V must have shape (m, d) with m, d >= 1, got {V.shape}")
    if not np.all(np.isfinite(V)):
        raise ValueError("V must be finite, got NaN or inf entries")
    if isinstance(iters, bool) or not isinstance(iters, (int, np.integer)):
        raise TypeError(f"iters must be an int, got {type(iters).__name__}")
    if iters < 0:
        raise ValueError(f"iters must be >= 0, got {iters}")
    _check_tol(tol)
    sq = (V * V).sum(1)
    i = int(np.argmin(sq))
    alpha = np.zeros(V.shape[0])
    alpha[i] = 1.0
    x = V[i].copy()
    scale = max(float(sq.max()), 1e-300)
    for _ in range(int(iters)):
        proj = V @ x
        j = int(np.argmin(proj))  # Frank–Wolfe vertex
        if float(x @ x - proj[j]) <= tol * scale:
            break
        active = np.flatnonzero(alpha > 0)
        a = int(active[np.argmax(proj[active])])  # away vertex
        step = V[j] - V[a]
        denom = float(step @ step)
        if denom == 0.0:
            break
        gamma = min(float(alpha[a]), max(0.0, -float(x @ step) / denom))
        alpha[a] -= gamma
        alpha[j] += gamma
        x = alpha @ V if gamma == 0.0 else x + gamma * step
    return alpha, x
