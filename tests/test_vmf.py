"""Tests for kexue_lib.vmf (chapter vae/vmf-vae).

References are independent of the library: scipy.integrate.quad over the sphere,
mpmath's arbitrary-precision Bessel functions, scipy.stats.vonmises_fisher (its own
sampler, entropy and logpdf), closed forms for d = 2, 3.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats
from scipy.special import gammaln

from kexue_lib.vmf import (
    VMFSampler,
    log_sphere_area,
    sample_vmf,
    vmf_kl_uniform,
    vmf_log_norm,
    vmf_mean_resultant,
    vmf_mutual_information,
)

DS = [2, 3, 4, 5, 16, 100, 257, 1024]
KAPPAS = [1e-3, 1e-2, 0.5, 1.0, 10.0, 32.0, 300.0, 1e3, 1e4]


# --- independent references ---------------------------------------------------------


def _quad_log_integral(d: int, kappa: float, power: int = 0) -> float:
    """log ∫_{S^{d-1}} (μ·x)^power e^{κ(μ·x - 1)} dS(x) by quadrature over the polar
    angle θ.

    dS = |S^{d-2}| sin^{d-2}θ dθ with w = μ·x = cos θ; the integrand is scaled by its
    maximum and the interval is split around the mode so that quad resolves peaks of
    width 1/√κ or 1/√d.
    """
    p = d - 2.0

    def logf(th):
        val = -2.0 * kappa * math.sin(th / 2) ** 2
        return val + p * math.log(math.sin(th)) if p > 0 else val

    c = 2.0 * kappa / (p + math.sqrt(p * p + 4 * kappa * kappa))
    th0 = math.acos(c) if p > 0 else 0.0
    top = logf(th0) if p > 0 else 0.0
    width = (
        1.0 / math.sqrt(kappa * c + p / max(math.sin(th0), 1e-300) ** 2 + 1e-300)
        if p > 0
        else 1 / math.sqrt(kappa)
    )
    cuts = {0.0, math.pi, th0}
    for k in (1, 3, 10, 30, 100):
        cuts |= {th0 - k * width, th0 + k * width}
    cuts = sorted(t for t in cuts if 0.0 <= t <= math.pi)

    def f(th):
        if th <= 0 or th >= math.pi:
            return 0.0 if p > 0 else math.exp(logf(th) - top) * math.cos(th) ** power
        return math.exp(logf(th) - top) * math.cos(th) ** power

    total = sum(
        integrate.quad(f, a, b, epsabs=0, epsrel=1e-13, limit=200)[0]
        for a, b in zip(cuts[:-1], cuts[1:])
    )
    log_area_sub = (
        math.log(2.0) + 0.5 * (d - 1) * math.log(math.pi) - math.lgamma(0.5 * (d - 1))
    )  # |S^{d-2}|
    return log_area_sub + top + kappa + math.log(total)  # + κ undoes the e^{-κ} scaling


def _mp(d, kappa):
    """(log C_d, A_d, KL) with mpmath at 40 digits."""
    with mpmath.workdps(40):
        nu, k = mpmath.mpf(d) / 2 - 1, mpmath.mpf(kappa)
        i0, i1 = mpmath.besseli(nu, k), mpmath.besseli(nu + 1, k)
        log_c = (
            nu * mpmath.log(k)
            - mpmath.mpf(d) / 2 * mpmath.log(2 * mpmath.pi)
            - mpmath.log(i0)
        )
        log_area = (
            mpmath.log(2)
            + mpmath.mpf(d) / 2 * mpmath.log(mpmath.pi)
            - mpmath.loggamma(mpmath.mpf(d) / 2)
        )
        return float(log_c), float(i1 / i0), float(k * i1 / i0 + log_c + log_area)


def _e1(d):
    mu = np.zeros(d)
    mu[0] = 1.0
    return mu


# --- log normaliser (C1) ------------------------------------------------------------


@pytest.mark.parametrize("d", [2, 3, 5, 16, 100, 1024])
@pytest.mark.parametrize("kappa", [1e-3, 0.5, 10.0, 300.0, 1e4])
def test_log_norm_integrates_density_to_one(d, kappa):
    ref = -_quad_log_integral(d, kappa)
    assert abs(vmf_log_norm(d, kappa) - ref) <= 1e-9 * max(1.0, abs(ref))


def test_log_norm_matches_scipy_vonmises_fisher_and_uniform_limit():
    for d in (3, 7, 40):
        for kappa in (0.3, 4.0, 60.0):
            mu = _e1(d)
            ref = stats.vonmises_fisher(mu, kappa).logpdf(mu) - kappa  # log C_d
            assert abs(vmf_log_norm(d, kappa) - ref) < 1e-10 * max(1, abs(ref))
    for d in (2, 3, 64, 1024):  # κ -> 0: the uniform density 1/|S^{d-1}|
        area = (
            2 * math.pi ** (d / 2) / math.gamma(d / 2)
            if d < 300
            else math.exp(log_sphere_area(d))
        )
        assert abs(vmf_log_norm(d, 1e-9) + log_sphere_area(d)) < 1e-12 * max(
            1, abs(log_sphere_area(d))
        )
        if d < 300:
            assert math.isclose(log_sphere_area(d), math.log(area), rel_tol=1e-13)


def test_d2_closed_forms():
    # d = 2 is the von Mises distribution on the circle: C = 1/(2π I_0(κ)), A = I_1/I_0
    for kappa in (0.01, 1.0, 30.0):
        assert math.isclose(
            vmf_log_norm(2, kappa),
            -math.log(2 * math.pi * float(mpmath.besseli(0, kappa))),
            rel_tol=1e-12,
        )
        r = stats.vonmises(kappa)
        assert math.isclose(
            vmf_mean_resultant(2, kappa),
            r.expect(math.cos, lb=-math.pi, ub=math.pi),
            rel_tol=1e-8,
        )


# --- mean resultant length (C2) -----------------------------------------------------


@pytest.mark.parametrize("d", [2, 3, 16, 100])
@pytest.mark.parametrize("kappa", [0.5, 10.0, 300.0])
def test_mean_resultant_matches_quadrature(d, kappa):
    ref = math.exp(_quad_log_integral(d, kappa, power=1) - _quad_log_integral(d, kappa))
    assert abs(vmf_mean_resultant(d, kappa) - ref) < 1e-10


def test_mean_resultant_matches_scipy_monte_carlo():
    for d, kappa in [(3, 2.0), (16, 32.0), (50, 5.0)]:
        mu = _e1(d)
        x = stats.vonmises_fisher(mu, kappa).rvs(
            40_000, random_state=np.random.default_rng(0)
        )
        w = x[:, 0]
        se = w.std() / math.sqrt(len(w))
        assert abs(w.mean() - vmf_mean_resultant(d, kappa)) < 5 * se


# --- high-precision reference over the whole stability grid (C5) --------------------


def test_stability_grid_finite_and_accurate():
    ks = np.array(KAPPAS)
    for d in DS:
        ln, a, kl = (
            vmf_log_norm(d, ks),
            vmf_mean_resultant(d, ks),
            vmf_kl_uniform(d, ks),
        )
        assert (
            np.all(np.isfinite(ln))
            and np.all(np.isfinite(a))
            and np.all(np.isfinite(kl))
        ), d
        assert np.all((a > 0) & (a < 1)) and np.all(np.diff(a) > 0), (d, a)
        assert np.all(kl > 0) and np.all(np.diff(kl) > 0), (d, kl)
        for j, kappa in enumerate(ks):
            r_ln, r_a, r_kl = _mp(d, kappa)
            assert abs(ln[j] - r_ln) <= 1e-12 * max(1, abs(r_ln)), (
                d,
                kappa,
                ln[j],
                r_ln,
            )
            assert abs(a[j] - r_a) <= 1e-11 * r_a, (d, kappa, a[j], r_a)
            assert abs(kl[j] - r_kl) <= 1e-10 * r_kl + 1e-12 * kappa, (
                d,
                kappa,
                kl[j],
                r_kl,
            )


def test_naive_formula_breaks_where_the_library_does_not():
    """The textbook evaluation with scipy.special.iv under/overflows; ours stays finite
    (C5).
    """
    from scipy.special import iv

    with np.errstate(all="ignore"):
        naive = (
            (1023 / 2 - 1) * math.log(1.0)
            - 512 * math.log(2 * math.pi)
            - np.log(iv(511, 1.0))
        )
        naive_big = np.log(iv(0, 1e4))
    assert not np.isfinite(naive) and not np.isfinite(naive_big)
    assert np.isfinite(vmf_log_norm(1024, 1.0)) and np.isfinite(vmf_log_norm(2, 1e4))


# --- KL to the uniform distribution (C4) --------------------------------------------


def test_kl_d3_closed_form_and_small_kappa_series():
    for kappa in (1e-3, 0.1, 1.0, 7.0, 100.0, 1e4):
        # the closed form cancels in double precision at small κ: evaluate it in mpmath
        with mpmath.workdps(50):
            k = mpmath.mpf(kappa)
            closed = float(k * mpmath.coth(k) - 1 + mpmath.log(k / mpmath.sinh(k)))
        assert math.isclose(vmf_kl_uniform(3, kappa), closed, rel_tol=1e-10), kappa
    assert math.isclose(vmf_kl_uniform(3, 1.0), 0.15159592392813, rel_tol=1e-12)
    for d in (2, 16, 1024):  # KL ~ κ²/(2d) as κ -> 0, with full relative precision
        assert math.isclose(vmf_kl_uniform(d, 1e-4), 1e-8 / (2 * d), rel_tol=1e-6)


def test_kl_matches_scipy_entropy():
    for d in (3, 10, 100):
        for kappa in (0.5, 5.0, 50.0):
            ent = stats.vonmises_fisher(_e1(d), kappa).entropy()
            assert math.isclose(
                vmf_kl_uniform(d, kappa), log_sphere_area(d) - ent, rel_tol=1e-9
            )


def test_kl_is_monte_carlo_log_ratio():
    d, kappa = 16, 32.0
    x = stats.vonmises_fisher(_e1(d), kappa).rvs(
        20_000, random_state=np.random.default_rng(1)
    )
    log_ratio = vmf_log_norm(d, kappa) + kappa * x[:, 0] + log_sphere_area(d)
    se = log_ratio.std() / math.sqrt(len(x))
    assert abs(log_ratio.mean() - vmf_kl_uniform(d, kappa)) < 5 * se
    assert math.isclose(vmf_kl_uniform(d, kappa), 7.5821, abs_tol=1e-4)


# --- argument types -----------------------------------------------------------------


def test_return_types_follow_kappa():
    for fn in (vmf_log_norm, vmf_mean_resultant, vmf_kl_uniform):
        assert isinstance(fn(5, 2.0), float) and isinstance(fn(5, 2), float)
        arr = fn(5, np.array([[1.0, 2.0], [3.0, 4.0]]))
        assert isinstance(arr, np.ndarray) and arr.shape == (2, 2)
        t = fn(5, torch.tensor([1.0, 2.0], dtype=torch.float32))
        assert (
            isinstance(t, torch.Tensor) and t.dtype == torch.float32 and t.shape == (2,)
        )
        t64 = fn(5, torch.tensor(3.0, dtype=torch.float64))
        assert t64.dtype == torch.float64 and t64.shape == ()
        assert math.isclose(float(t64), fn(5, 3.0), rel_tol=1e-15)


@pytest.mark.parametrize("fn", [vmf_log_norm, vmf_mean_resultant, vmf_kl_uniform])
def test_scalar_function_errors(fn):
    with pytest.raises(ValueError, match="kappa"):
        fn(3, 0.0)
    with pytest.raises(ValueError, match="kappa"):
        fn(3, -1.0)
    with pytest.raises(ValueError, match="kappa"):
        fn(3, np.array([1.0, -2.0]))
    with pytest.raises(ValueError, match="kappa"):
        fn(3, float("nan"))
    with pytest.raises(ValueError, match="kappa"):
        fn(3, torch.tensor([1.0, float("inf")]))
    with pytest.raises(TypeError, match="kappa"):
        fn(3, "1.0")
    with pytest.raises(ValueError, match="d must"):
        fn(1, 1.0)
    with pytest.raises(TypeError, match="d must"):
        fn(2.5, 1.0)
    with pytest.raises(TypeError, match="d must"):
        fn(True, 1.0)


# --- sampling (C3) ------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(
    d=st.integers(2, 300),
    log_kappa=st.floats(-3, 4),
    seed=st.integers(0, 2**16),
    dtype=st.sampled_from([torch.float32, torch.float64]),
)
def test_samples_lie_on_the_sphere(d, log_kappa, seed, dtype):
    g = torch.Generator().manual_seed(seed)
    mu = torch.nn.functional.normalize(
        torch.randn(7, d, generator=g, dtype=torch.float64), dim=-1
    ).to(dtype)
    kappa = 10.0**log_kappa
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    for x in (
        sample_vmf(mu, kappa, generator=g),
        VMFSampler(d, kappa, grid=512).sample(mu, generator=g),
    ):
        assert x.shape == mu.shape and x.dtype == dtype
        assert torch.all(torch.isfinite(x))
        assert float((x.norm(dim=-1) - 1).abs().max()) < tol


@pytest.mark.parametrize("d,kappa", [(3, 1.0), (16, 32.0), (100, 10.0), (2, 1e3)])
def test_sample_mean_is_mean_resultant_times_mu(d, kappa):
    g = torch.Generator().manual_seed(0)
    mu = torch.nn.functional.normalize(
        torch.randn(d, generator=g, dtype=torch.float64), dim=0
    )
    n = 20_000
    a = vmf_mean_resultant(d, kappa)
    for x in (
        sample_vmf(mu.expand(n, d), kappa, generator=g),
        VMFSampler(d, kappa).sample(mu.expand(n, d), generator=g),
    ):
        mean = x.mean(0)
        se = float(x.std(0).max()) / math.sqrt(n)
        assert float((mean - a * mu).abs().max()) < 5 * se + 1e-12


def test_samples_match_scipy_and_exact_d3_cdf():
    g = torch.Generator().manual_seed(3)
    # d = 3: the density of w is ∝ e^{κw} on [-1, 1], so F(w) = (e^{κ(w-1)} - e^{-2κ}) /
    # (1 - e^{-2κ})
    kappa = 4.0
    e1 = torch.tensor([[1.0, 0.0, 0.0]], dtype=torch.float64).expand(5000, 3)
    cdf = lambda w: (
        (np.exp(kappa * (w - 1)) - np.exp(-2 * kappa)) / (1 - np.exp(-2 * kappa))
    )
    for x in (
        sample_vmf(e1, kappa, generator=g),
        VMFSampler(3, kappa).sample(e1, generator=g),
    ):
        assert stats.kstest(x[:, 0].numpy(), cdf).pvalue > 1e-3
    # d = 20: compare w and a tangent coordinate with scipy's own sampler
    d, kappa = 20, 15.0
    mu = np.zeros(d)
    mu[0] = 1.0
    ref = stats.vonmises_fisher(mu, kappa).rvs(
        5000, random_state=np.random.default_rng(0)
    )
    x = sample_vmf(torch.as_tensor(mu).expand(5000, d), kappa, generator=g).numpy()
    assert stats.ks_2samp(ref[:, 0], x[:, 0]).pvalue > 1e-3
    assert stats.ks_2samp(ref[:, 5], x[:, 5]).pvalue > 1e-3


@pytest.mark.parametrize(
    "d,kappa", [(2, 0.3), (5, 1e-3), (16, 32.0), (64, 200.0), (1024, 1e4), (3, 1e4)]
)
def test_vmf_sampler_matches_wood_sampler(d, kappa):
    g = torch.Generator().manual_seed(1)
    mu = torch.zeros(6000, d, dtype=torch.float64)
    mu[:, 0] = 1.0
    w_wood = sample_vmf(mu, kappa, generator=g)[:, 0].numpy()
    w_tab = VMFSampler(d, kappa).sample(mu, generator=g)[:, 0].numpy()
    assert stats.ks_2samp(w_wood, w_tab).pvalue > 1e-3


def test_vmf_sampler_reparameterised_gradient():
    s = VMFSampler(4, 6.0, grid=2048)

    def f(raw):
        mu = raw / raw.norm(dim=-1, keepdim=True)
        return s.sample(mu, generator=torch.Generator().manual_seed(7))

    raw = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(f, (raw,), eps=1e-6, atol=1e-6)
    f(raw).pow(3).sum().backward()
    assert (
        raw.grad is not None
        and torch.all(torch.isfinite(raw.grad))
        and raw.grad.abs().sum() > 0
    )
    # sample_vmf is reparameterised the same way (w does not depend on μ)
    raw2 = raw.detach().clone().requires_grad_(True)
    sample_vmf(raw2 / raw2.norm(dim=-1, keepdim=True), 6.0).sum().backward()
    assert torch.all(torch.isfinite(raw2.grad)) and raw2.grad.abs().sum() > 0


def test_sampler_attributes_and_determinism():
    s = VMFSampler(16, 32.0)
    assert math.isclose(s.kl, vmf_kl_uniform(16, 32.0), rel_tol=1e-15)
    assert math.isclose(s.mean_resultant, vmf_mean_resultant(16, 32.0), rel_tol=1e-15)
    assert "KL=7.58" in repr(s)
    assert (
        float(s.cdf[0]) == 0.0
        and math.isclose(float(s.cdf[-1]), 1.0)
        and torch.all(torch.diff(s.cdf) >= 0)
    )
    mu = torch.nn.functional.normalize(torch.randn(5, 16), dim=-1)
    a = s.sample(mu, generator=torch.Generator().manual_seed(0))
    b = s.sample(mu, generator=torch.Generator().manual_seed(0))
    assert torch.equal(a, b)
    c = sample_vmf(mu, 32.0, generator=torch.Generator().manual_seed(0))
    e = sample_vmf(mu, 32.0, generator=torch.Generator().manual_seed(0))
    assert torch.equal(c, e)
    # per-row κ
    k = torch.tensor([1e-3, 1.0, 10.0, 100.0, 1e4])
    x = sample_vmf(mu, k, generator=torch.Generator().manual_seed(0))
    assert x.shape == mu.shape


def test_sampling_errors():
    mu = torch.nn.functional.normalize(torch.randn(4, 3), dim=-1)
    with pytest.raises(ValueError, match="mu must have unit norm"):
        sample_vmf(2 * mu, 1.0)
    with pytest.raises(ValueError, match="mu must have unit norm"):
        VMFSampler(3, 1.0).sample(0.9 * mu)
    with pytest.raises(ValueError, match="mu must have shape"):
        sample_vmf(torch.tensor(1.0), 1.0)
    with pytest.raises(ValueError, match="mu must have shape"):
        sample_vmf(torch.ones(4, 1), 1.0)
    with pytest.raises(ValueError, match=r"mu must have shape \(\.\.\., 5\)"):
        VMFSampler(5, 1.0).sample(mu)
    with pytest.raises(ValueError, match="mu must be finite"):
        sample_vmf(torch.full((2, 3), float("nan")), 1.0)
    with pytest.raises(TypeError, match="mu must be a torch.Tensor"):
        sample_vmf(np.array([1.0, 0.0]), 1.0)
    with pytest.raises(TypeError, match="mu must be a floating"):
        sample_vmf(torch.tensor([1, 0]), 1.0)
    with pytest.raises(ValueError, match="kappa must be > 0"):
        sample_vmf(mu, 0.0)
    with pytest.raises(ValueError, match="kappa must be > 0"):
        sample_vmf(mu, torch.tensor([1.0, 1.0, -1.0, 1.0]))
    with pytest.raises(ValueError, match="kappa must be finite"):
        sample_vmf(mu, float("inf"))
    with pytest.raises(ValueError, match="kappa must broadcast"):
        sample_vmf(mu, torch.ones(3))
    with pytest.raises(ValueError, match="kappa must be > 0"):
        VMFSampler(3, -2.0)
    with pytest.raises(ValueError, match="kappa must be a single number"):
        VMFSampler(3, torch.ones(2))
    with pytest.raises(ValueError, match="kappa must be a single number"):
        VMFSampler(3, np.ones(2))
    with pytest.raises(ValueError, match="d must"):
        VMFSampler(1, 1.0)
    with pytest.raises(ValueError, match="grid"):
        VMFSampler(3, 1.0, grid=4)


def test_float32_mu_tolerance_is_loose_enough_for_normalised_encoders():
    raw = torch.randn(1000, 64)
    mu = torch.nn.functional.normalize(
        raw, dim=-1
    )  # float32 rounding: |‖μ‖ - 1| ~ 1e-7
    assert sample_vmf(mu, 5.0).shape == (1000, 64)
    assert VMFSampler(64, 5.0).sample(mu).shape == (1000, 64)
    # and gammaln sanity for the sphere-area helper at large d (independent: mpmath)
    assert math.isclose(
        log_sphere_area(1024),
        float(mpmath.log(2) + 512 * mpmath.log(mpmath.pi) - mpmath.loggamma(512)),
        rel_tol=1e-14,
    )
    assert math.isclose(gammaln(512.0), float(mpmath.loggamma(512)), rel_tol=1e-14)


# --- mutual information of a fixed-κ code (vmf-vae C4, univae C4) ---------------------


def _antipodal_mi_quad(d: int, kappa: float) -> float:
    """I(X; Z) for X uniform on {μ, -μ}: with w = μ·z ~ f_κ(w) ∝ e^{κw}(1-w²)^{(d-3)/2},
    I = log 2 - E log(1 + e^{-2κw}), by quadrature (independent of the library)."""
    f = lambda w: math.exp(kappa * (w - 1)) * (1 - w * w) ** ((d - 3) / 2)
    z = integrate.quad(f, -1, 1, epsabs=0, epsrel=1e-12)[0]
    e = integrate.quad(
        lambda w: f(w) * math.log1p(math.exp(-2 * kappa * w)),
        -1,
        1,
        epsabs=0,
        epsrel=1e-12,
    )[0]
    return math.log(2) - e / z


def test_mutual_information_constant_encoder_is_zero():
    g = torch.Generator().manual_seed(0)
    mu = torch.nn.functional.normalize(torch.randn(1, 16, dtype=torch.float64), dim=-1)
    est, se = vmf_mutual_information(mu.expand(32, 16), 32.0, generator=g)
    assert abs(est) < 1e-12 and se < 1e-12


@pytest.mark.parametrize("d, kappa", [(3, 1.0), (16, 4.0), (16, 8.0)])
def test_mutual_information_antipodal_pair_matches_quadrature(d, kappa):
    g = torch.Generator().manual_seed(1)
    e = torch.eye(d, dtype=torch.float64)[:1]
    est, se = vmf_mutual_information(
        torch.cat([e, -e]), kappa, n_samples=20000, generator=g
    )
    ref = _antipodal_mi_quad(d, kappa)
    assert abs(est - ref) < 5 * se + 1e-12, (est, ref, se)
    assert est <= min(vmf_kl_uniform(d, kappa), math.log(2)) + 5 * se + 1e-12


def test_mutual_information_bounded_by_kl_and_log_n():
    g = torch.Generator().manual_seed(2)
    for d, kappa, n in [(16, 32.0, 64), (8, 2.0, 16)]:
        mu = torch.nn.functional.normalize(
            torch.randn(n, d, generator=g, dtype=torch.float64), dim=-1
        )
        est, se = vmf_mutual_information(mu, kappa, generator=g)
        assert 0 < est < min(vmf_kl_uniform(d, kappa), math.log(n)) + 3 * se


def test_mutual_information_rejects_bad_input():
    mu = torch.eye(3, dtype=torch.float64)
    with pytest.raises(ValueError, match="mu"):
        vmf_mutual_information(mu[None], 1.0)
    with pytest.raises(ValueError, match="kappa"):
        vmf_mutual_information(mu, -1.0)
    with pytest.raises(ValueError, match="n_samples"):
        vmf_mutual_information(mu, 1.0, n_samples=1)
    with pytest.raises(ValueError, match="unit norm"):
        vmf_mutual_information(2 * mu, 1.0)
