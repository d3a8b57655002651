"""Conditional LayerNorm and the UniLM mask of kexue_lib.nn (Part 7:
nlp/conditional-layernorm, nlp/seq2seq-qa)."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn

from kexue_lib.nn import ConditionalLayerNorm, TinyTransformer, unilm_mask


def _randomise(module: nn.Module, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype))


@pytest.mark.parametrize("low_rank", [None, 3])
def test_cln_starts_as_the_layernorm_it_copies_for_every_condition(low_rank):
    g = torch.Generator().manual_seed(0)
    ln = nn.LayerNorm(8, eps=1e-6).double()
    _randomise(ln, 1)  # trained-looking gain and bias
    cln = ConditionalLayerNorm.from_layernorm(ln, cond_dim=5, low_rank=low_rank)
    x = torch.randn(4, 7, 8, generator=g, dtype=torch.float64)
    for scale in (0.0, 1.0, 1e3):
        c = scale * torch.randn(4, 5, generator=g, dtype=torch.float64)
        torch.testing.assert_close(cln(x, c), ln(x), rtol=0, atol=0)
    torch.testing.assert_close(cln(x), ln(x), rtol=0, atol=0)
    # a fresh one is the default LayerNorm
    fresh = ConditionalLayerNorm(8, 5, low_rank).double()
    c = torch.randn(4, 5, generator=g, dtype=torch.float64)
    torch.testing.assert_close(fresh(x, c), nn.LayerNorm(8).double()(x))


@pytest.mark.parametrize("low_rank", [None, 3])
def test_cln_is_the_layernorm_with_shifted_gain_and_bias(low_rank):
    g = torch.Generator().manual_seed(2)
    cln = ConditionalLayerNorm(6, 4, low_rank, activation=nn.Tanh()).double()
    _randomise(cln, 3)
    x = torch.randn(3, 5, 6, generator=g, dtype=torch.float64)
    c = torch.randn(3, 4, generator=g, dtype=torch.float64)
    h = c if low_rank is None else torch.tanh(cln.project[0](c))
    gain = cln.weight + h @ cln.to_gain.weight.T
    bias = cln.bias + h @ cln.to_bias.weight.T
    mu = x.mean(-1, keepdim=True)
    var = x.var(-1, unbiased=False, keepdim=True)
    want = (x - mu) / torch.sqrt(var + cln.eps) * gain[:, None] + bias[:, None]
    torch.testing.assert_close(cln(x, c), want)
    # the condition of row b acts on every position of row b only
    for b in range(3):
        torch.testing.assert_close(cln(x[b : b + 1], c[b : b + 1]), want[b : b + 1])


def test_cln_maps_get_gradients_at_initialisation():
    cln = ConditionalLayerNorm(6, 4).double()
    g = torch.Generator().manual_seed(4)
    x = torch.randn(3, 6, generator=g, dtype=torch.float64)
    c = torch.randn(3, 4, generator=g, dtype=torch.float64)
    (cln(x, c) * torch.randn(3, 6, generator=g, dtype=torch.float64)).sum().backward()
    assert cln.to_gain.weight.grad.abs().sum() > 0
    assert cln.to_bias.weight.grad.abs().sum() > 0


def test_condition_on_keeps_the_model_exactly_then_conditions_it():
    torch.manual_seed(0)
    model = TinyTransformer(11, 16, 2, 2).double()
    _randomise(model, 5)
    tokens = torch.randint(0, 11, (3, 9))
    before = model(tokens)
    new = model.condition_on(cond_dim=4, low_rank=2)
    # two norms per block, one final: each adds a projection (weight, bias) and two maps
    assert len(new) == (2 * 2 + 1) * 4
    assert all(not p.abs().sum() for p in new if p.shape[0] == 16)  # zero maps
    g = torch.Generator().manual_seed(6)
    for _ in range(3):
        c = torch.randn(3, 4, generator=g, dtype=torch.float64)
        torch.testing.assert_close(model(tokens, cond=c), before, rtol=0, atol=0)
    with torch.no_grad():
        for p in new:
            p.add_(0.1 * torch.randn(p.shape, generator=g, dtype=p.dtype))
    c0, c1 = (
        torch.zeros(3, 4, dtype=torch.float64),
        torch.ones(3, 4, dtype=torch.float64),
    )
    assert (model(tokens, cond=c0) - model(tokens, cond=c1)).abs().max() > 1e-3


def test_built_conditional_model_and_cond_errors():
    model = TinyTransformer(7, 8, 2, 1, cond_dim=3)
    tokens = torch.randint(0, 7, (2, 5))
    out = model(tokens, cond=torch.zeros(2, 3))
    assert out.shape == (2, 5, 7)
    with pytest.raises(ValueError, match="c must have one row per batch element"):
        model(tokens, cond=torch.zeros(3, 3))
    with pytest.raises(ValueError, match=r"c must have shape \(batch, 3\)"):
        model(tokens, cond=torch.zeros(2, 4))
    plain = TinyTransformer(7, 8, 2, 1)
    with pytest.raises(ValueError, match="cond must be None"):
        plain(tokens, cond=torch.zeros(2, 3))
    frozen = nn.LayerNorm(8).requires_grad_(False)
    cln = ConditionalLayerNorm.from_layernorm(frozen, 3)
    assert not cln.weight.requires_grad and not cln.bias.requires_grad
    assert cln.to_gain.weight.requires_grad and cln.to_bias.weight.requires_grad
    with pytest.raises(TypeError, match="ln must be a torch.nn.LayerNorm"):
        ConditionalLayerNorm.from_layernorm(nn.Linear(2, 2), 3)


def test_plain_models_are_unchanged_by_the_option():
    # no conditional parts unless asked: the same parameters from the same seed
    torch.manual_seed(1)
    a = TinyTransformer(9, 8, 2, 2).state_dict()
    torch.manual_seed(1)
    b = TinyTransformer(9, 8, 2, 2, cond_dim=None).state_dict()
    assert list(a) == list(b)
    for k in a:
        assert torch.equal(a[k], b[k])


def _unilm_by_definition(seg: list[int]) -> torch.Tensor:
    n = len(seg)
    out = torch.zeros(n, n, dtype=torch.bool)
    for i, j in itertools.product(range(n), range(n)):
        if seg[i] == 0:  # source query: the whole source, never the target
            out[i, j] = seg[j] == 0
        else:  # target query: the whole source and the target up to itself
            out[i, j] = seg[j] == 0 or j <= i
    return out


def test_unilm_mask_equals_its_definition_on_random_layouts():
    g = torch.Generator().manual_seed(7)
    for _ in range(50):
        n = int(torch.randint(1, 12, (1,), generator=g))
        n_src = int(torch.randint(0, n + 1, (1,), generator=g))
        seg = [0] * n_src + [1] * (n - n_src)
        got = unilm_mask(torch.tensor(seg))
        assert torch.equal(got, _unilm_by_definition(seg)), seg
    batch = torch.tensor([[0, 0, 1, 1], [0, 1, 1, 1]])
    got = unilm_mask(batch)
    assert got.shape == (2, 4, 4)
    for b in range(2):
        assert torch.equal(got[b], _unilm_by_definition(batch[b].tolist()))


def test_unilm_mask_rejects_bad_segments():
    with pytest.raises(ValueError, match="only 0 \\(source\\) and 1 \\(target\\)"):
        unilm_mask(torch.tensor([0, 2]))
    with pytest.raises(ValueError, match="non-decreasing"):
        unilm_mask(torch.tensor([0, 1, 0]))
    with pytest.raises(TypeError, match="segment_ids must be an integer tensor"):
        unilm_mask(torch.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match="segment_ids"):
        unilm_mask(torch.zeros(2, 2, 2, dtype=torch.long))
