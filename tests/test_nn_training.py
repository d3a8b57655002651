"""Tests of kexue_lib.nn.training: the shared training and scoring helpers of the
position chapters."""

from __future__ import annotations

import functools

import pytest
import torch

from kexue_lib.data import copy_task, markov_language
from kexue_lib.nn import (
    TinyTransformer,
    TokenScores,
    evaluate_lm,
    token_scores,
    train_tiny_lm,
    train_tiny_lms,
)
from kexue_lib.position import random_position_ids, rope_inv_freq

TASK = functools.partial(copy_task, vocab=8, period=(2, 4))
SMALL = dict(vocab=8, train_len=12, steps=6, batch=4, d_model=16, n_heads=2)


def _params(model):
    return torch.cat([p.detach().flatten() for p in model.parameters()])


# ---------------------------------------------------------------------------- training


def test_train_tiny_lm_is_seeded_and_leaves_the_global_rng_alone():
    torch.manual_seed(123)
    state = torch.get_rng_state()
    a = train_tiny_lm(TASK, seed=3, **SMALL)
    assert torch.equal(torch.get_rng_state(), state)
    b = train_tiny_lm(TASK, seed=3, **SMALL)
    c = train_tiny_lm(TASK, seed=4, **SMALL)
    assert a.losses == b.losses and torch.equal(_params(a.model), _params(b.model))
    assert a.losses != c.losses
    assert not a.model.training and a.seed == 3 and len(a.losses) == SMALL["steps"]


def test_seeds_change_both_initialisation_and_data():
    from kexue_lib.nn.training import DATA_SEED_OFFSET

    seen = []

    def task(batch, n, *, generator):
        seen.append(generator.initial_seed())
        return TASK(batch, n, generator=generator)

    train_tiny_lm(task, seed=5, **{**SMALL, "steps": 1})
    assert seen == [5 + DATA_SEED_OFFSET]
    torch.manual_seed(5)
    fresh = TinyTransformer(8, 16, 2, 2)
    trained = train_tiny_lm(TASK, seed=5, **{**SMALL, "steps": 1, "lr": 1e-12})
    assert torch.allclose(_params(fresh), _params(trained.model), atol=1e-9)


def test_train_tiny_lms_does_not_depend_on_workers():
    jobs = {("a", s): dict(seed=s) for s in range(3)}
    one = train_tiny_lms(TASK, jobs, workers=1, **SMALL)
    two = train_tiny_lms(TASK, jobs, workers=2, **SMALL)
    assert list(one) == list(jobs) == list(two)
    for key in jobs:
        assert one[key].losses == two[key].losses
        assert torch.equal(_params(one[key].model), _params(two[key].model))
    # same recipe as the single helper — run, like parallel_map's calls, on one
    # intra-op thread: with two, a matrix product may split its sums differently
    # (MKL's generic path on some CPUs does), changing the last bits
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        single = train_tiny_lm(TASK, seed=1, **SMALL)
    finally:
        torch.set_num_threads(before)
    assert single.losses == one[("a", 1)].losses


def test_forward_kwargs_per_seed_and_extra_params_are_trained():
    inv = rope_inv_freq(8)

    def setup(seed):
        rho = torch.zeros(2, requires_grad=True)
        gen = torch.Generator().manual_seed(seed)
        return dict(
            inv_freq=inv,
            attn_bias=lambda n: (
                -rho[:, None, None].exp()
                * (torch.arange(n)[:, None] - torch.arange(n)[None, :]).abs()
            ),
            positions=lambda n: random_position_ids(n, 40, gen, batch=4),
            extra_params=[rho],
        )

    runs = train_tiny_lms(
        TASK, {s: dict(seed=s) for s in (0, 1)}, forward_kwargs=setup, **SMALL
    )
    for run in runs.values():
        (rho,) = run.extra_params
        assert not rho.requires_grad and float(rho.abs().sum()) > 0  # it moved
        assert set(run.forward_kwargs) == {"inv_freq", "attn_bias", "positions"}


def test_a_short_run_learns_the_copy_task():
    task = functools.partial(copy_task, vocab=8, period=(2, 3))
    run = train_tiny_lm(
        task,
        seed=0,
        vocab=8,
        train_len=16,
        steps=60,
        batch=16,
        forward_kwargs=dict(inv_freq=rope_inv_freq(32)),
    )
    first, last = sum(run.losses[:5]) / 5, sum(run.losses[-5:]) / 5
    assert last < 0.7 * first


def test_training_arguments_are_validated():
    with pytest.raises(TypeError, match="task must be callable"):
        train_tiny_lm(3, seed=0, **SMALL)
    with pytest.raises(ValueError, match="steps must be"):
        train_tiny_lm(TASK, seed=0, **{**SMALL, "steps": 0})
    with pytest.raises(TypeError, match="seed must be"):
        train_tiny_lm(TASK, seed=0.5, **SMALL)
    with pytest.raises(ValueError, match="even head size"):
        train_tiny_lm(TASK, seed=0, **{**SMALL, "d_model": 12, "n_heads": 4})
    with pytest.raises(ValueError, match="lr must be"):
        train_tiny_lm(TASK, seed=0, **{**SMALL, "lr": -1.0})
    with pytest.raises(TypeError, match="forward_kwargs must be a mapping"):
        train_tiny_lm(TASK, seed=0, forward_kwargs=lambda s: 3, **SMALL)
    with pytest.raises(TypeError, match="extra_params"):
        train_tiny_lm(
            TASK, seed=0, forward_kwargs={"extra_params": [torch.ones(2)]}, **SMALL
        )
    bad = lambda batch, n, *, generator: copy_task(batch, n + 1, 8, generator=generator)
    with pytest.raises(ValueError, match="task must return"):
        train_tiny_lm(bad, seed=0, **SMALL)
    with pytest.raises(TypeError, match="unknown arguments"):
        train_tiny_lms(TASK, {0: dict(seed=0, speed=3)}, **SMALL)
    with pytest.raises(TypeError, match="missing arguments"):
        train_tiny_lms(TASK, {0: dict(seed=0)}, vocab=8)
    with pytest.raises(ValueError, match="jobs must be a non-empty mapping"):
        train_tiny_lms(TASK, {}, **SMALL)
    with pytest.raises(TypeError, match="jobs must be a non-empty mapping"):
        train_tiny_lms(TASK, [(0, dict(seed=0))], **SMALL)


# ---------------------------------------------------------------------------- scoring


@pytest.fixture(scope="module")
def trained():
    return train_tiny_lm(
        markov_language,
        seed=0,
        vocab=8,
        train_len=16,
        steps=10,
        batch=8,
        forward_kwargs=dict(inv_freq=rope_inv_freq(32)),
    )


def test_token_scores_match_evaluate_lm(trained):
    tok, mask = copy_task(6, 25, 8, period=(2, 5), generator=torch.Generator())
    kw = trained.forward_kwargs
    s = token_scores(trained.model, tok, mask, **kw)
    assert isinstance(s, TokenScores) and s.nll.shape == (6, 24)
    loss, acc = evaluate_lm(trained.model, tok, mask, **kw)
    assert s.loss() == pytest.approx(loss, rel=1e-5)
    assert s.accuracy() == pytest.approx(acc, rel=1e-6)
    per = s.per_position_loss()
    m = mask[:, 1:]
    for t in (3, 10, 23):
        want = s.nll[m[:, t], t].double().mean()
        assert float(per[t]) == pytest.approx(float(want), rel=1e-9)
    assert torch.isnan(per[0])  # position 0 never counts with period >= 2


def test_token_scores_chunks_rows_and_per_sample_arguments(trained):
    g = torch.Generator().manual_seed(1)
    tok, mask = markov_language(5, 21, 8, generator=g)
    pos = random_position_ids(20, 64, g, batch=5)
    win = torch.ones(5, 20, 20, dtype=torch.bool).tril()
    win[2] = win[2].triu(-3)  # sample 2 sees a window of 4
    kw = dict(trained.forward_kwargs, positions=pos, mask=win)
    whole = token_scores(trained.model, tok, mask, **kw)
    pieces = token_scores(trained.model, tok, mask, max_scores=2 * 20 * 20, **kw)
    assert torch.allclose(whole.nll, pieces.nll, atol=1e-6)
    assert torch.equal(whole.correct, pieces.correct)
    alone = token_scores(
        trained.model,
        tok[2:3],
        mask[2:3],
        **dict(trained.forward_kwargs, positions=pos[2:3], mask=win[2]),
    )
    assert torch.allclose(alone.nll[0], whole.nll[2], atol=1e-6)


def test_token_scores_calls_callables_with_n_and_validates(trained):
    tok, mask = markov_language(2, 11, 8, generator=torch.Generator())
    got = []
    inv = trained.forward_kwargs["inv_freq"]
    token_scores(trained.model, tok, mask, inv_freq=lambda n: got.append(n) or inv)
    assert got == [10]
    with pytest.raises(ValueError, match="selects no position"):
        token_scores(trained.model, tok, torch.zeros_like(mask), inv_freq=inv)
    with pytest.raises(TypeError, match="tokens must be an integer tensor"):
        token_scores(trained.model, tok.float(), mask, inv_freq=inv)
    with pytest.raises(ValueError, match="loss_mask must have the shape"):
        token_scores(trained.model, tok, mask[:, :-1], inv_freq=inv)
    with pytest.raises(TypeError, match="model must be"):
        token_scores("model", tok, mask)
