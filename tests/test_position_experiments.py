"""Tests of kexue_lib.position.experiments: equal-mean positions and the in-context
bigram reference predictor."""

from __future__ import annotations

import math

import pytest
import torch

from kexue_lib.data import markov_language
from kexue_lib.position import sliding_window_mask
from kexue_lib.position.experiments import (
    equal_mean_positions,
    in_context_bigram_nll,
)


def test_equal_mean_positions_are_evenly_spaced_from_zero():
    pos = equal_mean_positions(9, 5, generator=torch.Generator().manual_seed(0))
    assert pos.shape == (5, 9) and pos.dtype == torch.float32
    assert torch.all(pos[:, 0] == 0)
    gaps = pos.diff(dim=-1)
    assert torch.allclose(gaps, gaps[:, :1].expand_as(gaps), rtol=1e-5, atol=1e-6)
    assert torch.allclose(pos[:, -1], 8 * gaps[:, 0], rtol=1e-5)


@pytest.mark.parametrize("law, sd", [("exponential", 64.0), ("poisson", 8.0)])
def test_equal_mean_positions_range_law(law, sd):
    g = torch.Generator().manual_seed(1)
    r = equal_mean_positions(64, 40_000, law=law, generator=g, dtype=torch.float64)
    r = r[:, -1]
    assert float(r.mean()) == pytest.approx(64.0, rel=0.02)
    assert float(r.std()) == pytest.approx(sd, rel=0.03)
    gap = r / 63
    assert float(gap.mean()) == pytest.approx(64 / 63, rel=0.02)


def test_equal_mean_positions_mean_range_and_validation():
    g = torch.Generator().manual_seed(2)
    r = equal_mean_positions(4, 20_000, 10.0, generator=g, dtype=torch.float64)
    assert float(r[:, -1].mean()) == pytest.approx(10.0, rel=0.03)
    with pytest.raises(ValueError, match="n must be"):
        equal_mean_positions(1, 3)
    with pytest.raises(ValueError, match="mean_range must be"):
        equal_mean_positions(4, 3, -1.0)
    with pytest.raises(ValueError, match="law must be one of"):
        equal_mean_positions(4, 3, law="uniform")
    with pytest.raises(TypeError, match="generator must be"):
        equal_mean_positions(4, 3, generator=0)


def _brute(tokens, vocab, window, alpha):
    b, n = tokens.shape
    out = torch.zeros(b, n - 1, dtype=torch.float64)
    for i in range(b):
        x = tokens[i].tolist()
        for t in range(1, n):
            lo = 0 if window is None else max(0, t - window)
            seen = x[lo:t]  # tokens visible to the query at position t-1
            c = [[0] * vocab for _ in range(vocab)]
            for u, v in zip(seen[:-1], seen[1:]):
                c[u][v] += 1
            a, nxt = x[t - 1], x[t]
            p = (c[a][nxt] + alpha) / (sum(c[a]) + vocab * alpha)
            out[i, t - 1] = -math.log(p)
    return out


@pytest.mark.parametrize("window", [None, 1, 2, 5, 40])
def test_in_context_bigram_nll_matches_counting(window):
    tok, _ = markov_language(3, 30, 4, generator=torch.Generator().manual_seed(3))
    got = in_context_bigram_nll(tok, 4, window=window, alpha=0.7)
    assert got.shape == (3, 29) and got.dtype == torch.float64
    assert torch.allclose(got, _brute(tok, 4, window, 0.7), atol=1e-12)


def test_in_context_bigram_nll_window_is_what_a_sliding_window_sees():
    n, w = 12, 4
    mask = sliding_window_mask(n, w)
    visible = [torch.nonzero(mask[t - 1]).flatten().tolist() for t in range(1, n)]
    # the query at t-1 (which predicts token t) sees tokens max(0, t-w) … t-1
    assert all(visible[t - 1] == list(range(max(0, t - w), t)) for t in range(1, n))
    tok = torch.arange(n)[None] % 3
    full = in_context_bigram_nll(tok, 3)
    assert torch.allclose(in_context_bigram_nll(tok, 3, window=n), full)
    # with a window of 1 the estimator sees no bigram: uniform, log V
    assert torch.allclose(
        in_context_bigram_nll(tok, 3, window=1),
        torch.tensor(3.0, dtype=torch.float64).log(),
    )
    # first prediction (t = 1) sees no bigram either
    assert float(full[0, 0]) == pytest.approx(math.log(3))


def test_in_context_bigram_nll_learns_a_deterministic_chain():
    tok = (torch.arange(200)[None] % 5).repeat(2, 1)  # 0 1 2 3 4 0 1 ...
    nll = in_context_bigram_nll(tok, 5)
    # the last token (t = 199) is the 40th occurrence of its bigram: 39 were seen before
    assert float(nll[0, -1]) == pytest.approx(-math.log(39.5 / 41.5), rel=1e-12)
    assert torch.all(nll[:, 1:].diff(dim=-1)[:, 10:] <= 1e-12)


def test_in_context_bigram_nll_validation():
    tok = torch.zeros(2, 5, dtype=torch.long)
    with pytest.raises(TypeError, match="tokens must be an integer tensor"):
        in_context_bigram_nll(tok.float(), 3)
    with pytest.raises(ValueError, match=r"tokens must lie in \[0, 3\)"):
        in_context_bigram_nll(tok + 3, 3)
    with pytest.raises(ValueError, match="window must be"):
        in_context_bigram_nll(tok, 3, window=0)
    with pytest.raises(ValueError, match="alpha must be"):
        in_context_bigram_nll(tok, 3, alpha=0.0)
    with pytest.raises(ValueError, match="at least 2 columns"):
        in_context_bigram_nll(tok[:, :1], 3)
