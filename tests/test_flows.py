"""Tests for kexue_lib.flows (chapter generative/iresnet): spectral normalisation
against torch.linalg.matrix_norm, the fixed-point inverse, the series and Hutchinson
log-determinants against torch.linalg.slogdet of an autograd Jacobian, the flow, and
argument errors.
"""

from __future__ import annotations

import itertools

import pytest
import torch

from kexue_lib.flows import IResBlock, IResFlow, spectral_normalize

dt = torch.float64


def _rand(shape, seed, dtype=dt):
    return torch.randn(
        *shape, generator=torch.Generator().manual_seed(seed), dtype=dtype
    )


def _block(dim=3, hidden=(16, 16), coeff=0.9, seed=0, scale=1.0):
    """A block in float64 whose weights are large enough for the normalisation to
    bite."""
    torch.manual_seed(seed)
    b = IResBlock(dim, hidden, coeff).to(dt)
    with torch.no_grad():
        for layer in b.layers:
            layer.weight.normal_(0.0, scale)
            layer.bias.normal_()
    b.refresh_normalization()
    return b.eval()


def _autograd_jacobian(block, x):
    return torch.func.vmap(torch.func.jacrev(lambda v: block.g(v[None])[0]))(x)


# --- spectral_normalize --------------------------------------------------------------


@pytest.mark.parametrize(
    "shape", [(2, 2), (8, 8), (32, 32), (128, 128), (64, 2), (2, 64), (128, 16)]
)
def test_spectral_normalize_accuracy_as_documented(shape):
    # the docstring: relative error < 2e-3 with the default 50 iterations
    for seed in range(5):
        W = _rand(shape, seed)
        sigma = torch.linalg.matrix_norm(W, ord=2).item()
        for coeff in (0.5, 0.9):
            out = spectral_normalize(W, coeff)
            got = torch.linalg.matrix_norm(out, ord=2).item()
            target = min(sigma, coeff)
            assert got >= target * (1 - 1e-12)  # σ̂ ≤ σ: never below the target
            assert got <= target * (1 + 2e-3), (shape, seed, got, target)


@pytest.mark.parametrize("shape", [(64, 2), (2, 64), (64, 64)])
def test_spectral_normalize_chapter_shapes_200_iterations(shape):
    for seed in range(10):
        W = _rand(shape, seed)
        got = torch.linalg.matrix_norm(spectral_normalize(W, 0.9, 200), ord=2).item()
        tol = 1e-3 if shape == (64, 64) else 1e-6
        assert abs(got / 0.9 - 1) < tol, (shape, seed, got)


def test_spectral_normalize_keeps_small_weights_and_zero():
    W = 0.1 * torch.eye(3, dtype=dt)
    assert torch.equal(spectral_normalize(W, 0.9), W)
    Z = torch.zeros(4, 3, dtype=dt)
    assert torch.equal(spectral_normalize(Z, 0.9), Z)


def test_spectral_normalize_warm_start_gradient_and_determinism():
    W = _rand((10, 6), 1).requires_grad_(True)
    a = spectral_normalize(W, 0.5)
    b = spectral_normalize(W, 0.5)
    assert torch.equal(a, b)  # fixed default start: deterministic
    out, v = spectral_normalize(W, 0.5, 100, return_vector=True)
    assert v.shape == (6,) and abs(v.norm().item() - 1) < 1e-12
    warm = spectral_normalize(W, 0.5, 1, v0=v)
    assert torch.allclose(warm, out, atol=1e-12)
    g = torch.Generator().manual_seed(3)
    other = spectral_normalize(W, 0.5, 100, generator=g)
    assert torch.allclose(other, out, atol=1e-10)
    # the gradient flows through σ̂ = ‖W v‖ (v fixed): d/dW of sum(W·c/σ̂) exists
    out.sum().backward()
    assert W.grad is not None and torch.isfinite(W.grad).all()


def test_spectral_normalize_errors():
    W = _rand((3, 3), 0)
    with pytest.raises(TypeError, match="weight"):
        spectral_normalize([[1.0]], 0.9)
    with pytest.raises(TypeError, match="weight"):
        spectral_normalize(torch.ones(3, 3, dtype=torch.long), 0.9)
    with pytest.raises(ValueError, match="weight"):
        spectral_normalize(torch.ones(3), 0.9)
    with pytest.raises(ValueError, match="weight"):
        spectral_normalize(torch.full((2, 2), float("nan")), 0.9)
    with pytest.raises(ValueError, match="weight"):
        spectral_normalize(torch.ones(0, 3), 0.9)
    with pytest.raises(ValueError, match="coeff"):
        spectral_normalize(W, 0.0)
    with pytest.raises(TypeError, match="coeff"):
        spectral_normalize(W, "0.9")
    with pytest.raises(ValueError, match="n_power_iterations"):
        spectral_normalize(W, 0.9, 0)
    with pytest.raises(TypeError, match="n_power_iterations"):
        spectral_normalize(W, 0.9, 2.5)
    with pytest.raises(TypeError, match="generator"):
        spectral_normalize(W, 0.9, generator=0)
    with pytest.raises(ValueError, match="v0"):
        spectral_normalize(W, 0.9, v0=torch.ones(4, dtype=dt))
    with pytest.raises(ValueError, match="v0"):
        spectral_normalize(W, 0.9, v0=torch.zeros(3, dtype=dt))
    with pytest.raises(TypeError, match="return_vector"):
        spectral_normalize(W, 0.9, return_vector=1)


# --- IResBlock -----------------------------------------------------------------------


def test_block_weights_have_norm_coeff_and_lipschitz_bound():
    b = _block(scale=3.0)
    for W in b.weights():
        assert abs(torch.linalg.matrix_norm(W, ord=2).item() - 0.9) < 1e-6
    x = _rand((500, 3), 1)
    J = b.jacobian(x)
    assert torch.linalg.matrix_norm(J, ord=2).max().item() <= b.lip_bound + 1e-9
    assert b.lip_bound == pytest.approx(0.9**3)


def test_block_jacobian_matches_autograd():
    b = _block(hidden=(16, 8))
    x = _rand((20, 3), 2)
    torch.testing.assert_close(
        b.jacobian(x), _autograd_jacobian(b, x), rtol=0, atol=1e-12
    )
    y, J = b.forward_and_jacobian(x)
    torch.testing.assert_close(y, b(x), rtol=0, atol=0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_inverse_recovers_x(dtype):
    b = _block(scale=3.0).to(dtype)
    x = 2 * _rand((300, 3), 3, dtype=dtype)
    with torch.no_grad():
        back = b.inverse(b(x), n_iter=100)
    assert (back - x).abs().max().item() < (1e-6 if dtype == torch.float32 else 1e-12)
    assert torch.equal(b.inverse(x, 0), x)


def test_inverse_banach_bound():
    b = _block(scale=3.0)
    x = _rand((50, 3), 4)
    y = b(x).detach()
    x1 = b.inverse(y, 1)
    L = b.lip_bound
    for n in (1, 5, 10, 20):
        err = (b.inverse(y, n) - x).norm(dim=1)
        bound = L**n / (1 - L) * (x1 - y).norm(dim=1)
        assert bool((err <= bound + 1e-12).all())


@pytest.mark.parametrize("dim,hidden", [(2, (32,)), (5, (16, 16)), (8, (32,))])
def test_logdet_series_matches_slogdet(dim, hidden):
    b = _block(dim, hidden, 0.9, seed=dim, scale=3.0)
    x = _rand((30, dim), 5)
    exact = torch.linalg.slogdet(torch.eye(dim, dtype=dt) + _autograd_jacobian(b, x))
    assert bool((exact[0] > 0).all())
    r = torch.linalg.matrix_norm(b.jacobian(x), ord=2).max().item()
    for N in (1, 3, 10, 40):
        err = (b.logdet(x, N) - exact[1]).abs().max().item()
        assert err <= dim * r ** (N + 1) / ((N + 1) * (1 - r)) + 1e-12
    assert (b.logdet(x, 80) - exact[1]).abs().max().item() < 1e-10


def test_hutchinson_exact_average_over_sign_vectors():
    b = _block(4, (16,), 0.9, scale=3.0)
    x = _rand((5, 4), 6)
    signs = torch.tensor(list(itertools.product([-1.0, 1.0], repeat=4)), dtype=dt)
    vecs = signs[:, None, :].expand(16, 5, 4)
    avg = b.logdet(x, 7, "hutchinson", vectors=vecs)
    torch.testing.assert_close(avg, b.logdet(x, 7), rtol=1e-12, atol=1e-13)


def test_hutchinson_single_vector_is_quadratic_form():
    b = _block(3, (16,), 0.9, scale=3.0)
    x = _rand((4, 3), 7)
    J = _autograd_jacobian(b, x)
    B = sum((-1) ** (k - 1) / k * torch.linalg.matrix_power(J, k) for k in range(1, 6))
    u = _rand((1, 4, 3), 8)
    want = torch.einsum("bi,bij,bj->b", u[0], B, u[0])
    torch.testing.assert_close(
        b.logdet(x, 5, "hutchinson", vectors=u), want, rtol=1e-10, atol=1e-12
    )


@pytest.mark.parametrize("noise", ["gaussian", "rademacher"])
def test_hutchinson_unbiased_and_deterministic(noise):
    b = _block(3, (16,), 0.9, scale=3.0)
    x = _rand((3, 3), 9)
    kw = dict(n_samples=4000, noise=noise)
    est = b.logdet(x, 6, "hutchinson", torch.Generator().manual_seed(0), **kw)
    again = b.logdet(x, 6, "hutchinson", torch.Generator().manual_seed(0), **kw)
    assert torch.equal(est, again)
    one = torch.stack(
        [
            b.logdet(x, 6, "hutchinson", torch.Generator().manual_seed(s), noise=noise)
            for s in range(200)
        ]
    )
    se = one.std(0) / 4000**0.5
    assert bool(((est - b.logdet(x, 6)).abs() <= 5 * se + 1e-12).all())


def test_logdet_gradients_flow_to_parameters():
    b = _block(2, (8,), 0.9).train()
    x = _rand((6, 2), 10)
    for est in ("exact", "hutchinson"):
        b.zero_grad()
        b.logdet(x, 4, est, torch.Generator().manual_seed(0)).sum().backward()
        assert b.layers[0].weight.grad is not None
        assert torch.isfinite(b.layers[0].weight.grad).all()


def test_eval_mode_is_deterministic_and_training_updates_vectors():
    b = _block(2, (8,), 0.9)
    v_before = b._v0.clone()
    w1, w2 = b.weights(), b.weights()
    assert all(torch.equal(a, c) for a, c in zip(w1, w2))
    assert torch.equal(b._v0, v_before)
    b.train()
    with torch.no_grad():
        b.layers[0].weight.mul_(-1).add_(0.5)
    b.weights()
    assert not torch.equal(b._v0, v_before)


def test_block_errors():
    with pytest.raises(ValueError, match="coeff"):
        IResBlock(2, 8, coeff=1.0)
    with pytest.raises(TypeError, match="coeff"):
        IResBlock(2, 8, coeff="0.9")
    with pytest.raises(ValueError, match="dim"):
        IResBlock(0, 8)
    with pytest.raises(TypeError, match="dim"):
        IResBlock(2.0, 8)
    with pytest.raises(TypeError, match="hidden"):
        IResBlock(2, 8.5)
    with pytest.raises(ValueError, match="hidden"):
        IResBlock(2, ())
    b = _block(3, (8,))
    x = _rand((4, 3), 0)
    with pytest.raises(ValueError, match="x"):
        b(torch.ones(4, 2, dtype=dt))
    with pytest.raises(TypeError, match="x"):
        b([[1.0, 2.0, 3.0]])
    with pytest.raises(ValueError, match="y"):
        b.inverse(torch.ones(3, dtype=dt))
    with pytest.raises(ValueError, match="n_iter"):
        b.inverse(x, -1)
    with pytest.raises(TypeError, match="n_iter"):
        b.inverse(x, 1.5)
    with pytest.raises(ValueError, match="n_terms"):
        b.logdet(x, 0)
    with pytest.raises(TypeError, match="n_terms"):
        b.logdet(x, "3")
    with pytest.raises(ValueError, match="estimator"):
        b.logdet(x, 3, "slogdet")
    with pytest.raises(TypeError, match="estimator"):
        b.logdet(x, 3, 1)
    with pytest.raises(TypeError, match="generator"):
        b.logdet(x, 3, "hutchinson", generator=1)
    with pytest.raises(ValueError, match="noise"):
        b.logdet(x, 3, "hutchinson", noise="uniform")
    with pytest.raises(ValueError, match="n_samples"):
        b.logdet(x, 3, "hutchinson", n_samples=0)
    with pytest.raises(ValueError, match="vectors"):
        b.logdet(x, 3, "hutchinson", vectors=torch.ones(2, 4, 2, dtype=dt))
    with pytest.raises(TypeError, match="vectors"):
        b.logdet(x, 3, "hutchinson", vectors=torch.ones(2, 4, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="n_power_iterations"):
        b.refresh_normalization(0)


# --- IResFlow ------------------------------------------------------------------------


def test_flow_log_prob_matches_change_of_variables_and_inverts():
    torch.manual_seed(0)
    flow = IResFlow(2, 16, n_blocks=3, coeff=0.9).to(dt).eval()
    x = _rand((40, 2), 11)
    z, logdet = flow(x)
    # independent: autograd Jacobian of the whole flow, slogdet
    Jf = torch.func.vmap(torch.func.jacrev(lambda v: flow(v[None])[0][0]))(x)
    torch.testing.assert_close(
        logdet, torch.linalg.slogdet(Jf)[1], rtol=1e-10, atol=1e-12
    )
    base = torch.distributions.MultivariateNormal(
        torch.zeros(2, dtype=dt), torch.eye(2, dtype=dt)
    )
    torch.testing.assert_close(flow.log_prob(x), base.log_prob(z) + logdet)
    with torch.no_grad():
        assert (flow.inverse(z) - x).abs().max().item() < 1e-10
        s1 = flow.sample(10, torch.Generator().manual_seed(1))
        s2 = flow.sample(10, torch.Generator().manual_seed(1))
    assert torch.equal(s1, s2) and s1.shape == (10, 2)


@pytest.mark.parametrize("dim", [1, 3])
def test_flow_closed_form_logdet_in_1d_and_3d(dim):
    torch.manual_seed(dim)
    flow = IResFlow(dim, 8, n_blocks=2).to(dt).eval()
    x = _rand((7, dim), 12)
    Jf = torch.func.vmap(torch.func.jacrev(lambda v: flow(v[None])[0][0]))(x)
    torch.testing.assert_close(flow(x)[1], torch.linalg.slogdet(Jf)[1])


def test_flow_errors():
    with pytest.raises(ValueError, match="n_blocks"):
        IResFlow(2, 8, n_blocks=0)
    with pytest.raises(TypeError, match="n_blocks"):
        IResFlow(2, 8, n_blocks=2.0)
    flow = IResFlow(2, 8, n_blocks=1)
    with pytest.raises(ValueError, match="n"):
        flow.sample(0)
    with pytest.raises(TypeError, match="generator"):
        flow.sample(3, generator=5)
    with pytest.raises(ValueError, match="x"):
        flow.log_prob(torch.ones(3, 3))
    with pytest.raises(TypeError, match="z"):
        flow.inverse([[0.0, 0.0]])
    with pytest.raises(ValueError, match="n_iter"):
        flow.inverse(torch.zeros(2, 2), -1)
