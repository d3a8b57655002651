"""Tests for kexue_lib.nlp.teaforn (chapter nlp/teaforn).

Independent references: pass i+1 rebuilt by the model's ordinary forward pass with the
embedding output replaced by a hook; the loss from gathered log-probabilities; the
dependency pattern by autograd; beam search against exhaustive enumeration.
"""

from __future__ import annotations

import itertools

import pytest
import torch

from kexue_lib.nlp.teaforn import beam_search, teaforn_forward, teaforn_loss
from kexue_lib.nn import TinyTransformer, lm_loss


def tiny(vocab=7, seed=0, **kw):
    torch.manual_seed(seed)
    return TinyTransformer(vocab, d_model=16, n_heads=2, n_layers=2, **kw).double()


def hooked(model, tokens, vectors):
    h = model.embed.register_forward_hook(lambda m, a, o: vectors)
    try:
        return model(tokens)
    finally:
        h.remove()


@pytest.mark.parametrize("prefix", [1, 3])
@pytest.mark.parametrize("abs_pos", ["none", "learned"])
def test_passes_match_hooked_forward(prefix, abs_pos):
    kw = {"abs_pos": abs_pos, "max_len": 10} if abs_pos == "learned" else {}
    model = tiny(**kw)
    tok = torch.randint(7, (2, 6), generator=torch.Generator().manual_seed(1))
    logits, hidden = teaforn_forward(model, tok, 3, prefix=prefix, return_hidden=True)
    assert logits.shape == (3, 2, 6, 7) and hidden.shape == (3, 2, 6, 16)
    e = model.embed(tok)
    for i in (1, 2):
        fed = torch.cat([e[:, :prefix], hidden[i - 1][:, prefix - 1 : -1]], 1)
        torch.testing.assert_close(logits[i], hooked(model, tok, fed))
    assert torch.equal(logits[0], model(tok))


def test_top_k_feeds_weighted_embeddings():
    model = tiny()
    tok = torch.randint(7, (2, 5), generator=torch.Generator().manual_seed(2))
    for k in (1, 3, 7):
        logits = teaforn_forward(model, tok, 2, top_k=k)
        p = torch.softmax(logits[0][:, :-1], -1)
        val, idx = p.topk(k, -1)
        fed = ((val / val.sum(-1, keepdim=True))[..., None] * model.embed(idx)).sum(-2)
        fed = torch.cat([model.embed(tok)[:, :1], fed], 1)
        torch.testing.assert_close(logits[1], hooked(model, tok, fed))


@pytest.mark.parametrize("prefix", [1, 2])
def test_jacobian_sparsity(prefix):
    model = tiny()
    n = 6
    tok = torch.randint(7, (1, n), generator=torch.Generator().manual_seed(3))
    e = model.embed(tok).detach()
    for i in (1, 2, 3):
        f = lambda x, i=i: teaforn_forward(  # noqa: E731
            model, tok, i, prefix=prefix, embeds=x, return_hidden=True
        )[1][i - 1, 0]
        norms = torch.autograd.functional.jacobian(f, e).abs().sum((1, 2, 4))
        for j in range(n):  # output at input index j
            for s in range(n):
                # inputs < prefix are always true embeddings; later ones lag i-1 passes
                last = j if j < prefix else max(prefix - 1, j - (i - 1))
                assert (norms[j, s] > 0) == (s <= last), (i, j, s)


def test_loss_formula_and_teacher_forcing():
    model = tiny()
    gen = torch.Generator().manual_seed(4)
    tok = torch.randint(7, (3, 6), generator=gen)
    mask = torch.rand(3, 5, generator=gen) > 0.3
    logits = teaforn_forward(model, tok[:, :-1], 3)
    lam = [0.2, 1.0, 3.0]
    logp = torch.log_softmax(logits, -1).gather(
        -1, tok[:, 1:].expand(3, -1, -1)[..., None]
    )[..., 0]
    want = sum(-lam[i] * logp[i][mask].mean() for i in range(3))
    torch.testing.assert_close(teaforn_loss(logits, tok[:, 1:], mask, lam), want)
    one = teaforn_forward(model, tok[:, :-1], 1)
    assert torch.equal(
        teaforn_loss(one, tok[:, 1:]), lm_loss(model(tok[:, :-1]), tok[:, 1:])
    )


def test_beam_search_greedy_and_exhaustive():
    model = tiny(vocab=4, seed=5)
    prefix = torch.randint(4, (3, 2), generator=torch.Generator().manual_seed(6))
    out, score = beam_search(model, prefix, 3, beam_size=64)  # = all 4**3
    for b in range(3):
        best, best_s = None, -float("inf")
        for cont in itertools.product(range(4), repeat=3):
            seq = torch.cat([prefix[b], torch.tensor(cont)])[None]
            with torch.no_grad():
                lp = torch.log_softmax(model(seq[:, :-1]), -1)[0, 1:]
            s = lp.gather(-1, torch.tensor(cont)[:, None]).sum().item()
            if s > best_s:
                best, best_s = cont, s
        assert tuple(out[b].tolist()) == best
        assert abs(score[b].item() - best_s) < 1e-9
    greedy, _ = beam_search(model, prefix, 3)
    seq = prefix.clone()
    with torch.no_grad():
        for _ in range(3):
            seq = torch.cat([seq, model(seq)[:, -1].argmax(-1, keepdim=True)], 1)
    assert torch.equal(greedy, seq[:, 2:])


def test_deterministic():
    model = tiny()
    tok = torch.randint(7, (2, 5), generator=torch.Generator().manual_seed(7))
    a = teaforn_forward(model, tok, 3)
    b = teaforn_forward(model, tok, 3)
    assert torch.equal(a, b)
    assert torch.equal(
        beam_search(model, tok, 2, 3)[0], beam_search(model, tok, 2, 3)[0]
    )


def test_errors():
    model = tiny()
    tok = torch.zeros(2, 5, dtype=torch.long)
    with pytest.raises(TypeError, match="model"):
        teaforn_forward("net", tok, 2)
    with pytest.raises(TypeError, match="tokens"):
        teaforn_forward(model, tok.float(), 2)
    with pytest.raises(ValueError, match="n_passes"):
        teaforn_forward(model, tok, 0)
    with pytest.raises(ValueError, match="prefix"):
        teaforn_forward(model, tok, 2, prefix=6)
    with pytest.raises(ValueError, match="top_k"):
        teaforn_forward(model, tok, 2, top_k=8)
    with pytest.raises(ValueError, match="tokens"):
        teaforn_forward(model, tok + 7, 2)
    with pytest.raises(ValueError, match="embeds"):
        teaforn_forward(model, tok, 2, embeds=torch.zeros(2, 5, 3, dtype=torch.float64))
    logits = teaforn_forward(model, tok, 2)
    with pytest.raises(TypeError, match="logits"):
        teaforn_loss(logits.long(), tok)
    with pytest.raises(ValueError, match="logits"):
        teaforn_loss(logits[0], tok)
    with pytest.raises(ValueError, match="weights"):
        teaforn_loss(logits, tok, weights=[1.0, -1.0])
    with pytest.raises(ValueError, match="weights"):
        teaforn_loss(logits, tok, weights=[1.0])
    with pytest.raises(TypeError, match="weights"):
        teaforn_loss(logits, tok, weights="ab")
    with pytest.raises(ValueError, match="length"):
        beam_search(model, tok, 0)
    with pytest.raises(TypeError, match="beam_size"):
        beam_search(model, tok, 2, beam_size=1.5)
    with pytest.raises(TypeError, match="prefix"):
        beam_search(model, tok.float(), 2)
