"""Tests for kexue_lib.physics (chapter math/jump-rope)."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import quad, solve_ivp
from scipy.optimize import fsolve
from scipy.special import ellipe, ellipeinc, ellipk, ellipkinc

from kexue_lib.physics import (
    RopeSolution,
    catenary,
    catenary_params,
    rope_rhs,
    solve_rope_bvp,
    troposkien,
    troposkien_length,
    troposkien_params,
    troposkien_span,
)

pos = st.floats(0.05, 5.0, allow_nan=False, allow_infinity=False)


# --- troposkien: the closed form ----------------------------------------------------


def test_troposkien_satisfies_first_order_ode_by_finite_differences():
    a, c = 0.8, 1.7
    S = troposkien_span(a, c)
    x = np.linspace(0.05 * S, 0.95 * S, 101)
    h = 1e-5
    rp = (troposkien(x + h, a, c) - troposkien(x - h, a, c)) / (
        2 * h
    )  # central difference, O(h²) ≈ 1e-10
    r = troposkien(x, a, c)
    resid = np.sqrt(1 + rp**2) - (1 + c * (a * a - r * r))
    assert np.max(np.abs(resid)) < 1e-8


def test_troposkien_matches_independent_ivp_integration():
    # the second-order form r'' = -2 c r (1 + c (a² - r²)) with r(0) = 0, r'(0) =
    # sqrt((1 + c a²)² - 1)
    a, c = 1.1, 0.6
    S = troposkien_span(a, c)
    rhs = lambda x, y: [y[1], -2 * c * y[0] * (1 + c * (a * a - y[0] ** 2))]  # noqa: E731
    xs = np.linspace(0, S, 57)
    ivp = solve_ivp(
        rhs,
        (0, S),
        [0.0, math.sqrt((1 + c * a * a) ** 2 - 1)],
        t_eval=xs,
        rtol=1e-12,
        atol=1e-13,
        method="DOP853",
    )
    assert np.max(np.abs(ivp.y[0] - troposkien(xs, a, c))) < 1e-9


def test_span_is_the_elliptic_integral_by_quadrature():
    # the span is the x-distance between two zeros: 2 ∫_0^a dr / r'(r), r' = c
    # sqrt((a²-r²)(b²-r²))
    a, c = 0.9, 2.3
    b = math.sqrt(a * a + 2 / c)
    half, _ = quad(
        lambda r: 1 / (c * math.sqrt((a * a - r * r) * (b * b - r * r))),
        0,
        a,
        epsabs=1e-14,
        limit=200,
    )
    assert abs(troposkien_span(a, c) - 2 * half) < 1e-10
    assert troposkien(np.array([0.0, troposkien_span(a, c)]), a, c) == pytest.approx(
        [0, 0], abs=1e-13
    )


def test_length_by_quadrature():
    a, c = 0.6, 3.0
    S = troposkien_span(a, c)
    L, _ = quad(
        lambda x: 1 + c * (a * a - troposkien(x, a, c) ** 2),
        0,
        S,
        epsabs=1e-14,
        limit=200,
    )
    assert abs(troposkien_length(a, c) - L) < 1e-11
    # and as the arc length of the sampled curve
    x = np.linspace(0, S, 20001)
    r = troposkien(x, a, c)
    assert abs(np.sum(np.hypot(np.diff(x), np.diff(r))) - L) < 1e-7


def test_small_amplitude_is_a_sine():
    c = 1.5
    errs = []
    for a in (1e-1, 1e-2, 1e-3):
        x = np.linspace(0, troposkien_span(a, c), 200)
        errs.append(
            np.max(np.abs(troposkien(x, a, c) / a - np.sin(math.sqrt(2 * c) * x)))
        )
    assert errs[2] < 1e-5 and errs[1] / errs[2] == pytest.approx(100, rel=0.02)
    assert troposkien_span(1e-6, c) == pytest.approx(
        math.pi / math.sqrt(2 * c), rel=1e-10
    )


@settings(max_examples=25, deadline=None)
@given(pos, pos, st.floats(0.0, 1.0))
def test_symmetry_maximum_and_antiperiod(a, c, t):
    S = troposkien_span(a, c)
    x = t * S
    assert troposkien(S - x, a, c) == pytest.approx(troposkien(x, a, c), abs=1e-10 * a)
    assert troposkien(x + S, a, c) == pytest.approx(-troposkien(x, a, c), abs=1e-10 * a)
    assert troposkien(S / 2, a, c) == pytest.approx(a, rel=1e-12)
    assert 0 <= troposkien(x, a, c) <= a * (1 + 1e-12)


@settings(max_examples=25, deadline=None)
@given(pos, pos, st.floats(0.2, 5.0))
def test_scaling_and_params_roundtrip(a, c, lam):
    # λ r(x/λ) is the troposkien (λa, c/λ²)
    S, L = troposkien_span(a, c), troposkien_length(a, c)
    assert troposkien_span(lam * a, c / lam**2) == pytest.approx(lam * S, rel=1e-11)
    assert troposkien_length(lam * a, c / lam**2) == pytest.approx(lam * L, rel=1e-11)
    a2, c2 = troposkien_params(S, L)
    assert a2 == pytest.approx(a, rel=1e-8) and c2 == pytest.approx(c, rel=1e-7)


# --- catenary -----------------------------------------------------------------------


def test_catenary_formula_and_params():
    x = np.linspace(-2, 3, 11)
    assert np.allclose(
        catenary(x, 1.5, 0.5),
        1.5 * (np.exp((x - 0.5) / 1.5) + np.exp(-(x - 0.5) / 1.5)) / 2,
        rtol=1e-15,
        atol=0,
    )
    span, length = 1.0, 1.7
    a = catenary_params(span, length)
    arc, _ = quad(
        lambda u: math.cosh(u / a), -span / 2, span / 2, epsabs=1e-14
    )  # sqrt(1 + sinh²) = cosh
    assert abs(arc - length) < 1e-12


# --- the boundary-value solver vs the closed forms ----------------------------------


def test_bvp_matches_troposkien():
    a, c = 0.7, 1.3
    S, L = troposkien_span(a, c), troposkien_length(a, c)
    sol = solve_rope_bvp(L, S, omega=2.0)
    assert isinstance(sol, RopeSolution)
    assert np.max(np.abs(sol.x - troposkien(sol.y, a, c))) < 1e-8
    # apex tension: c = ω²/(2 T₀) and T·dy/ds = T₀ everywhere (no gravity)
    assert 2.0**2 / (2 * sol.q[0]) == pytest.approx(c, rel=1e-8)
    assert np.max(sol.x) == pytest.approx(a, rel=1e-8)


def test_bvp_matches_catenary():
    span, length, g = 1.0, 1.6, 9.81
    sol = solve_rope_bvp(length, span, omega=0.0, g_radial=g)
    a = catenary_params(span, length)
    depth = a * math.cosh(span / (2 * a)) - catenary(
        sol.y, a, span / 2
    )  # x points down from the hands
    assert np.max(np.abs(sol.x - depth)) < 1e-8


def test_bvp_energy_integral_with_gravity():
    # T + ½ω²x² + g_r x − g_a y is constant along the rope (C1 first integral)
    om, ga, gr = 4.0, 9.81, 2.0
    sol = solve_rope_bvp(2.0, 1.5, om, g_axial=ga, g_radial=gr)
    inv = sol.tension + 0.5 * om**2 * sol.x**2 + gr * sol.x - ga * sol.y
    assert np.ptp(inv) < 1e-8 * np.max(sol.tension)


def test_rope_rhs_vectorised_and_values():
    st1 = np.array([0.3, 0.1, 3.0, 4.0])
    out = rope_rhs(0.0, st1, 2.0, 1.0, 0.5)
    assert np.allclose(out, [0.6, 0.8, -(4 * 0.3) - 0.5, 1.0])
    many = np.tile(st1[:, None], (1, 5))
    assert rope_rhs(np.zeros(5), many, 2.0, 1.0, 0.5).shape == (4, 5)


# --- bad input ----------------------------------------------------------------------


def test_errors():
    positive = "must be a finite real number > 0, got"
    with pytest.raises(ValueError, match="a " + positive + " -1"):
        troposkien([0.1], -1.0, 1.0)
    with pytest.raises(ValueError, match="c " + positive + " 0"):
        troposkien([0.1], 1.0, 0.0)
    with pytest.raises(ValueError, match="a " + positive + " nan"):
        troposkien_span(float("nan"), 1.0)
    with pytest.raises(ValueError, match="c " + positive + " inf"):
        troposkien_length(1.0, float("inf"))
    with pytest.raises(ValueError, match="y must be finite"):
        troposkien([0.0, np.nan], 1.0, 1.0)
    with pytest.raises(ValueError, match="a must be a single number"):
        troposkien([0.0], np.ones(2), 1.0)
    with pytest.raises(ValueError, match="state must have shape"):
        rope_rhs(0.0, np.zeros(3), 1.0)
    with pytest.raises(ValueError, match="state must be finite"):
        rope_rhs(0.0, np.array([0, 0, np.inf, 1.0]), 1.0)
    with pytest.raises(ValueError, match="zero tension"):
        rope_rhs(0.0, np.zeros(4), 1.0)
    with pytest.raises(ValueError, match="omega must be a finite real number >= 0"):
        rope_rhs(0.0, np.ones(4), -1.0)
    with pytest.raises(
        ValueError, match="g_axial must be a finite real number, got nan"
    ):
        rope_rhs(0.0, np.ones(4), 1.0, g_axial=np.nan)
    with pytest.raises(ValueError, match="length must be > span"):
        solve_rope_bvp(1.0, 2.0, 1.0)
    with pytest.raises(ValueError, match="span " + positive):
        solve_rope_bvp(1.0, -2.0, 1.0)
    with pytest.raises(ValueError, match="g_radial must be > 0 when omega = 0"):
        solve_rope_bvp(2.0, 1.0, 0.0)
    with pytest.raises(ValueError, match="n_nodes must be an int >= 5"):
        solve_rope_bvp(2.0, 1.0, 1.0, n_nodes=2)
    with pytest.raises(ValueError, match="length must be > span"):
        troposkien_params(1.0, 0.5)
    with pytest.raises(ValueError, match="length must be > span"):
        catenary_params(1.0, 1.0)
    with pytest.raises(ValueError, match="a " + positive):
        catenary([0.0], 0.0)
    with pytest.raises(ValueError, match="b must be a finite real number, got inf"):
        catenary([0.0], 1.0, np.inf)


def test_type_errors():
    with pytest.raises(TypeError, match="a must be a finite real number"):
        troposkien([0.1], "1", 1.0)
    with pytest.raises(TypeError, match="y must be a real number or array"):
        troposkien(["a"], 1.0, 1.0)
    with pytest.raises(TypeError, match="state must be a real number or array"):
        rope_rhs(0.0, np.ones(4, dtype=complex), 1.0)
    with pytest.raises(TypeError, match="omega must be a finite real number"):
        solve_rope_bvp(2.0, 1.0, None)
    with pytest.raises(TypeError, match="n_nodes must be an int"):
        solve_rope_bvp(2.0, 1.0, 1.0, n_nodes=201.0)


def test_bvp_failure_is_reported():
    # gravity pulling towards the axis much harder than the rotation pushes out: no taut
    # solution
    with pytest.raises(RuntimeError, match="solve_bvp"):
        solve_rope_bvp(3.0, 1.0, 0.1, g_radial=-50.0, max_nodes=2000)


def test_solution_interpolant_matches_mesh_and_forces_are_rescaled():
    sol = solve_rope_bvp(1.5, 1.0, 3.0, g_axial=2.0)
    assert np.allclose(
        sol.sol(sol.s), np.vstack([sol.x, sol.y, sol.p, sol.q]), rtol=1e-12, atol=1e-12
    )
    # physical units: q changes at rate g_axial along the rope
    assert np.allclose(np.diff(sol.q) / np.diff(sol.s), 2.0, rtol=1e-8)
    assert sol.max_residual < 1e-10


def test_params_reject_out_of_range_ratio():
    with pytest.raises(ValueError, match="length/span"):
        troposkien_params(1.0, 1.0 + 1e-13)
    with pytest.raises(ValueError, match="span must be a finite real number > 0"):
        troposkien_params(0.0, 1.0)


# --- the branch: the rope on the +x side of the axis, or an error -------------------


def _top_fold_omega(span: float, length: float, g: float) -> float:
    """The ω below which the top-of-swing rope (``g_radial = −g``) has no equilibrium
    with ``x >= 0``, from the closed form of chapter C2 alone.

    Such a rope is an sn arc ``r = A sn(u | m)`` about the axis shifted to ``x = δ``,
    ``δ = g/ω²``, with the hands at ``r = −δ``, i.e. at the phase ``u0`` with
    ``sn(u0) = −δ/A``, ``φ0 = am(u0) ∈ (−π/2, 0)``. For each φ0 the span and length
    equations fix ``(ω, c)``; along this family ω has a minimum: the fold.
    """

    def equations(v, phi0):
        om, c = np.exp(v)
        a = g / om**2 / abs(np.sin(phi0))
        b = np.sqrt(a * a + 2 / c)
        m = (a / b) ** 2
        u0 = ellipkinc(phi0, m)
        k, e = ellipk(m), ellipe(m)
        dy = (2 * k - 2 * u0) / (c * b)
        arc = (1 + c * a * a) * dy - b * (
            (2 * k - 2 * u0) - 2 * e + 2 * ellipeinc(phi0, m)
        )
        return [dy / span - 1, arc / length - 1]

    guess = np.log([20.0, 4.0])
    omegas = []
    for phi0 in np.linspace(-0.02, -np.pi / 2 + 1e-6, 200):  # continuation in φ0
        guess = fsolve(equations, guess, args=(phi0,), xtol=1e-12)
        assert np.max(np.abs(equations(guess, phi0))) < 1e-10
        omegas.append(np.exp(guess[0]))
    omegas = np.array(omegas)
    i = int(np.argmin(omegas))
    assert 0 < i < len(omegas) - 1, "the minimum must be interior: a fold"
    return float(omegas[i])


def test_top_of_swing_rope_exists_only_above_the_fold():
    span, length, g = 0.8, 2.4, 9.81
    om_fold = _top_fold_omega(span, length, g)
    assert 4.2 < om_fold < 4.3
    above = solve_rope_bvp(length, span, 1.05 * om_fold, g_radial=-g)
    assert above.x.min() > -1e-12 and above.x.max() > 1.0  # the rope is above the hands
    assert above.p[0] > 0  # and leaves the first hand moving outward
    with pytest.raises(RuntimeError):  # no convergence, or the mirror-image rope
        solve_rope_bvp(length, span, 0.97 * om_fold, g_radial=-g, max_nodes=20_000)


def test_wrong_branch_raises_instead_of_reporting_success():
    # issue 9: at ω = 4 the collocation used to converge to a rope on the other side of
    # the axis — the mirror image of the rope at the bottom of the swing — and return it
    with pytest.raises(RuntimeError, match=r"\+x side .*min x = -[0-9.]+") as info:
        solve_rope_bvp(2.4, 0.8, 4.0, g_radial=-9.81)
    x_min = float(re.search(r"min x = (-[0-9.]+)", str(info.value)).group(1))
    bottom = solve_rope_bvp(2.4, 0.8, 4.0, g_radial=9.81)
    assert bottom.x.min() > -1e-12
    assert abs(x_min + bottom.x.max()) < 0.01  # it was the mirrored bottom rope
