"""Tests of the synthetic length-generalisation tasks in kexue_lib.data."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from kexue_lib.data import copy_task, markov_language, random_transitions, reverse_task


def _g(seed=0):
    return torch.Generator().manual_seed(seed)


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(3, 80),
    lo=st.integers(1, 5),
    extra=st.integers(0, 5),
    seed=st.integers(0, 999),
)
def test_copy_task_is_periodic_and_mask_marks_the_determined_part(n, lo, extra, seed):
    hi = min(lo + extra, n - 1)
    lo = min(lo, hi)
    tok, m = copy_task(4, n, 7, period=(lo, hi), generator=_g(seed))
    assert (
        tok.shape == m.shape == (4, n)
        and tok.dtype == torch.long
        and m.dtype == torch.bool
    )
    assert int(tok.min()) >= 0 and int(tok.max()) < 7
    for row, mask in zip(tok.tolist(), m.tolist()):
        p = mask.index(True)  # first predicted position = the period
        assert lo <= p <= hi
        assert all(row[t] == row[t - p] for t in range(p, n))
        assert all(mask[t] == (t >= p) for t in range(n))


def test_copy_task_default_period_and_determinism():
    tok, m = copy_task(3, 10, generator=_g(1))
    assert torch.equal(tok[:, 5:], tok[:, :5]) and m[:, 5:].all() and not m[:, :5].any()
    tok2, _ = copy_task(3, 10, generator=_g(1))
    assert torch.equal(tok, tok2)
    tok3, _ = copy_task(2, 9, period=3, generator=_g(1))
    assert torch.equal(tok3[:, 3:6], tok3[:, :3]) and torch.equal(
        tok3[:, 6:], tok3[:, :3]
    )


def test_reverse_task():
    tok, m = reverse_task(5, 6, 10, generator=_g(0))
    assert tok.shape == (5, 13)
    assert (tok[:, 6] == 9).all() and (tok[:, :6] < 9).all()
    assert torch.equal(tok[:, 7:], tok[:, :6].flip(1))
    assert m.sum(1).tolist() == [6] * 5 and m[:, 7:].all()


def test_random_transitions_rows_are_distributions():
    P = random_transitions(3, 6, sharpness=3.0, generator=_g(0))
    assert P.shape == (3, 6, 6)
    np.testing.assert_allclose(P.sum(-1).numpy(), 1.0, rtol=0, atol=1e-12)
    U = random_transitions(2, 4, sharpness=0.0, generator=_g(0))
    np.testing.assert_allclose(U.numpy(), 0.25, atol=1e-15)


def test_markov_language_empirical_bigrams_match_the_matrix():
    P = torch.tensor(
        [[0.1, 0.9, 0.0], [0.5, 0.0, 0.5], [0.0, 0.2, 0.8]], dtype=torch.float64
    )
    tok, m = markov_language(200, 100, 3, transitions=P, generator=_g(0))
    assert not m[:, 0].any() and m[:, 1:].all()
    counts = np.zeros((3, 3))
    a, b = tok[:, :-1].reshape(-1).numpy(), tok[:, 1:].reshape(-1).numpy()
    np.add.at(counts, (a, b), 1)
    emp = counts / counts.sum(1, keepdims=True)
    np.testing.assert_allclose(
        emp, P.numpy(), atol=0.02
    )  # ~6000 transitions per row: 3σ ≈ 0.02
    assert (
        counts[0, 2] == 0 and counts[1, 1] == 0 and counts[2, 0] == 0
    )  # impossible transitions never occur


def test_markov_language_per_sequence_chains():
    tok, m, P = markov_language(
        4, 300, 5, sharpness=3.0, generator=_g(2), return_transitions=True
    )
    assert P.shape == (4, 5, 5)
    # every observed transition has positive probability under its own sequence's matrix
    probs = P[torch.arange(4)[:, None], tok[:, :-1], tok[:, 1:]]
    assert (probs > 0).all()
    # the oracle log-likelihood under the own matrix beats the one under another
    # sequence's matrix
    other = P[torch.tensor([1, 2, 3, 0])[:, None], tok[:, :-1], tok[:, 1:]]
    assert probs.log().mean() > other.log().mean()
    tok2, _ = markov_language(4, 300, 5, sharpness=3.0, generator=_g(2))
    assert torch.equal(tok, tok2)


def test_value_errors():
    with pytest.raises(ValueError, match="batch"):
        copy_task(0, 10)
    with pytest.raises(ValueError, match="n must"):
        copy_task(1, 1)
    with pytest.raises(ValueError, match="vocab"):
        copy_task(1, 10, 1)
    with pytest.raises(ValueError, match="period"):
        copy_task(1, 10, period=10)
    with pytest.raises(ValueError, match="period"):
        copy_task(1, 10, period=(5, 3))
    with pytest.raises(TypeError, match="period"):
        copy_task(1, 10, period="x")
    with pytest.raises(ValueError, match="period"):
        copy_task(1, 10, period=(1, 2, 3))
    with pytest.raises(ValueError, match="m must"):
        reverse_task(1, 0)
    with pytest.raises(ValueError, match="vocab"):
        reverse_task(1, 3, 2)
    with pytest.raises(ValueError, match="sharpness"):
        random_transitions(1, 3, sharpness=-1.0)
    with pytest.raises(ValueError, match="transitions"):
        markov_language(2, 5, 3, transitions=torch.ones(2, 2))
    with pytest.raises(ValueError, match="transitions"):
        markov_language(2, 5, 2, transitions=torch.tensor([[0.5, 0.6], [0.5, 0.5]]))
