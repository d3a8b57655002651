"""kexue_lib.diffusion: schedule, the DDIM η-family, guidance, the toy ε-model and the
sample distance.

The reference for the schedule and the steps is HuggingFace diffusers (DDIMScheduler,
DDPMScheduler), the most widely used diffusion library; it stores ``alphas_cumprod`` =
ᾱ², the post's notation stores ᾱ.
"""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from kexue_lib.diffusion import (
    DiffusedMixture,
    TimeMLP,
    cfg_eps,
    check_schedule,
    classifier_guided_eps,
    classifier_log_prob_grad,
    ddim_coefficients,
    ddim_sample,
    ddim_sigma,
    ddim_step,
    denoising_loss,
    from_alphas_cumprod,
    guided_mean,
    linear_schedule,
    mmd2_rbf,
    predict_x0,
    sliced_w1,
    timestep_subsequence,
    train_eps_model,
)

F64 = torch.float64
AB, BB = linear_schedule()


def gaussian_eps(m: float, s: float, alpha_bar=AB):
    """The exact ε-model of data N(m, s²I): ε*(x, t) = β̄_t (x − ᾱ_t m)/(ᾱ_t² s² +
    β̄_t²)."""

    def eps(x, t):
        a = alpha_bar[t].to(x.dtype)[:, None]
        b2 = 1 - a**2
        return b2.sqrt() * (x - a * m) / (a**2 * s**2 + b2)

    return eps


def randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=F64)


# --------------------------------------------------------------------------- schedule


def test_linear_schedule_definition_and_notation():
    ab, bb = linear_schedule(10, 0.1, 0.5)
    assert ab.dtype == bb.dtype == F64 and ab.shape == bb.shape == (10,)
    betas = torch.linspace(0.1, 0.5, 10, dtype=F64)
    torch.testing.assert_close(ab**2, torch.cumprod(1 - betas, 0), rtol=1e-14, atol=0)
    torch.testing.assert_close(ab**2 + bb**2, torch.ones(10, dtype=F64))
    assert float(ab[0]) == pytest.approx(
        math.sqrt(0.9), rel=1e-15
    )  # index 0 includes β_0
    # β̄ keeps its relative precision at the first step (1 − ᾱ² would lose digits)
    ab1, bb1 = linear_schedule(5, 1e-12, 1e-12)
    assert float(bb1[0]) == pytest.approx(1e-6, rel=1e-9)


def test_linear_schedule_matches_diffusers():
    diffusers = pytest.importorskip("diffusers")
    for cls in (diffusers.DDIMScheduler, diffusers.DDPMScheduler):
        ref = cls(num_train_timesteps=1000, beta_start=1e-4, beta_end=0.02)
        # diffusers keeps float32: agreement to float32 rounding (< 1e-6)
        torch.testing.assert_close(
            AB**2, ref.alphas_cumprod.to(F64), rtol=1e-6, atol=1e-7
        )
        ab, bb = from_alphas_cumprod(ref.alphas_cumprod)
        torch.testing.assert_close(ab, AB, rtol=1e-6, atol=0)
        # β̄² = 1 − alphas_cumprod: absolute agreement (float32 cancels digits at t ≈ 0)
        torch.testing.assert_close(bb**2, BB**2, rtol=0, atol=1e-6)
        torch.testing.assert_close(ab**2 + bb**2, torch.ones(1000, dtype=F64))


def test_schedule_errors():
    with pytest.raises(TypeError, match="T"):
        linear_schedule(10.0)
    with pytest.raises(ValueError, match="T"):
        linear_schedule(0)
    with pytest.raises(ValueError, match="beta_end"):
        linear_schedule(10, 1e-4, 1.0)
    with pytest.raises(TypeError, match="beta_start"):
        linear_schedule(10, "0.1")
    with pytest.raises(ValueError, match="strictly decreasing"):
        check_schedule(torch.tensor([0.9, 0.8, 0.8], dtype=F64))
    with pytest.raises(ValueError, match=r"alpha_bar must lie in \(0, 1\)"):
        check_schedule(torch.tensor([1.0, 0.5], dtype=F64))
    with pytest.raises(TypeError, match="alpha_bar"):
        check_schedule([0.9, 0.5])
    with pytest.raises(TypeError, match="alpha_bar"):
        check_schedule(torch.tensor([3, 2]))
    with pytest.raises(ValueError, match="1-D"):
        check_schedule(torch.full((2, 2), 0.5))


def test_timestep_subsequence_matches_diffusers():
    diffusers = pytest.importorskip("diffusers")
    for spacing in ("leading", "trailing"):
        for steps in (1, 7, 10, 20, 50, 100, 1000):
            ref = diffusers.DDIMScheduler(timestep_spacing=spacing)
            ref.set_timesteps(steps)
            assert torch.equal(
                timestep_subsequence(1000, steps, spacing), ref.timesteps
            )
    with pytest.raises(ValueError, match="steps"):
        timestep_subsequence(10, 11)
    assert torch.equal(timestep_subsequence(10, 5), torch.tensor([8, 6, 4, 2, 0]))
    with pytest.raises(ValueError, match="spacing"):
        timestep_subsequence(10, 5, "middle")


# -------------------------------------------------------------------------- DDIM step


def test_sigma_formula_and_ddpm_posterior():
    # σ = η (β̄_s/β̄_t) √(1 − ᾱ_t²/ᾱ_s²); at η = 1, s = t − 1 it is DDPM's posterior std
    betas = torch.linspace(1e-4, 0.02, 1000, dtype=F64)
    for t in (1, 10, 500, 999):
        a_t, a_s = float(AB[t]), float(AB[t - 1])
        b_t, b_s = float(BB[t]), float(BB[t - 1])
        expected = b_s / b_t * math.sqrt(1 - a_t**2 / a_s**2)
        assert ddim_sigma(a_t, a_s, 0.3) == pytest.approx(0.3 * expected, rel=1e-12)
        ddpm_var = (1 - a_s**2) / (1 - a_t**2) * float(betas[t])  # Ho et al. (7): β̃_t
        assert ddim_sigma(a_t, a_s, 1.0) ** 2 == pytest.approx(ddpm_var, rel=1e-9)
    assert ddim_sigma(float(AB[5]), 1.0, 1.0) == 0.0  # final step


@pytest.mark.parametrize("eta", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("spacing", ["leading", "trailing"])
def test_ddim_sample_matches_diffusers_ddim(eta, spacing):
    diffusers = pytest.importorskip("diffusers")
    ref = diffusers.DDIMScheduler(clip_sample=False, timestep_spacing=spacing)
    # same inputs: the same float64 schedule (diffusers' float32 one is compared above)
    ref.alphas_cumprod = AB**2
    ref.final_alpha_cumprod = torch.tensor(1.0, dtype=F64)
    ref.set_timesteps(20)
    eps = gaussian_eps(1.5, 0.3)
    x_T = randn(256, 2)
    x, g = x_T.clone(), torch.Generator().manual_seed(1)
    for t in ref.timesteps:
        t_batch = torch.full((256,), int(t))
        x = ref.step(eps(x, t_batch), int(t), x, eta=eta, generator=g).prev_sample
    ts = timestep_subsequence(1000, 20, spacing)
    ours = ddim_sample(eps, x_T, AB, ts, eta, torch.Generator().manual_seed(1))
    torch.testing.assert_close(ours, x, rtol=1e-6, atol=1e-6)
    # single steps with explicit noise (variance_noise), including the final one
    for t, s in ((ts[0], ts[1]), (ts[-1], None)):
        x_t, e, z = randn(8, 3, seed=2), randn(8, 3, seed=3), randn(8, 3, seed=4)
        a_s = 1.0 if s is None else float(AB[s])
        mine = ddim_step(x_t, e, float(AB[t]), a_s, eta, noise=z if eta else None)
        theirs = ref.step(e, int(t), x_t, eta=eta, variance_noise=z).prev_sample
        torch.testing.assert_close(mine, theirs, rtol=1e-6, atol=1e-6)


def test_ddpm_is_eta_one_on_every_step_and_matches_diffusers_ddpm():
    diffusers = pytest.importorskip("diffusers")
    ref = diffusers.DDPMScheduler(clip_sample=False)  # variance_type="fixed_small"
    ref.alphas_cumprod = AB**2
    ref.set_timesteps(1000)
    eps = gaussian_eps(-0.5, 0.7)
    x_T = randn(128, 2, seed=5)
    x, g = x_T.clone(), torch.Generator().manual_seed(6)
    for t in ref.timesteps:
        x = ref.step(eps(x, torch.full((128,), int(t))), int(t), x, generator=g)[0]
    ours = ddim_sample(
        eps, x_T, AB, list(range(999, -1, -1)), 1.0, torch.Generator().manual_seed(6)
    )
    torch.testing.assert_close(ours, x, rtol=1e-6, atol=1e-6)


def test_ddim_step_reference_formula():
    """Independent of any library: DDPM posterior mean (Ho et al. eq. 7) and σ at η = 1,
    s = t − 1."""
    t = 300
    a_t, a_s = float(AB[t]), float(AB[t - 1])
    alpha2 = a_t**2 / a_s**2  # 1 − β_t of DDPM
    x_t, e, z = randn(5, 2), randn(5, 2, seed=1), randn(5, 2, seed=2)
    x0 = (x_t - math.sqrt(1 - a_t**2) * e) / a_t
    mean = (a_s * (1 - alpha2) / (1 - a_t**2)) * x0 + (
        math.sqrt(alpha2) * (1 - a_s**2) / (1 - a_t**2)
    ) * x_t
    std = math.sqrt((1 - a_s**2) / (1 - a_t**2) * (1 - alpha2))
    torch.testing.assert_close(ddim_step(x_t, e, a_t, a_s, 1.0, z), mean + std * z)
    torch.testing.assert_close(predict_x0(x_t, e, a_t), x0)


def _affine(a_t, a_s, eta):
    """(κ, λ, σ) of x_s = κ x_t + λ x₀ + σ z read off ddim_step fed the oracle ε = (x_t
    − ᾱ_t x₀)/β̄_t."""
    b_t = math.sqrt(1 - a_t**2)

    def step(x_t, x0, z):
        xt, x0_, z_ = (torch.tensor([v], dtype=F64) for v in (x_t, x0, z))
        return float(ddim_step(xt, (xt - a_t * x0_) / b_t, a_t, a_s, eta, z_))

    base = step(0.0, 0.0, 0.0)
    return step(1, 0, 0) - base, step(0, 1, 0) - base, step(0, 0, 1) - base


alphas = st.floats(0.01, 0.999)


@given(alphas, alphas, st.floats(0.0, 1.0))
def test_every_step_preserves_the_marginals(a, b, eta):
    """q(x_s|x₀) = N(ᾱ_s x₀, β̄_s²) is kept: κᾱ_t + λ = ᾱ_s and κ²β̄_t² + σ² = β̄_s²
    (claim C1)."""
    a_t, a_s = min(a, b), max(a, b)
    if a_s - a_t < 1e-3:
        return
    kappa, lam, sigma = _affine(a_t, a_s, eta)
    assert sigma == pytest.approx(ddim_sigma(a_t, a_s, eta), abs=1e-12)
    assert kappa * a_t + lam == pytest.approx(a_s, abs=1e-9)
    assert kappa**2 * (1 - a_t**2) + sigma**2 == pytest.approx(1 - a_s**2, abs=1e-9)
    k2, l2 = ddim_coefficients(a_t, a_s, sigma)
    assert (k2, l2) == pytest.approx((kappa, lam), abs=1e-9)


@given(st.lists(alphas, min_size=3, max_size=3, unique=True))
def test_deterministic_steps_with_the_oracle_compose(a):
    """η = 0 with the exact ε of a single x₀: t → u → s equals t → s (x₀ is recovered
    exactly)."""
    a_t, a_u, a_s = sorted(a)
    x0, z = randn(4, 2, seed=1), randn(4, 2, seed=2)
    b = lambda v: math.sqrt(1 - v * v)  # noqa: E731
    x_t = a_t * x0 + b(a_t) * z
    oracle = lambda x, v: (x - v * x0) / b(v)  # noqa: E731
    x_u = ddim_step(x_t, oracle(x_t, a_t), a_t, a_u)
    x_s = ddim_step(x_u, oracle(x_u, a_u), a_u, a_s)
    torch.testing.assert_close(x_s, ddim_step(x_t, oracle(x_t, a_t), a_t, a_s))
    torch.testing.assert_close(x_s, a_s * x0 + b(a_s) * z)


@given(alphas, alphas)
def test_eta_zero_is_an_euler_step(a, b):
    """x_s/ᾱ_s − x_t/ᾱ_t = (β̄_s/ᾱ_s − β̄_t/ᾱ_t) ε exactly at η = 0 (claim C4)."""
    a_t, a_s = min(a, b), max(a, b)
    if a_s - a_t < 1e-3:
        return
    x_t, e = randn(6, 2), randn(6, 2, seed=1)
    x_s = ddim_step(x_t, e, a_t, a_s)
    rho = lambda v: math.sqrt(1 - v * v) / v  # noqa: E731
    torch.testing.assert_close(x_s / a_s - x_t / a_t, (rho(a_s) - rho(a_t)) * e)


def test_ddim_sampling_of_gaussian_data_converges_to_the_ode_solution():
    """Data N(m, s²): the probability-flow ODE maps x_T to m + (x_T/ᾱ_T − m) s/√(s² +
    ρ_T²), ρ = β̄/ᾱ."""
    m, s = 0.8, 0.4
    x_T = randn(64, 2, seed=3)
    errs = []
    for steps in (25, 50, 100, 200):
        ts = timestep_subsequence(1000, steps, "trailing")  # all start at index 999
        rho_T = float(BB[ts[0]] / AB[ts[0]])
        exact = m + (x_T / AB[ts[0]] - m) * s / math.sqrt(s**2 + rho_T**2)
        x0 = ddim_sample(gaussian_eps(m, s), x_T, AB, ts)
        errs.append(float((x0 - exact).abs().max()))
    rates = [math.log2(e1 / e2) for e1, e2 in zip(errs, errs[1:])]
    assert errs[-1] < 0.03 and all(0.85 < r < 1.15 for r in rates), (errs, rates)


def test_ddpm_with_the_exact_model_samples_the_data():
    m, s = -1.0, 0.5
    x0 = ddim_sample(
        gaussian_eps(m, s),
        randn(4000, 1, seed=7),
        AB,
        range(999, -1, -1),
        1.0,
        torch.Generator().manual_seed(8),
    )
    assert float(x0.mean()) == pytest.approx(m, abs=0.03)  # 4 standard errors
    assert float(x0.std()) == pytest.approx(s, rel=0.05)


def test_ddim_step_errors():
    x, e = torch.zeros(3, 2), torch.zeros(3, 2)
    with pytest.raises(ValueError, match="alpha_bar_s must be > alpha_bar_t"):
        ddim_step(x, e, 0.5, 0.5)
    with pytest.raises(ValueError, match="alpha_bar_s must be > alpha_bar_t"):
        ddim_step(x, e, 0.6, 0.5)
    with pytest.raises(ValueError, match="eta must be a finite real number >= 0"):
        ddim_step(x, e, 0.5, 0.6, eta=-0.1)
    with pytest.raises(ValueError, match="noise is required"):
        ddim_step(x, e, 0.5, 0.6, eta=0.5)
    with pytest.raises(ValueError, match="eps must have the shape"):
        ddim_step(x, torch.zeros(3, 3), 0.5, 0.6)
    with pytest.raises(ValueError, match="noise must have the shape"):
        ddim_step(x, e, 0.5, 0.6, eta=1.0, noise=torch.zeros(2, 2))
    with pytest.raises(ValueError, match="eta=5.0 is too large"):
        ddim_step(x, e, 0.1, 0.9, eta=5.0, noise=x)
    with pytest.raises(ValueError, match="alpha_bar_t"):
        ddim_step(x, e, 1.0, 1.0)
    with pytest.raises(ValueError, match="alpha_bar_s"):
        ddim_step(x, e, 0.5, 1.5)
    with pytest.raises(TypeError, match="x_t"):
        ddim_step([0.0], e, 0.5, 0.6)
    with pytest.raises(TypeError, match="eps"):
        ddim_step(x, torch.zeros(3, 2, dtype=torch.int64), 0.5, 0.6)
    with pytest.raises(TypeError, match="eta"):
        ddim_step(x, e, 0.5, 0.6, eta="0")
    with pytest.raises(TypeError, match="alpha_bar_t"):
        ddim_step(x, e, None, 0.6)
    with pytest.raises(ValueError, match="alpha_bar_t must be a single number"):
        ddim_step(x, e, torch.tensor([0.5, 0.4]), 0.6)
    with pytest.raises(ValueError, match="sigma"):
        ddim_coefficients(0.5, 0.6, 0.9)
    # η = 0 ignores noise; a 0-dim tensor is a valid scalar
    torch.testing.assert_close(
        ddim_step(x + 1, e, torch.tensor(0.5), 0.6, 0.0, torch.ones(3, 2)),
        ddim_step(x + 1, e, 0.5, 0.6),
    )


def test_ddim_sample_errors():
    eps = gaussian_eps(0.0, 1.0)
    x = torch.zeros(4, 2, dtype=F64)
    with pytest.raises(ValueError, match="strictly decreasing"):
        ddim_sample(eps, x, AB, [10, 20])
    with pytest.raises(ValueError, match="strictly decreasing"):
        ddim_sample(eps, x, AB, [10, 10])
    with pytest.raises(ValueError, match=r"timesteps must lie in \[0, 1000\)"):
        ddim_sample(eps, x, AB, [1000, 5])
    with pytest.raises(ValueError, match="alpha_bar must be strictly decreasing"):
        ddim_sample(eps, x, AB.flip(0), [5, 1])
    with pytest.raises(ValueError, match="timesteps must not be empty"):
        ddim_sample(eps, x, AB, [])
    with pytest.raises(TypeError, match=r"timesteps\[i\] must be an int"):
        ddim_sample(eps, x, AB, [5.0, 1.0])
    with pytest.raises(TypeError, match="eps_model"):
        ddim_sample(None, x, AB, [5, 1])
    with pytest.raises(TypeError, match="generator"):
        ddim_sample(eps, x, AB, [5, 1], 1.0, generator=0)
    with pytest.raises(ValueError, match="eta"):
        ddim_sample(eps, x, AB, [5, 1], -1.0)
    with pytest.raises(ValueError, match="eps must have the shape"):
        ddim_sample(lambda x, t: x[:, :1], x, AB, [5, 1])


def test_ddim_sample_is_seeded():
    eps = gaussian_eps(0.0, 0.5)
    x = randn(16, 2)
    ts = timestep_subsequence(1000, 10)
    a = ddim_sample(eps, x, AB, ts, 0.7, torch.Generator().manual_seed(3))
    b = ddim_sample(eps, x, AB, ts, 0.7, torch.Generator().manual_seed(3))
    c = ddim_sample(eps, x, AB, ts, 0.7, torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)


# --------------------------------------------------------------------------- guidance


def _log_density(x, t, means, s, weights):
    """log p_t(x) of the diffused mixture, written out independently (normalising
    constants included)."""
    a = AB[t][:, None, None]
    v = a**2 * s**2 + (1 - a**2)
    d2 = ((x[:, None, :] - a * means[None]) ** 2 / v).sum(-1)
    log_norm = -x.shape[1] / 2 * torch.log(2 * math.pi * v[..., 0])
    return torch.logsumexp(weights.log() - 0.5 * d2 + log_norm, 1)


def test_diffused_mixture_eps_is_minus_beta_bar_times_the_score():
    means = torch.tensor([[2.0, 0.0], [0.0, 2.0], [-2.0, -1.0]], dtype=F64)
    weights = torch.tensor([0.5, 0.3, 0.2], dtype=F64)
    mix = DiffusedMixture(means, 0.5, AB, weights * 7)  # weights are normalised
    x = randn(40, 2, seed=8) * 2
    for t in (0, 10, 500, 999):
        tb = torch.full((40,), t)
        xg = x.clone().requires_grad_(True)
        (score,) = torch.autograd.grad(
            _log_density(xg, tb, means, 0.5, weights).sum(), xg
        )
        torch.testing.assert_close(
            mix.eps(x, tb), -BB[t] * score, rtol=1e-10, atol=1e-12
        )
        # conditional: a single Gaussian N(ᾱ m_y, v)
        y = torch.arange(40) % 3
        a, v = AB[t], AB[t] ** 2 * 0.25 + BB[t] ** 2
        torch.testing.assert_close(mix.eps(x, tb, y), BB[t] * (x - a * means[y]) / v)
    x0, y = mix.sample(30000, generator=torch.Generator().manual_seed(0))
    assert x0.dtype == torch.float32 and y.dtype == torch.int64
    freq = torch.bincount(y, minlength=3).double() / 30000
    torch.testing.assert_close(freq, weights, atol=0.015, rtol=0)
    assert float((x0 - means[y].float()).std()) == pytest.approx(0.5, rel=0.02)
    ring = DiffusedMixture.ring(4, 2.0, 0.1, AB)
    torch.testing.assert_close(ring.means[1], torch.tensor([0.0, 2.0], dtype=F64))
    with pytest.raises(ValueError, match="std"):
        DiffusedMixture(means, 0.0, AB)
    with pytest.raises(ValueError, match="weights"):
        DiffusedMixture(means, 1.0, AB, [1.0, 2.0])
    with pytest.raises(ValueError, match="t must be an int64"):
        mix.eps(x, torch.zeros(40))


def test_guidance_with_exact_models_gives_the_class_conditional_eps():
    mix = DiffusedMixture(
        [[2.0, 0.0], [0.0, 2.0], [-2.0, 0.0]], 0.5, AB, [0.5, 0.3, 0.2]
    )
    x = randn(50, 2, seed=9) * 2
    for t in (10, 300, 900):
        tb = torch.full((50,), t)
        y = torch.arange(50) % 3
        grad = classifier_log_prob_grad(mix.class_logits, x, y, tb)
        guided = classifier_guided_eps(mix.eps(x, tb), grad, float(BB[t]))
        torch.testing.assert_close(guided, mix.eps(x, tb, y), rtol=1e-9, atol=1e-10)
        # classifier-free with exact ε's = classifier guidance with γ = 1 + w
        for w in (0.0, 1.5, 4.0):
            torch.testing.assert_close(
                cfg_eps(mix.eps(x, tb, y), mix.eps(x, tb), w),
                classifier_guided_eps(mix.eps(x, tb), grad, float(BB[t]), scale=1 + w),
                rtol=1e-9,
                atol=1e-10,
            )


def test_guided_mean_and_cfg_algebra():
    mu, g = randn(4, 2), randn(4, 2, seed=1)
    torch.testing.assert_close(guided_mean(mu, g, 0.3, 2.0), mu + 2.0 * 0.09 * g)
    torch.testing.assert_close(guided_mean(mu, g, 0.0, 10.0), mu)
    ec, eu = randn(4, 2, seed=2), randn(4, 2, seed=3)
    torch.testing.assert_close(cfg_eps(ec, eu, 0.0), ec)
    torch.testing.assert_close(cfg_eps(ec, eu, -1.0), eu)
    torch.testing.assert_close(cfg_eps(ec, eu, 2.0), 3 * ec - 2 * eu)


def test_classifier_log_prob_grad_of_a_linear_softmax():
    W = randn(3, 2, seed=4)
    x = randn(7, 2, seed=5)
    y = torch.tensor([0, 1, 2, 0, 1, 2, 0])
    grad = classifier_log_prob_grad(lambda z: z @ W.T, x, y)
    p = torch.softmax(x @ W.T, 1)
    torch.testing.assert_close(grad, W[y] - p @ W)  # ∇ log softmax = w_y − E_p[w]
    with torch.no_grad():  # works inside no_grad (the sampling loop)
        torch.testing.assert_close(
            classifier_log_prob_grad(lambda z: z @ W.T, x, y), grad
        )


def test_guidance_errors():
    e = torch.zeros(3, 2)
    with pytest.raises(ValueError, match="grad_log_prob must have the shape"):
        classifier_guided_eps(e, torch.zeros(3, 3), 0.5)
    with pytest.raises(ValueError, match="beta_bar_t"):
        classifier_guided_eps(e, e, 0.0)
    with pytest.raises(TypeError, match="scale"):
        classifier_guided_eps(e, e, 0.5, scale=None)
    with pytest.raises(ValueError, match="eps_uncond must have the shape"):
        cfg_eps(e, torch.zeros(2, 2), 1.0)
    with pytest.raises(TypeError, match="w"):
        cfg_eps(e, e, "1")
    with pytest.raises(ValueError, match="sigma"):
        guided_mean(e, e, -1.0)
    with pytest.raises(TypeError, match="y must be an int64"):
        classifier_log_prob_grad(lambda z: z, e, torch.zeros(3))
    with pytest.raises(ValueError, match="y must have shape"):
        classifier_log_prob_grad(lambda z: z, e, torch.zeros(2, dtype=torch.int64))
    with pytest.raises(ValueError, match=r"y must lie in \[0, 2\)"):
        classifier_log_prob_grad(lambda z: z, e, torch.tensor([0, 1, 2]))
    with pytest.raises(TypeError, match="classifier"):
        classifier_log_prob_grad(None, e, torch.tensor([0, 1, 1]))


# ----------------------------------------------------------------------------- models


def test_time_mlp_shapes_labels_and_errors():
    torch.manual_seed(0)
    net = TimeMLP(2, 2, 100, hidden=16, depth=2, num_classes=4)
    x, t = torch.randn(5, 2), torch.tensor([0, 1, 50, 98, 99])
    y = torch.tensor([0, 1, 2, 3, 4])
    assert net(x, t, y).shape == (5, 2)
    torch.testing.assert_close(net(x, t), net(x, t, torch.full((5,), net.null_label)))
    assert not torch.allclose(net(x, t, torch.zeros(5, dtype=torch.int64)), net(x, t))
    # the blockwise first layer equals one linear layer on [x, emb(t), emb(y)], also
    # on the shortcut taken when a batch shares one t and one label
    for tt, yy in ((t, y), (torch.full((5,), 7), torch.full((5,), 2))):
        cat = torch.cat([x, net.time_table[tt], net.label_emb(yy)], 1)
        torch.testing.assert_close(net(x, tt, yy), net.net(cat))
    with pytest.raises(ValueError, match="t must be an int64"):
        net(x, t.float())
    with pytest.raises(ValueError, match=r"t must lie in \[0, 100\)"):
        net(x, t + 1)
    with pytest.raises(ValueError, match="time_dim must be an even int"):
        TimeMLP(2, 2, 10, time_dim=5)
    with pytest.raises(ValueError, match="unconditional"):
        TimeMLP(2, 2, 10)(x, t % 10, y)
    with pytest.raises(AttributeError):
        _ = TimeMLP(2, 2, 10).null_label


def test_denoising_loss_is_zero_for_the_exact_noise_and_training_reduces_it():
    # a "model" that knows ε: x0 = 0 makes x_t = β̄_t ε, so ε = x_t/β̄_t
    x0 = torch.zeros(64, 3, dtype=F64)
    oracle = lambda x, t: x / BB[t][:, None]  # noqa: E731
    loss = denoising_loss(oracle, x0, AB, generator=torch.Generator().manual_seed(0))
    assert float(loss) < 1e-20
    g = torch.Generator().manual_seed(1)
    torch.manual_seed(1)
    net = TimeMLP(2, 2, 1000, hidden=32, depth=2)
    data = torch.randn(512, 2, generator=g) * 0.1 + 1.0
    losses = train_eps_model(net, data, AB, steps=300, batch=128, generator=g)
    assert sum(losses[-50:]) / 50 < 0.8 * sum(losses[:50]) / 50
    assert not net.training
    with pytest.raises(ValueError, match="label_dropout"):
        train_eps_model(net, data, AB, steps=1, label_dropout=1.0)
    with pytest.raises(ValueError, match="labels must have shape"):
        train_eps_model(
            net, data, AB, steps=1, labels=torch.zeros(3, dtype=torch.int64)
        )


# ----------------------------------------------------------------------------- metric


def test_sliced_w1_in_one_dimension_is_w1():
    """In 1-D every direction is ±1, so the sliced W₁ is the exact W₁ (scipy as
    reference)."""
    from scipy.stats import wasserstein_distance

    a, b = randn(37, 1), randn(53, 1, seed=1) * 2 + 0.5
    ref = wasserstein_distance(a[:, 0].numpy(), b[:, 0].numpy())
    assert sliced_w1(a, b, n_projections=5) == pytest.approx(ref, rel=1e-12)


def test_mmd2_rbf_matches_the_definition():
    x, y = randn(300, 2), randn(200, 2, seed=1) * 1.3 + 0.2
    k = lambda a, b: torch.exp(-(torch.cdist(a, b) ** 2) / (2 * 0.7**2))  # noqa: E731
    ref = (
        (k(x, x).sum() - 300) / (300 * 299)
        + (k(y, y).sum() - 200) / (200 * 199)
        - 2 * k(x, y).mean()
    )
    assert mmd2_rbf(x, y, 0.7) == pytest.approx(float(ref), rel=1e-5)
    # the cached term of y is not reused for a different y of the same shape
    y2 = y.clone()
    y2[:50] += 3.0
    ref2 = (
        (k(x, x).sum() - 300) / (300 * 299)
        + (k(y2, y2).sum() - 200) / (200 * 199)
        - 2 * k(x, y2).mean()
    )
    assert mmd2_rbf(x, y2, 0.7) == pytest.approx(float(ref2), rel=1e-5)
    assert mmd2_rbf(x, y, 0.7) == pytest.approx(float(ref), rel=1e-5)
    # unbiased: near 0 (either sign) for one distribution, clearly > 0 for two
    z = randn(300, 2, seed=2)
    assert abs(mmd2_rbf(x, z, 0.7)) < 5e-3 < mmd2_rbf(x, y, 0.7)
    with pytest.raises(ValueError, match="bandwidth"):
        mmd2_rbf(x, y, 0.0)
    with pytest.raises(ValueError, match="at least two samples"):
        mmd2_rbf(x[:1], y, 1.0)


@given(st.floats(-3, 3), st.floats(-3, 3))
def test_sliced_w1_of_a_shift(c1, c2):
    """Shifting by c: each projection moves by u·c, so the sliced W₁ is the mean of
    |u·c| over u."""
    x = randn(200, 2)
    c = torch.tensor([c1, c2], dtype=F64)
    u = torch.randn(64, 2, generator=torch.Generator().manual_seed(0), dtype=F64)
    u = u / u.norm(dim=1, keepdim=True)
    got = sliced_w1(
        x, x + c, n_projections=64, generator=torch.Generator().manual_seed(0)
    )
    assert got == pytest.approx(float((u @ c).abs().mean()), abs=1e-12)


def test_sliced_w1_properties_and_errors():
    x, y = randn(300, 2), randn(200, 2, seed=1) + 1
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    assert sliced_w1(x, x, generator=g()) == 0.0
    assert sliced_w1(x, y, generator=g()) == pytest.approx(
        sliced_w1(y, x, generator=g())
    )
    with pytest.raises(ValueError, match="y must have the dimension"):
        sliced_w1(x, torch.zeros(5, 3, dtype=F64))
    with pytest.raises(ValueError, match=r"x must have shape \(n, d\)"):
        sliced_w1(x[0], y)
    with pytest.raises(ValueError, match="n_projections"):
        sliced_w1(x, y, n_projections=0)
    with pytest.raises(TypeError, match="generator"):
        sliced_w1(x, y, generator=1)
