"""Tests for kexue_lib.nlp.unargmaxable (chapter nlp/unargmaxable).

Independent references: the convex hull of the rows (scipy.spatial.ConvexHull, i.e.
Qhull) without a bias; the hull of the lifted points (w_i, b_i) with a bias; dual
(Farkas) certificates found by a separate LP; and plain evaluation of the logits at the
returned witnesses.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog, minimize
from scipy.spatial import ConvexHull, QhullError

from kexue_lib.nlp import argmax_margins, argmax_witness, argmaxable, min_norm_point

POST_W = np.array([[1, 2], [2, 1], [1, 0], [0, 1], [1, 1]], dtype=float)


def random_layer(seed: int, n: int, d: int, spread: float) -> np.ndarray:
    """n directions uniform on the sphere, log-normal norms exp(spread * N(0, 1))."""
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((n, d))
    W /= np.linalg.norm(W, axis=1, keepdims=True)
    return W * np.exp(spread * rng.standard_normal((n, 1)))


def hull_vertices(P: np.ndarray) -> np.ndarray:
    """Indicator of the rows of P that are vertices of their convex hull (and not
    duplicated)."""
    out = np.zeros(len(P), dtype=bool)
    out[ConvexHull(P).vertices] = True
    # Qhull reports one copy of a repeated vertex; a repeated row ties with its copy, so
    # it never wins
    _, inverse, counts = np.unique(P, axis=0, return_inverse=True, return_counts=True)
    dup = counts[inverse.ravel()] > 1
    return out & ~dup


def farkas_certificate(W: np.ndarray, b: np.ndarray, k: int):
    """alpha on the simplex with sum alpha_i (w_k - w_i) = 0 and sum alpha_i (b_k - b_i)
    <= 0, or None.

    Such an alpha proves class k unargmaxable: for every z the alpha-average of the
    leads (w_k - w_i)·z + (b_k - b_i) is <= 0, so some lead is <= 0.
    """
    D = np.delete(W[k] - W, k, axis=0)
    Db = np.delete(b[k] - b, k)
    m = len(D)
    res = linprog(
        Db,
        A_eq=np.vstack([D.T, np.ones((1, m))]),
        b_eq=np.r_[np.zeros(W.shape[1]), 1.0],
        bounds=[(0, None)] * m,
        method="highs",
    )
    if res.status != 0 or res.fun > 1e-9:
        return None
    return res.x


# --- the post's example ---------------------------------------------------------------


def test_post_five_vectors():
    assert argmaxable(POST_W).tolist() == [True, True, True, True, False]
    # a large enough bias makes the interior class win near z = 0
    b = np.array([0, 0, 0, 0, 1.0])
    assert argmaxable(POST_W, b).all()
    z = argmax_witness(POST_W, b, 4)
    assert np.argmax(POST_W @ z + b) == 4
    assert argmax_witness(POST_W, None, 4) is None
    # without bias the centre ties at best; a slightly negative bias makes it lose
    assert not argmaxable(POST_W, np.array([0, 0, 0, 0, -1e-3]))[4]


# --- C3: no bias = vertices of the convex hull ----------------------------------------


@settings(max_examples=40)
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(4, 40),
    d=st.sampled_from([2, 3]),
    spread=st.sampled_from([0.0, 0.3, 1.0]),
)
def test_no_bias_equals_convex_hull_vertices(seed, n, d, spread):
    W = random_layer(seed, n, d, spread)
    np.testing.assert_array_equal(argmaxable(W), hull_vertices(W))


@settings(max_examples=40)
@given(
    pts=st.lists(
        st.tuples(st.integers(-3, 3), st.integers(-3, 3)), min_size=4, max_size=25
    )
)
def test_integer_points_with_collinear_and_repeated_rows(pts):
    """Points on an edge of the hull, or repeated, can never be the strict argmax."""
    W = np.array(pts, dtype=float)
    try:
        expected = hull_vertices(W)
    except QhullError:  # all points on a line: no 2-D hull to compare with
        return
    np.testing.assert_array_equal(argmaxable(W), expected)


def test_equal_norms_all_argmaxable():
    W = random_layer(0, 2000, 3, 0.0)
    assert argmaxable(W).all()
    W = random_layer(1, 500, 8, 0.0)
    assert argmaxable(W).all()


@settings(max_examples=25)
@given(seed=st.integers(0, 10_000), n=st.integers(4, 30))
def test_bias_equals_upper_hull_of_lifted_points(seed, n):
    """With a bias, class k wins for some z iff (w_k, b_k) is a vertex of the hull of
    the lifted points (w_i, b_i) together with copies pushed down, (w_i, b_i - 10): the
    copies remove the lower hull."""
    rng = np.random.default_rng(seed)
    W = random_layer(seed, n, 2, 0.5)
    b = rng.normal(0, 0.7, n)
    lifted = np.vstack([np.c_[W, b], np.c_[W, b - 10.0]])
    expected = np.zeros(n, dtype=bool)
    v = ConvexHull(lifted).vertices
    expected[v[v < n]] = True
    np.testing.assert_array_equal(argmaxable(W, b), expected)


# --- C1: every verdict has a certificate ----------------------------------------------


@settings(max_examples=20)
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(3, 30),
    d=st.integers(1, 6),
    bias=st.booleans(),
)
def test_every_verdict_is_certified(seed, n, d, bias):
    rng = np.random.default_rng(seed)
    W = random_layer(seed, n, d, 1.0)
    b = rng.normal(0, 1, n) if bias else None
    bb = np.zeros(n) if b is None else b
    ok = argmaxable(W, b)
    for k in range(n):
        if ok[k]:
            z = argmax_witness(W, b, k)
            logits = W @ z + bb
            assert logits[k] > np.delete(logits, k).max()
        else:
            assert argmax_witness(W, b, k) is None
            assert farkas_certificate(W, bb, k) is not None


def test_sampled_winners_are_argmaxable():
    rng = np.random.default_rng(3)
    W = random_layer(3, 40, 3, 1.0)
    b = rng.normal(0, 1, 40)
    Z = rng.standard_normal((20_000, 3)) * rng.exponential(3.0, (20_000, 1))
    winners = np.unique(np.argmax(Z @ W.T + b, axis=1))
    ok = argmaxable(W, b)
    assert ok[winners].all()


def test_shortcut_agrees_with_full_lp():
    """argmaxable skips the LP for classes certified by the rows; argmax_margins solves
    every LP."""
    for seed, (n, d) in enumerate([(40, 4), (60, 6)]):
        W = random_layer(seed, n, d, 1.0)
        b = np.random.default_rng(seed).normal(0, 0.3, n)
        for bias in (None, b):
            np.testing.assert_array_equal(
                argmaxable(W, bias), argmax_margins(W, bias) > 1e-8
            )


def test_constraint_generation_equals_single_lp():
    """The LP on a working set of constraints returns the optimum of the LP over all
    constraints."""
    from kexue_lib.nlp.unargmaxable import _lp, _scale, _solve

    W = random_layer(5, 400, 8, 1.0)
    b = np.random.default_rng(5).normal(0, 0.5, 400)
    for k in range(0, 400, 37):
        D = np.delete(W[k] - W, k, axis=0)
        Db = np.delete(b[k] - b, k)
        z, s, _ = _solve(D, Db)
        full = float(np.min(D @ z + Db * s))
        lead = _lp(W, b, k)[0]
        assert abs(full - lead) <= 1e-7 * _scale(W, b)


def test_classes_subset_and_torch_input():
    W = random_layer(7, 40, 3, 1.0)
    full = argmaxable(W)
    idx = [5, 0, 39, 5]
    np.testing.assert_array_equal(argmaxable(W, classes=idx), full[idx])
    np.testing.assert_array_equal(argmaxable(torch.tensor(W)), full)
    np.testing.assert_array_equal(argmaxable(W.astype(np.float32)), full)


def test_margins_range_and_edge_cases():
    m = argmax_margins(POST_W)
    assert np.all(m >= -1e-12) and np.all(m <= 1)
    assert m[4] <= 1e-12 and m[:4].min() > 0.1
    assert argmaxable(np.ones((1, 3))).tolist() == [True]
    assert argmax_margins(np.ones((1, 3))).tolist() == [np.inf]
    assert not argmaxable(np.zeros((4, 2))).any()
    assert not argmaxable(np.ones((3, 2))).any()  # three identical rows tie everywhere
    # integer input
    assert argmaxable(POST_W.astype(int)).tolist() == [True, True, True, True, False]


# --- C4: the Frank–Wolfe min-norm point -----------------------------------------------


def test_min_norm_point_matches_a_generic_solver_and_the_lp():
    for seed in range(6):
        W = random_layer(seed, 12, 3, 1.0)
        ok = argmaxable(W)
        for k in range(12):
            V = np.delete(W[k] - W, k, axis=0)
            alpha, x = min_norm_point(V)
            assert np.all(alpha >= 0) and abs(alpha.sum() - 1) < 1e-12
            np.testing.assert_allclose(alpha @ V, x, atol=1e-12)
            ref = minimize(
                lambda a, V=V: float(np.sum((a @ V) ** 2)),
                np.full(len(V), 1 / len(V)),
                method="SLSQP",
                bounds=[(0, 1)] * len(V),
                constraints=[{"type": "eq", "fun": lambda a: a.sum() - 1}],
                options={"ftol": 1e-14, "maxiter": 500},
            )
            assert np.linalg.norm(x) ** 2 <= ref.fun + 1e-8
            # argmaxable iff the min-norm point is away from 0; then it is a witness
            # direction
            if ok[k]:
                assert np.linalg.norm(x) > 1e-4
                assert (V @ x).min() >= np.dot(x, x) * (1 - 1e-6)
            else:
                assert np.linalg.norm(x) < 1e-4


# --- bad input ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "W, b, exc, words",
    [
        ([[1.0, 2.0], [3.0, 4.0]], None, TypeError, "W must be"),
        (np.array([[1, 2], [3, 4]], dtype=bool), None, TypeError, "W must hold real"),
        (np.ones((2, 2), dtype=complex), None, TypeError, "W must hold real"),
        (np.ones(3), None, ValueError, "W must have shape"),
        (np.ones((0, 2)), None, ValueError, "W must have shape"),
        (np.array([[1.0, np.nan]]), None, ValueError, "W must be finite"),
        (np.ones((3, 2)), np.ones(2), ValueError, "b must have shape"),
        (np.ones((3, 2)), np.array([0, np.inf, 0]), ValueError, "b must be finite"),
        (np.ones((3, 2)), "abc", TypeError, "b must be"),
    ],
)
def test_bad_input(W, b, exc, words):
    with pytest.raises(exc, match=words):
        argmaxable(W, b)


def test_bad_options():
    with pytest.raises(ValueError, match="tol must be in"):
        argmaxable(POST_W, tol=2.0)
    with pytest.raises(TypeError, match="tol must be a float"):
        argmaxable(POST_W, tol="1e-8")
    with pytest.raises(ValueError, match=r"classes must lie in \[0, 5\)"):
        argmaxable(POST_W, classes=[5])
    with pytest.raises(TypeError, match="classes must be"):
        argmaxable(POST_W, classes=3)
    with pytest.raises(ValueError, match=r"k must be in \[0, 5\)"):
        argmax_witness(POST_W, None, 7)
    with pytest.raises(TypeError, match="k must be an int"):
        argmax_witness(POST_W, None, 1.0)
    with pytest.raises(ValueError, match="V must have shape"):
        min_norm_point(np.ones(3))
    with pytest.raises(ValueError, match="iters must be"):
        min_norm_point(np.ones((2, 2)), iters=-1)
