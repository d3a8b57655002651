"""Tests for kexue_lib.nn.uniae_mask and kexue_lib.nn.UniVAE (chapter vae/univae)."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from kexue_lib.nn import TransformerBlock, UniVAE, uniae_mask


def _brute(seg, cls, independent):
    n = len(seg)
    m = torch.zeros(n, n, dtype=torch.bool)
    for i in range(n):
        for j in range(n):
            if seg[i] == 0:
                m[i, j] = seg[j] == 0
            else:
                m[i, j] = (seg[j] == 1 and j <= i) or (not independent and j == cls)
    return m


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 6), st.integers(1, 6), st.data(), st.booleans())
def test_uniae_mask_matches_brute_force(n_enc, n_dec, data, independent):
    seg = [0] * n_enc + [1] * n_dec
    cls = data.draw(st.integers(0, n_enc - 1))
    got = uniae_mask(torch.tensor(seg), cls_position=cls, independent=independent)
    assert torch.equal(got, _brute(seg, cls, independent))
    batched = uniae_mask(
        torch.tensor([seg, seg]), cls_position=cls, independent=independent
    )
    assert batched.shape == (2, len(seg), len(seg)) and torch.equal(batched[1], got)
    assert bool(got.any(-1).all())  # every query sees at least one key


def test_decoder_gradient_reaches_encoder_only_through_cls():
    torch.manual_seed(0)
    seg = torch.tensor([0] * 5 + [1] * 4)
    mask = uniae_mask(seg)
    blocks = [TransformerBlock(8, 2).double() for _ in range(2)]
    x = torch.randn(1, 9, 8, dtype=torch.float64, requires_grad=True)

    def run(detach_cls):
        h = x
        for b in blocks:
            if detach_cls:
                h = torch.cat([h[:, :1].detach(), h[:, 1:]], 1)
            h = b(h, mask=mask)
        return h

    g = torch.autograd.grad(run(False)[:, 5:].sum(), x)[0]
    assert g[0, 1:5].abs().max() > 1e-6  # through CLS, two layers deep
    g = torch.autograd.grad(run(True)[:, 5:].sum(), x)[0]
    assert torch.equal(g[0, 1:5], torch.zeros(4, 8, dtype=torch.float64))
    # causality inside the decoder and encoder blind to decoder
    out = run(False)
    g = torch.autograd.grad(out[:, 6].sum(), x, retain_graph=True)[0]
    assert torch.equal(g[0, 7:], torch.zeros(2, 8, dtype=torch.float64))
    g = torch.autograd.grad(out[:, :5].sum(), x)[0]
    assert torch.equal(g[0, 5:], torch.zeros(4, 8, dtype=torch.float64))


def test_uniae_mask_errors():
    with pytest.raises(ValueError, match="segment_ids"):
        uniae_mask(torch.tensor([0, 1, 0]))
    with pytest.raises(ValueError, match="segment_ids"):
        uniae_mask(torch.tensor([0, 2]))
    with pytest.raises(TypeError, match="segment_ids"):
        uniae_mask(torch.tensor([0.0, 1.0]))
    with pytest.raises(TypeError, match="segment_ids"):
        uniae_mask([0, 1])
    with pytest.raises(ValueError, match="cls_position"):
        uniae_mask(torch.tensor([0, 0, 1]), cls_position=2)
    with pytest.raises(ValueError, match="cls_position"):
        uniae_mask(torch.tensor([0, 0, 1]), cls_position=5)


def test_univae_latents_kl_and_decoder_depends_on_encoder_only_through_z():
    from kexue_lib.vmf import vmf_kl_uniform

    torch.manual_seed(0)
    m = UniVAE(10, 5, d_model=16, n_heads=2, n_layers=3, k=1, z_dim=4, kappa=8.0)
    src = torch.randint(0, 10, (3, 5))
    logits, zs = m(src, generator=torch.Generator().manual_seed(0))
    assert logits.shape == (3, 5, 10) and len(zs) == 2
    assert torch.allclose(zs[0].norm(dim=-1), torch.ones(3), atol=1e-5)
    assert m.kl == pytest.approx(2 * float(vmf_kl_uniform(4, 8.0)))
    m.eval()
    _, z_eval = m(src)
    other = torch.randint(0, 10, (3, 5))
    a, _ = m(src, z=z_eval)
    b, _ = m(other, z=z_eval, dec_in=src)
    assert torch.equal(a, b)  # given z, the encoder tokens do not matter
    # first k layers: decoder states blind to the encoder
    _, _, s1 = m(src, hidden=True)
    _, _, s2 = m(other, dec_in=src, hidden=True)
    assert torch.equal(s1[0][:, 6:], s2[0][:, 6:]) and not torch.equal(
        s1[-1][:, 6:], s2[-1][:, 6:]
    )
    assert m.decode(z_eval, 3).shape == (3, 5)


def test_univae_errors():
    with pytest.raises(ValueError, match="k must be"):
        UniVAE(10, 5, n_layers=2, k=2)
    with pytest.raises(ValueError, match="vocab"):
        UniVAE(1, 5)
    m = UniVAE(10, 5, d_model=16, n_layers=2, k=1, z_dim=4)
    with pytest.raises(ValueError, match="src"):
        m(torch.zeros(2, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="src tokens"):
        m(torch.full((2, 5), 10))
    with pytest.raises(ValueError, match="z must be"):
        m(torch.zeros(2, 5, dtype=torch.long), z=[torch.zeros(2, 3)])
