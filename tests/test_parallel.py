"""Tests of kexue_lib.parallel.parallel_map: order, backends, errors, determinism."""

from __future__ import annotations

import os
import threading

import pytest
import torch
from torch import nn

from kexue_lib import parallel
from kexue_lib.nn import parallel_map as reexported
from kexue_lib.parallel import parallel_map

LINUX_FORK = parallel._fork_is_safe()
needs_fork = pytest.mark.skipif(not LINUX_FORK, reason="fork-based workers: Linux only")


def test_reexported_from_nn():
    assert reexported is parallel_map


@pytest.mark.parametrize("backend", ["auto", "thread"])
def test_keeps_order_and_matches_a_loop(backend):
    items = list(range(7))
    sq = lambda x: x * x  # a closure: forked workers inherit it, nothing is pickled
    assert parallel_map(sq, items, workers=3, backend=backend) == [x * x for x in items]
    assert parallel_map(sq, items, workers=1, backend=backend) == [x * x for x in items]
    assert parallel_map(sq, [], workers=2, backend=backend) == []


def test_threads_run_concurrently_with_one_intra_op_thread():
    seen, threads = set(), []
    barrier = threading.Barrier(2, timeout=5)

    def job(i):
        seen.add(threading.get_ident())
        threads.append(torch.get_num_threads())
        barrier.wait()  # both calls must be running at the same time
        return i

    before = torch.get_num_threads()
    assert parallel_map(job, [0, 1], workers=2, backend="thread") == [0, 1]
    assert len(seen) == 2 and threads == [1, 1]
    assert torch.get_num_threads() == before  # restored


@needs_fork
def test_this_process_and_a_forked_child_share_the_items():
    import multiprocessing
    import sys

    sys.modules.pop("wave", None)
    meet = multiprocessing.get_context("fork").Barrier(2, timeout=20)

    def job(i):
        import wave  # noqa: F401 — a lazy import, paid once by this process

        meet.wait()  # both items run at the same time, so in two processes
        return os.getpid(), torch.get_num_threads()

    before = torch.get_num_threads()
    out = parallel_map(job, [0, 1], workers=2)  # 'auto' forks on Linux
    pids = {pid for pid, _ in out}
    assert len(pids) == 2 and os.getpid() in pids  # either may take either item
    assert {n for _, n in out} == {1}
    assert torch.get_num_threads() == before
    assert "wave" in sys.modules  # later forks inherit what this process loaded
    assert parallel_map(lambda i: os.getpid(), [0, 1], workers=1) == [os.getpid()] * 2


def _train(seed: int) -> nn.Module:
    g = torch.Generator().manual_seed(seed)  # no global RNG: threads would race on it
    model = nn.Sequential(nn.Linear(8, 32), nn.GELU(), nn.Linear(32, 1))
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(0.3 * torch.randn(p.shape, generator=g))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(20):
        x = torch.randn(64, 8, generator=g)
        loss = (model(x).squeeze(-1) - x.sum(-1).sin()).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model


def test_every_backend_gives_bit_identical_models():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        loop = [_train(s) for s in range(3)]
    finally:
        torch.set_num_threads(before)
    runs = [parallel_map(_train, range(3), workers=2, backend="thread")]
    if LINUX_FORK:
        runs.append(parallel_map(_train, range(3), workers=2, backend="process"))
    for run in runs:
        for a, b in zip(loop, run):
            for p, q in zip(a.parameters(), b.parameters()):
                assert torch.equal(p, q)


def test_thread_backend_threads_outlive_the_call():
    """The thread backend's workers stay alive between calls, so that no thread is
    exiting (and freeing MKL's per-thread buffers under its allocator lock) when a later
    call forks: such a child hung in its first matrix product."""
    barrier = threading.Barrier(2, timeout=5)

    def job(i):
        barrier.wait()  # both items at once: two distinct threads
        return threading.get_ident()

    first = parallel_map(job, [0, 1], workers=2, backend="thread")
    assert len(set(first)) == 2
    alive = {t.ident for t in threading.enumerate()}
    assert set(first) <= alive  # still running after the call returned
    assert set(parallel_map(job, [0, 1], workers=2, backend="thread")) == set(first)


@needs_fork
def test_a_forked_child_forgets_the_thread_pools():
    parallel_map(lambda i: i, [0, 1], workers=2, backend="thread")
    assert parallel._POOLS  # this process keeps its pool
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: the pool's threads do not exist here
        os.write(write, str(len(parallel._POOLS)).encode())
        os._exit(0)
    os.close(write)
    assert os.read(read, 16) == b"0"
    os.close(read)
    os.waitpid(pid, 0)


@pytest.mark.parametrize(
    "backend", ["thread", pytest.param("process", marks=needs_fork)]
)
def test_reraises_and_restores_threads(backend):
    before = torch.get_num_threads()

    def boom(i):
        if i == 2:
            raise RuntimeError("job 2 failed")
        return i

    with pytest.raises(RuntimeError, match="job 2 failed"):
        parallel_map(boom, range(4), workers=2, backend=backend)
    assert torch.get_num_threads() == before


@needs_fork
def test_process_results_are_copies_and_random_states_are_kept():
    import random

    import numpy as np

    model = nn.Linear(2, 2)
    torch.manual_seed(0)
    np.random.seed(0)
    random.seed(0)
    states = torch.get_rng_state(), np.random.get_state()[1].copy(), random.getstate()

    def job(i):
        torch.randn(3), np.random.rand(3), random.random()  # consume every RNG
        return model

    out = parallel_map(job, range(4), workers=2, backend="process")
    assert all(m is not model and torch.equal(m.weight, model.weight) for m in out)
    assert torch.equal(torch.get_rng_state(), states[0])
    assert np.array_equal(np.random.get_state()[1], states[1])
    assert random.getstate() == states[2]
    with pytest.raises(TypeError, match=r"result of fn\(items\[\d\]\) cannot be sent"):
        parallel_map(lambda i: lambda: i, range(2), workers=2, backend="process")


def test_validates():
    with pytest.raises(TypeError, match="fn must be callable"):
        parallel_map(3, [1])
    with pytest.raises(ValueError, match="workers must be"):
        parallel_map(abs, [1], workers=0)
    with pytest.raises(TypeError, match="workers must be"):
        parallel_map(abs, [1], workers=1.5)
    with pytest.raises(ValueError, match="backend must be one of"):
        parallel_map(abs, [1], backend="gpu")
    with pytest.raises(TypeError, match="backend must be one of"):
        parallel_map(abs, [1], backend=2)


def test_process_backend_refused_where_fork_is_unsafe(monkeypatch):
    monkeypatch.setattr(parallel, "_fork_is_safe", lambda: False)
    with pytest.raises(ValueError, match="backend='process' needs fork"):
        parallel_map(abs, [1, 2], workers=2, backend="process")
    # 'auto' falls back to threads: every call's side effects are visible
    box = []
    parallel_map(box.append, [1, 2], workers=2)
    assert sorted(box) == [1, 2]


def test_no_fork_without_semaphores(monkeypatch):
    import multiprocessing

    class NoLocks:
        def Lock(self):  # noqa: N802 — the multiprocessing context's API
            raise OSError("sem_open: function not implemented")

    real = multiprocessing.get_context
    monkeypatch.setattr(
        multiprocessing,
        "get_context",
        lambda m=None: NoLocks() if m == "fork" else real(m),
    )
    assert parallel._fork_is_safe() is False
    assert parallel_map(lambda x: x + 1, [1, 2], workers=2) == [2, 3]  # threads
