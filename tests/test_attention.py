"""Tests for kexue_lib.attention (chapters attention/linear-attention, performer-linear,
nystromformer).

Every linear form is compared with an independently written quadratic form (explicit n×n
similarity matrix, explicit mask, explicit normalisation), never with the library's own
helpers.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from kexue_lib.attention import (
    FEATURES,
    gaussian_orthogonal_projection,
    iterative_pinv,
    linear_attention,
    nystrom_attention,
    performer_features,
    segment_means,
    softmax_attention,
)

DT = torch.float64


def _qkv(shape=(2, 3, 29, 8), dv=5, seed=0, dtype=DT):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(*shape, generator=g, dtype=dtype)
    k = torch.randn(*shape, generator=g, dtype=dtype)
    v = torch.randn(*shape[:-1], dv, generator=g, dtype=dtype)
    return q, k, v


def _sim_matrix(q, k, feature, causal):
    """The n×n (unnormalised) similarity matrix and whether rows are normalised, written
    out directly.
    """
    if feature == "elu1":
        s = torch.einsum(
            "...il,...jl->...ij",
            torch.where(q > 0, q + 1, torch.exp(q)),
            torch.where(k > 0, k + 1, torch.exp(k)),
        )
    elif feature == "relu":
        s = torch.einsum("...il,...jl->...ij", q.clamp(min=0), k.clamp(min=0))
    elif feature == "exp":
        s = torch.einsum("...il,...jl->...ij", torch.exp(q), torch.exp(k))
    elif feature == "cos1":
        cos = torch.einsum("...il,...jl->...ij", q, k) / (
            q.norm(dim=-1)[..., :, None] * k.norm(dim=-1)[..., None, :]
        )
        s = 1 + cos
    elif feature == "softmax2":
        # weight of key j for query i: Σ_l softmax(q_i)_l · exp(k_jl) / Σ_{j' visible}
        # exp(k_j'l)
        sq = torch.exp(q) / torch.exp(q).sum(-1, keepdim=True)
        ek = torch.exp(k)
        n = k.shape[-2]
        if causal:
            vis = torch.ones(n, n, dtype=torch.bool).tril()
        else:
            vis = torch.ones(
                q.shape[-2], n, dtype=torch.bool
            )  # cross-attention: n_q × n_k
        z = torch.einsum(
            "ij,...jl->...il", vis.to(ek.dtype), ek
        )  # z_il = Σ_{j visible to i} exp(k_jl)
        s = torch.einsum("...il,...jl,...il->...ij", sq, ek, 1 / z)
        return s, False
    else:
        raise AssertionError(feature)
    return s, True


def _reference(q, k, v, feature, causal):
    s, normalise = _sim_matrix(q, k, feature, causal)
    if causal:
        n = q.shape[-2]
        s = s * torch.ones(n, n, dtype=s.dtype).tril()
    if (
        normalise
    ):  # a row with zero total similarity (possible for relu) is defined to give 0
        den = s.sum(-1, keepdim=True)
        s = torch.where(den > 0, s / torch.where(den > 0, den, 1.0), 0.0)
    return s @ v


# --- softmax_attention --------------------------------------------------------------


def test_softmax_attention_matches_sdpa_and_explicit_loop():
    q, k, v = _qkv()
    for causal in (False, True):
        ours = softmax_attention(q, k, v, causal=causal)
        ref = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
        assert torch.allclose(ours, ref, atol=1e-12)
    # explicit double loop on one head, scale 1
    q1, k1, v1 = q[0, 0].numpy(), k[0, 0].numpy(), v[0, 0].numpy()
    out = np.zeros_like(v1)
    for i in range(q1.shape[0]):
        w = np.array([math.exp(q1[i] @ k1[j]) for j in range(i + 1)])
        out[i] = (w[:, None] * v1[: i + 1]).sum(0) / w.sum()
    ours = softmax_attention(q, k, v, causal=True, scale=1.0)[0, 0].numpy()
    np.testing.assert_allclose(ours, out, rtol=1e-10, atol=1e-12)


def test_softmax_attention_bias_and_cross_attention():
    q, k, v = _qkv()
    bias = torch.randn(29, 29, dtype=DT)
    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
    assert torch.allclose(softmax_attention(q, k, v, bias=bias), ref, atol=1e-12)
    out = softmax_attention(q[..., :7, :], k, v)  # fewer queries than keys, non-causal
    assert out.shape == (2, 3, 7, 5)
    assert torch.allclose(
        out, F.scaled_dot_product_attention(q[..., :7, :], k, v), atol=1e-12
    )


# --- linear_attention: exactness ----------------------------------------------------


@pytest.mark.parametrize("feature", FEATURES)
@pytest.mark.parametrize("causal", [False, True])
def test_linear_attention_equals_quadratic_form(feature, causal):
    q, k, v = _qkv(seed=1)
    ours = linear_attention(q, k, v, feature=feature, causal=causal)
    ref = _reference(q, k, v, feature, causal)
    # float64: tolerance 1e-10 relative to the output scale
    assert torch.allclose(ours, ref, rtol=1e-10, atol=1e-10), (ours - ref).abs().max()


@pytest.mark.parametrize("feature", FEATURES)
def test_causal_chunked_equals_masked_quadratic_for_many_chunk_sizes(feature):
    q, k, v = _qkv(shape=(1, 2, 37, 4), seed=2)
    ref = _reference(q, k, v, feature, True)
    for chunk in (1, 2, 5, 16, 37, 64, 100):
        ours = linear_attention(q, k, v, feature=feature, causal=True, chunk_size=chunk)
        assert torch.allclose(ours, ref, rtol=1e-10, atol=1e-10), (
            chunk,
            (ours - ref).abs().max(),
        )


@pytest.mark.parametrize("m", [1, 2, 63, 64, 65, 200, 64 * 64 + 3])
def test_exclusive_prefix_sum_equals_shifted_cumsum(m):
    from kexue_lib.attention import _exclusive_prefix_sum

    x = torch.randn(3, m, 5, dtype=DT, generator=torch.Generator().manual_seed(m))
    ref = torch.cat([torch.zeros(3, 1, 5, dtype=DT), x.cumsum(dim=1)[:, :-1]], dim=1)
    out = _exclusive_prefix_sum(x)
    assert out.shape == x.shape
    assert torch.allclose(out, ref, rtol=1e-12, atol=1e-10), (out - ref).abs().max()


def test_causal_with_hundreds_of_chunks_and_its_gradient():
    # 300 chunks of one position: the prefix over chunks is blocked (64 per block) with
    # a padded last block
    q, k, v = _qkv(shape=(2, 300, 3), dv=2, seed=7)
    ref = _reference(q, k, v, "elu1", True)
    assert torch.allclose(
        linear_attention(q, k, v, causal=True, chunk_size=1),
        ref,
        rtol=1e-10,
        atol=1e-10,
    )
    qs, ks, vs = (t[:, :40].clone().requires_grad_() for t in (q, k, v))
    assert torch.autograd.gradcheck(
        lambda a, b, c: linear_attention(a, b, c, causal=True, chunk_size=3),
        (qs, ks, vs),
    )


@pytest.mark.parametrize("feature", FEATURES)
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("elements", [40, 200])
def test_segmented_scan_equals_quadratic_form(feature, causal, elements, monkeypatch):
    # long sequences run in segments carrying the state; shrink the segment so 29
    # positions need many
    import kexue_lib.attention.linear as A

    monkeypatch.setattr(A, "_SEGMENT_ELEMENTS", elements)
    q, k, v = _qkv(seed=8)
    ref = _reference(q, k, v, feature, causal)
    for chunk in (1, 2, 5, 64):
        ours = linear_attention(
            q, k, v, feature=feature, causal=causal, chunk_size=chunk
        )
        assert torch.allclose(ours, ref, rtol=1e-10, atol=1e-10), (
            chunk,
            (ours - ref).abs().max(),
        )
    if not causal:  # cross-attention: fewer queries than keys, segmented on both sides
        ours = linear_attention(q[..., :11, :], k, v, feature=feature)
        assert torch.allclose(
            ours,
            _reference(q[..., :11, :], k, v, feature, False),
            rtol=1e-10,
            atol=1e-10,
        )


def test_segmented_scan_gradient(monkeypatch):
    import kexue_lib.attention.linear as A

    monkeypatch.setattr(A, "_SEGMENT_ELEMENTS", 30)
    q, k, v = (t[:1, :1, :9].clone().requires_grad_() for t in _qkv(seed=9))
    for causal in (False, True):

        def fn(a, b, c, causal=causal):  # bind this iteration's flag
            return linear_attention(a, b, c, causal=causal, chunk_size=2)

        assert torch.autograd.gradcheck(fn, (q, k, v))


def test_linear_attention_float32_tolerance_and_default_chunk():
    q, k, v = _qkv(shape=(2, 300, 16), dv=16, seed=3, dtype=torch.float32)
    for causal in (False, True):
        ours = linear_attention(q, k, v, causal=causal)
        ref = _reference(q.double(), k.double(), v.double(), "elu1", causal)
        assert ours.dtype == torch.float32
        assert torch.allclose(ours.double(), ref, rtol=1e-4, atol=1e-5)


def test_causal_first_output_is_first_value_and_relu_zero_row_is_zero():
    q, k, v = _qkv(seed=4)
    for feature in ("elu1", "exp", "cos1", "softmax2"):
        out = linear_attention(q, k, v, feature=feature, causal=True)
        assert torch.allclose(out[..., 0, :], v[..., 0, :], atol=1e-12)
    # a query with all-negative entries has zero relu similarity with every key: output
    # 0, not NaN
    q2 = q.clone()
    q2[..., 3, :] = -1.0
    out = linear_attention(q2, k, v, feature="relu")
    assert torch.isfinite(out).all()
    assert torch.equal(out[..., 3, :], torch.zeros_like(out[..., 3, :]))


def test_exp_feature_is_stable_for_large_logits():
    q, k, v = _qkv(seed=5)
    out = linear_attention(q + 500.0, k + 500.0, v, feature="exp", causal=True)
    ref = _reference(
        q, k, v, "exp", True
    )  # shifting all entries by a constant cancels exactly
    assert torch.allclose(out, ref, rtol=1e-9, atol=1e-9)


def test_softmax2_rows_sum_to_one():
    q, k, _ = _qkv(seed=6)
    for causal in (False, True):
        s, _ = _sim_matrix(q, k, "softmax2", causal)
        if causal:
            s = s.tril()
        assert torch.allclose(s.sum(-1), torch.ones_like(s.sum(-1)), atol=1e-12)
    # with v = 1 the output is exactly 1: no normaliser needed
    ones = torch.ones(*q.shape[:-1], 3, dtype=DT)
    for causal in (False, True):
        out = linear_attention(q, k, ones, feature="softmax2", causal=causal)
        assert torch.allclose(out, torch.ones_like(out), atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(1, 40),
    d=st.integers(1, 6),
    chunk=st.integers(1, 50),
    feature=st.sampled_from(["elu1", "exp", "cos1", "softmax2"]),
    seed=st.integers(0, 10_000),
)
def test_property_causal_is_prefix_consistent_and_exact(n, d, chunk, feature, seed):
    q, k, v = _qkv(shape=(n, d), dv=3, seed=seed)
    full = linear_attention(q, k, v, feature=feature, causal=True, chunk_size=chunk)
    assert torch.allclose(
        full, _reference(q, k, v, feature, True), rtol=1e-9, atol=1e-9
    )
    # causality: the output at positions < m does not depend on anything at positions >=
    # m
    m = max(1, n // 2)
    prefix = linear_attention(
        q[:m], k[:m], v[:m], feature=feature, causal=True, chunk_size=chunk
    )
    if (
        feature != "exp"
    ):  # "exp" rescales k by a global max, which is exact only up to rounding
        assert torch.allclose(full[:m], prefix, rtol=1e-9, atol=1e-12)
    else:
        assert torch.allclose(full[:m], prefix, rtol=1e-7, atol=1e-9)


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(2, 30),
    seed=st.integers(0, 10_000),
    feature=st.sampled_from(list(FEATURES)),
)
def test_property_outputs_are_convex_combinations_of_values(n, seed, feature):
    """Non-negative weights summing to one: every output coordinate lies within the
    values' range.
    """
    q, k, v = _qkv(shape=(n, 4), dv=2, seed=seed)
    for causal in (False, True):
        out = linear_attention(q, k, v, feature=feature, causal=causal)
        if feature == "relu":
            keep = (q.clamp(min=0) @ k.clamp(min=0).T).sum(
                -1
            ) > 0  # rows with zero weight give 0
            out = out[keep]
            if not keep.any():
                continue
        assert (out <= v.max(0).values + 1e-9).all() and (
            out >= v.min(0).values - 1e-9
        ).all()


# --- performer features -------------------------------------------------------------


def test_gaussian_orthogonal_projection_blocks_are_orthogonal_and_rows_gaussian_sized():
    g = torch.Generator().manual_seed(0)
    w = gaussian_orthogonal_projection(20, 8, g, dtype=DT)
    assert w.shape == (20, 8)
    for b in range(0, 16, 8):
        blk = w[b : b + 8]
        gram = blk @ blk.T
        assert torch.allclose(
            gram - torch.diag(torch.diagonal(gram)),
            torch.zeros(8, 8, dtype=DT),
            atol=1e-10,
        )
    # row norms² ~ chi²_d: mean d over many rows
    big = gaussian_orthogonal_projection(
        4000, 8, torch.Generator().manual_seed(1), dtype=DT
    )
    assert abs(big.pow(2).sum(1).mean().item() - 8) < 0.3
    # marginal covariance of a row is I
    cov = big.T @ big / len(big)
    assert torch.allclose(cov, torch.eye(8, dtype=DT), atol=0.15)
    # determinism with a seeded generator
    a = gaussian_orthogonal_projection(5, 3, torch.Generator().manual_seed(7))
    b = gaussian_orthogonal_projection(5, 3, torch.Generator().manual_seed(7))
    assert torch.equal(a, b) and a.dtype == torch.float32


@pytest.mark.parametrize("kind", ["positive", "trig"])
def test_performer_estimator_is_unbiased(kind):
    """Average of many independent estimates φ(q)·φ(k) → exp(q·k) (Monte Carlo, 6σ
    tolerance).
    """
    g = torch.Generator().manual_seed(0)
    q = 0.5 * torch.randn(4, 3, generator=g, dtype=DT)
    k = 0.5 * torch.randn(5, 3, generator=g, dtype=DT)
    exact = torch.exp(q @ k.T)
    reps, m = 400, 64
    est = torch.stack(
        [
            performer_features(q, w, kind) @ performer_features(k, w, kind).T
            for w in (torch.randn(m, 3, generator=g, dtype=DT) for _ in range(reps))
        ]
    )
    mean, se = est.mean(0), est.std(0) / math.sqrt(reps)
    assert ((mean - exact).abs() <= 6 * se + 1e-12).all()


def test_performer_error_shrinks_like_inverse_sqrt_m():
    g = torch.Generator().manual_seed(1)
    q = 0.25 * torch.randn(6, 4, generator=g, dtype=DT)
    k = 0.25 * torch.randn(6, 4, generator=g, dtype=DT)
    exact = torch.exp(q @ k.T)
    rmse = []
    ms = [16, 64, 256, 1024]
    for m in ms:
        errs = [
            (performer_features(q, w) @ performer_features(k, w).T - exact)
            .pow(2)
            .mean()
            for w in (torch.randn(m, 4, generator=g, dtype=DT) for _ in range(60))
        ]
        rmse.append(torch.stack(errs).mean().sqrt().item())
    slope = np.polyfit(np.log(ms), np.log(rmse), 1)[0]
    assert -0.6 < slope < -0.4, slope


def test_positive_features_beat_trig_near_large_logits():
    """Logits of standard deviation ≈ 2: trig features give non-positive row sums and a
    useless attention matrix; positive features stay positive and much closer (errors
    averaged over 10 projections)."""
    g = torch.Generator().manual_seed(2)
    n, d, m = 64, 8, 128
    q = 0.85 * torch.randn(n, d, generator=g, dtype=DT)
    k = 0.85 * torch.randn(n, d, generator=g, dtype=DT)
    assert 1.5 < (q @ k.T).std() < 3
    exact = torch.softmax(q @ k.T, -1)
    err, nonpos = {}, {}
    for kind in ("positive", "trig"):
        e, bad = [], 0
        for _ in range(10):
            w = gaussian_orthogonal_projection(m, d, g, dtype=DT)
            s = performer_features(q, w, kind) @ performer_features(k, w, kind).T
            bad += int((s.sum(-1) <= 0).sum())
            e.append(
                ((s / s.sum(-1, keepdim=True) - exact).norm() / exact.norm()).item()
            )
        err[kind], nonpos[kind] = float(np.mean(e)), bad
    assert nonpos["positive"] == 0 and nonpos["trig"] > 0, nonpos
    assert err["positive"] < 0.2 * err["trig"], err


def test_performer_features_shapes():
    x = torch.randn(2, 7, 5)
    w = torch.randn(11, 5)
    assert performer_features(x, w).shape == (2, 7, 11)
    assert performer_features(x, w, "trig").shape == (2, 7, 22)


# --- Nyström ------------------------------------------------------------------------


def test_segment_means_against_loop():
    x = torch.randn(3, 10, 4, dtype=DT)
    for m in (1, 3, 4, 10):
        out = segment_means(x, m)
        ref = torch.stack(
            [
                x[:, [j for j in range(10) if (j * m) // 10 == s]].mean(1)
                for s in range(m)
            ],
            1,
        )
        assert torch.allclose(out, ref, atol=1e-14)
    assert torch.equal(segment_means(x, 10), x)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 50), data=st.data())
def test_property_segment_means_preserve_the_weighted_mean(n, data):
    m = data.draw(st.integers(1, n))
    x = torch.randn(
        n, 3, dtype=DT, generator=torch.Generator().manual_seed(n * 100 + m)
    )
    sizes = torch.bincount(torch.arange(n) * m // n, minlength=m)
    assert sizes.min() >= 1 and sizes.max() - sizes.min() <= 1
    means = segment_means(x, m)
    assert torch.allclose((means * sizes[:, None]).sum(0), x.sum(0), atol=1e-10)


def test_iterative_pinv_converges_to_torch_pinv():
    g = torch.Generator().manual_seed(0)
    a = torch.softmax(torch.randn(4, 12, 12, generator=g, dtype=DT), -1)
    exact = torch.linalg.pinv(a)
    errs = [
        (iterative_pinv(a, t) - exact).norm() / exact.norm()
        for t in (0, 3, 6, 12, 20, 40)
    ]
    assert errs[-1] < 1e-8, errs
    assert errs[-1] < errs[0]
    # rank-deficient matrix: reaches the Moore–Penrose inverse (not just some
    # generalised inverse) ...
    u = torch.randn(10, 3, generator=g, dtype=DT)
    low = u @ u.T
    pinv = torch.linalg.pinv(low)
    assert (iterative_pinv(low, 8) - pinv).norm() / pinv.norm() < 1e-10
    # ... but in floating point the null-space rounding error grows by 13/4 per step
    # afterwards
    assert (iterative_pinv(low, 40) - pinv).norm() / pinv.norm() > 1.0
    assert torch.equal(
        iterative_pinv(a, 0),
        a.transpose(-1, -2)
        / (a.abs().sum(-2).amax(-1) * a.abs().sum(-1).amax(-1))[..., None, None],
    )


def test_nystrom_exact_at_m_equals_n_and_close_on_smooth_data():
    q, k, v = _qkv(shape=(2, 24, 4), seed=7)
    ref = softmax_attention(q, k, v)
    assert torch.allclose(
        nystrom_attention(q, k, v, 24, pinv_iters=None), ref, atol=1e-10
    )
    assert torch.allclose(nystrom_attention(q, k, v, 24, pinv_iters=60), ref, atol=1e-8)
    # smooth sequences: few landmarks already give a small error
    t = torch.linspace(0, 1, 256, dtype=DT)[:, None]
    qs = torch.cat([torch.sin(2 * math.pi * t * f) for f in (1, 2, 3, 4)], 1)
    ks = torch.cat([torch.cos(2 * math.pi * t * f) for f in (1, 2, 3, 4)], 1)
    vs = torch.randn(256, 3, dtype=DT, generator=torch.Generator().manual_seed(0))
    err = (
        nystrom_attention(qs, ks, vs, 32, None) - softmax_attention(qs, ks, vs)
    ).norm() / softmax_attention(qs, ks, vs).norm()
    assert err < 0.05, err


# --- bad input ----------------------------------------------------------------------


def test_value_errors():
    q, k, v = _qkv(shape=(2, 10, 4))
    with pytest.raises(ValueError, match="q and k"):
        linear_attention(q, k[..., :3], v)
    with pytest.raises(ValueError, match="k and v"):
        linear_attention(q, k, v[..., :9, :])
    with pytest.raises(ValueError, match="q and k"):
        linear_attention(q[..., :9, :], k, v, causal=True)
    with pytest.raises(ValueError, match="q and k"):
        softmax_attention(q[..., :9, :], k, v, causal=True)
    with pytest.raises(ValueError, match="leading"):
        softmax_attention(q[:1], k, v)
    with pytest.raises(ValueError, match="feature"):
        linear_attention(q, k, v, feature="gelu")
    with pytest.raises(ValueError, match="chunk_size"):
        linear_attention(q, k, v, causal=True, chunk_size=0)
    with pytest.raises(TypeError, match="dtype"):
        softmax_attention(q.float(), k, v)
    with pytest.raises(TypeError, match="floating"):
        softmax_attention(q.long(), k.long(), v.long())
    with pytest.raises(ValueError, match="bias"):
        softmax_attention(q, k, v, bias=torch.zeros(3, 3, dtype=DT))
    with pytest.raises(ValueError, match="num_landmarks"):
        nystrom_attention(q, k, v, 11)
    with pytest.raises(ValueError, match="num_landmarks"):
        nystrom_attention(q, k, v, 0)
    with pytest.raises(ValueError, match="pinv_iters"):
        nystrom_attention(q, k, v, 5, pinv_iters=-1)
    with pytest.raises(ValueError, match="m must"):
        segment_means(q, 11)
    with pytest.raises(ValueError, match="n_iter"):
        iterative_pinv(torch.eye(3), -2)
    with pytest.raises(ValueError, match="square"):
        iterative_pinv(torch.ones(3, 4), 2)
    with pytest.raises(ValueError, match="proj"):
        performer_features(q, torch.randn(6, 5, dtype=DT))
    with pytest.raises(ValueError, match="kind"):
        performer_features(q, torch.randn(6, 4, dtype=DT), kind="cosine")
    with pytest.raises(ValueError, match="m must"):
        gaussian_orthogonal_projection(0, 4)
    with pytest.raises(ValueError, match="d must"):
        gaussian_orthogonal_projection(4, -1)
    with pytest.raises(ValueError, match="scale"):
        softmax_attention(q, k, v, scale=float("nan"))


def test_elu1_feature_equals_elu_plus_one_with_and_without_autograd():
    from kexue_lib.attention import _elu1

    x = torch.linspace(-30, 30, 1001, dtype=torch.float64)
    assert torch.allclose(
        _elu1(x), torch.nn.functional.elu(x) + 1, rtol=1e-14, atol=1e-15
    )
    xr = x.clone().requires_grad_(True)
    _elu1(xr).sum().backward()
    xe = x.clone().requires_grad_(True)
    (torch.nn.functional.elu(xe) + 1).sum().backward()
    assert torch.allclose(xr.grad, xe.grad)
