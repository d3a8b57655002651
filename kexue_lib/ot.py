"""Optimal transport on small discrete problems, solved exactly.

* :func:`ot_lp` — the Kantorovich linear programme ``min ⟨Γ, C⟩`` over plans with
  marginals ``p`` and ``q`` (chapter ``gan/wasserstein-duality``, claim C1).
* :func:`ot_dual` — its dual ``max p·f + q·g`` subject to ``f_i + g_j ≤ c_ij``, solved
  as a linear programme of its own (``gan/wasserstein-duality``, C2–C3).
* :func:`w1_1d` — W₁ on the real line as ``∫ |F_p − F_q|`` (``gan/wasserstein-duality``,
  C4).
* :func:`batch_w1` — exact W₁ between two equal-size uniform point clouds with
  Euclidean cost, by an optimal assignment (``gan/wgan-not-w``; the WGAN-GP comparison
  of ``gan/wasserstein-duality``).
* :func:`w1_to_point` — W₁ between a uniform point cloud and a single point
  (``gan/wgan-not-w``).

Conventions: NumPy arrays (or anything :func:`numpy.asarray` turns into real numbers)
in, ``float64`` NumPy out. Masses are non-negative and the two sides of a transport
problem carry the same total mass up to the relative tolerance :data:`MASS_RTOL`; the
masses need not sum to 1 (the optimal cost is then scaled by the total mass). Bad input
raises ``TypeError`` (not real numbers) or ``ValueError`` (shape, sign, finiteness,
mass balance), naming the argument.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

# SciPy's sparse/optimize/spatial modules are imported where they are used: importing
# them costs about half a second, which every diffusion chapter would pay for w1_1d.
if TYPE_CHECKING:
    from scipy import sparse

__all__ = ["MASS_RTOL", "ot_lp", "ot_dual", "w1_1d", "batch_w1", "w1_to_point"]

#: Two total masses are "equal" when they differ by at most this fraction of the
#: larger one. Within the tolerance ``q`` is rescaled to the total of ``p``.
MASS_RTOL = 1e-9

# HiGHS dual simplex with feasibility tolerances far below the book's 1e-9 target; the
# problems are solved after scaling masses to total 1 and costs to max |c| = 1.
_HIGHS = {
    "primal_feasibility_tolerance": 1e-10,
    "dual_feasibility_tolerance": 1e-10,
}


def _real_array(name: str, x, ndim: int) -> np.ndarray:
    """``x`` as a finite float64 array with ``ndim`` dimensions (else TypeError or
    ValueError naming ``name``)."""
    if x is None or isinstance(x, (str, bytes, dict, set)):
        raise TypeError(
            f"{name} must be an array of real numbers, got {type(x).__name__}"
        )
    try:
        a = np.asarray(x)
    except Exception as exc:  # e.g. a tensor that requires grad
        raise TypeError(
            f"{name} must be an array of real numbers, got {type(x).__name__}"
        ) from exc
    if a.dtype.kind not in "iuf":
        raise TypeError(
            f"{name} must hold real numbers (int or float), got dtype {a.dtype}"
        )
    a = a.astype(np.float64)
    if a.ndim != ndim:
        shape = {1: "(n,)", 2: "(n, d)"}[ndim]
        raise ValueError(f"{name} must have shape {shape}, got shape {a.shape}")
    if a.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be finite, got a NaN or inf entry")
    return a


def _mass(name: str, x) -> np.ndarray:
    a = _real_array(name, x, 1)
    if np.any(a < 0):
        raise ValueError(
            f"{name} must be a non-negative mass vector, got minimum {a.min():.6g}"
        )
    if not a.sum() > 0:
        raise ValueError(f"{name} must have positive total mass, got {a.sum():.6g}")
    return a


def _balanced(p_name: str, p: np.ndarray, q_name: str, q: np.ndarray) -> float:
    """Check that the totals agree within MASS_RTOL; return the total of ``p``."""
    sp_, sq = float(p.sum()), float(q.sum())
    if abs(sp_ - sq) > MASS_RTOL * max(sp_, sq):
        raise ValueError(
            f"{q_name} must have the same total mass as {p_name} (relative tolerance "
            f"{MASS_RTOL:g}), got {sq:.12g} and {sp_:.12g}"
        )
    return sp_


def _problem(p, q, cost):
    """Validated ``(p, q, cost, mass, scale)`` with ``p, q`` normalised to total 1 and
    ``cost`` divided by ``scale = max |c|`` (1 when the cost is identically 0)."""
    p, q = _mass("p", p), _mass("q", q)
    mass = _balanced("p", p, "q", q)
    c = _real_array("cost", cost, 2)
    if c.shape != (p.size, q.size):
        raise ValueError(
            f"cost must have shape (len(p), len(q)) = ({p.size}, {q.size}), "
            f"got {c.shape}"
        )
    scale = float(np.abs(c).max()) or 1.0
    return p / p.sum(), q / q.sum(), c / scale, mass, scale


def _marginal_matrix(m: int, n: int) -> sparse.csr_matrix:
    """The (m + n) × mn matrix A with A·vec(Γ) = (row sums of Γ, column sums of Γ);
    ``vec`` stacks the rows of Γ (C order)."""
    from scipy import sparse

    rows = sparse.kron(sparse.eye(m), np.ones((1, n)))
    cols = sparse.kron(np.ones((1, m)), sparse.eye(n))
    return sparse.vstack([rows, cols]).tocsr()


def ot_lp(p, q, cost) -> tuple[float, np.ndarray]:
    """Optimal transport cost and plan: ``min ⟨Γ, C⟩`` s.t. ``Γ 1 = p``, ``Γᵀ 1 = q``,
    ``Γ ≥ 0``.

    Parameters
    ----------
    p : (m,) non-negative masses of the source points.
    q : (n,) non-negative masses of the target points, same total as ``p`` (relative
        tolerance :data:`MASS_RTOL`).
    cost : (m, n) finite costs ``c(x_i, y_j)``.

    Returns
    -------
    value : float
        The optimal cost ``⟨Γ, C⟩``.
    plan : (m, n) ndarray
        An optimal plan (a vertex of the transport polytope), entries ≥ 0, row sums
        ``p`` and column sums ``q`` to about 1e-12 of the total mass.

    Solved with ``scipy.optimize.linprog`` (HiGHS dual simplex) on the problem scaled
    to unit mass and unit maximal cost. Chapter ``gan/wasserstein-duality``, claim C1
    (discrete optimal transport is this linear programme).
    """
    p, q, c, mass, scale = _problem(p, q, cost)
    m, n = c.shape
    from scipy.optimize import linprog

    res = linprog(
        c.ravel(),
        A_eq=_marginal_matrix(m, n),
        b_eq=np.concatenate([p, q]),
        bounds=(0, None),
        method="highs-ds",
        options=_HIGHS,
    )
    if res.status != 0:  # pragma: no cover - a balanced OT problem is always feasible
        raise RuntimeError(f"linprog failed on the transport problem: {res.message}")
    plan = np.maximum(res.x.reshape(m, n), 0.0) * mass
    return float(np.sum(plan * c) * scale), plan


def ot_dual(p, q, cost) -> tuple[float, np.ndarray, np.ndarray]:
    """The dual of :func:`ot_lp`: ``max p·f + q·g`` s.t. ``f_i + g_j ≤ c_ij``.

    The constraint is ``Aᵀ(f, g) ≤ vec(C)`` with the marginal matrix ``A`` of the
    primal: row ``(i, j)`` of ``Aᵀ`` picks ``f_i`` and ``g_j``. The programme is solved
    as a linear programme of its own (HiGHS dual simplex), not read off the primal.

    Returns
    -------
    value : float
        ``p·f + q·g`` at the optimum; equal to the primal value (strong duality).
    f : (m,) ndarray, g : (n,) ndarray
        Optimal potentials, feasible up to rounding: ``f_i + g_j ≤ c_ij + 1e-12·max|c|``
        (after the solve each ``g_j`` is lowered to ``min_i (c_ij − f_i)`` where the
        solver's tolerance left it above). They are unique at most up to
        ``(f + t, g − t)``, and entries where ``p_i = 0`` or ``q_j = 0`` are free to
        decrease.

    Same arguments and errors as :func:`ot_lp`. Chapter ``gan/wasserstein-duality``,
    claims C2 (strong duality) and C3 (the dual constraint; Kantorovich–Rubinstein).
    """
    p, q, c, mass, scale = _problem(p, q, cost)
    m, n = c.shape
    from scipy.optimize import linprog

    res = linprog(
        -np.concatenate([p, q]),
        A_ub=_marginal_matrix(m, n).T.tocsr(),
        b_ub=c.ravel(),
        bounds=(None, None),
        method="highs-ds",
        options=_HIGHS,
    )
    if res.status != 0:  # pragma: no cover - bounded because the primal is feasible
        raise RuntimeError(f"linprog failed on the dual problem: {res.message}")
    f, g = res.x[:m], res.x[m:]
    g = np.minimum(g, np.min(c - f[:, None], axis=0))  # remove tolerance-level slack
    f, g = f * scale, g * scale
    return float((p @ f + q @ g) * mass), f, g


def w1_1d(x, y, x_weights=None, y_weights=None) -> float:
    """W₁ between two weighted point sets on the line: ``∫ |F_p(t) − F_q(t)| dt``.

    Parameters
    ----------
    x : (m,) positions of ``p``; y : (n,) positions of ``q``.
    x_weights, y_weights : optional non-negative masses; ``None`` means uniform with
        total 1. The two totals must agree (relative tolerance :data:`MASS_RTOL`);
        ``F_p(t)`` is the mass of ``p`` at positions ``≤ t``.

    Between consecutive points ``z_k < z_{k+1}`` of the merged, sorted positions both
    cumulative functions are constant, so the integral is the exact finite sum
    ``Σ_k |F_p(z_k) − F_q(z_k)| (z_{k+1} − z_k)``. Chapter ``gan/wasserstein-duality``,
    claim C4 (on the line W₁ is the area between the two distribution functions).
    """
    x, y = _real_array("x", x, 1), _real_array("y", y, 1)
    wx = (
        np.full(x.size, 1.0 / x.size)
        if x_weights is None
        else _mass("x_weights", x_weights)
    )
    wy = (
        np.full(y.size, 1.0 / y.size)
        if y_weights is None
        else _mass("y_weights", y_weights)
    )
    if wx.shape != x.shape:
        raise ValueError(f"x_weights must have shape {x.shape}, got {wx.shape}")
    if wy.shape != y.shape:
        raise ValueError(f"y_weights must have shape {y.shape}, got {wy.shape}")
    _balanced("x_weights", wx, "y_weights", wy)
    ox, oy = np.argsort(x, kind="stable"), np.argsort(y, kind="stable")
    x, wx, y, wy = x[ox], wx[ox], y[oy], wy[oy]
    z = np.sort(np.concatenate([x, y]))
    cx = np.concatenate([[0.0], np.cumsum(wx)])
    cy = np.concatenate([[0.0], np.cumsum(wy)])
    # F(z_k) = total weight of points <= z_k: "right" counts the ties at z_k.
    fx = cx[np.searchsorted(x, z[:-1], side="right")]
    fy = cy[np.searchsorted(y, z[:-1], side="right")]
    return float(np.sum(np.abs(fx - fy) * np.diff(z)))


def _cloud(name: str, x) -> np.ndarray:
    return _real_array(name, x, 2)


def batch_w1(x, y) -> float:
    """Exact W₁ between the uniform distributions on two equal-size point clouds.

    ``x`` and ``y`` have shape (n, d); the cost is the Euclidean distance. With uniform
    masses ``1/n`` on both sides the transport polytope is ``1/n`` times the doubly
    stochastic matrices, whose vertices are permutations (Birkhoff–von Neumann), so an
    optimal plan is a permutation: ``W₁ = min_σ (1/n) Σ_i ‖x_i − y_σ(i)‖``, found by
    ``scipy.optimize.linear_sum_assignment``. Chapters ``gan/wgan-not-w`` (minibatch W₁
    of real and blurred batches) and ``gan/wasserstein-duality`` (the exact target for
    the WGAN-GP critic).
    """
    x, y = _cloud("x", x), _cloud("y", y)
    if x.shape[0] != y.shape[0]:
        raise ValueError(
            f"x and y must have the same batch size, got {x.shape[0]} and {y.shape[0]}"
        )
    if x.shape[1] != y.shape[1]:
        raise ValueError(
            f"x and y must have the same dimension, got {x.shape[1]} and {y.shape[1]}"
        )
    from scipy.optimize import linear_sum_assignment
    from scipy.spatial.distance import cdist

    c = cdist(x, y)
    rows, cols = linear_sum_assignment(c)
    return float(c[rows, cols].mean())


def w1_to_point(x, c) -> float:
    """W₁ between the uniform distribution on the rows of ``x`` (n, d) and a point mass
    at ``c`` (d,): the only plan sends everything to ``c``, so it is
    ``(1/n) Σ_i ‖x_i − c‖``. Chapter ``gan/wgan-not-w`` (distance to the mean image).
    """
    x = _cloud("x", x)
    c = _real_array("c", c, 1)
    if c.shape != (x.shape[1],):
        raise ValueError(f"c must have shape ({x.shape[1]},), got {c.shape}")
    return float(np.linalg.norm(x - c, axis=1).mean())
