"""Tests for kexue_lib.linalg (chapter math/det-exp-trace), against scipy.linalg and
torch.linalg.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg as sla
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from kexue_lib.linalg import expm_series, logdet_series, logm_series, spectral_radius


def _rand(shape, seed, scale=1.0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return scale * torch.randn(*shape, generator=g, dtype=dtype)


def _with_norm(A: torch.Tensor, r: float) -> torch.Tensor:
    """Rescale each matrix of a batch to spectral norm r."""
    return r * A / torch.linalg.matrix_norm(A, ord=2)[..., None, None]


# --- expm_series --------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 5])
@pytest.mark.parametrize("scale", [0.1, 1.0, 3.0])
def test_expm_series_matches_scipy(n, scale):
    A = _rand((n, n), seed=n, scale=scale)
    got = expm_series(A, 60).numpy()
    ref = sla.expm(A.numpy())
    np.testing.assert_allclose(got, ref, rtol=1e-11, atol=1e-12)


def test_expm_series_first_terms_and_truncation_bound():
    A = _rand((4, 4), seed=1)
    eye = torch.eye(4, dtype=torch.float64)
    assert torch.equal(expm_series(A, 1), eye)
    assert torch.allclose(expm_series(A, 2), eye + A, atol=0)
    assert torch.allclose(expm_series(A, 3), eye + A + A @ A / 2, atol=1e-15)
    ref = torch.from_numpy(sla.expm(A.numpy()))
    a = torch.linalg.matrix_norm(A, ord=2).item()
    for N in (1, 3, 6, 10, 15):
        err = torch.linalg.matrix_norm(ref - expm_series(A, N), ord=2).item()
        assert err <= a**N / math.factorial(N) * math.exp(a) * (1 + 1e-9) + 1e-13


def test_expm_series_batched_numpy_complex_and_float32():
    A = _rand((3, 2, 4, 4), seed=2)
    batched = expm_series(A, 40)
    assert batched.shape == (3, 2, 4, 4)
    for i in range(3):
        for j in range(2):
            np.testing.assert_allclose(
                batched[i, j].numpy(), sla.expm(A[i, j].numpy()), rtol=1e-11, atol=1e-12
            )
    # numpy in -> numpy out
    out = expm_series(A[0, 0].numpy(), 40)
    assert isinstance(out, np.ndarray)
    np.testing.assert_allclose(out, batched[0, 0].numpy(), rtol=1e-13, atol=1e-14)
    # complex: exp(i θ J) with J = [[0, -1], [1, 0]] -> cosh/sinh structure; compare
    # with scipy
    Z = torch.tensor([[0.3 + 1j, -0.2], [0.5j, -0.1]], dtype=torch.complex128)
    np.testing.assert_allclose(
        expm_series(Z, 40).numpy(), sla.expm(Z.numpy()), rtol=1e-12, atol=1e-13
    )
    # float32 keeps its dtype; integers are promoted
    assert expm_series(A[0, 0].float(), 20).dtype == torch.float32
    assert expm_series(torch.zeros(2, 2, dtype=torch.int64), 3).is_floating_point()


def test_expm_series_is_differentiable():
    A = _rand((3, 3), seed=3, scale=0.5).requires_grad_(True)
    # d/dA tr exp(A) = exp(A)^T
    (g,) = torch.autograd.grad(expm_series(A, 40).diagonal().sum(), A)
    np.testing.assert_allclose(
        g.numpy(), sla.expm(A.detach().numpy()).T, rtol=1e-10, atol=1e-12
    )


# --- logm_series --------------------------------------------------------------------


@pytest.mark.parametrize("r", [0.1, 0.5, 0.8])
def test_logm_series_matches_scipy_logm(r):
    X = _with_norm(_rand((5, 5), seed=4), r)
    A = torch.eye(5, dtype=torch.float64) + X
    got = logm_series(A, 300).numpy()
    ref = sla.logm(A.numpy())
    np.testing.assert_allclose(got, np.real(ref), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(sla.expm(got), A.numpy(), rtol=1e-10, atol=1e-12)


def test_logm_series_first_terms_and_tail_bound():
    X = _with_norm(_rand((4, 4), seed=5), 0.6)
    A = torch.eye(4, dtype=torch.float64) + X
    assert torch.allclose(logm_series(A, 1), X, atol=1e-15)
    assert torch.allclose(logm_series(A, 2), X - X @ X / 2, atol=1e-15)
    ref = torch.from_numpy(np.real(sla.logm(A.numpy())))
    for N in (1, 2, 5, 10, 20):
        err = torch.linalg.matrix_norm(ref - logm_series(A, N), ord=2).item()
        assert err <= 0.6 ** (N + 1) / ((N + 1) * 0.4) * (1 + 1e-9) + 1e-12


def test_logm_series_batched_and_numpy():
    X = _with_norm(_rand((2, 3, 3, 3), seed=6), 0.4)
    A = torch.eye(3, dtype=torch.float64) + X
    out = logm_series(A, 80)
    assert out.shape == (2, 3, 3, 3)
    np.testing.assert_allclose(
        out[1, 2].numpy(), np.real(sla.logm(A[1, 2].numpy())), rtol=1e-10, atol=1e-12
    )
    assert isinstance(logm_series(A[0, 0].numpy(), 5), np.ndarray)


def test_logm_series_converges_for_nonnormal_matrix_with_small_spectrum():
    # ‖A − I‖₂ = 3 but A − I is nilpotent-ish: spectral radius 0.5 < 1, so the series
    # still converges
    A = torch.tensor([[1.5, 3.0], [0.0, 0.5]], dtype=torch.float64)
    np.testing.assert_allclose(
        logm_series(A, 200).numpy(),
        np.real(sla.logm(A.numpy())),
        rtol=1e-10,
        atol=1e-12,
    )


def test_logm_series_check_flags_divergence():
    A = 3.0 * torch.eye(2, dtype=torch.float64)  # eigenvalue 3: |3 - 1| = 2 > 1
    with pytest.raises(ValueError, match="A must satisfy spectral radius"):
        logm_series(A, 5)
    # without the check it sums the (diverging) series: the terms grow like 2^k / k
    assert torch.allclose(
        logm_series(A, 3, check=False),
        (2 - 2 + 8 / 3) * torch.eye(2, dtype=torch.float64),
    )


# --- logdet_series ------------------------------------------------------------------


def test_logdet_series_small_cases():
    A = torch.tensor([[0.2, 0.1], [-0.3, 0.1]], dtype=torch.float64)
    assert torch.allclose(logdet_series(A, 1), A.trace())
    assert torch.allclose(logdet_series(A, 2), A.trace() - (A @ A).trace() / 2)
    ref = math.log(np.linalg.det(np.eye(2) + A.numpy()))
    assert abs(logdet_series(A, 100).item() - ref) < 1e-14


def test_logdet_series_equals_trace_of_logm_series():
    A = _with_norm(_rand((3, 6, 6), seed=7), 0.7)
    eye = torch.eye(6, dtype=torch.float64)
    for N in (1, 4, 9):
        lhs = logdet_series(A, N)
        rhs = logm_series(eye + A, N).diagonal(dim1=-2, dim2=-1).sum(-1)
        assert torch.allclose(lhs, rhs, rtol=1e-13, atol=1e-13)


def test_logdet_series_batch_shape_numpy_and_gradient():
    A = _with_norm(_rand((2, 3, 4, 4), seed=8), 0.5).requires_grad_(True)
    out = logdet_series(A, 60)
    assert out.shape == (2, 3)
    # gradient of log det(I + A) is (I + A)^{-T}
    (g,) = torch.autograd.grad(out.sum(), A)
    eye = torch.eye(4, dtype=torch.float64)
    np.testing.assert_allclose(
        g.numpy(), torch.linalg.inv(eye + A.detach()).mT.numpy(), rtol=1e-9, atol=1e-11
    )
    res = logdet_series(A.detach()[0, 0].numpy(), 60)
    assert isinstance(res, np.ndarray) and res.shape == ()


def test_logdet_series_check_flags_divergence():
    with pytest.raises(ValueError, match="A must satisfy spectral radius"):
        logdet_series(torch.diag(torch.tensor([0.5, -1.0], dtype=torch.float64)), 10)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 6), st.floats(0.05, 0.9), st.integers(0, 2**16))
def test_property_logdet_series_matches_slogdet_for_contractions(n, r, seed):
    A = _with_norm(_rand((n, n), seed=seed), r)
    N = 400 if r > 0.85 else 200
    sign, logabs = torch.linalg.slogdet(torch.eye(n, dtype=torch.float64) + A)
    assert sign.item() == 1.0  # ‖A‖₂ < 1 keeps det(I + A) > 0
    got = logdet_series(A, N).item()
    assert abs(got - logabs.item()) < 1e-9
    # the truncation bound n r^{M+1} / ((M+1)(1-r)) holds at every M
    for M in (1, 3, 8):
        bound = n * r ** (M + 1) / ((M + 1) * (1 - r))
        assert (
            abs(logdet_series(A, M).item() - logabs.item())
            <= bound * (1 + 1e-9) + 1e-12
        )


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 5), st.floats(0.0, 2.0), st.integers(0, 2**16))
def test_property_det_expm_is_exp_trace(n, scale, seed):
    A = _rand((n, n), seed=seed, scale=scale)
    E = expm_series(A, 60)
    assert math.isclose(
        torch.linalg.det(E).item(), math.exp(A.trace().item()), rel_tol=1e-10
    )


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 5), st.floats(0.0, 2.0), st.integers(0, 2**16))
def test_property_expm_times_expm_of_negative_is_identity(n, scale, seed):
    A = _rand((n, n), seed=seed, scale=scale)
    prod = expm_series(A, 60) @ expm_series(-A, 60)
    assert torch.allclose(prod, torch.eye(n, dtype=torch.float64), atol=1e-10)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 5), st.floats(0.05, 0.6), st.integers(0, 2**16))
def test_property_expm_inverts_logm(n, r, seed):
    A = torch.eye(n, dtype=torch.float64) + _with_norm(_rand((n, n), seed=seed), r)
    assert torch.allclose(expm_series(logm_series(A, 120), 40), A, atol=1e-11)


# --- spectral_radius ----------------------------------------------------------------


def test_spectral_radius_matches_numpy_eigvals():
    A = _rand((3, 5, 5), seed=9)
    got = spectral_radius(A)
    ref = [np.abs(np.linalg.eigvals(a)).max() for a in A.numpy()]
    np.testing.assert_allclose(got.numpy(), ref, rtol=1e-12)
    rot = np.array([[0.0, -2.0], [2.0, 0.0]])
    assert abs(spectral_radius(rot) - 2.0) < 1e-14


# --- bad input ----------------------------------------------------------------------

FUNCS = [expm_series, logm_series, logdet_series]


@pytest.mark.parametrize("fn", FUNCS)
def test_non_square_raises(fn):
    with pytest.raises(ValueError, match="A must be square"):
        fn(torch.zeros(2, 3), 3)
    with pytest.raises(ValueError, match="A must be square"):
        fn(torch.zeros(4), 3)
    with pytest.raises(ValueError, match="A must have n >= 1"):
        fn(torch.zeros(2, 0, 0), 3)


@pytest.mark.parametrize("fn", FUNCS)
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_raises(fn, bad):
    A = torch.zeros(2, 3, 3, dtype=torch.float64)
    A[1, 0, 2] = bad
    with pytest.raises(ValueError, match="A must be finite"):
        fn(A, 3)


@pytest.mark.parametrize("fn", FUNCS)
@pytest.mark.parametrize("n_terms", [0, -1])
def test_bad_n_terms_value_raises(fn, n_terms):
    with pytest.raises(ValueError, match="n_terms must be an int >= 1, got -?[01]"):
        fn(torch.zeros(2, 2), n_terms)


@pytest.mark.parametrize("fn", FUNCS)
@pytest.mark.parametrize("n_terms", [2.5, True, "3", None])
def test_bad_n_terms_type_raises(fn, n_terms):
    with pytest.raises(TypeError, match="n_terms must be an int >= 1, got"):
        fn(torch.zeros(2, 2), n_terms)


@pytest.mark.parametrize("fn", FUNCS + [spectral_radius])
def test_non_array_raises(fn):
    args = (
        ([[1.0, 0.0], [0.0, 1.0]],)
        if fn is spectral_radius
        else ([[1.0, 0.0], [0.0, 1.0]], 3)
    )
    with pytest.raises(TypeError, match="A must be a torch.Tensor or numpy.ndarray"):
        fn(*args)


# --- overflow: an error, never an inf/NaN result ------------------------------------


def _norm_1e3(seed: int = 0, dtype=torch.float64) -> torch.Tensor:
    return _with_norm(_rand((4, 4), seed=seed, dtype=dtype), 1e3)


def test_expm_series_of_norm_1e3_raises_instead_of_overflowing():
    A = _norm_1e3()
    # enough terms for the series to converge at ‖A‖ = 1e3 (N ≳ e·‖A‖): the terms peak
    # near k = 1000 at about e^1000, far beyond float64
    with pytest.raises(ValueError, match=r"A must be small enough .* overflows"):
        expm_series(A, 3000)
    with pytest.raises(ValueError, match="spectral norm 1e\\+03"):
        expm_series(A.numpy(), 3000)  # NumPy in: same error
    # float32 overflows after a few dozen terms already
    with pytest.raises(ValueError, match="torch.float32"):
        expm_series(A.float(), 40)
    # a batch with one large matrix raises too
    batch = torch.stack([torch.eye(4, dtype=torch.float64), A])
    with pytest.raises(ValueError, match="overflows"):
        expm_series(batch, 3000)
    # a truncation that stays finite is returned: it is what was asked for
    assert torch.isfinite(expm_series(A, 50)).all()


def test_diverging_log_series_raise_instead_of_overflowing():
    A = torch.eye(3, dtype=torch.float64) * 3.0  # ρ(A) = 3: both series diverge
    with pytest.raises(ValueError, match="log-determinant series .* overflows"):
        logdet_series(A, 2000, check=False)
    with pytest.raises(ValueError, match="logarithm series .* overflows"):
        logm_series(torch.eye(3, dtype=torch.float64) + A, 2000, check=False)
    # fewer terms: a finite (diverging) partial sum, returned as asked
    assert math.isfinite(float(logdet_series(A, 20, check=False)))


@pytest.mark.parametrize("fn", [logm_series, logdet_series])
def test_check_must_be_bool(fn):
    with pytest.raises(TypeError, match="check must be a bool"):
        fn(torch.eye(2, dtype=torch.float64) * 0.1, 3, check="no")
