"""Tests for kexue_lib.nlp.seq2seq (chapter nlp/seq2seq-qa).

Independent references: the averaged distribution by explicit sums over passages;
the extractive mask by brute-force enumeration of substrings; the averaged beam search
against exhaustive enumeration of all short answers scored by the product of averaged
next-token probabilities.
"""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from kexue_lib.nlp.seq2seq import (
    Answer,
    average_next_token,
    extractive_allowed,
    multi_passage_beam_search,
)
from kexue_lib.nn import TinyTransformer, unilm_mask

VOCAB, END = 5, 0


def tiny(seed=0):
    torch.manual_seed(seed)
    return TinyTransformer(
        VOCAB,
        d_model=16,
        n_heads=2,
        n_layers=2,
        abs_pos="learned",
        max_len=12,
        causal=False,
    ).double()


def sources(p=3, s=4, seed=1):
    return torch.randint(VOCAB, (p, s), generator=torch.Generator().manual_seed(seed))


def next_logp(model, src, answer):
    """log p(. | source, answer) of one passage, by a direct forward pass."""
    tok = torch.tensor([src.tolist() + list(answer)])
    seg = torch.tensor([0] * len(src) + [1] * len(answer))
    with torch.no_grad():
        return torch.log_softmax(model(tok, mask=unilm_mask(seg))[0, -1].double(), -1)


def test_average_matches_explicit_sums():
    g = torch.Generator().manual_seed(0)
    logp = torch.log_softmax(torch.randn(4, 3, 7, generator=g, dtype=torch.float64), -1)
    prob = average_next_token(logp, "prob")
    torch.testing.assert_close(prob.exp(), logp.exp().mean(0))
    geo = average_next_token(logp, "logprob")
    want = logp.mean(0).exp()
    torch.testing.assert_close(geo.exp(), want / want.sum(-1, keepdim=True))
    # one passage: averaging changes nothing
    torch.testing.assert_close(average_next_token(logp[:1]), logp[0])


def test_average_errors():
    with pytest.raises(TypeError, match="logprobs"):
        average_next_token([[0.0]])
    with pytest.raises(ValueError, match="logprobs"):
        average_next_token(torch.ones(2, 3))
    with pytest.raises(ValueError, match="average"):
        average_next_token(torch.zeros(2, 3), "mean")


def test_extractive_matches_brute_force():
    g = torch.Generator().manual_seed(3)
    passages = torch.randint(1, 4, (3, 6), generator=g).tolist()
    subs = {tuple(p[i:j]) for p in passages for i in range(len(p)) for j in range(i, 7)}
    for m in range(3):
        for prefix in itertools.product(range(1, 4), repeat=m):
            got = extractive_allowed(list(prefix), passages, 4, 0)
            for w in range(1, 4):
                assert bool(got[w]) == ((*prefix, w) in subs)
            assert bool(got[0]) == (m > 0 and prefix in subs)


def test_extractive_errors():
    with pytest.raises(TypeError, match="passages"):
        extractive_allowed([], 3, 4, 0)
    with pytest.raises(ValueError, match="end_token"):
        extractive_allowed([], [[1, 2]], 4, 4)


def exhaustive(model, src, max_len, kept):
    """Best candidate of the beam search over all of them: answers of 0..max_len-1
    tokens followed by END, and unfinished answers of max_len tokens."""
    lp = torch.stack([next_logp(model, src[i], ()) for i in kept])
    best = ([], float(average_next_token(lp)[END]))  # the empty answer
    for m in range(1, max_len + 1):
        for ans in itertools.product(range(1, VOCAB), repeat=m):
            score = 0.0
            for t in range(m + 1 if m < max_len else m):
                lp = torch.stack([next_logp(model, src[i], ans[:t]) for i in kept])
                avg = average_next_token(lp)
                score += float(avg[ans[t]] if t < m else avg[END])
            if score > best[1]:
                best = (list(ans), score)
    return best


@pytest.mark.parametrize("seed", [0, 1])
def test_beam_equals_exhaustive_with_wide_beam(seed):
    model, src = tiny(seed), sources(seed=seed + 1)
    res = multi_passage_beam_search(
        model, src, 2, end_token=END, beam_size=64, drop_no_answer=False
    )
    want = exhaustive(model, src, 2, range(3))
    assert isinstance(res, Answer) and res.kept == [0, 1, 2]
    assert res.tokens == want[0]
    assert res.logprob == pytest.approx(want[1])


def test_greedy_follows_argmax_of_average():
    model, src = tiny(1), sources(seed=2)
    res = multi_passage_beam_search(model, src, 3, end_token=END, drop_no_answer=False)
    ans, total = [], 0.0
    for _ in range(3):
        lp = torch.stack([next_logp(model, s, ans) for s in src])
        avg = average_next_token(lp)
        w = int(avg.argmax())
        total += float(avg[w])
        if w == END:
            break
        ans.append(w)
    assert res.tokens == ans
    assert res.logprob == pytest.approx(total)


def test_drop_and_reject():
    model, src = tiny(2), sources(p=4, seed=5)
    first = torch.stack([next_logp(model, s, []) for s in src])
    says_end = [int(r.argmax()) == END for r in first]
    res = multi_passage_beam_search(model, src, 2, end_token=END)
    assert res.kept == [i for i, e in enumerate(says_end) if not e]
    # force every passage to say "no answer": bias the head towards END
    with torch.no_grad():
        model.head.bias[END] += 100.0
    res = multi_passage_beam_search(model, src, 2, end_token=END)
    assert res.tokens == [] and res.kept == []
    assert math.isfinite(res.logprob)


@pytest.mark.parametrize("beam", [1, 3])
def test_extractive_answers_are_substrings(beam):
    passages = [[1, 2, 3, 4], [4, 3, 2, 1], [2, 2, 4, 1]]
    for seed in range(4):
        model = tiny(seed)
        src = torch.tensor([[3, END] + p for p in passages])
        res = multi_passage_beam_search(
            model,
            src,
            3,
            end_token=END,
            beam_size=beam,
            drop_no_answer=False,
            extract_from=passages,
        )
        assert res.tokens
        assert any(
            p[i : i + len(res.tokens)] == res.tokens
            for p in passages
            for i in range(len(p))
        )


def test_deterministic_and_restores_mode():
    model, src = tiny(), sources()
    model.train()
    a = multi_passage_beam_search(model, src, 3, end_token=END, beam_size=2)
    b = multi_passage_beam_search(model, src, 3, end_token=END, beam_size=2)
    assert a == b and model.training


def test_search_errors():
    model, src = tiny(), sources()
    with pytest.raises(TypeError, match="sources"):
        multi_passage_beam_search(model, src.double(), 2, end_token=END)
    with pytest.raises(TypeError, match="model"):
        multi_passage_beam_search("m", src, 2, end_token=END)
    with pytest.raises(ValueError, match="max_len"):
        multi_passage_beam_search(model, src, 0, end_token=END)
    with pytest.raises(ValueError, match="end_token"):
        multi_passage_beam_search(model, src, 2, end_token=VOCAB)
    with pytest.raises(ValueError, match="average"):
        multi_passage_beam_search(model, src, 2, end_token=END, average="max")
    with pytest.raises(ValueError, match="extract_from"):
        multi_passage_beam_search(model, src, 2, end_token=END, extract_from=[[1]])
