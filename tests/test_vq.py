"""Tests for kexue_lib.vq (chapter vae/vq-vae)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from kexue_lib.vq import VectorQuantizer, VQOutput, code_perplexity, straight_through

# --- straight_through ----------------------------------------------------------------


def test_straight_through_value_and_identity_jacobian():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(3, 4, generator=g, dtype=torch.float64, requires_grad=True)
    zq = torch.randn(3, 4, generator=g, dtype=torch.float64, requires_grad=True)
    out = straight_through(z, zq)
    assert torch.allclose(out, zq, atol=1e-15)
    jac = torch.autograd.functional.jacobian(lambda a: straight_through(a, zq), z)
    assert torch.equal(jac.reshape(12, 12), torch.eye(12, dtype=torch.float64))
    # no gradient reaches zq
    out.sum().backward()
    assert zq.grad is None or torch.all(zq.grad == 0)
    assert torch.equal(z.grad, torch.ones_like(z))


def test_straight_through_rejects_mismatch():
    with pytest.raises(ValueError, match="zq must have the shape of z"):
        straight_through(torch.zeros(2, 3), torch.zeros(3, 2))
    with pytest.raises(TypeError, match="z must be a torch.Tensor"):
        straight_through(np.zeros(2), torch.zeros(2))


# --- VectorQuantizer: lookup --------------------------------------------------------


@settings(deadline=None, max_examples=25)
@given(st.integers(1, 9), st.integers(1, 5), st.integers(0, 2**16))
def test_nearest_is_brute_force_argmin(k, d, seed):
    torch.manual_seed(seed)
    vq = VectorQuantizer(k, d)
    with torch.no_grad():
        vq.codebook.normal_()
    z = torch.randn(7, d)
    out = vq(z)
    brute = np.array(
        [
            [np.sum((zi - e) ** 2) for e in vq.codebook.detach().numpy()]
            for zi in z.numpy()
        ]
    )
    idx = out.indices.numpy()
    # the chosen code attains the minimum distance (ties allowed)
    assert np.allclose(brute[np.arange(7), idx], brute.min(1), rtol=1e-5, atol=1e-5)
    assert torch.allclose(out.quantized, vq.codebook[out.indices], atol=1e-6)
    assert torch.equal(out.indices, torch.cdist(z, vq.codebook.detach()).argmin(1))


def test_forward_shapes_over_leading_dims():
    vq = VectorQuantizer(5, 3)
    out = vq(torch.randn(2, 4, 6, 3))
    assert isinstance(out, VQOutput)
    assert out.quantized.shape == (2, 4, 6, 3)
    assert out.indices.shape == (2, 4, 6) and out.indices.dtype == torch.int64
    assert out.codebook_loss.shape == () and out.commitment_loss.shape == ()


def test_float64_and_ties_go_to_lower_index():
    vq = VectorQuantizer(3, 1).double()
    with torch.no_grad():
        vq.codebook.copy_(torch.tensor([[-1.0], [1.0], [1.0]], dtype=torch.float64))
    out = vq(torch.tensor([[0.9], [-0.2]], dtype=torch.float64))
    assert out.indices.tolist() == [1, 0]
    assert out.quantized.dtype == torch.float64


# --- VectorQuantizer: loss terms and gradients --------------------------------------


def _sonnet_style_loss(z, e_q, commitment_cost):
    """The VQ-VAE loss as DeepMind's Sonnet VectorQuantizer defines it: q_latent_loss =
    mean((quantized - sg(inputs))^2), e_latent_loss = mean((sg(quantized) - inputs)^2),
    loss = q_latent_loss + commitment_cost * e_latent_loss; written out independently
    here."""
    q_latent = ((e_q - z.detach()) ** 2).mean()
    e_latent = ((e_q.detach() - z) ** 2).mean()
    return q_latent + commitment_cost * e_latent


def test_loss_matches_sonnet_definition_values_and_gradients():
    torch.manual_seed(1)
    vq = VectorQuantizer(6, 4).double()  # beta = 1, gamma = 0.25: the paper's setting
    z = torch.randn(10, 4, dtype=torch.float64, requires_grad=True)
    out = vq(z)
    loss = out.loss
    ga = torch.autograd.grad(loss, [z, vq.codebook])

    z2 = z.detach().clone().requires_grad_(True)
    cb2 = vq.codebook.detach().clone().requires_grad_(True)
    e_q = cb2[out.indices]
    ref = _sonnet_style_loss(z2, e_q, 0.25)
    gb = torch.autograd.grad(ref, [z2, cb2])
    assert torch.allclose(loss, ref, rtol=1e-12)
    assert torch.allclose(ga[0], gb[0], rtol=1e-12, atol=1e-15)
    assert torch.allclose(ga[1], gb[1], rtol=1e-12, atol=1e-15)


def test_codebook_gradient_by_hand():
    # d/de_k of beta * mean ||sg z - e_idx||^2 = -2 beta / (n D) * sum_{i in k} (z_i -
    # e_k)
    torch.manual_seed(2)
    n, k, d, beta, gamma = 12, 4, 3, 0.7, 0.1
    vq = VectorQuantizer(k, d, beta=beta, gamma=gamma).double()
    with torch.no_grad():
        vq.codebook.normal_()
    z = torch.randn(n, d, dtype=torch.float64, requires_grad=True)
    out = vq(z)
    (g_cb,) = torch.autograd.grad(out.codebook_loss, vq.codebook)
    expected = torch.zeros(k, d, dtype=torch.float64)
    for i in range(n):
        j = int(out.indices[i])
        expected[j] += -2.0 * beta / (n * d) * (z[i].detach() - vq.codebook[j].detach())
    assert torch.allclose(g_cb, expected, rtol=1e-12, atol=1e-15)
    # commitment gradient w.r.t. z: 2 gamma / (n D) (z - e)
    (g_z,) = torch.autograd.grad(out.commitment_loss, z)
    e = vq.codebook.detach()[out.indices]
    assert torch.allclose(
        g_z, 2 * gamma / (n * d) * (z.detach() - e), rtol=1e-12, atol=1e-15
    )
    # the codebook term does not reach the encoder, the commitment term does not reach
    # the codebook
    assert out.codebook_loss.grad_fn is not None
    gz_cb = torch.autograd.grad(out.codebook_loss, z, allow_unused=True)[0]
    assert gz_cb is None or torch.all(gz_cb == 0)
    gcb_c = torch.autograd.grad(out.commitment_loss, vq.codebook, allow_unused=True)[0]
    assert gcb_c is None or torch.all(gcb_c == 0)


def test_decoder_gradient_passes_straight_through_to_encoder():
    torch.manual_seed(3)
    vq = VectorQuantizer(5, 2, beta=0.0, gamma=0.0).double()
    z = torch.randn(4, 2, dtype=torch.float64, requires_grad=True)
    w = torch.randn(2, dtype=torch.float64)
    out = vq(z)
    (out.quantized @ w).sum().backward()
    assert torch.allclose(z.grad, w.expand(4, 2))


def test_stationary_codebook_is_mean_of_assigned_vectors():
    # C5: with the assignment fixed, beta * sum_i ||z_i - e_k||^2 is minimised by the
    # mean; gradient is 0 there
    torch.manual_seed(4)
    vq = VectorQuantizer(3, 2).double()
    with torch.no_grad():
        vq.codebook.copy_(
            torch.tensor([[-3.0, 0.0], [0.0, 3.0], [3.0, 0.0]], dtype=torch.float64)
        )
    z = vq.codebook.detach()[torch.tensor([0, 0, 1, 1, 1, 2] * 4)] + 0.3 * torch.randn(
        24, 2, dtype=torch.float64
    )
    idx = vq(z).indices
    means = torch.stack([z[idx == j].mean(0) for j in range(3)])
    with torch.no_grad():
        vq.codebook.copy_(means)
    assert torch.equal(vq(z).indices, idx)  # assignment unchanged
    (g,) = torch.autograd.grad(vq(z).codebook_loss, vq.codebook)
    assert g.abs().max() < 1e-14


# --- EMA ----------------------------------------------------------------------------


def test_ema_converges_to_kmeans_centroids_on_fixed_assignment():
    torch.manual_seed(5)
    k, d = 4, 3
    vq = VectorQuantizer(k, d, ema=True, decay=0.9, eps=1e-5).double()
    z = torch.randn(40, d, dtype=torch.float64)
    idx = torch.arange(40) % k
    for _ in range(400):
        vq.ema_update(z, idx)
    means = torch.stack([z[idx == j].mean(0) for j in range(k)])
    # Laplace smoothing biases by O(eps): counts are 10 each, so the relative error is
    # ~eps * K / n
    assert torch.allclose(vq.codebook, means, rtol=1e-5, atol=1e-5)
    assert torch.allclose(
        vq.ema_count, torch.full((k,), 10.0, dtype=torch.float64), rtol=1e-12
    )


def test_ema_mode_updates_only_in_training_and_has_no_codebook_gradient():
    torch.manual_seed(6)
    vq = VectorQuantizer(4, 2, ema=True)
    assert "codebook" not in dict(vq.named_parameters())
    z = torch.randn(16, 2) * 3
    before = vq.codebook.clone()
    vq.eval()
    out = vq(z)
    assert torch.equal(vq.codebook, before)
    assert float(out.codebook_loss) == 0.0
    vq.train()
    vq(z)
    assert not torch.equal(vq.codebook, before)


def test_ema_update_requires_ema_and_shapes():
    with pytest.raises(ValueError, match="ema"):
        VectorQuantizer(3, 2).ema_update(
            torch.zeros(4, 2), torch.zeros(4, dtype=torch.long)
        )
    with pytest.raises(ValueError, match="indices"):
        VectorQuantizer(3, 2, ema=True).ema_update(
            torch.zeros(4, 2), torch.zeros(5, dtype=torch.long)
        )


# --- validation ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(num_codes=0, dim=2), "num_codes"),
        (dict(num_codes=3, dim=0), "dim"),
        (dict(num_codes=3, dim=2, beta=-1.0), "beta"),
        (dict(num_codes=3, dim=2, gamma=-0.1), "gamma"),
        (dict(num_codes=3, dim=2, gamma=float("nan")), "gamma"),
        (dict(num_codes=3, dim=2, decay=1.0), "decay"),
        (dict(num_codes=3, dim=2, eps=0.0), "eps"),
    ],
)
def test_constructor_validation(kwargs, name):
    with pytest.raises(ValueError, match=name):
        VectorQuantizer(**kwargs)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(num_codes=2.5, dim=2), "num_codes"),
        (dict(num_codes=3, dim="2"), "dim"),
        (dict(num_codes=3, dim=2, beta="1"), "beta"),
        (dict(num_codes=3, dim=2, ema=1), "ema"),
    ],
)
def test_constructor_type_validation(kwargs, name):
    with pytest.raises(TypeError, match=name):
        VectorQuantizer(**kwargs)


def test_dim_mismatch_names_z():
    with pytest.raises(ValueError, match="z must have shape"):
        VectorQuantizer(3, 2)(torch.zeros(4, 3))


# --- perplexity ---------------------------------------------------------------------


def test_perplexity_extremes_and_against_scipy_entropy():
    from scipy.stats import entropy

    assert float(
        code_perplexity(torch.zeros(10, dtype=torch.long), 8)
    ) == pytest.approx(1.0)
    assert float(code_perplexity(torch.arange(8).repeat(3), 8)) == pytest.approx(8.0)
    idx = torch.tensor([0, 0, 0, 1, 2, 2, 5])
    counts = np.bincount(idx.numpy(), minlength=6)
    assert float(code_perplexity(idx, 6)) == pytest.approx(
        math.exp(entropy(counts)), rel=1e-12
    )


@settings(deadline=None, max_examples=30)
@given(st.lists(st.integers(0, 6), min_size=1, max_size=40))
def test_perplexity_between_one_and_used_codes(values):
    idx = torch.tensor(values)
    p = float(code_perplexity(idx, 7))
    assert 1.0 - 1e-12 <= p <= len(set(values)) + 1e-9


def test_perplexity_validation():
    with pytest.raises(ValueError, match="num_codes"):
        code_perplexity(torch.zeros(3, dtype=torch.long), 0)
    with pytest.raises(ValueError, match="indices"):
        code_perplexity(torch.tensor([0, 3]), 3)
    with pytest.raises(TypeError, match="indices"):
        code_perplexity(torch.zeros(3), 3)
    with pytest.raises(ValueError, match="indices"):
        code_perplexity(torch.zeros(0, dtype=torch.long), 3)


def test_reset_codebook_sets_codes_and_ema_statistics():
    codes = torch.arange(6.0).reshape(3, 2)
    vq = VectorQuantizer(3, 2, ema=True)
    vq.ema_update(torch.randn(5, 2), torch.zeros(5, dtype=torch.long))
    vq.reset_codebook(codes)
    assert torch.equal(vq.codebook, codes) and torch.equal(vq.ema_sum, codes)
    assert torch.equal(vq.ema_count, torch.ones(3))
    plain = VectorQuantizer(3, 2)
    plain.reset_codebook(codes)
    assert torch.equal(plain.codebook.detach(), codes) and plain.codebook.requires_grad
    with pytest.raises(ValueError, match="codes"):
        plain.reset_codebook(torch.zeros(2, 2))


def test_ema_step_matches_sonnet_style_formula_and_quantises_with_old_codes():
    # One EMA step written out independently (Sonnet's VectorQuantizerEMA without its
    # zero-debiasing, from given statistics): N <- lam N + (1-lam) n, m <- lam m +
    # (1-lam) sum z, e = m / smoothed(N).
    torch.manual_seed(7)
    k, d, lam, eps = 5, 3, 0.8, 1e-3
    vq = VectorQuantizer(k, d, ema=True, decay=lam, eps=eps).double()
    codes = torch.randn(k, d, dtype=torch.float64)
    vq.reset_codebook(codes)
    z = torch.randn(11, d, dtype=torch.float64)
    idx_expected = torch.cdist(z, codes).argmin(1)
    out = vq(z)  # training mode: one EMA step
    assert torch.equal(out.indices, idx_expected)
    # quantised with the codes from before the step
    assert torch.allclose(out.quantized, codes[idx_expected], rtol=0, atol=1e-15)
    n_k = np.bincount(idx_expected.numpy(), minlength=k).astype(float)
    s_k = np.zeros((k, d))
    for i, j in enumerate(idx_expected.numpy()):
        s_k[j] += z[i].numpy()
    count = lam * 1.0 + (1 - lam) * n_k
    summ = lam * codes.numpy() + (1 - lam) * s_k
    n = count.sum()
    smoothed = (count + eps) / (n + k * eps) * n
    assert np.allclose(vq.ema_count.numpy(), count, rtol=1e-14)
    assert np.allclose(
        vq.codebook.numpy(), summ / smoothed[:, None], rtol=1e-13, atol=1e-15
    )
    # commitment loss uses the pre-step codes too
    expected_commit = 0.25 * float(((z - codes[idx_expected]) ** 2).mean())
    assert float(out.commitment_loss) == pytest.approx(expected_commit, rel=1e-13)


def test_input_validation_nan_integer_and_index_range():
    vq = VectorQuantizer(3, 2, ema=True)
    with pytest.raises(ValueError, match="z must be finite"):
        vq(torch.tensor([[0.0, float("nan")]]))
    with pytest.raises(TypeError, match="z must be a floating-point"):
        vq(torch.zeros(4, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="indices must lie"):
        vq.ema_update(torch.zeros(2, 2), torch.tensor([0, 3]))
    with pytest.raises(TypeError, match="indices must be an integer"):
        vq.ema_update(torch.zeros(2, 2), torch.zeros(2))
