"""Tests for kexue_lib.vae (the VAE chapters of part 2)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from kexue_lib.vae import (
    BNScaler,
    discrete_mi,
    kl_diag_gaussians,
    kl_std_normal,
    reparameterize,
)

# --- KLs against torch.distributions (an independent implementation) -----------------


def test_kl_std_normal_matches_torch_distributions():
    g = torch.Generator().manual_seed(0)
    mu, logvar = (
        torch.randn(5, 3, generator=g, dtype=torch.float64),
        torch.randn(5, 3, generator=g, dtype=torch.float64),
    )
    q = torch.distributions.Normal(mu, (0.5 * logvar).exp())
    p = torch.distributions.Normal(torch.zeros_like(mu), torch.ones_like(mu))
    ref = torch.distributions.kl_divergence(q, p).sum(-1)
    assert torch.allclose(kl_std_normal(mu, logvar), ref, rtol=1e-12, atol=1e-14)


def test_kl_diag_gaussians_matches_torch_distributions_and_broadcasts():
    g = torch.Generator().manual_seed(1)
    mq, lq = (
        torch.randn(4, 6, generator=g, dtype=torch.float64),
        torch.randn(4, 6, generator=g, dtype=torch.float64),
    )
    mp, lp = (
        torch.randn(6, generator=g, dtype=torch.float64),
        torch.randn(6, generator=g, dtype=torch.float64),
    )
    ref = torch.distributions.kl_divergence(
        torch.distributions.Normal(mq, (0.5 * lq).exp()),
        torch.distributions.Normal(mp, (0.5 * lp).exp()),
    ).sum(-1)
    assert torch.allclose(
        kl_diag_gaussians(mq, lq, mp, lp), ref, rtol=1e-12, atol=1e-14
    )
    # with a standard-normal p it reduces to kl_std_normal
    z = torch.zeros(6, dtype=torch.float64)
    assert torch.allclose(
        kl_diag_gaussians(mq, lq, z, z), kl_std_normal(mq, lq), rtol=1e-13
    )


def test_reparameterize_moments_and_gradient():
    g = torch.Generator().manual_seed(2)
    mu = torch.tensor([1.0, -2.0], dtype=torch.float64, requires_grad=True)
    logvar = torch.tensor([0.0, math.log(4.0)], dtype=torch.float64, requires_grad=True)
    z = reparameterize(mu.expand(200_000, 2), logvar.expand(200_000, 2), generator=g)
    assert torch.allclose(z.mean(0), mu.detach(), atol=0.02)
    assert torch.allclose(
        z.std(0), torch.tensor([1.0, 2.0], dtype=torch.float64), rtol=0.01
    )
    z.mean(0).sum().backward()
    assert torch.allclose(mu.grad, torch.ones(2, dtype=torch.float64))  # dz/dμ = 1


def test_kl_shape_errors():
    with pytest.raises(ValueError, match="mu"):
        kl_std_normal(torch.zeros(3, 2), torch.zeros(3, 4))
    with pytest.raises(ValueError, match="broadcast"):
        kl_diag_gaussians(
            torch.zeros(3, 2), torch.zeros(3, 2), torch.zeros(3, 5), torch.zeros(3, 5)
        )


# --- BNScaler -----------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(2, 40),
    d=st.integers(1, 8),
    tau=st.floats(0.01, 0.99),
    theta_scale=st.floats(0.0, 6.0),
    seed=st.integers(0, 2**31 - 1),
)
def test_bnscaler_unit_second_moment_and_kl_floor(n, d, tau, theta_scale, seed):
    g = torch.Generator().manual_seed(seed)
    bn = BNScaler(tau, d).double()
    with torch.no_grad():
        bn.theta.copy_(theta_scale * torch.randn(d, generator=g, dtype=torch.float64))
    mu_raw = 3.0 * torch.randn(n, d, generator=g, dtype=torch.float64) + 5.0
    s_raw = torch.rand(n, d, generator=g, dtype=torch.float64) + 0.1
    mu, std = bn(mu_raw, s_raw)
    g_mu, g_sigma = bn.scales()
    # C3/C4: γ_μ² + γ_σ² = 1 exactly, and the batch moments inherit it
    assert torch.allclose(
        g_mu**2 + g_sigma**2, torch.ones(d, dtype=torch.float64), atol=1e-14
    )
    assert torch.all(g_mu**2 >= tau - 1e-12)
    assert torch.allclose(mu.mean(0), torch.zeros(d, dtype=torch.float64), atol=1e-10)
    var_mu = mu_raw.var(0, unbiased=False)
    var_s = s_raw.var(0, unbiased=False)
    expected = g_mu**2 * var_mu / (var_mu + bn.eps) + g_sigma**2 * var_s / (
        var_s + bn.eps
    )
    assert torch.allclose(mu.pow(2).mean(0) + std.pow(2).mean(0), expected, atol=1e-10)
    # the batch-mean KL is at least d τ / 2 (the μ² part alone is d γ_μ² / 2 up to eps)
    kl = kl_std_normal(mu, std.pow(2).log()).mean()
    floor = 0.5 * (g_mu**2 * var_mu / (var_mu + bn.eps)).sum()
    assert kl >= floor - 1e-9
    if float(var_mu.min()) > 1e-6:
        assert kl >= d * tau / 2 - 1e-6


def test_bnscaler_scales_formula_and_tight_mu_part():
    # chapter vae/vae-bn, C4: γ_μ² = τ + (1 − τ) sigmoid θ, γ_σ² = (1 − τ) sigmoid(−θ),
    # the μ part of the batch KL is ½ Σ γ_μ², and it reaches dτ/2 as θ → −∞
    g = torch.Generator().manual_seed(7)
    for tau in (0.1, 0.5, 0.9):
        bn = BNScaler(tau, 6).double().requires_grad_(False)
        theta = torch.tensor([-40.0, -5.0, -0.5, 0.5, 5.0, 40.0], dtype=torch.float64)
        bn.theta.copy_(theta)
        g_mu, g_sigma = bn.scales()
        assert torch.allclose(
            g_mu**2, tau + (1 - tau) * torch.sigmoid(theta), rtol=1e-14
        )
        assert torch.allclose(
            g_sigma**2, (1 - tau) * torch.sigmoid(-theta), rtol=1e-12, atol=0
        )
        assert abs(float(g_mu[0] ** 2) - tau) < 1e-15
        x = 2.0 + 3.0 * torch.randn(64, 6, generator=g, dtype=torch.float64)
        mu, _ = bn(x, torch.randn(64, 6, generator=g, dtype=torch.float64))
        assert torch.allclose(mu.var(0, unbiased=False), g_mu**2, rtol=1e-6)
        assert torch.allclose(
            0.5 * mu.pow(2).mean(0).sum(), 0.5 * (g_mu**2).sum(), rtol=1e-6
        )
        bn.theta.fill_(-40.0)
        mu, _ = bn(x, x)
        assert abs(float(0.5 * mu.pow(2).mean(0).sum()) - 6 * tau / 2) < 1e-6


def test_bnscaler_independent_batchnorm_reference_and_eval_mode():
    g = torch.Generator().manual_seed(3)
    bn = BNScaler(0.3, 4)
    ref = torch.nn.BatchNorm1d(4, affine=False, eps=bn.eps, momentum=bn.momentum)
    x, s = torch.randn(16, 4, generator=g), torch.randn(16, 4, generator=g)
    mu, _ = bn(x, s)
    g_mu, _ = bn.scales()
    assert torch.allclose(mu, g_mu * ref(x), atol=1e-5)
    assert torch.allclose(bn.running_mean_mu, ref.running_mean, atol=1e-6)
    assert torch.allclose(bn.running_var_mu, ref.running_var, atol=1e-6)
    bn.eval(), ref.eval()
    mu1, _ = bn(x[:1], s[:1])  # one sample is fine in eval mode
    assert torch.allclose(mu1, g_mu * ref(x[:1]), atol=1e-5)


def test_bnscaler_theta_gets_gradient():
    bn = BNScaler(0.5, 3)
    mu, std = bn(torch.randn(10, 3), torch.randn(10, 3))
    kl_std_normal(mu, std.pow(2).log()).mean().backward()
    assert bn.theta.grad is not None and torch.isfinite(bn.theta.grad).all()


@pytest.mark.parametrize("tau", [0.0, 1.0, -0.2, 1.5])
def test_bnscaler_rejects_tau_outside_open_interval(tau):
    with pytest.raises(ValueError, match="tau"):
        BNScaler(tau, 4)


def test_bnscaler_bad_inputs():
    with pytest.raises(ValueError, match="dim"):
        BNScaler(0.5, 0)
    bn = BNScaler(0.5, 4)
    with pytest.raises(ValueError, match="dim"):
        bn(torch.zeros(8, 3), torch.zeros(8, 3))
    with pytest.raises(ValueError, match="mu"):
        bn(torch.zeros(8, 4), torch.zeros(8, 2))
    with pytest.raises(ValueError, match="samples"):
        bn(torch.zeros(1, 4), torch.zeros(1, 4))


# --- discrete_mi --------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(
    nx=st.integers(1, 7),
    nz=st.integers(1, 7),
    seed=st.integers(0, 2**31 - 1),
    sparsity=st.floats(0, 0.6),
)
def test_discrete_mi_equals_entropy_difference(nx, nz, seed, sparsity):
    rng = np.random.default_rng(seed)
    p = rng.random((nx, nz)) * (rng.random((nx, nz)) >= sparsity)
    if p.sum() == 0:
        p[0, 0] = 1.0
    p /= p.sum()
    px, pz = p.sum(1), p.sum(0)
    # I = H(X) + H(Z) − H(X, Z), with scipy's entropy (independent of the library)
    ref = (
        scipy.stats.entropy(px)
        + scipy.stats.entropy(pz)
        - scipy.stats.entropy(p.ravel())
    )
    mi = discrete_mi(p)
    assert abs(mi - ref) < 1e-12
    assert -1e-12 <= mi <= min(math.log(nx), math.log(nz)) + 1e-12


def test_discrete_mi_brute_force_and_special_cases():
    p = np.array([[0.1, 0.2, 0.05], [0.3, 0.0, 0.35]])
    brute = 0.0
    for i in range(2):
        for j in range(3):
            if p[i, j] > 0:
                brute += p[i, j] * math.log(p[i, j] / (p[i].sum() * p[:, j].sum()))
    assert abs(discrete_mi(p) - brute) < 1e-15
    assert abs(discrete_mi(torch.tensor(p)) - brute) < 1e-15  # tensors accepted
    assert (
        abs(discrete_mi(np.outer([0.2, 0.8], [0.5, 0.25, 0.25]))) < 1e-15
    )  # independence
    assert abs(discrete_mi(np.eye(4) / 4) - math.log(4)) < 1e-15  # Z = X


def test_discrete_mi_errors():
    with pytest.raises(ValueError, match="p_xz"):
        discrete_mi(np.full(4, 0.25))
    with pytest.raises(ValueError, match="p_xz"):
        discrete_mi(np.full((2, 2, 1), 0.25))
    with pytest.raises(ValueError, match="non-negative"):
        discrete_mi(np.array([[0.75, -0.25], [0.25, 0.25]]))
    with pytest.raises(ValueError, match="sum to 1"):
        discrete_mi(np.full((2, 2), 0.3))
    with pytest.raises(ValueError, match="finite"):
        discrete_mi(np.array([[np.nan, 0.5], [0.25, 0.25]]))


# --- relative_posterior and HierVAE (chapter vae/nvae) ------------------------------


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 5), st.integers(0, 2**16))
def test_relative_posterior_kl_matches_torch_distributions(d, seed):
    from torch.distributions import Normal, kl_divergence

    from kexue_lib.vae import relative_posterior

    g = torch.Generator().manual_seed(seed)
    mu_p, lv_p, dmu, dlv = (
        torch.randn(3, d, generator=g, dtype=torch.float64) for _ in range(4)
    )
    out = relative_posterior(mu_p, lv_p, dmu, dlv)
    assert torch.allclose(out.mu, mu_p + dmu) and torch.allclose(out.logvar, lv_p + dlv)
    ref = kl_divergence(
        Normal(mu_p + dmu, (0.5 * (lv_p + dlv)).exp()), Normal(mu_p, (0.5 * lv_p).exp())
    ).sum(-1)
    assert torch.allclose(out.kl, ref, rtol=1e-10, atol=1e-12)
    # independent of the prior mean
    shifted = relative_posterior(mu_p + 7.0, lv_p, dmu, dlv)
    assert torch.allclose(shifted.kl, out.kl, rtol=1e-14, atol=0)


def test_relative_posterior_kl_by_quadrature():
    from scipy import integrate, stats

    from kexue_lib.vae import relative_posterior

    mu, s, dm, ds = 0.3, 0.7, -0.4, 1.6
    q, p = stats.norm(mu + dm, s * ds), stats.norm(mu, s)
    val, _ = integrate.quad(lambda z: q.pdf(z) * (q.logpdf(z) - p.logpdf(z)), -15, 15)
    t = lambda v: torch.tensor([[v]], dtype=torch.float64)
    kl = relative_posterior(t(mu), t(2 * np.log(s)), t(dm), t(2 * np.log(ds))).kl
    assert float(kl) == pytest.approx(val, rel=1e-9)


def test_relative_posterior_errors():
    from kexue_lib.vae import relative_posterior

    z = torch.zeros(2, 3)
    with pytest.raises(ValueError, match="mu_p"):
        relative_posterior(z, torch.zeros(2, 4), z, z)
    with pytest.raises(ValueError, match="dmu"):
        relative_posterior(z, z, z, torch.zeros(3, 3))
    with pytest.raises(ValueError, match="broadcast"):
        relative_posterior(z, z, torch.zeros(5, 3), torch.zeros(5, 3))


@pytest.mark.parametrize(
    "z_dims, relative", [((3,), True), ((2, 3), False), ((2, 3), True)]
)
def test_hiervae_shapes_elbo_and_kl_consistency(z_dims, relative):
    from kexue_lib.vae import HierVAE, kl_diag_gaussians

    torch.manual_seed(0)
    m = HierVAE(x_dim=10, hidden=8, z_dims=z_dims, relative=relative).double()
    x = torch.rand(5, 10, dtype=torch.float64)
    logits, kls = m(x, torch.Generator().manual_seed(1))
    assert (
        logits.shape == (5, 10)
        and len(kls) == len(z_dims)
        and all(k.shape == (5,) for k in kls)
    )
    assert all(bool((k >= 0).all()) for k in kls)
    ne = m.neg_elbo(x, torch.Generator().manual_seed(1))
    rec = -(
        x * torch.log(torch.sigmoid(logits))
        + (1 - x) * torch.log(1 - torch.sigmoid(logits))
    ).sum(-1)
    assert torch.allclose(ne, rec + sum(kls), rtol=1e-10)
    ne.mean().backward()
    assert all(p.grad is not None for p in m.parameters())
    assert m.sample(4, torch.Generator().manual_seed(2)).shape == (4, 10)
    if len(z_dims) == 2 and relative:
        # the relative head's KL equals the generic diagonal-Gaussian KL of the same two
        # distributions
        h = m.enc(x)
        mu1, lv1 = m.q1(h).chunk(2, -1)
        mu_p, lv_p = m.prior2(mu1).chunk(2, -1)
        a, b = m.q2(torch.cat([h, mu1], -1)).chunk(2, -1)
        assert torch.allclose(
            kl_diag_gaussians(mu_p + a, lv_p + b, mu_p, lv_p),
            0.5 * (a**2 / lv_p.exp() + b.exp() - b - 1).sum(-1),
            rtol=1e-10,
        )


def test_hiervae_errors():
    from kexue_lib.vae import HierVAE

    with pytest.raises(ValueError, match="z_dims"):
        HierVAE(z_dims=(1, 2, 3))
    with pytest.raises(ValueError, match="z_dims"):
        HierVAE(z_dims=(0,))
    with pytest.raises(ValueError, match="x_dim"):
        HierVAE(x_dim=0)
    with pytest.raises(ValueError, match="hidden"):
        HierVAE(hidden=-1)
    with pytest.raises(ValueError, match="x must have shape"):
        HierVAE(x_dim=4)(torch.zeros(2, 5))
    with pytest.raises(ValueError, match="n must be"):
        HierVAE(x_dim=4).sample(0)


# --- GaussianVAE (chapter vae/vmf-vae; reusable by the other VAE chapters) ----------


def test_gaussian_vae_shapes_and_elbo_against_torch_distributions():
    from kexue_lib.vae import ELBOTerms, GaussianVAE, VAEOutput

    torch.manual_seed(0)
    model = GaussianVAE(10, 3, enc_hidden=(8, 6), dec_hidden=7).double()
    x = (torch.rand(5, 10, dtype=torch.float64) > 0.5).double()
    out = model(x, generator=torch.Generator().manual_seed(1))
    assert isinstance(out, VAEOutput)
    assert out.logits.shape == (
        5,
        10,
    ) and out.mu.shape == out.logvar.shape == out.z.shape == (5, 3)
    terms = model.loss(x, out, beta=0.7)
    assert isinstance(terms, ELBOTerms)
    rec = -torch.distributions.Bernoulli(logits=out.logits).log_prob(x).sum(-1).mean()
    q = torch.distributions.Normal(out.mu, (0.5 * out.logvar).exp())
    p = torch.distributions.Normal(torch.zeros_like(out.mu), torch.ones_like(out.mu))
    kl = torch.distributions.kl_divergence(q, p).sum(-1).mean()
    assert torch.allclose(terms.rec, rec, rtol=1e-12) and torch.allclose(
        terms.kl, kl, rtol=1e-12
    )
    assert torch.allclose(terms.loss, rec + 0.7 * kl, rtol=1e-12)
    gauss = model.loss(x, out, likelihood="gaussian")
    assert torch.allclose(
        gauss.rec, 0.5 * (x - out.logits).pow(2).sum(-1).mean(), rtol=1e-12
    )
    # z is the reparameterised sample: same generator seed -> same z; gradients reach
    # every parameter
    out2 = model(x, generator=torch.Generator().manual_seed(1))
    assert torch.equal(out.z, out2.z)
    model.loss(x).loss.backward()
    assert all(
        p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters()
    )


def test_gaussian_vae_custom_decoder_receives_x():
    from kexue_lib.vae import GaussianVAE

    class Recorder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(2, 4)
            self.seen = None

        def forward(self, z, x):
            self.seen = x
            return self.lin(z) + x

    dec = Recorder()
    model = GaussianVAE(4, 2, decoder=dec)
    x = torch.rand(3, 4)
    out = model(x)
    assert dec.seen is x and out.logits.shape == (3, 4)
    assert model.decode(out.z, x).shape == (3, 4)


def test_gaussian_vae_learns_to_reconstruct():
    from kexue_lib.vae import GaussianVAE

    torch.manual_seed(0)
    patterns = (torch.rand(4, 12) > 0.5).float()
    x = patterns[
        torch.arange(64) % 4
    ]  # four distinct images: a 2-nat code suffices to reconstruct them
    model = GaussianVAE(12, 4, enc_hidden=(32,), dec_hidden=(32,))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    first = model.loss(x).loss.item()
    for _ in range(150):
        loss = model.loss(x).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.5 * first, (first, loss.item())


def test_gaussian_vae_errors():
    from kexue_lib.vae import GaussianVAE

    model = GaussianVAE(6, 2)
    with pytest.raises(ValueError, match="x must"):
        model(torch.zeros(3, 5))
    with pytest.raises(ValueError, match="x must"):
        model(torch.zeros(6))
    with pytest.raises(ValueError, match="z must"):
        model.decode(torch.zeros(3, 3))
    with pytest.raises(ValueError, match="likelihood"):
        model.loss(torch.zeros(2, 6), likelihood="poisson")
    with pytest.raises(ValueError, match="beta"):
        model.loss(torch.zeros(2, 6), beta=-1.0)
    with pytest.raises(ValueError, match="x_dim"):
        GaussianVAE(0, 2)
    with pytest.raises(TypeError, match="z_dim"):
        GaussianVAE(4, 2.5)
    with pytest.raises(ValueError, match="enc_hidden"):
        GaussianVAE(4, 2, enc_hidden=(8, -1))
    with pytest.raises(TypeError, match="decoder"):
        GaussianVAE(4, 2, decoder=lambda z, x: z)
