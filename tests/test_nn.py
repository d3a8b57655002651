"""Tests of kexue_lib.nn: the shared masked Transformer block and tiny causal LM."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import entropy as scipy_entropy

from kexue_lib.nn import (
    MultiHeadAttention,
    TinyTransformer,
    TransformerBlock,
    attention_entropy,
    attention_logits_bias,
    causal_mask,
    lm_loss,
    train_lm,
)


def _mha(d=16, h=2, seed=0, dtype=torch.float64):
    torch.manual_seed(seed)
    return MultiHeadAttention(d, h).to(dtype)


def _reference(mha: MultiHeadAttention, x, attn_mask=None, scale_q=None):
    """Independent computation through torch's scaled_dot_product_attention."""
    b, n, d = x.shape
    h, dh = mha.n_heads, mha.d_head
    q, k, v = (t.view(b, n, h, dh).transpose(1, 2) for t in mha.qkv(x).chunk(3, dim=-1))
    if scale_q is not None:
        q = q * scale_q
    y = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
    return mha.out(y.transpose(1, 2).reshape(b, n, d))


def _random_bool_mask(n, seed):
    g = torch.Generator().manual_seed(seed)
    m = torch.rand(n, n, generator=g) < 0.5
    m |= torch.eye(n, dtype=torch.bool)  # every query may see itself
    return m


def test_causal_mask():
    m = causal_mask(4)
    assert m.dtype == torch.bool and m.shape == (4, 4)
    assert m.tolist() == [[j <= i for j in range(4)] for i in range(4)]
    with pytest.raises(ValueError, match="n must be"):
        causal_mask(0)


def test_shapes_and_weights():
    mha = _mha()
    x = torch.randn(3, 7, 16, dtype=torch.float64)
    y, w = mha(x, return_weights=True)
    assert y.shape == (3, 7, 16) and w.shape == (3, 2, 7, 7)
    torch.testing.assert_close(w.sum(-1), torch.ones(3, 2, 7, dtype=torch.float64))
    block = TransformerBlock(16, 4).double()
    assert block(x).shape == (3, 7, 16)
    model = TinyTransformer(11, 16, 2, 3)
    tok = torch.randint(0, 11, (2, 9))
    logits, ws = model(tok, return_weights=True)
    assert logits.shape == (2, 9, 11) and len(ws) == 3 and ws[0].shape == (2, 2, 9, 9)


def test_matches_sdpa_no_mask_bool_mask_additive_and_bias():
    mha = _mha()
    x = torch.randn(2, 6, 16, dtype=torch.float64)
    torch.testing.assert_close(mha(x), _reference(mha, x))
    m = _random_bool_mask(6, 1)
    torch.testing.assert_close(mha(x, mask=m), _reference(mha, x, attn_mask=m))
    add = torch.zeros(6, 6, dtype=torch.float64).masked_fill(~m, float("-inf"))
    torch.testing.assert_close(mha(x, mask=add), _reference(mha, x, attn_mask=m))
    bias = torch.randn(2, 6, 6, dtype=torch.float64)  # one bias per head, like ALiBi
    ref = _reference(mha, x, attn_mask=bias[None] + add)
    torch.testing.assert_close(mha(x, mask=m, attn_bias=bias), ref)
    # per-sample 3-D mask (b, n, n)
    m3 = torch.stack([_random_bool_mask(6, 2), _random_bool_mask(6, 3)])
    torch.testing.assert_close(
        mha(x, mask=m3), _reference(mha, x, attn_mask=m3[:, None])
    )


def test_fused_and_explicit_paths_agree():
    mha = _mha()
    x = torch.randn(2, 9, 16, dtype=torch.float64)
    kw = dict(
        mask=causal_mask(9),
        attn_bias=torch.randn(2, 9, 9, dtype=torch.float64),
        logit_scale=torch.linspace(1, 2, 9, dtype=torch.float64),
    )
    y_fused = mha(x, **kw)
    y_explicit, w = mha(x, return_weights=True, **kw)
    torch.testing.assert_close(y_fused, y_explicit)
    assert torch.all(w.triu(1) == 0)


def test_logit_scale_is_a_per_query_temperature():
    mha = _mha()
    x = torch.randn(2, 5, 16, dtype=torch.float64)
    s = torch.tensor([1.0, 1.5, 2.0, 0.5, 3.0], dtype=torch.float64)
    ref = _reference(mha, x, attn_mask=causal_mask(5), scale_q=s[:, None])
    torch.testing.assert_close(mha(x, mask=causal_mask(5), logit_scale=s), ref)
    torch.testing.assert_close(mha(x, logit_scale=2.0), _reference(mha, x, scale_q=2.0))


def _jacobian_blocks(f, x):
    """|∂ out_i / ∂ x_j| summed over feature dims, shape (n, n)."""
    jac = torch.autograd.functional.jacobian(f, x)  # (n, d, n, d)
    return jac.abs().sum(dim=(1, 3))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gradient_respects_mask(seed):
    mha = _mha(seed=seed)
    n = 7
    m = _random_bool_mask(n, seed + 10)
    x = torch.randn(n, 16, dtype=torch.float64)
    g = _jacobian_blocks(lambda z: mha(z[None], mask=m)[0], x)
    assert torch.all(g[~m] == 0), "masked keys must get exactly zero gradient"
    assert torch.all(g[m] > 0), "allowed keys must influence the output"


def test_tiny_transformer_is_causal_and_layer_masks():
    torch.manual_seed(0)
    model = TinyTransformer(13, 16, 2, 2).double()
    tok = torch.randint(0, 13, (1, 8))
    tok2 = tok.clone()
    tok2[0, 5:] = (tok2[0, 5:] + 1) % 13
    a, b = model(tok), model(tok2)
    torch.testing.assert_close(a[:, :5], b[:, :5])
    assert not torch.allclose(a[:, 5:], b[:, 5:])
    # gradient of logits at i w.r.t. embeddings at j vanishes for j > i
    emb = model.embed(tok)[0].detach()

    def f(e):
        h = e[None]
        for blk in model.blocks:
            h = blk(h, mask=causal_mask(8))
        return model.head(model.norm(h))[0]

    g = _jacobian_blocks(f, emb)
    assert torch.all(g.triu(1) == 0) and torch.all(g[causal_mask(8)] > 0)
    # a per-layer mask list: identity mask in both layers makes every position
    # independent of the others
    eye = torch.eye(8, dtype=torch.bool)
    c = model(tok, mask=[eye, eye])
    c2 = model(tok2, mask=[eye, eye])
    torch.testing.assert_close(c[:, :5], c2[:, :5])
    single = torch.stack([model(tok[:, i : i + 1])[0, 0] for i in range(8)])
    torch.testing.assert_close(c[0], single)


def test_rotary_hook_and_rope_relative():
    position = pytest.importorskip("kexue_lib.position")
    mha = _mha()
    x = torch.randn(1, 6, 16, dtype=torch.float64)
    inv = position.rope_inv_freq(8).to(torch.float64)
    pos = torch.arange(6)
    y0 = mha(x, positions=pos, inv_freq=inv, mask=causal_mask(6))
    y1 = mha(
        x, positions=pos + 37, inv_freq=inv, mask=causal_mask(6)
    )  # a joint shift changes nothing
    torch.testing.assert_close(y0, y1)
    assert not torch.allclose(
        y0, mha(x, mask=causal_mask(6))
    )  # but RoPE itself does something
    # the free hook receives q, k of shape (b, h, n, d_head): doubling q equals
    # logit_scale 2
    torch.testing.assert_close(
        mha(x, rotary=lambda q, k: (2 * q, k)), mha(x, logit_scale=2.0)
    )
    # batched positions (b, n)
    xb = x.expand(2, -1, -1)
    yb = mha(xb, positions=torch.stack([pos, pos + 5]), inv_freq=inv)
    torch.testing.assert_close(yb[0], yb[1])


def test_absolute_positions():
    torch.manual_seed(0)
    learned = TinyTransformer(5, 8, 2, 1, abs_pos="learned", max_len=10)
    tok = torch.randint(0, 5, (2, 10))
    assert learned(tok).shape == (2, 10, 5)
    with pytest.raises(ValueError, match="max_len"):
        learned(tok, positions=torch.arange(3, 13))
    sin = pytest.importorskip("kexue_lib.position")
    m = TinyTransformer(5, 8, 2, 1, abs_pos="sinusoidal")
    out = m(torch.randint(0, 5, (2, 300)))
    assert out.shape == (2, 300, 5) and torch.isfinite(out).all()
    # the added embedding is exactly the library's sinusoidal table
    h = m._absolute(torch.arange(4))
    torch.testing.assert_close(h, sin.sinusoidal_pe(4, 8).to(h))


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 9), seed=st.integers(0, 10_000))
def test_property_weights_are_distributions_supported_on_mask(n, seed):
    mha = _mha()
    m = _random_bool_mask(n, seed)
    x = torch.randn(
        2, n, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(seed)
    )
    _, w = mha(x, mask=m, return_weights=True)
    torch.testing.assert_close(w.sum(-1), torch.ones(2, 2, n, dtype=torch.float64))
    assert torch.all(w[..., ~m] == 0)


def test_attention_entropy_matches_scipy():
    w = torch.softmax(torch.randn(3, 5, dtype=torch.float64), -1)
    w[0] = torch.tensor([1.0, 0, 0, 0, 0])
    ent = attention_entropy(w)
    np.testing.assert_allclose(
        ent.numpy(), scipy_entropy(w.numpy(), axis=-1), rtol=1e-12, atol=1e-15
    )
    assert float(attention_entropy(torch.full((4,), 0.25))) == pytest.approx(
        math.log(4)
    )
    with pytest.raises(ValueError, match="weights"):
        attention_entropy(torch.tensor([1.5, -0.5]))
    with pytest.raises(TypeError, match="weights"):
        attention_entropy(torch.tensor([1, 0]))


def test_lm_loss():
    logits = torch.randn(2, 4, 6, dtype=torch.float64)
    tgt = torch.randint(0, 6, (2, 4))
    logp = torch.log_softmax(logits, -1)
    manual = -logp.gather(-1, tgt[..., None])[..., 0]
    torch.testing.assert_close(lm_loss(logits, tgt), manual.mean())
    lm = torch.tensor([[0, 1, 1, 0], [1, 0, 0, 0]], dtype=torch.bool)
    torch.testing.assert_close(lm_loss(logits, tgt, lm), manual[lm].mean())
    with pytest.raises(ValueError, match="targets"):
        lm_loss(logits, tgt[:, :3])
    with pytest.raises(ValueError, match="loss_mask"):
        lm_loss(logits, tgt, lm[:, :3])
    with pytest.raises(ValueError, match="loss_mask"):
        lm_loss(logits, tgt, torch.zeros_like(lm))


def test_train_lm_learns_a_deterministic_cycle():
    torch.manual_seed(0)
    model = TinyTransformer(5, 16, 2, 1)
    g = torch.Generator().manual_seed(0)

    def batch(step):
        start = torch.randint(0, 5, (16, 1), generator=g)
        tok = (start + torch.arange(12)) % 5  # next token = current + 1 (mod 5)
        return tok, torch.ones_like(tok, dtype=torch.bool)

    losses = train_lm(model, batch, 60, lr=1e-2)
    assert len(losses) == 60 and losses[-1] < 0.1 < losses[0]
    with pytest.raises(ValueError, match="steps"):
        train_lm(model, batch, 0)
    with pytest.raises(ValueError, match="lr"):
        train_lm(model, batch, 1, lr=0.0)


def test_value_errors():
    with pytest.raises(ValueError, match="d_model"):
        MultiHeadAttention(10, 3)
    with pytest.raises(ValueError, match="n_heads"):
        MultiHeadAttention(8, 0)
    with pytest.raises(ValueError, match="mlp_ratio"):
        TransformerBlock(8, 2, mlp_ratio=0)
    with pytest.raises(ValueError, match="vocab"):
        TinyTransformer(1)
    with pytest.raises(ValueError, match="n_layers"):
        TinyTransformer(5, n_layers=0)
    with pytest.raises(ValueError, match="abs_pos"):
        TinyTransformer(5, abs_pos="rope")
    with pytest.raises(ValueError, match="max_len"):
        TinyTransformer(5, abs_pos="learned")
    mha = _mha()
    x = torch.randn(1, 4, 16, dtype=torch.float64)
    with pytest.raises(ValueError, match="x must"):
        mha(x[0])
    with pytest.raises(ValueError, match="mask"):
        mha(x, mask=torch.ones(3, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match="mask"):
        mha(x, mask=torch.zeros(4, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="mask"):
        mha(x, mask=torch.full((4, 4), float("-inf")))
    with pytest.raises(TypeError, match="mask"):
        mha(x, mask=torch.ones(4, 4, dtype=torch.int64))
    with pytest.raises(ValueError, match="attn_bias"):
        mha(x, attn_bias=torch.ones(2, 4, 5, dtype=torch.float64))
    with pytest.raises(ValueError, match="attn_bias"):
        mha(x, attn_bias=torch.full((4, 4), float("inf")))
    with pytest.raises(ValueError, match="logit_scale"):
        mha(x, logit_scale=torch.ones(3))
    with pytest.raises(ValueError, match="inv_freq"):
        mha(x, inv_freq=torch.ones(3))
    model = TinyTransformer(5, 16, 2, 2)
    with pytest.raises(ValueError, match="tokens"):
        model(torch.tensor([[0, 5]]))
    with pytest.raises(ValueError, match="tokens"):
        model(torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="mask"):
        model(torch.zeros(1, 3, dtype=torch.long), mask=[causal_mask(3)])
    with pytest.raises(ValueError, match="positions"):
        model(torch.zeros(1, 3, dtype=torch.long), positions=torch.arange(4))
    with pytest.raises(ValueError, match="positions"):
        model(torch.zeros(1, 3, dtype=torch.long), positions=torch.tensor([-1, 0, 1]))
    assert attention_logits_bias(None, None, 3, 3, torch.float32) is None
