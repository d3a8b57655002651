"""kexue_lib.diffusion.cold: the unified reverse step, cold diffusion's two samplers and
the heat-equation blur (chapter book/generative/unified-diffusion).

References: the hot case is checked against :func:`kexue_lib.diffusion.ddim_step`
(itself tested against HuggingFace diffusers); the blur against ``scipy.linalg.expm``
of a Laplacian built entry by entry.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg
import torch

from kexue_lib.diffusion import (
    LinearDegradation,
    cold_sample,
    cold_step,
    ddim_sigma,
    ddim_step,
    heat_blur_operators,
    linear_schedule,
    predict_x0,
    udm_step,
)

F64 = torch.float64
AB, BB = linear_schedule()


def randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=F64)


def hot_maps(alpha_bar=AB):
    """F_t(x₀, ε) = ᾱ_t x₀ + β̄_t ε and its inverse in ε; t = −1 means ᾱ = 1."""

    def ab(t):
        return 1.0 if t < 0 else float(alpha_bar[t])

    def forward(x0, eps, t):
        a = ab(t)
        return a * x0 + math.sqrt(max(1 - a * a, 0.0)) * eps

    def inverse(x0, x_t, t):
        a = ab(t)
        return (x_t - a * x0) / math.sqrt(1 - a * a)

    return forward, inverse


def blur(T=6, side=4):
    taus = [0.0] + [0.2 * 1.6**k for k in range(T - 1)] + [math.inf]
    return LinearDegradation(heat_blur_operators(side, taus))


# ----------------------------------------------------------------------- udm_step


@pytest.mark.parametrize("eta", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("t,s", [(999, 998), (700, 400), (50, 0), (10, -1)])
def test_udm_step_hot_is_ddim_step(eta, t, s):
    forward, inverse = hot_maps()
    x_t, eps, z = randn(32, 3, seed=1), randn(32, 3, seed=2), randn(32, 3, seed=3)
    a_t = float(AB[t])
    a_s = 1.0 if s < 0 else float(AB[s])
    x0_hat = predict_x0(x_t, eps, a_t)
    b_s = math.sqrt(1 - a_s**2)
    sig_t = ddim_sigma(a_t, a_s, eta) / b_s if b_s > 0 else 0.0
    got = udm_step(forward, inverse, x0_hat, x_t, t, s, sig_t, z if eta else None)
    ref = ddim_step(x_t, eps, a_t, a_s, eta, z if eta else None)
    torch.testing.assert_close(got, ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("sigma", [1e-3, 0.1, 10.0])
def test_udm_step_cold_with_noise_is_the_improved_step(sigma):
    F = blur()

    def forward(x0, eps, t):
        return F(x0, t) + sigma * eps

    def inverse(x0, x_t, t):
        return (x_t - F(x0, t)) / sigma

    x_t, x0_hat = randn(8, 16, seed=1), randn(8, 16, seed=2)
    got = udm_step(forward, inverse, x0_hat, x_t, 4, 3)
    torch.testing.assert_close(
        got, cold_step(x_t, x0_hat, F, 4, 3, "improved"), rtol=1e-10, atol=1e-10
    )
    # sigma_tilde = 1 (fresh noise) is the naive step plus sigma * z
    z = randn(8, 16, seed=3)
    got = udm_step(forward, inverse, x0_hat, x_t, 4, 3, 1.0, z)
    torch.testing.assert_close(
        got, cold_step(x_t, x0_hat, F, 4, 3, "naive") + sigma * z, rtol=1e-12, atol=0
    )


def test_udm_step_errors():
    forward, inverse = hot_maps()
    x = randn(4, 2)
    with pytest.raises(TypeError, match="forward"):
        udm_step(1, inverse, x, x, 5, 4)
    with pytest.raises(TypeError, match="x0_hat"):
        udm_step(forward, inverse, x.numpy(), x, 5, 4)
    with pytest.raises(ValueError, match="x0_hat"):
        udm_step(forward, inverse, randn(4, 3), x, 5, 4)
    with pytest.raises(ValueError, match="sigma_tilde"):
        udm_step(forward, inverse, x, x, 5, 4, 1.5, x)
    with pytest.raises(ValueError, match="noise"):
        udm_step(forward, inverse, x, x, 5, 4, 0.5)
    with pytest.raises(ValueError, match="forward"):
        udm_step(lambda a, e, t: a[:1], inverse, x, x, 5, 4)
    with pytest.raises(TypeError, match="t must be an int"):
        udm_step(forward, inverse, x, x, 5.0, 4)


# ------------------------------------------------------------ cold step and sampler


def test_cold_step_linear_error_formulas():
    # claim C3: x̂₀ = x₀ + δ from x_t = F_t x₀ gives errors F_s δ and (F_s − F_t) δ
    g = torch.Generator().manual_seed(0)
    ops = torch.randn(3, 5, 5, generator=g, dtype=F64)
    F = LinearDegradation(ops)
    x0, delta = randn(7, 5, seed=1), randn(7, 5, seed=2)
    x_t = F(x0, 2)
    naive = cold_step(x_t, x0 + delta, F, 2, 1, "naive")
    improved = cold_step(x_t, x0 + delta, F, 2, 1, "improved")
    torch.testing.assert_close(naive - F(x0, 1), delta @ ops[1].T)
    torch.testing.assert_close(improved - F(x0, 1), delta @ (ops[1] - ops[2]).T)


def test_improved_sampler_is_exact_for_an_additive_degradation():
    # Bansal et al.'s argument: F_t(x) = x + t·e makes Algorithm 2 exact, any restorer
    e = randn(6, seed=4)

    def degrade(x, t):
        return x + t * e

    x0 = randn(5, 6, seed=5)

    def bad_restore(x, t):
        return 0.3 * x + 1.0

    x_T = degrade(x0, 8)
    out = cold_sample(bad_restore, degrade, x_T, 8, "improved")
    torch.testing.assert_close(out, x0, rtol=1e-12, atol=1e-12)
    naive = cold_sample(bad_restore, degrade, x_T, 8, "naive")
    assert float((naive - x0).abs().max()) > 0.1


def test_cold_sample_with_the_oracle_restorer_recovers_x0():
    F = blur()
    x0 = randn(9, 16, seed=6)

    def oracle(x, t):
        assert t.dtype == torch.int64 and t.shape == (x.shape[0],)
        return x0

    for method in ("naive", "improved"):
        for final in ("step", "restore"):
            out = cold_sample(oracle, F, F(x0, F.T), F.T, method, final)
            torch.testing.assert_close(out, x0, rtol=1e-10, atol=1e-10)


def test_cold_sample_matches_a_hand_written_loop_and_is_deterministic():
    F = blur()
    w = randn(16, 16, seed=7) / 4

    def restore(x, t):
        return torch.tanh(x @ w) + t[:, None].to(x.dtype) / 10

    x = F(randn(3, 16, seed=8), 5)
    for method in ("naive", "improved"):
        ref = x.clone()
        for u in range(5, 0, -1):
            x0h = restore(ref, torch.full((3,), u))
            if method == "naive":
                ref = F(x0h, u - 1)
            else:
                ref = ref + F(x0h, u - 1) - F(x0h, u)
        out = cold_sample(restore, F, x, 5, method)
        torch.testing.assert_close(out, ref, rtol=1e-12, atol=1e-12)
        assert torch.equal(out, cold_sample(restore, F, x, 5, method))
    last = cold_sample(restore, F, x, 5, "improved", final="restore")
    ref = x.clone()
    for u in range(5, 1, -1):
        x0h = restore(ref, torch.full((3,), u))
        ref = ref + F(x0h, u - 1) - F(x0h, u)
    torch.testing.assert_close(last, restore(ref, torch.full((3,), 1)))


def test_cold_errors():
    F = blur()
    x = randn(2, 16)
    with pytest.raises(ValueError, match="method"):
        cold_step(x, x, F, 2, 1, "fancy")
    with pytest.raises(TypeError, match="method"):
        cold_step(x, x, F, 2, 1, 3)
    with pytest.raises(ValueError, match="s must be"):
        cold_step(x, x, F, 2, 2)
    with pytest.raises(ValueError, match="t must be"):
        cold_step(x, x, F, 0, 0)
    with pytest.raises(ValueError, match="x0_hat"):
        cold_step(x, randn(3, 16), F, 2, 1)
    with pytest.raises(TypeError, match="degrade"):
        cold_step(x, x, None, 2, 1)
    with pytest.raises(TypeError, match="restore"):
        cold_sample("R", F, x, 3)
    with pytest.raises(ValueError, match="final"):
        cold_sample(lambda a, t: a, F, x, 3, final="last")
    with pytest.raises(ValueError, match="restore"):
        cold_sample(lambda a, t: a[:1], F, x, 3)
    with pytest.raises(TypeError, match="x_t"):
        cold_sample(lambda a, t: a, F, [1.0, 2.0], 3)
    with pytest.raises(TypeError, match="t must be an int"):
        cold_sample(lambda a, t: a, F, x, 2.5)


# ------------------------------------------------------------------------- the blur


def _grid_laplacian(side: int) -> np.ndarray:
    """Neumann Laplacian of a side × side grid, built from the list of neighbours."""
    d = side * side
    lap = np.zeros((d, d))
    for r in range(side):
        for c in range(side):
            i = r * side + c
            for rr, cc in ((r + 1, c), (r - 1, c), (r, c + 1), (r, c - 1)):
                if 0 <= rr < side and 0 <= cc < side:
                    lap[i, i] += 1
                    lap[i, rr * side + cc] -= 1
    return lap


@pytest.mark.parametrize("side", [2, 3, 8])
def test_heat_blur_matches_expm_and_its_limits(side):
    taus = [0.0, 0.25, 1.0, 1.25, 40.0, math.inf]
    F = heat_blur_operators(side, torch.tensor(taus[:-1] + [math.inf]))
    assert F.dtype == F64 and F.shape == (6, side * side, side * side)
    lap = _grid_laplacian(side)
    for k, tau in enumerate(taus[:-1]):
        ref = scipy.linalg.expm(-tau * lap)
        np.testing.assert_allclose(F[k].numpy(), ref, rtol=0, atol=1e-12)
    d = side * side
    torch.testing.assert_close(F[0], torch.eye(d, dtype=F64), rtol=0, atol=1e-12)
    torch.testing.assert_close(F[-1], torch.full((d, d), 1 / d, dtype=F64))
    torch.testing.assert_close(F[1] @ F[2], F[3], rtol=0, atol=1e-12)  # semigroup
    torch.testing.assert_close(F[2].sum(1), torch.ones(d, dtype=F64))  # keeps the mean
    torch.testing.assert_close(F[2], F[2].T)


def test_heat_blur_and_linear_degradation_errors():
    with pytest.raises(ValueError, match="side"):
        heat_blur_operators(1, [0.0])
    with pytest.raises(TypeError, match="side"):
        heat_blur_operators(4.0, [0.0])
    with pytest.raises(ValueError, match="times"):
        heat_blur_operators(4, [0.0, -1.0])
    with pytest.raises(ValueError, match="times"):
        heat_blur_operators(4, [])
    with pytest.raises(ValueError, match="times"):
        heat_blur_operators(4, [float("nan")])
    with pytest.raises(TypeError, match="times"):
        heat_blur_operators(4, 3.0)
    with pytest.raises(TypeError, match="times"):
        heat_blur_operators(4, ["a"])
    with pytest.raises(ValueError, match="operators"):
        LinearDegradation(torch.zeros(3, 4, 5))
    with pytest.raises(TypeError, match="operators"):
        LinearDegradation(torch.zeros(3, 4, 4, dtype=torch.int64))
    F = blur()
    assert F.T == 6
    with pytest.raises(ValueError, match="x"):
        F(randn(2, 15), 1)
    with pytest.raises(ValueError, match="t must be"):
        F(randn(2, 16), 7)
    x = torch.ones(2, 16, dtype=torch.float32)
    assert F(x, 3).dtype == torch.float32  # operators follow the input's dtype
