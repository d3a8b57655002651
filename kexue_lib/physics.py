"""The shape of a spinning rope: troposkien, catenary and a boundary-value solver
(chapter ``math/jump-rope``).

Coordinates (density of the rope 1, hands at the points ``(x, y) = (0, 0)`` and
``(0, span)``):

* ``y`` runs along the rotation axis (the line through the two hands);
* ``x`` is the signed distance from the axis, in the plane of the rope;
* the rope spins about the axis at angular velocity ``omega``; in the co-rotating frame
  each unit of mass feels the centrifugal force ``omega² x`` along ``+x``;
* gravity may have a component ``g_axial`` pointing along ``−y`` (a rope hanging from a
  vertical spinning rod, the post's original problem) and a component ``g_radial``
  pointing along ``+x`` (a jump rope in the instant it passes the bottom of its swing,
  ``g_radial = g``, or the top, ``g_radial = −g``).

Functions:

* :func:`rope_rhs` — the first-order ODE of the equilibrium, in arc length, for
  :func:`scipy.integrate.solve_bvp` or :func:`scipy.integrate.solve_ivp` (claim C1).
* :func:`troposkien`, :func:`troposkien_span`, :func:`troposkien_length`,
  :func:`troposkien_params` — the gravity-free closed form ``r(y) = a·sn(c·b·y | m)``
  and its hand span and rope length (claim C3).
* :func:`catenary`, :func:`catenary_params` — the non-rotating hanging rope (claim C4).
* :func:`solve_rope_bvp` — the rope between the two hands, solved numerically with a
  tight tolerance.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.integrate import solve_bvp
from scipy.optimize import brentq
from scipy.special import ellipe, ellipj, ellipk

from . import _validate as V

__all__ = [
    "rope_rhs",
    "troposkien",
    "troposkien_span",
    "troposkien_length",
    "troposkien_params",
    "catenary",
    "catenary_params",
    "RopeSolution",
    "solve_rope_bvp",
]


# ------------------------------------------------------------------------------------
# the ODE


def rope_rhs(
    s, state, omega: float, g_axial: float = 0.0, g_radial: float = 0.0
) -> np.ndarray:
    """Right-hand side of the rope's equilibrium ODE in arc length ``s`` (chapter
    ``math/jump-rope``, C1).

    The state is ``(x, y, p, q)`` with ``(p, q) = T·(dx/ds, dy/ds)`` the force the part
    of the rope beyond ``s`` exerts on the part before it (``T`` the tension,
    ``T = sqrt(p² + q²)``). Force balance on an element of unit density,
    ``d(T t)/ds = −f`` with external force ``f = (omega² x + g_radial, −g_axial)``,
    gives ::

        dx/ds = p / T,                  dy/ds = q / T,
        dp/ds = −omega² x − g_radial,   dq/ds = g_axial.

    In the post's notation ``T = −φ`` (the Lagrange multiplier of the unit-speed
    constraint).

    Parameters
    ----------
    s : float or array of shape (n,)
        Arc length (unused: the system is autonomous; present for the
        solve_ivp/solve_bvp signature).
    state : array of shape (4,) or (4, n)
        ``(x, y, p, q)``; a 2-D array evaluates ``n`` states at once (the form
        ``solve_bvp`` uses).
    omega, g_axial, g_radial : float
        Angular velocity (>= 0) and the two gravity components (any finite value).

    Returns
    -------
    ndarray of the shape of ``state``.

    Raises
    ------
    ValueError
        If ``state`` does not have 4 rows, is not finite, has zero tension ``p = q = 0``
        somewhere, or a parameter is out of range.
    """
    omega = V.real("omega", omega, ge=0)
    g_axial = V.real("g_axial", g_axial)
    g_radial = V.real("g_radial", g_radial)
    y = V.real_array("state", state)
    if y.ndim not in (1, 2) or y.shape[0] != 4:
        raise ValueError(f"state must have shape (4,) or (4, n), got {y.shape}")
    x, _, p, q = y
    tension = np.hypot(p, q)
    if np.any(tension == 0):
        raise ValueError(
            "state has zero tension (p = q = 0): the direction of the rope is "
            "undefined there"
        )
    return np.stack(
        [p / tension, q / tension, -(omega**2) * x - g_radial, np.full_like(x, g_axial)]
    )


# ------------------------------------------------------------------------------------
# closed forms


def _troposkien_constants(a: float, c: float) -> tuple[float, float]:
    """(b, m) with b² = a² + 2/c and m = a²/b²."""
    b = math.sqrt(a * a + 2.0 / c)
    return b, (a / b) ** 2


def troposkien(y, a: float, c: float) -> np.ndarray:
    """The gravity-free rope shape ``r(y) = a·sn(c·b·y | m)`` (chapter
    ``math/jump-rope``, C3).

    ``y`` is the coordinate along the axis measured from one hand; ``r`` is the distance
    from the axis, ``a`` the largest distance (the apex) and ``c = omega² / (2 T₀)``
    with ``T₀`` the tension at the apex. With ``b² = a² + 2/c`` and parameter
    ``m = a²/b²`` (scipy's convention: ``sn(u | m)``, ``m = k²``) the curve solves
    ``sqrt(1 + r'²) = 1 + c(a² − r²)`` with ``r(0) = 0``; it returns to the axis at
    :func:`troposkien_span` and continues periodically (negative values beyond one
    span).

    Parameters
    ----------
    y : array_like of any shape, finite
        Positions along the axis.
    a, c : float, > 0

    Returns
    -------
    ndarray of the shape of ``y`` (float64): the distances ``r(y)`` from the axis.
    """
    a = V.real("a", a, gt=0)
    c = V.real("c", c, gt=0)
    ys = V.real_array("y", y)
    b, m = _troposkien_constants(a, c)
    sn, _, _, _ = ellipj(c * b * ys, m)
    return a * sn


def troposkien_span(a: float, c: float) -> float:
    """Distance between the hands for the troposkien of :func:`troposkien`:
    ``2 K(m) / (c b)`` (C3).

    ``K`` is the complete elliptic integral of the first kind (``scipy.special.ellipk``,
    parameter ``m``).
    """
    a = V.real("a", a, gt=0)
    c = V.real("c", c, gt=0)
    b, m = _troposkien_constants(a, c)
    return float(2.0 * ellipk(m) / (c * b))


def troposkien_length(a: float, c: float) -> float:
    """Arc length of one span of the troposkien (C3).

    ``L = ∫ (1 + c(a² − r²)) dy`` over one span; with ``∫₀^{2K} sn² du = 2(K − E)/m``
    this is ``L = S(1 + c a²) − 2b(K(m) − E(m))`` where ``S`` is :func:`troposkien_span`
    and ``E`` the complete elliptic integral of the second kind.
    """
    a = V.real("a", a, gt=0)
    c = V.real("c", c, gt=0)
    b, m = _troposkien_constants(a, c)
    K, E = float(ellipk(m)), float(ellipe(m))
    span = 2.0 * K / (c * b)
    return float(span * (1.0 + c * a * a) - 2.0 * b * (K - E))


def _length_ratio(kappa: float) -> float:
    """length/span of a troposkien as a function of the shape number kappa = c a² (scale
    free).
    """
    m = kappa / (kappa + 2.0)
    K, E = float(ellipk(m)), float(ellipe(m))
    return 1.0 + kappa - (kappa + 2.0) * (1.0 - E / K)


def troposkien_params(span: float, length: float) -> tuple[float, float]:
    """The ``(a, c)`` of the troposkien with hand distance ``span`` and rope length
    ``length`` (C3).

    The shape depends on ``kappa = c a²`` only up to scale (``λ r(x/λ)`` has parameters
    ``(λa, c/λ²)``), and ``length/span`` is increasing in ``kappa``; we solve for
    ``kappa`` with Brent's method and rescale. Requires ``length > span > 0``; the
    result reproduces both to about 1e−12 relative.
    """
    span = V.real("span", span, gt=0)
    length = V.real("length", length, gt=0)
    if not length > span:
        raise ValueError(
            "length must be > span (a rope longer than the distance of the hands), "
            f"got {length} <= {span}"
        )
    ratio = length / span
    if ratio > _length_ratio(1e8) or ratio < _length_ratio(1e-10):
        raise ValueError(
            f"length/span must be in ({_length_ratio(1e-10):.12g}, "
            f"{_length_ratio(1e8):.4g}), got {ratio}"
        )
    f = lambda t: _length_ratio(math.exp(t)) - ratio  # noqa: E731
    kappa = math.exp(
        brentq(
            f, math.log(1e-10), math.log(1e8), xtol=1e-15, rtol=4 * np.finfo(float).eps
        )
    )
    m = kappa / (kappa + 2.0)
    a = span * kappa / (2.0 * float(ellipk(m)) * math.sqrt(m))
    return a, kappa / (a * a)


def catenary(x, a: float, b: float = 0.0) -> np.ndarray:
    """The hanging chain ``y = a·cosh((x − b)/a)`` (chapter ``math/jump-rope``, C4).

    ``y`` points up, ``x`` horizontally; ``a = H/(ρ g)`` is the horizontal tension over
    the weight per unit length (> 0) and ``b`` the abscissa of the lowest point. Returns
    an array of the shape of ``x``.
    """
    a = V.real("a", a, gt=0)
    b = V.real("b", b)
    xs = V.real_array("x", x)
    return a * np.cosh((xs - b) / a)


def catenary_params(span: float, length: float) -> float:
    """The ``a`` of the catenary through two hands at equal height ``span`` apart, rope
    length ``length`` (C4).

    Solves ``2a·sinh(span / (2a)) = length`` (requires ``length > span > 0``).
    """
    span = V.real("span", span, gt=0)
    length = V.real("length", length, gt=0)
    if not length > span:
        raise ValueError(f"length must be > span, got {length} <= {span}")
    # in t = span/(2a): sinh(t)/t = length/span, increasing in t
    ratio = length / span
    hi = 1.0
    while math.sinh(hi) / hi < ratio:
        hi *= 2.0
    t = brentq(
        lambda t: math.sinh(t) / t - ratio,
        1e-12,
        hi,
        xtol=1e-15,
        rtol=4 * np.finfo(float).eps,
    )
    return span / (2.0 * t)


# ------------------------------------------------------------------------------------
# the boundary-value problem


@dataclass(frozen=True)
class RopeSolution:
    """Result of :func:`solve_rope_bvp`.

    * ``s, x, y, p, q, tension``: arrays of shape (n,) on the solver's final mesh (``s``
      from 0 to the length);
    * ``sol``: callable ``s -> (4, len(s))`` array, the solver's C¹ interpolant of
      ``(x, y, p, q)`` (``s`` 1-D);
    * ``max_residual``: the largest relative rms residual over the mesh intervals
      reported by ``solve_bvp``.
    """

    s: np.ndarray
    x: np.ndarray
    y: np.ndarray
    p: np.ndarray
    q: np.ndarray
    tension: np.ndarray
    sol: Callable
    max_residual: float


def solve_rope_bvp(
    length: float,
    span: float,
    omega: float,
    g_axial: float = 0.0,
    g_radial: float = 0.0,
    *,
    tol: float = 1e-10,
    n_nodes: int = 201,
    max_nodes: int = 200_000,
) -> RopeSolution:
    """Equilibrium of a rope of ``length`` held on the axis at ``(0, 0)`` and
    ``(0, span)`` (``math/jump-rope``).

    Solves the ODE of :func:`rope_rhs` in arc length ``s ∈ [0, length]`` with the four
    boundary conditions ``x(0) = y(0) = 0``, ``x(length) = 0``, ``y(length) = span`` by
    collocation (:func:`scipy.integrate.solve_bvp`, tolerance ``tol``). The initial
    guess is a sine-shaped bulge towards ``+x`` that knows nothing of the closed forms.
    There must be an outward pull: ``omega > 0`` or ``g_radial > 0`` (the catenary:
    ``omega = 0``, gravity along ``+x``).

    The rope asked for lies on the ``+x`` side of the axis (``x >= 0``), the side
    ``g_radial`` is measured on (``g_radial < 0`` is the top of a jump rope's swing, the
    rope above the hands). Such an equilibrium does not always exist. With
    ``g_radial < 0`` the net force ``omega² (x − δ)``, ``δ = |g_radial|/omega²``, points
    *towards* the axis near the hands; the rope is an sn arc about the shifted axis
    ``x = δ`` (chapter C2), and as ``omega`` drops this family of arcs folds: two
    equilibria on the ``+x`` side merge and disappear. Below the fold every equilibrium
    crosses to ``x < 0`` — for instance the mirror image of the rope at the bottom of
    the swing (``−g_radial``). The collocation then fails or converges to such a rope;
    both raise ``RuntimeError``: a rope with ``x < 0`` is never reported as a success.
    (Hands 0.8 apart, rope 2.4, ``g_radial = −9.81``: the top rope exists for ``omega``
    above about 4.25 rad/s.)

    Returns
    -------
    RopeSolution

    Raises
    ------
    TypeError
        If an argument is not a real number (``n_nodes``, ``max_nodes``: an int).
    ValueError
        On ``length <= span``, non-positive ``span``, negative ``omega``, non-finite
        input, or no outward force.
    RuntimeError
        If the collocation solver does not converge, or converges to a rope that crosses
        to ``x < 0`` (no equilibrium on the ``+x`` side was found: gravity pulls the
        rope onto the axis harder than the rotation pushes it out, see above).
    """
    length = V.real("length", length, gt=0)
    span = V.real("span", span, gt=0)
    if not length > span:
        raise ValueError(f"length must be > span, got {length} <= {span}")
    omega = V.real("omega", omega, ge=0)
    g_axial = V.real("g_axial", g_axial)
    g_radial = V.real("g_radial", g_radial)
    tol = V.real("tol", tol, gt=0)
    n_nodes = V.integer("n_nodes", n_nodes, minimum=5)
    max_nodes = V.integer("max_nodes", max_nodes, minimum=n_nodes)
    if omega == 0 and g_radial <= 0:
        raise ValueError(
            "g_radial must be > 0 when omega = 0 (something must pull the rope away "
            f"from the axis), got {g_radial}"
        )

    # Work with forces in units of F (a typical tension), so that solve_bvp's relative
    # residuals weigh positions and forces alike; p and q are scaled back at the end.
    force = omega**2 * length**2 + (abs(g_radial) + abs(g_axial)) * length
    s = np.linspace(0.0, length, int(n_nodes))
    h = 0.5 * math.sqrt(length**2 - span**2)
    u = np.pi * s / length
    x0 = h * np.sin(u)
    dx, dy = h * np.pi / length * np.cos(u), np.full_like(s, span / length)
    norm = np.hypot(dx, dy)
    t_guess = (omega**2 * h**2 + (abs(g_radial) + abs(g_axial)) * length) / force
    guess = np.vstack([x0, span * s / length, t_guess * dx / norm, t_guess * dy / norm])
    w, ga, gr = omega / math.sqrt(force), g_axial / force, g_radial / force

    def fun(_s, state):
        return rope_rhs(_s, state, w, ga, gr)

    def bc(ya, yb):
        return np.array([ya[0], ya[1], yb[0], yb[1] - span])

    res = solve_bvp(fun, bc, s, guess, tol=tol, max_nodes=max_nodes, bc_tol=tol)
    if not res.success:
        raise RuntimeError(f"solve_bvp did not converge: {res.message}")
    # The wrong branch: a rope on the far side of the axis also satisfies the four
    # boundary conditions (for g_radial < 0 it is the mirror image of the rope at
    # -g_radial). Interior points of the rope asked for have x > 0; allow only
    # rounding-level negatives next to the hands.
    x_min = float(np.min(res.sol(np.linspace(0.0, length, 4 * len(res.x)))[0]))
    if x_min < -min(1e-3, 1e3 * tol) * length:
        raise RuntimeError(
            f"no equilibrium on the +x side of the axis was found for omega = {omega}, "
            f"g_axial = {g_axial}, g_radial = {g_radial}: the collocation converged "
            "to a "
            f"rope that crosses the axis (min x = {x_min:.3g}), an equilibrium on the "
            "other side; the pull towards the axis is too strong for the rotation"
        )
    xs, ys, ps, qs = res.y[0], res.y[1], force * res.y[2], force * res.y[3]
    scale = np.array([1.0, 1.0, force, force])[:, None]
    sol = lambda t: scale * res.sol(t)  # noqa: E731
    return RopeSolution(
        s=res.x,
        x=xs,
        y=ys,
        p=ps,
        q=qs,
        tension=np.hypot(ps, qs),
        sol=sol,
        max_residual=float(np.max(res.rms_residuals)),
    )
