"""GlobalPointer, span masks, the multi-label categorical cross-entropy and entity F1
(kexue_lib.nlp.globalpointer; chapter nlp/globalpointer)."""

from __future__ import annotations

import math

import pytest
import torch

from kexue_lib.nlp.globalpointer import (
    GlobalPointer,
    decode_spans,
    entity_f1,
    multilabel_categorical_crossentropy,
    span_mask,
)


def _direct_loss(y, s, m):
    # the formula term by term, in float64 with Python sums
    out = []
    for yr, sr, mr in zip(y.tolist(), s.tolist(), m.tolist()):
        pos = sum(math.exp(-v) for yy, v, mm in zip(yr, sr, mr) if yy and mm)
        neg = sum(math.exp(v) for yy, v, mm in zip(yr, sr, mr) if not yy and mm)
        out.append(math.log1p(pos) + math.log1p(neg))
    return torch.tensor(out, dtype=torch.float64)


def test_loss_equals_its_formula():
    g = torch.Generator().manual_seed(0)
    s = 3 * torch.randn(6, 9, generator=g, dtype=torch.float64)
    y = torch.rand(6, 9, generator=g) < 0.3
    m = torch.rand(6, 9, generator=g) < 0.8
    y &= m
    got = multilabel_categorical_crossentropy(y, s, m)
    torch.testing.assert_close(got, _direct_loss(y, s, m), rtol=1e-12, atol=0)
    # no mask: every entry counts; int and float labels are the same labels
    full = torch.ones_like(m)
    torch.testing.assert_close(
        multilabel_categorical_crossentropy(y.long(), s),
        _direct_loss(y, s, full),
        rtol=1e-12,
        atol=0,
    )
    torch.testing.assert_close(
        multilabel_categorical_crossentropy(y.double(), s),
        multilabel_categorical_crossentropy(y, s),
    )


def test_loss_reduces_to_softmax_cross_entropy_for_one_positive():
    # one positive class t: (1 + e^{-s_t})(1 + N) >= 1 + e^{-s_t}(1 + N) with
    # N = Σ_{i≠t} e^{s_i}, i.e. the loss bounds the softmax cross-entropy over the
    # classes plus a threshold class of score 0, with equality as N -> 0
    g = torch.Generator().manual_seed(1)
    s = torch.randn(5, 7, generator=g, dtype=torch.float64)
    t = torch.randint(0, 7, (5,), generator=g)
    y = torch.nn.functional.one_hot(t, 7).bool()
    with_zero = torch.cat([torch.zeros(5, 1, dtype=s.dtype), s], 1)
    ce = torch.nn.functional.cross_entropy(with_zero, t + 1, reduction="none")
    got = multilabel_categorical_crossentropy(y, s)
    assert bool((got >= ce - 1e-12).all())
    # and equal when the negatives vanish (scores -> -inf)
    s2 = s.masked_fill(~y, -50.0)
    with_zero2 = torch.cat([torch.zeros(5, 1, dtype=s.dtype), s2], 1)
    ce2 = torch.nn.functional.cross_entropy(with_zero2, t + 1, reduction="none")
    torch.testing.assert_close(multilabel_categorical_crossentropy(y, s2), ce2)


def test_loss_is_finite_at_huge_scores_and_masked_entries_do_not_count():
    s = torch.tensor([[1e4, -1e4, 1e4, -1e4]], dtype=torch.float32, requires_grad=True)
    y = torch.tensor([[1, 0, 0, 1]])
    loss = multilabel_categorical_crossentropy(y, s)
    loss.sum().backward()
    assert torch.isfinite(loss).all() and torch.isfinite(s.grad).all()
    # wrong positive at -1e4 and wrong negative at 1e4: loss ~ 1e4 + 1e4
    assert abs(float(loss.detach()) - 2e4) < 1
    # mask out the two wrong entries: what is left is right by a margin of 1e4
    m = torch.tensor([[True, True, False, False]])
    y2 = torch.tensor([[1, 0, 0, 0]])
    assert float(multilabel_categorical_crossentropy(y2, s.detach(), m)) == 0.0
    for big in (1e30, -1e30):
        v = multilabel_categorical_crossentropy(y, torch.full((1, 4), big))
        assert torch.isfinite(v).all()


def test_loss_over_span_matrices_flattens_two_axes():
    g = torch.Generator().manual_seed(2)
    s = torch.randn(2, 3, 4, 4, generator=g, dtype=torch.float64)
    y = torch.rand(2, 3, 4, 4, generator=g) < 0.2
    mask = span_mask(torch.tensor([[True] * 4, [True, True, True, False]]))
    y &= mask
    got = multilabel_categorical_crossentropy(y, s, mask, flatten=2)
    assert got.shape == (2, 3)
    flat = _direct_loss(
        y.flatten(-2).reshape(6, 16),
        s.flatten(-2).reshape(6, 16),
        mask.expand_as(y).flatten(-2).reshape(6, 16),
    ).reshape(2, 3)
    torch.testing.assert_close(got, flat, rtol=1e-12, atol=0)


def test_loss_rejects_bad_labels():
    s = torch.zeros(2, 3)
    with pytest.raises(ValueError, match="y_true must hold only 0 and 1"):
        multilabel_categorical_crossentropy(torch.full((2, 3), 2), s)
    with pytest.raises(ValueError, match="y_true must have the shape of logits"):
        multilabel_categorical_crossentropy(torch.zeros(2, 4), s)
    with pytest.raises(ValueError, match="masked positive"):
        multilabel_categorical_crossentropy(
            torch.ones(2, 3), s, torch.zeros(2, 3, dtype=torch.bool)
        )
    with pytest.raises(TypeError, match="mask must be a bool tensor"):
        multilabel_categorical_crossentropy(torch.ones(2, 3), s, torch.ones(2, 3))


def test_span_mask_and_decoding():
    tm = torch.tensor([[True, True, True], [True, True, False]])
    m = span_mask(tm)
    assert m.shape == (2, 1, 3, 3)
    for b in range(2):
        for i in range(3):
            for j in range(3):
                assert bool(m[b, 0, i, j]) == (i <= j and bool(tm[b, i] and tm[b, j]))
    logits = torch.full((2, 2, 3, 3), -1.0)
    logits[0, 1, 0, 2] = 2.0  # type 1, span [0, 2]
    logits[0, 0, 2, 1] = 5.0  # i > j: never a span
    logits[1, 0, 1, 2] = 3.0  # uses the padding token of sentence 1
    logits[1, 0, 0, 1] = 0.5
    got = decode_spans(logits, 0.0, tm)
    assert got == [{(1, 0, 2)}, {(0, 0, 1)}]
    assert decode_spans(logits, 1.0, tm) == [{(1, 0, 2)}, set()]


def test_global_pointer_scores_and_rope_makes_them_relative():
    torch.manual_seed(0)
    gp = GlobalPointer(8, 2, 4).double()
    g = torch.Generator().manual_seed(3)
    h = torch.randn(1, 6, 8, generator=g, dtype=torch.float64)
    s = gp(h)
    assert s.shape == (1, 2, 6, 6)
    # by hand for one entry, rotating q_i and k_j by their positions
    qk = gp.proj(h)[0].view(6, 2, 2, 4)
    q, k = qk[2, 1, 0], qk[4, 1, 1]
    theta = torch.tensor([1.0, 10000.0 ** (-2 / 4)], dtype=torch.float64)

    def rot(v, pos):
        out = v.clone()
        for i, th in enumerate(theta):
            c, sn = math.cos(pos * th), math.sin(pos * th)
            out[2 * i] = v[2 * i] * c - v[2 * i + 1] * sn
            out[2 * i + 1] = v[2 * i] * sn + v[2 * i + 1] * c
        return out

    want = rot(q, 2) @ rot(k, 4) / 2.0
    torch.testing.assert_close(s[0, 1, 2, 4], want)
    # the same two tokens at another offset score the same only through j - i:
    # put tokens (2, 4) at positions (0, 2) -> same score; at (0, 3) -> different
    h2 = torch.cat([h[:, 2:3], h[:, 3:4], h[:, 4:5]], 1)
    torch.testing.assert_close(gp(h2)[0, 1, 0, 2], s[0, 1, 2, 4])
    flat = GlobalPointer(8, 2, 4, rope=False).double()
    with torch.no_grad():
        flat.proj.load_state_dict(gp.proj.state_dict())
    # without RoPE the score of a token pair ignores where the tokens are
    hs = torch.cat([h[:, 4:5], h[:, 0:1], h[:, 2:3]], 1)  # token 2 now after token 4
    torch.testing.assert_close(flat(hs)[0, 1, 2, 0], flat(h)[0, 1, 2, 4])
    filled = gp(h, fill_invalid=True)
    assert (
        bool(torch.isinf(filled[0, :, 3, 1]).all())
        and filled[0, 0, 1, 3] == s[0, 0, 1, 3]
    )


def test_entity_f1():
    t = {(0, 0, 1), (1, 2, 4), (0, 5, 5)}
    p = {(0, 0, 1), (1, 2, 3)}
    sc = entity_f1(t, p)
    assert sc.f1 == pytest.approx(2 * 1 / 5) and sc.precision == 0.5
    assert sc.recall == pytest.approx(1 / 3)
    per_sentence = entity_f1([t, set()], [p, {(0, 1, 1)}])
    assert per_sentence.f1 == pytest.approx(2 * 1 / 6)
    assert entity_f1(set(), set()) == (1.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="one set per sentence"):
        entity_f1([t], [p, p])
    with pytest.raises(TypeError, match="both sets or both sequences"):
        entity_f1(t, [p])
