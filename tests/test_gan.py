"""kexue_lib.gan: the shared toy networks, the WGAN-GP penalty, the GAN losses, the
O-GAN pieces (standardize, pearson_rho, ogan_losses) and the single-loss GAN."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from kexue_lib.gan import (
    KINDS,
    MLPEnsemble,
    gan_losses,
    gradient_penalty,
    mlp,
    ogan_losses,
    ogan_reconstruct,
    pearson_rho,
    single_loss,
    standardize,
)


def test_mlp_shapes_and_bad_arguments():
    net = mlp(2, 3, hidden=8, depth=3)
    assert net(torch.zeros(5, 2)).shape == (5, 3)
    assert sum(isinstance(m, torch.nn.Linear) for m in net) == 4
    with pytest.raises(ValueError, match="depth"):
        mlp(2, 3, depth=0)
    with pytest.raises(TypeError, match="hidden"):
        mlp(2, 3, hidden=8.0)


def test_mlp_ensemble_equals_independent_mlps():
    torch.manual_seed(3)
    ens = MLPEnsemble(3, 4, 2, hidden=8, depth=2)
    torch.manual_seed(3)
    nets = [mlp(4, 2, hidden=8, depth=2) for _ in range(3)]
    x = torch.randn(3 * 5, 4)
    expected = torch.cat([net(x[5 * i : 5 * i + 5]) for i, net in enumerate(nets)])
    assert torch.allclose(ens(x), expected, atol=1e-6)
    state = torch.random.get_rng_state()
    for i, net in enumerate(nets):
        member = ens.member(i)
        assert torch.allclose(member(x[:5]), net(x[:5]), atol=1e-6)
    assert torch.equal(state, torch.random.get_rng_state()), "member() used the RNG"


def test_mlp_ensemble_copies_get_their_own_gradients():
    torch.manual_seed(0)
    ens = MLPEnsemble(2, 3, 1, hidden=4).double()
    x = torch.randn(2 * 6, 3, dtype=torch.float64)
    ens(x)[:6].sum().backward()  # a loss of copy 0 only
    for p in ens.parameters():
        assert p.grad[0].abs().sum() > 0 and p.grad[1].abs().sum() == 0


def test_mlp_ensemble_rejects_bad_input():
    with pytest.raises(ValueError, match="k must be an int >= 1"):
        MLPEnsemble(0, 2, 1)
    with pytest.raises(TypeError, match="k must be an int"):
        MLPEnsemble(2.0, 2, 1)
    ens = MLPEnsemble(2, 3, 1)
    with pytest.raises(ValueError, match="shape"):
        ens(torch.zeros(5, 3))  # 5 rows cannot be split between 2 copies
    with pytest.raises(ValueError, match="shape"):
        ens(torch.zeros(4, 2))
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        ens([[0.0, 0.0, 0.0]])
    with pytest.raises(ValueError, match="i must be"):
        ens.member(2)


def test_gradient_penalty_of_a_linear_critic_is_exact():
    """A linear critic w·x has gradient w everywhere: the penalty is (‖w‖ − 1)² for any
    samples."""
    lin = torch.nn.Linear(3, 1, bias=True, dtype=torch.float64)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[3.0, 4.0, 0.0]]))
    g = torch.Generator().manual_seed(0)
    real, fake = (
        torch.randn(16, 3, dtype=torch.float64),
        torch.randn(16, 3, dtype=torch.float64),
    )
    gp = gradient_penalty(lin, real, fake, generator=g)
    assert torch.allclose(gp, torch.tensor(16.0, dtype=torch.float64))  # (5 - 1)^2
    gp.backward()
    # d/dw (‖w‖ − 1)² = 2(‖w‖ − 1) w/‖w‖ = 2·4·(3, 4, 0)/5
    assert torch.allclose(
        lin.weight.grad, torch.tensor([[4.8, 6.4, 0.0]], dtype=torch.float64)
    )


def test_gradient_penalty_samples_on_the_segment_and_is_seeded():
    """For the critic ‖x‖²/2 the gradient at x̂ is x̂ itself, so the penalty is computed
    at the interpolates."""
    critic = lambda x: 0.5 * (x**2).sum(1)  # noqa: E731
    real = torch.ones(64, 2, dtype=torch.float64)
    fake = torch.zeros(64, 2, dtype=torch.float64)
    a = gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(1))
    b = gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(1))
    eps = torch.rand(
        64, 1, generator=torch.Generator().manual_seed(1), dtype=torch.float64
    )
    assert a == b
    assert torch.allclose(a, ((eps[:, 0] * 2**0.5 - 1) ** 2).mean())


def test_gradient_penalty_rejects_bad_input():
    lin = torch.nn.Linear(2, 1)
    with pytest.raises(ValueError, match="fake must have the shape of real"):
        gradient_penalty(lin, torch.zeros(4, 2), torch.zeros(3, 2))
    with pytest.raises(TypeError, match="real must be a torch.Tensor"):
        gradient_penalty(lin, [[0.0, 0.0]], torch.zeros(1, 2))
    with pytest.raises(ValueError, match="target"):
        gradient_penalty(lin, torch.zeros(4, 2), torch.zeros(4, 2), target=0.0)


# --------------------------------------------------------------------------------
# O-GAN pieces: standardize, pearson_rho, ogan_losses, ogan_reconstruct.

F64 = torch.float64


def _rows(min_n=2, max_n=12, max_rows=4):
    """Arrays (rows, n) of moderate floats whose rows are far from constant."""
    return st.tuples(st.integers(1, max_rows), st.integers(min_n, max_n)).flatmap(
        lambda s: arrays(
            np.float64, s, elements=st.floats(-10, 10, allow_subnormal=False)
        )
    )


def test_standardize_known_values_and_numpy():
    z = torch.tensor([[1.0, 2.0, 3.0, 4.0], [2.0, -2.0, 0.0, 4.0]], dtype=F64)
    avg, std, n = standardize(z)
    assert avg.shape == std.shape == (2,) and n.shape == (2, 4)
    assert torch.allclose(avg, torch.tensor([2.5, 1.0], dtype=F64))
    # population std (ddof = 0), as in the post: sqrt(1.25) for 1, 2, 3, 4
    assert torch.allclose(std, torch.tensor([1.25**0.5, 5.0**0.5], dtype=F64))
    np.testing.assert_allclose(std.numpy(), np.std(z.numpy(), axis=-1, ddof=0))
    np.testing.assert_allclose(
        n.numpy(),
        (z.numpy() - z.numpy().mean(-1, keepdims=True))
        / z.numpy().std(-1, keepdims=True),
        rtol=1e-14,
    )
    # batch axes are kept; z = avg + std · N(z)
    w = torch.randn(3, 2, 5, dtype=F64)
    a, s, nw = standardize(w)
    assert a.shape == s.shape == (3, 2) and nw.shape == (3, 2, 5)
    assert torch.allclose(a[..., None] + s[..., None] * nw, w, atol=1e-14)


@given(_rows())
def test_standardize_gives_mean_zero_and_std_one(z):
    assume(np.all(z.std(-1) > 1e-3))
    _, _, n = standardize(torch.from_numpy(z))
    n = n.numpy()
    np.testing.assert_allclose(n.mean(-1), 0.0, atol=1e-12)
    np.testing.assert_allclose(n.std(-1), 1.0, rtol=1e-12)
    np.testing.assert_allclose((n**2).sum(-1), z.shape[-1], rtol=1e-12)


def test_standardize_is_differentiable_and_keeps_dtype():
    z = torch.randn(4, 6, requires_grad=True)
    avg, std, n = standardize(z)
    assert n.dtype == torch.float32
    (avg.sum() + std.sum() + n[:, 0].sum()).backward()
    assert torch.isfinite(z.grad).all()


def test_standardize_rejects_bad_input():
    with pytest.raises(TypeError, match="z must be a torch.Tensor"):
        standardize([[1.0, 2.0]])
    with pytest.raises(TypeError, match="floating-point"):
        standardize(torch.tensor([[1, 2, 3]]))
    with pytest.raises(ValueError, match="at least 2 entries"):
        standardize(torch.zeros(4, 1))
    with pytest.raises(ValueError, match="non-zero standard deviation"):
        standardize(torch.tensor([[1.0, 2.0, 3.0], [5.0, 5.0, 5.0]]))
    with pytest.raises(ValueError, match="finite"):
        standardize(torch.tensor([[1.0, float("nan"), 3.0]]))
    with pytest.raises(ValueError, match="non-empty"):
        standardize(torch.zeros(0, 3))


def test_pearson_rho_matches_numpy_corrcoef():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(20, 7, generator=g, dtype=F64)
    zh = 0.5 * z + torch.randn(20, 7, generator=g, dtype=F64)
    rho = pearson_rho(z, zh)
    ref = [np.corrcoef(a, b)[0, 1] for a, b in zip(z.numpy(), zh.numpy())]
    np.testing.assert_allclose(rho.numpy(), ref, rtol=1e-13, atol=1e-15)
    assert torch.allclose(pearson_rho(z, z), torch.ones(20, dtype=F64))
    assert torch.allclose(pearson_rho(z, -z), -torch.ones(20, dtype=F64))
    # batch axes: (2, 3, n) -> (2, 3)
    assert pearson_rho(torch.randn(2, 3, 5), torch.randn(2, 3, 5)).shape == (2, 3)


@given(
    _rows(),
    st.integers(0, 2**31 - 1),
    st.floats(0.1, 10.0),
    st.floats(-10.0, 10.0),
)
def test_pearson_rho_is_invariant_to_positive_affine_maps(z, seed, a, b):
    assume(np.all(z.std(-1) > 1e-2))
    rng = np.random.default_rng(seed)
    zh = rng.normal(size=z.shape) + 0.3 * z
    assume(np.all(zh.std(-1) > 1e-2))
    zt, zht = torch.from_numpy(z), torch.from_numpy(zh)
    rho = pearson_rho(zt, zht).numpy()
    # either argument may be mapped; a negative scale flips the sign
    np.testing.assert_allclose(pearson_rho(zt, a * zht + b).numpy(), rho, atol=1e-10)
    np.testing.assert_allclose(pearson_rho(a * zt + b, zht).numpy(), rho, atol=1e-10)
    np.testing.assert_allclose(pearson_rho(zt, -a * zht + b).numpy(), -rho, atol=1e-10)
    # |rho| <= 1 and the distance identity ‖N(z) − N(ẑ)‖² = 2n(1 − ρ)
    assert np.all(np.abs(rho) <= 1 + 1e-12)
    n = z.shape[-1]
    dist = (standardize(zt)[2] - standardize(zht)[2]).pow(2).sum(-1).numpy()
    np.testing.assert_allclose(dist, 2 * n * (1 - rho), atol=1e-9)
    ref = [np.corrcoef(u, v)[0, 1] for u, v in zip(z, zh)]
    np.testing.assert_allclose(rho, ref, atol=1e-10)


def test_pearson_rho_rejects_bad_input():
    z = torch.randn(4, 5)
    with pytest.raises(ValueError, match="zhat must have the shape of z"):
        pearson_rho(z, torch.randn(4, 6))
    with pytest.raises(TypeError, match="zhat must be a torch.Tensor"):
        pearson_rho(z, z.numpy())
    bad = z.clone()
    bad[2] = 3.0
    with pytest.raises(
        ValueError, match="zhat must have rows with a non-zero standard deviation"
    ):
        pearson_rho(z, bad)
    with pytest.raises(
        ValueError, match="z must have rows with a non-zero standard deviation"
    ):
        pearson_rho(bad, z)
    with pytest.raises(ValueError, match="at least 2 entries"):
        pearson_rho(torch.randn(4, 1), torch.randn(4, 1))


def test_gan_losses_formulas():
    r = torch.tensor([2.0, -0.5, 0.3], dtype=F64)
    f = torch.tensor([[0.7], [-1.5]], dtype=F64)  # (batch, 1) is accepted
    sp = torch.nn.functional.softplus
    fl = f.reshape(-1)
    d, g = gan_losses(r, f, "logistic")
    assert torch.allclose(d, sp(-r).mean() + sp(fl).mean())
    assert torch.allclose(g, sp(-fl).mean())
    d, g = gan_losses(r, f, "hinge")
    assert torch.allclose(d, torch.relu(1 - r).mean() + torch.relu(1 + fl).mean())
    assert torch.allclose(
        d, torch.tensor((0 + 1.5 + 0.7) / 3 + (1.7 + 0) / 2, dtype=F64)
    )
    assert torch.allclose(g, -fl.mean())
    d, g = gan_losses(r, f, "wgan")
    assert torch.allclose(d, fl.mean() - r.mean())
    assert torch.allclose(g, -fl.mean())
    # the logistic discriminator loss is smallest when real scores high, fake low
    assert gan_losses(r + 5, f - 5)[0] < gan_losses(r - 5, f + 5)[0]


def test_gan_losses_reject_bad_input():
    r = torch.zeros(4)
    with pytest.raises(ValueError, match="kind"):
        gan_losses(r, r, "minimax")
    with pytest.raises(ValueError, match="d_fake must hold one score per sample"):
        gan_losses(r, torch.zeros(4, 3))
    with pytest.raises(TypeError, match="d_real"):
        gan_losses([0.0], r)
    with pytest.raises(ValueError, match="d_real must be finite"):
        gan_losses(torch.tensor([float("inf")]), r)


def test_ogan_losses_formula_and_lambda_zero():
    g = torch.Generator().manual_seed(1)
    er = torch.randn(5, 6, generator=g, dtype=F64)
    ef = torch.randn(4, 6, generator=g, dtype=F64)
    z = torch.randn(4, 6, generator=g, dtype=F64)
    sp = torch.nn.functional.softplus
    lam = 0.7
    out = ogan_losses(er, ef, z, lam=lam)
    rho = np.mean([np.corrcoef(a, b)[0, 1] for a, b in zip(z.numpy(), ef.numpy())])
    assert np.isclose(out.rho.item(), rho, rtol=1e-13)
    enc = sp(-er.mean(1)).mean() + sp(ef.mean(1)).mean() - lam * rho
    gen = sp(-ef.mean(1)).mean() - lam * rho
    assert np.isclose(out.encoder.item(), enc.item(), rtol=1e-13)
    assert np.isclose(out.generator.item(), gen.item(), rtol=1e-13)
    for kind in KINDS:
        zero = ogan_losses(er, ef, z, lam=0, kind=kind)
        plain = gan_losses(er.mean(1), ef.mean(1), kind)
        assert torch.allclose(zero.encoder, plain.discriminator)
        assert torch.allclose(zero.generator, plain.generator)


def test_ogan_rho_gradient_leaves_mean_and_std_alone():
    """∂ρ/∂ẑ is orthogonal to the directions that move avg(ẑ) and std(ẑ)."""
    g = torch.Generator().manual_seed(2)
    z = torch.randn(3, 8, generator=g, dtype=F64)
    ef = torch.randn(3, 8, generator=g, dtype=F64, requires_grad=True)
    er = torch.randn(3, 8, generator=g, dtype=F64)
    out = ogan_losses(er, ef, z, lam=1.0, kind="wgan")
    (grad_rho,) = torch.autograd.grad(out.rho, ef)
    n = standardize(ef.detach())[2]
    assert torch.allclose(grad_rho.sum(1), torch.zeros(3, dtype=F64), atol=1e-14)
    assert torch.allclose((grad_rho * n).sum(1), torch.zeros(3, dtype=F64), atol=1e-14)


def test_ogan_losses_reject_bad_input():
    z = torch.randn(4, 6)
    with pytest.raises(ValueError, match="lam"):
        ogan_losses(z, z, z, lam=-1.0)
    with pytest.raises(TypeError, match="lam"):
        ogan_losses(z, z, z, lam="0.5")
    with pytest.raises(ValueError, match="e_fake"):
        ogan_losses(z, torch.randn(3, 6), z, lam=1.0)
    with pytest.raises(ValueError, match="e_real must have n_z = 6"):
        ogan_losses(torch.randn(4, 5), z, z, lam=1.0)
    with pytest.raises(ValueError, match="e_real must have shape"):
        ogan_losses(torch.randn(4), z, z, lam=1.0)
    bad = z.clone()
    bad[0] = 1.0
    with pytest.raises(ValueError, match="e_fake must have rows with a non-zero"):
        ogan_losses(z, bad, z, lam=1.0)
    with pytest.raises(ValueError, match="kind"):
        ogan_losses(z, z, z, lam=1.0, kind="lsgan")


def test_ogan_reconstruct_feeds_standardised_codes():
    lin = torch.nn.Linear(5, 4, dtype=F64)
    x = torch.randn(7, 5, dtype=F64)
    code = ogan_reconstruct(lin, lambda c: c, x)
    assert torch.allclose(code.mean(1), torch.zeros(7, dtype=F64), atol=1e-14)
    assert torch.allclose(code.std(1, unbiased=False), torch.ones(7, dtype=F64))
    assert torch.allclose(code, standardize(lin(x))[2])
    with pytest.raises(TypeError, match="generator must be callable"):
        ogan_reconstruct(lin, None, x)


# --------------------------------------------------------------------------------
# The single-loss GAN.


def _players(seed=0):
    torch.manual_seed(seed)
    D = mlp(2, 1, hidden=8).double()
    G = mlp(3, 2, hidden=8).double()
    x = torch.randn(16, 2, dtype=F64)
    z = torch.randn(12, 3, dtype=F64)
    return D, G, x, z


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("lam", [1.0, 0.3])
def test_single_loss_gradients_are_the_simultaneous_update(kind, lam):
    D, G, x, z = _players()
    pd, pg = list(D.parameters()), list(G.parameters())
    loss = single_loss(D, G, x, z, lam=lam, kind=kind)
    grads = torch.autograd.grad(loss, pd + pg)
    # the two separate losses, each differentiated w.r.t. its own player only
    fake = G(z)
    d_loss = gan_losses(D(x), D(fake.detach()), kind).discriminator
    g_loss = gan_losses(D(x), D(fake), kind).generator
    gd = torch.autograd.grad(d_loss, pd)
    gg = torch.autograd.grad(g_loss, pg)
    for a, b in zip(grads[: len(pd)], gd):
        assert torch.allclose(a, b, rtol=1e-12, atol=1e-14)
    for a, b in zip(grads[len(pd) :], gg):
        assert torch.allclose(a, lam * b, rtol=1e-12, atol=1e-14)
    # the value is the discriminator's loss (the generator part is identically 0)
    assert torch.allclose(loss, d_loss)


def test_single_loss_rejects_bad_input():
    D, G, x, z = _players()
    with pytest.raises(TypeError, match="discriminator must be callable"):
        single_loss(None, G, x, z)
    with pytest.raises(ValueError, match="lam"):
        single_loss(D, G, x, z, lam=float("nan"))
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        single_loss(D, G, x.numpy(), z)
    with pytest.raises(ValueError, match="kind"):
        single_loss(D, G, x, z, kind="ls")
    with pytest.raises(ValueError, match="d_real must hold one score"):
        single_loss(lambda t: t, G, x, z)
