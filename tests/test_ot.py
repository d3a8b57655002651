"""Tests for kexue_lib.ot (chapters gan/wasserstein-duality and gan/wgan-not-w).

Independent references: the POT library (``ot.emd``/``ot.emd2``, a network-simplex
solver, and ``ot.wasserstein_1d``), ``scipy.stats.wasserstein_distance``, brute force
over permutations, and closed forms (point masses, shifts, Diracs).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import wasserstein_distance

from kexue_lib.ot import MASS_RTOL, batch_w1, ot_dual, ot_lp, w1_1d, w1_to_point

pot = pytest.importorskip("ot")  # pinned in requirements.txt


def _instance(seed: int, m: int, n: int, d: int = 2, power: float = 1.0):
    rng = np.random.default_rng(seed)
    p, q = rng.random(m) + 0.05, rng.random(n) + 0.05
    p, q = p / p.sum(), q / q.sum()
    x, y = rng.normal(size=(m, d)), rng.normal(size=(n, d))
    cost = np.linalg.norm(x[:, None] - y[None], axis=-1) ** power
    return p, q, cost, x, y


# --- unit tests: hand-checkable cases ----------------------------------------------


def test_ot_lp_two_by_two_by_hand():
    """Swap cost 1, stay cost 0: the plan keeps everything in place."""
    p = q = np.array([0.5, 0.5])
    value, plan = ot_lp(p, q, np.array([[0.0, 1.0], [1.0, 0.0]]))
    assert value == pytest.approx(0.0, abs=1e-14)
    np.testing.assert_allclose(plan, np.diag([0.5, 0.5]), atol=1e-14)
    # forced move: all of p sits on point 0, all of q on point 1
    value, plan = ot_lp([1.0, 0.0], [0.0, 1.0], [[3.0, 2.0], [7.0, 5.0]])
    assert value == pytest.approx(2.0, abs=1e-13)
    np.testing.assert_allclose(plan, [[0.0, 1.0], [0.0, 0.0]], atol=1e-14)


def test_ot_lp_scales_with_mass_and_cost():
    p, q, cost, _, _ = _instance(0, 4, 5)
    v1, plan1 = ot_lp(p, q, cost)
    v2, plan2 = ot_lp(3 * p, 3 * q, 7 * cost)
    assert v2 == pytest.approx(21 * v1, rel=1e-12)
    np.testing.assert_allclose(plan2.sum(1), 3 * p, atol=1e-12)


def test_ot_dual_by_hand():
    """One point to one point: value c, and f + g = c."""
    value, f, g = ot_dual([2.0], [2.0], [[1.5]])
    assert value == pytest.approx(3.0, rel=1e-12)
    assert f[0] + g[0] == pytest.approx(1.5, rel=1e-12)


def test_w1_1d_closed_forms():
    assert w1_1d([0.0], [3.0]) == pytest.approx(3.0, rel=1e-15)
    x = np.array([0.0, 1.0, 5.0])
    assert w1_1d(x, x + 0.25) == pytest.approx(0.25, rel=1e-14)  # a shift moves by s
    # two atoms vs one: mass 1/2 travels 1, mass 1/2 travels 1 → 1
    assert w1_1d([0.0, 2.0], [1.0]) == pytest.approx(1.0, rel=1e-15)
    # ties between x and y are counted on both sides of the CDF jump
    assert w1_1d([0.0, 1.0], [1.0, 1.0]) == pytest.approx(0.5, rel=1e-15)
    assert w1_1d([1.0, 1.0], [0.0, 1.0]) == pytest.approx(0.5, rel=1e-15)


def test_w1_1d_weighted_by_hand():
    # p: 0.75 at 0, 0.25 at 4; q: all at 1 → 0.75·1 + 0.25·3 = 1.5
    assert w1_1d([0.0, 4.0], [1.0], [0.75, 0.25], [1.0]) == pytest.approx(1.5)
    # unnormalised but balanced masses scale the cost
    assert w1_1d([0.0, 4.0], [1.0], [1.5, 0.5], [2.0]) == pytest.approx(3.0)


def test_batch_w1_is_the_best_permutation():
    rng = np.random.default_rng(1)
    for n in (1, 2, 5, 6):
        x, y = rng.normal(size=(n, 3)), rng.normal(size=(n, 3))
        brute = min(
            np.mean(np.linalg.norm(x - y[list(s)], axis=1))
            for s in itertools.permutations(range(n))
        )
        assert batch_w1(x, y) == pytest.approx(brute, rel=1e-13)
        assert batch_w1(x, x[rng.permutation(n)]) == 0.0


def test_batch_w1_equals_the_lp_with_uniform_masses():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(7, 4)), rng.normal(size=(7, 4))
    cost = np.linalg.norm(x[:, None] - y[None], axis=-1)
    u = np.full(7, 1 / 7)
    assert batch_w1(x, y) == pytest.approx(ot_lp(u, u, cost)[0], rel=1e-10)


def test_w1_to_point_is_the_mean_distance_and_the_lp():
    rng = np.random.default_rng(3)
    x, c = rng.normal(size=(9, 5)), rng.normal(size=5)
    expected = np.mean(np.linalg.norm(x - c, axis=1))
    assert w1_to_point(x, c) == pytest.approx(expected, rel=1e-15)
    cost = np.linalg.norm(x - c, axis=1)[:, None]
    assert w1_to_point(x, c) == pytest.approx(
        ot_lp(np.full(9, 1 / 9), [1.0], cost)[0], rel=1e-12
    )
    # equals batch_w1 against n copies of the point
    assert w1_to_point(x, c) == pytest.approx(
        batch_w1(x, np.tile(c, (9, 1))), rel=1e-13
    )


def test_outputs_are_float64_and_accept_lists_and_ints():
    value, plan = ot_lp([1, 1], [2, 0], [[1, 2], [3, 4]])
    assert isinstance(value, float) and plan.dtype == np.float64
    value, f, g = ot_dual([1, 1], [2, 0], [[1, 2], [3, 4]])
    assert f.dtype == np.float64 and g.dtype == np.float64 and value == pytest.approx(4)
    assert isinstance(w1_1d([0, 1], [1, 2]), float)
    assert isinstance(batch_w1([[0, 0]], [[3, 4]]), float)
    assert batch_w1([[0, 0]], [[3, 4]]) == 5.0


# --- property tests --------------------------------------------------------------

sizes = st.integers(min_value=1, max_value=7)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), m=sizes, n=sizes, power=st.sampled_from([1, 2]))
def test_plan_marginals_primal_equals_dual_and_slackness(seed, m, n, power):
    p, q, cost, _, _ = _instance(seed, m, n, power=power)
    value, plan = ot_lp(p, q, cost)
    assert np.all(plan >= 0)
    np.testing.assert_allclose(plan.sum(1), p, atol=1e-12)
    np.testing.assert_allclose(plan.sum(0), q, atol=1e-12)
    assert value == pytest.approx(np.sum(plan * cost), abs=1e-14)
    dual, f, g = ot_dual(p, q, cost)
    assert abs(dual - value) <= 1e-9
    slack = cost - f[:, None] - g[None, :]
    assert slack.min() >= -1e-12 * np.abs(cost).max()
    # complementary slackness: mass only moves along tight constraints
    assert np.all(slack[plan > 1e-9] <= 1e-8)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), m=sizes, n=sizes)
def test_w1_1d_equals_the_lp_on_the_line(seed, m, n):
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=m), np.round(rng.normal(size=n), 1)  # rounding makes ties
    y[: n // 2] = x[: n // 2] if m >= n // 2 else y[: n // 2]
    wx, wy = rng.random(m) + 0.01, rng.random(n) + 0.01
    wx, wy = wx / wx.sum(), wy / wy.sum()
    lp, _ = ot_lp(wx, wy, np.abs(x[:, None] - y[None, :]))
    assert abs(w1_1d(x, y, wx, wy) - lp) <= 1e-9


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 12), d=st.integers(1, 4))
def test_batch_w1_is_a_metric_on_clouds(seed, n, d):
    rng = np.random.default_rng(seed)
    x, y, z = (rng.normal(size=(n, d)) for _ in range(3))
    assert batch_w1(x, y) == pytest.approx(batch_w1(y, x), rel=1e-12)
    assert batch_w1(x, z) <= batch_w1(x, y) + batch_w1(y, z) + 1e-12
    assert batch_w1(x, y) <= np.mean(np.linalg.norm(x - y, axis=1)) + 1e-12


# --- agreement with widely used implementations, same inputs, 1e-9 ------------------


@pytest.mark.parametrize("m,n,power", [(1, 6, 1), (5, 5, 1), (8, 13, 1), (12, 9, 2)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ot_lp_and_ot_dual_agree_with_pot(m, n, power, seed):
    p, q, cost, _, _ = _instance(100 + seed, m, n, power=power)
    value, plan = ot_lp(p, q, cost)
    ref_plan, log = pot.emd(p, q, cost, log=True)
    ref = float(log["cost"])
    assert abs(value - ref) <= 1e-9
    assert abs(value - pot.emd2(p, q, cost)) <= 1e-9
    assert abs(np.sum(ref_plan * cost) - np.sum(plan * cost)) <= 1e-9
    dual, f, g = ot_dual(p, q, cost)
    assert abs(dual - ref) <= 1e-9
    # POT's own dual potentials reach the same value
    assert abs(p @ log["u"] + q @ log["v"] - dual) <= 1e-9


@pytest.mark.parametrize("n,d", [(5, 2), (32, 3), (64, 64)])
def test_batch_w1_agrees_with_pot(n, d):
    rng = np.random.default_rng(n + d)
    x, y = rng.random((n, d)), rng.random((n, d))
    u = np.full(n, 1.0 / n)
    ref = pot.emd2(u, u, pot.dist(x, y, metric="euclidean"))
    assert abs(batch_w1(x, y) - ref) <= 1e-9


@pytest.mark.parametrize("seed", range(5))
def test_w1_1d_agrees_with_scipy_and_pot(seed):
    rng = np.random.default_rng(seed)
    m, n = rng.integers(1, 40, size=2)
    x, y = rng.normal(size=m), rng.normal(1.0, 2.0, size=n)
    wx, wy = rng.random(m), rng.random(n)
    ref = wasserstein_distance(x, y, wx, wy)  # scipy normalises the weights itself
    got = w1_1d(x, y, wx / wx.sum(), wy / wy.sum())
    assert abs(got - ref) <= 1e-9
    assert abs(w1_1d(x, y) - wasserstein_distance(x, y)) <= 1e-9
    pot_ref = pot.wasserstein_1d(x, y, wx / wx.sum(), wy / wy.sum(), p=1)
    assert abs(got - float(pot_ref)) <= 1e-9


# --- bad input -----------------------------------------------------------------------


def test_negative_mass_is_rejected():
    with pytest.raises(ValueError, match="p must be a non-negative"):
        ot_lp([0.5, -0.1, 0.6], [1.0], np.ones((3, 1)))
    with pytest.raises(ValueError, match="q must be a non-negative"):
        ot_dual([1.0], [1.5, -0.5], np.ones((1, 2)))
    with pytest.raises(ValueError, match="x_weights must be a non-negative"):
        w1_1d([0.0, 1.0], [0.0], [-1.0, 2.0])
    with pytest.raises(ValueError, match="p must have positive total mass"):
        ot_lp([0.0, 0.0], [0.0], np.ones((2, 1)))


def test_unequal_total_mass_is_rejected_with_the_tolerance():
    with pytest.raises(
        ValueError, match=r"q must have the same total mass as p.*1e-09"
    ):
        ot_lp([0.5, 0.5], [0.5, 0.6], np.ones((2, 2)))
    with pytest.raises(ValueError, match="y_weights must have the same total"):
        w1_1d([0.0], [1.0], [1.0], [2.0])
    # within the tolerance the problem is accepted (and balanced)
    value, plan = ot_lp([0.5, 0.5], [1.0 + 0.5 * MASS_RTOL], [[1.0], [2.0]])
    assert value == pytest.approx(1.5, rel=1e-12)


def test_shape_mismatch_is_rejected():
    with pytest.raises(
        ValueError, match=r"cost must have shape \(len\(p\), len\(q\)\)"
    ):
        ot_lp([0.5, 0.5], [1.0], np.ones((1, 2)))
    with pytest.raises(ValueError, match="p must have shape"):
        ot_dual(np.ones((2, 1)), [2.0], np.ones((2, 1)))
    with pytest.raises(ValueError, match="x_weights must have shape"):
        w1_1d([0.0, 1.0], [0.0], [1.0], [1.0])
    with pytest.raises(ValueError, match="same dimension"):
        batch_w1(np.zeros((3, 2)), np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"c must have shape \(2,\)"):
        w1_to_point(np.zeros((3, 2)), np.zeros(3))
    with pytest.raises(ValueError, match="x must have shape"):
        batch_w1(np.zeros(3), np.zeros(3))
    with pytest.raises(ValueError, match="must not be empty"):
        w1_1d([], [1.0])


def test_non_finite_input_is_rejected():
    with pytest.raises(ValueError, match="cost must be finite"):
        ot_lp([1.0], [1.0], [[np.inf]])
    with pytest.raises(ValueError, match="cost must be finite"):
        ot_dual([0.5, 0.5], [1.0], [[1.0], [np.nan]])
    with pytest.raises(ValueError, match="y must be finite"):
        w1_1d([0.0], [np.nan])
    with pytest.raises(ValueError, match="x must be finite"):
        batch_w1([[np.inf, 0.0]], [[0.0, 0.0]])


def test_unequal_batch_sizes_are_rejected():
    with pytest.raises(ValueError, match="same batch size, got 3 and 4"):
        batch_w1(np.zeros((3, 2)), np.zeros((4, 2)))


@pytest.mark.parametrize(
    "call",
    [
        lambda: ot_lp("0.5", [1.0], [[1.0]]),
        lambda: ot_lp(None, [1.0], [[1.0]]),
        lambda: ot_dual([1.0], [1.0], [["a"]]),
        lambda: ot_lp([True], [True], [[1.0]]),
        lambda: w1_1d([1 + 2j], [0.0]),
        lambda: batch_w1({"a": 1}, [[0.0]]),
        lambda: w1_to_point([[0.0]], None),
    ],
)
def test_wrong_types_raise_type_error(call):
    with pytest.raises(TypeError, match="must (be an array of|hold) real numbers"):
        call()
