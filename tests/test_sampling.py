"""Tests for kexue_lib.sampling (chapter math/search-sampling): each sampler against
exact enumeration on a small space, determinism with a seeded generator, bad input."""

from __future__ import annotations

import math

import pytest
import torch

from kexue_lib.sampling import (
    BigramLM,
    contains_keywords,
    gibbs_sweep,
    importance_expectation,
    importance_weights,
    metropolis_hastings,
    mh_acceptance,
    mh_kernel,
    propose_edit,
    rejection_sample,
    total_variation,
)


def _lm(V=4, L=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    start = torch.rand(V, generator=g, dtype=torch.float64) + 0.1
    trans = torch.rand(V, V, generator=g, dtype=torch.float64) + 0.1
    return BigramLM(start / start.sum(), trans / trans.sum(1, keepdim=True), L)


def _target(lm, kw):
    X = lm.enumerate()
    log_rho = lambda x: torch.where(contains_keywords(x, kw), lm.log_prob(x), -math.inf)
    return X, log_rho, torch.softmax(log_rho(X), 0)


def _codes(lm, x):
    return (x * lm.vocab_size ** torch.arange(lm.length - 1, -1, -1)).sum(-1)


def _hist(lm, x, w=None):
    n = lm.vocab_size**lm.length
    h = torch.zeros(n, dtype=torch.float64)
    w = torch.ones(len(x), dtype=torch.float64) if w is None else w
    return h.index_add_(0, _codes(lm, x), w) / w.sum()


def test_bigram_lm_enumerates_a_distribution_and_samples_it():
    lm = _lm()
    X = lm.enumerate()
    assert X.shape == (64, 3)
    p = lm.log_prob(X).exp()
    assert abs(p.sum().item() - 1) < 1e-12
    # a hand computation of one sentence
    x = torch.tensor([[2, 0, 3]])
    ref = lm.start[2] * lm.trans[2, 0] * lm.trans[0, 3]
    assert abs(lm.log_prob(x).exp().item() - ref.item()) < 1e-15
    x = lm.sample(40_000, generator=torch.Generator().manual_seed(1))
    assert total_variation(_hist(lm, x), p) < 0.03
    t = lm.tempered(2.0)
    assert torch.allclose(t.trans, lm.trans.sqrt() / lm.trans.sqrt().sum(1, True))


def test_importance_matches_exact_expectation():
    lm = _lm()
    X, log_rho, p = _target(lm, [1])
    q = lm.tempered(1.7)
    f = lambda x: (x[:, 0] == 2).double()
    mu = (p * f(X)).sum().item()
    est = importance_expectation(
        f,
        log_rho,
        q.sample,
        q.log_prob,
        50_000,
        generator=torch.Generator().manual_seed(0),
    )
    assert abs(est.item() - mu) < 0.01
    w = importance_weights(torch.tensor([0.0, -math.inf, 1.0]), torch.zeros(3))
    assert torch.allclose(w, torch.tensor([1, 0, math.e]) / (1 + math.e))


def test_rejection_sample_matches_target_and_rate():
    lm = _lm()
    X, log_rho, p = _target(lm, [1, 3])
    q = lm.tempered(1.5)
    rho = log_rho(X).exp()
    Z = rho.sum().item()
    M = (rho / q.log_prob(X).exp()).max().item()
    acc, rate = rejection_sample(
        log_rho,
        q.sample,
        q.log_prob,
        math.log(M),
        100_000,
        generator=torch.Generator().manual_seed(0),
    )
    assert abs(rate - Z / M) < 4 * math.sqrt(Z / M / 100_000)
    assert total_variation(_hist(lm, acc), p) < 0.05


def test_mh_kernel_detailed_balance_and_gibbs_acceptance_one():
    lm = _lm(V=3, L=2)
    X, log_rho, p = _target(lm, [0])
    m = len(X)
    g = torch.Generator().manual_seed(0)
    Q = torch.rand(m, m, generator=g, dtype=torch.float64)
    Q = Q / Q.sum(1, keepdim=True)  # an asymmetric proposal
    P = mh_kernel(log_rho(X), Q)
    flow = p[:, None] * P
    assert torch.allclose(flow, flow.T, atol=1e-16)
    assert torch.allclose(P.sum(1), torch.ones(m, dtype=torch.float64))
    # independent reference: the textbook formula, entry by entry
    rho = log_rho(X).exp()
    for x in range(m):
        for y in range(m):
            if x != y and rho[x] > 0:
                a = min(1.0, (Q[y, x] * rho[y] / (Q[x, y] * rho[x])).item())
                assert abs(P[x, y].item() - Q[x, y].item() * a) < 1e-15
    # the proposal "draw from p itself" is always accepted from the support
    Qp = p.expand(m, m).clone()
    A = mh_acceptance(log_rho(X), Qp)
    on = (rho > 0)[:, None] & (Qp > 0)
    assert torch.allclose(A[on], torch.ones(int(on.sum()), dtype=torch.float64))


def test_metropolis_hastings_and_gibbs_converge_to_the_target():
    lm = _lm()
    X, log_rho, p = _target(lm, [1])
    x0 = torch.tensor([[1, 1, 1]]).repeat(500, 1)
    prop = lambda x, generator: propose_edit(x, 4, generator=generator)
    states, acc = metropolis_hastings(
        log_rho, prop, x0, 200, generator=torch.Generator().manual_seed(0)
    )
    assert states.shape == (200, 500, 3) and acc.shape == (200, 500)
    assert 0 < acc.double().mean() < 1
    assert total_variation(_hist(lm, states[100:].reshape(-1, 3)), p) < 0.03
    g = torch.Generator().manual_seed(1)
    x = x0
    out = []
    for _ in range(40):
        x = gibbs_sweep(log_rho, x, 4, generator=g)
        out.append(x)
    assert total_variation(_hist(lm, torch.cat(out[10:])), p) < 0.03


def test_propose_edit_moves_and_symmetry():
    x = torch.tensor([[1, 2, 3, 4]]).repeat(500, 1)
    g = torch.Generator().manual_seed(0)
    xl = [1, 2, 3, 4]
    defs = {
        "substitute": lambda i, w: xl[:i] + [w] + xl[i + 1 :],
        "insert": lambda i, w: xl[:i] + [w] + xl[i:-1],
        "delete": lambda i, w: xl[:i] + xl[i + 1 :] + [w],
    }
    for move, make in defs.items():
        allowed = {tuple(make(i, w)) for i in range(4) for w in range(10)}
        y = propose_edit(x, 10, generator=g, moves=[move])
        assert {tuple(r) for r in y.tolist()} <= allowed, move
    # symmetric: q(y<-x) = q(x<-y), measured on all 27 sentences of length 3 over 3
    V, L, reps = 3, 3, 4000
    X = BigramLM(
        torch.ones(V, dtype=torch.float64) / V,
        torch.ones(V, V, dtype=torch.float64) / V,
        L,
    ).enumerate()
    starts = X.repeat_interleave(reps, 0)
    y = propose_edit(starts, V, generator=g)
    pw = V ** torch.arange(L - 1, -1, -1)
    Q = torch.zeros(27, 27, dtype=torch.float64)
    Q.index_put_(
        ((starts * pw).sum(1), (y * pw).sum(1)),
        torch.ones(len(y), dtype=torch.float64),
        accumulate=True,
    )
    Q /= reps
    assert (Q - Q.T).abs().max() < 0.03


def test_determinism():
    lm = _lm()
    _, log_rho, _ = _target(lm, [1])
    x0 = torch.tensor([[1, 0, 0]]).repeat(5, 1)
    prop = lambda x, generator: propose_edit(x, 4, generator=generator)
    a = metropolis_hastings(
        log_rho, prop, x0, 20, generator=torch.Generator().manual_seed(3)
    )
    b = metropolis_hastings(
        log_rho, prop, x0, 20, generator=torch.Generator().manual_seed(3)
    )
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert torch.equal(
        lm.sample(7, generator=torch.Generator().manual_seed(4)),
        lm.sample(7, generator=torch.Generator().manual_seed(4)),
    )


def test_bad_input_raises_naming_the_argument():
    lm = _lm()
    _, log_rho, _ = _target(lm, [1])
    q = lm
    with pytest.raises(ValueError, match="log_M"):
        rejection_sample(log_rho, q.sample, q.log_prob, -5.0, 1000)
    with pytest.raises(TypeError, match="generator"):
        rejection_sample(log_rho, q.sample, q.log_prob, 0.0, 10, generator=0)
    with pytest.raises(ValueError, match="n_proposals"):
        rejection_sample(log_rho, q.sample, q.log_prob, 0.0, 0)
    with pytest.raises(ValueError, match="x0"):
        metropolis_hastings(
            log_rho, lambda x, generator: x, torch.tensor([[0, 0, 0]]), 3
        )
    with pytest.raises(TypeError, match="x0"):
        metropolis_hastings(log_rho, lambda x, generator: x, [[0, 1, 1]], 3)
    with pytest.raises(TypeError, match="f"):
        importance_expectation(3, log_rho, q.sample, q.log_prob, 10)
    with pytest.raises(ValueError, match="log_rho"):
        importance_weights(torch.full((3,), -math.inf), torch.zeros(3))
    with pytest.raises(ValueError, match="log_q"):
        importance_weights(torch.zeros(3), torch.tensor([0.0, -math.inf, 0.0]))
    with pytest.raises(ValueError, match="x"):
        gibbs_sweep(log_rho, torch.tensor([[0, 0, 0]]), 4)
    with pytest.raises(ValueError, match="positions"):
        gibbs_sweep(log_rho, torch.tensor([[1, 0, 0]]), 4, positions=[5])
    with pytest.raises(ValueError, match="moves"):
        propose_edit(torch.zeros(2, 3, dtype=torch.long), 4, moves=["swap"])
    with pytest.raises(TypeError, match="x"):
        propose_edit(torch.zeros(2, 3), 4)
    with pytest.raises(ValueError, match="Q"):
        mh_kernel(
            torch.zeros(2, dtype=torch.float64), torch.ones(2, 2, dtype=torch.float64)
        )
    with pytest.raises(ValueError, match="trans"):
        BigramLM(
            torch.ones(2, dtype=torch.float64) / 2,
            torch.ones(2, 3, dtype=torch.float64) / 3,
            2,
        )
    with pytest.raises(ValueError, match="x"):
        lm.log_prob(torch.tensor([[0, 9, 0]]))
    with pytest.raises(ValueError, match="temperature"):
        lm.tempered(0.0)
