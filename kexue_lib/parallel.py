"""Run independent jobs on every core: :func:`parallel_map`.

The book's experiments train *several* tiny models — one per seed, per scheme or per
setting — and each is far too small to gain from several intra-op threads: a training
step is a few hundred small tensor operations, dominated by Python and dispatch
overhead. The fast way to use a 2-core machine is therefore one job per core, each
single-threaded.

*Processes, not threads.* Threads share one interpreter lock: PyTorch releases it
inside its kernels, but for operations this small the Python between them serialises
the threads, and two threads gain only about a third over one. Forked worker processes
each have their own interpreter and run truly side by side. ``fork`` also makes them
cheap — a worker starts as a copy of the calling process, with PyTorch imported, the
data loaded and the function and its inputs already in memory; only each result
travels back (pickled). The calling process is one of the workers: one-time costs of a
job (the first optimiser step imports ``torch._dynamo``, about a second) are then paid
in the caller once and inherited by every later fork. So :func:`parallel_map` forks
where that is safe (Linux, no CUDA context yet) and falls back to threads elsewhere.

Either way every call runs with one intra-op thread, so its numbers do not depend on
the backend, the number of workers or the number of cores: a run is reproducible on any
machine (tested: processes, threads and a plain loop give bit-identical models).

Chapters: book/position/* (via :func:`kexue_lib.nn.train_tiny_lms`); vae/univae,
vmf-vae, vq-vae; nlp/teaforn, globalpointer, seq2seq-qa; gan/single-loss-gan;
generative/ddim — and every Explore slider (:func:`kexue_lib.widgets.precomputed_slider`
renders its figures with it).
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import pickle
import random
import sys
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any

import numpy as np
import torch

from . import _validate as V

__all__ = ["parallel_map"]

BACKENDS = ("auto", "process", "thread")

# Work handed to forked workers: they inherit this dict, so neither ``fn`` nor the
# items are pickled (closures and lambdas work); they take item indices from a shared
# counter.
_WORK: dict[int, tuple[Callable, list, Any]] = {}
_TOKENS = itertools.count()
_LOCK = threading.Lock()

# The thread backend's pools, one per size, kept for the life of the process: their
# threads never exit. A thread that has used MKL frees its buffers as it exits, under a
# lock in MKL's allocator, and Python's ``join`` returns before that exit is over; a
# fork at that moment hands the child the lock held, and the child's first matrix
# product spins on it for ever (seen: threads, then processes, in one test). Threads
# that stay alive, idle, hold no such lock. A forked child forgets the pools: their
# threads do not exist there.
_POOLS: dict[int, ThreadPoolExecutor] = {}
_POOLS_LOCK = threading.Lock()


def _thread_pool(workers: int) -> ThreadPoolExecutor:
    with _POOLS_LOCK:
        pool = _POOLS.get(workers)
        if pool is None:
            pool = ThreadPoolExecutor(workers, thread_name_prefix="parallel_map")
            _POOLS[workers] = pool
        return pool


def _forget_thread_pools() -> None:
    global _POOLS_LOCK
    _POOLS.clear()
    _POOLS_LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_thread_pools)


def _fork_is_safe() -> bool:
    """Fork only on Linux (macOS frameworks are not fork-safe), before any CUDA
    context exists (a forked child cannot use its parent's) and where the process
    pool's semaphores work."""
    if not sys.platform.startswith("linux"):
        return False
    if "fork" not in multiprocessing.get_all_start_methods():
        return False
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        return False
    try:  # some sandboxes have no POSIX semaphores, which process pools need
        multiprocessing.get_context("fork").Lock()
    except (ImportError, OSError):
        return False
    return True


def _pickled(result, index: int) -> bytes:
    try:
        return pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as err:  # noqa: BLE001 — re-raised as a clear TypeError
        raise TypeError(
            f"parallel_map: the result of fn(items[{index}]) cannot be sent back from "
            f"the worker process ({type(err).__name__}: {err}); return tensors, "
            f"arrays, numbers or modules (e.g. a model's state_dict), or pass "
            f"backend='thread'"
        ) from None


def _drain(token: int) -> list[tuple[int, bytes]]:
    """Take the next item from the shared counter until none is left; returns
    ``(index, pickled result)`` pairs."""
    fn, items, counter = _WORK[token]
    done = []
    while True:
        with counter.get_lock():
            i = counter.value
            counter.value = i + 1
        if i >= len(items):
            return done
        done.append((i, _pickled(fn(items[i]), i)))


def _drain_in_child(token: int) -> list[tuple[int, bytes]]:
    torch.set_num_threads(1)
    return _drain(token)


def _map_processes(fn: Callable, items: list, workers: int) -> list:
    """``workers − 1`` forked children and this process take items from a shared
    counter. This process works too, so that one-time costs of ``fn`` — lazy imports
    (PyTorch's optimisers import ``torch._dynamo``, about a second), caches — are paid
    here once and inherited by the children of every later call. Its global random
    states are restored afterwards, so the caller sees what it would after pure
    children; results go through pickle either way, so that they do not depend on
    where an item ran."""
    ctx = multiprocessing.get_context("fork")
    counter = ctx.Value("q", 0)
    with _LOCK:
        token = next(_TOKENS)
        _WORK[token] = (fn, items, counter)
    states = (torch.random.get_rng_state(), np.random.get_state(), random.getstate())
    pairs: list[tuple[int, bytes]] = []
    try:
        with ProcessPoolExecutor(max_workers=workers - 1, mp_context=ctx) as pool:
            children = [pool.submit(_drain_in_child, token) for _ in range(workers - 1)]
            try:
                pairs += _drain(token)
            except BaseException:
                with counter.get_lock():  # stop the children after their current item
                    counter.value = len(items)
                raise
            for child in children:
                pairs += child.result()
    finally:
        torch.random.set_rng_state(states[0])
        np.random.set_state(states[1])
        random.setstate(states[2])
        with _LOCK:
            del _WORK[token]
    out = [None] * len(items)
    for i, blob in pairs:
        out[i] = pickle.loads(blob)
    return out


def parallel_map(
    fn: Callable,
    items: Iterable,
    *,
    workers: int | None = None,
    backend: str = "auto",
) -> list:
    """``[fn(item) for item in items]``, computed by ``workers`` workers, in order.

    Every call of ``fn`` runs with one PyTorch intra-op thread, so its result does not
    depend on ``workers`` or ``backend`` (the calling process's thread count is
    restored afterwards). ``workers=None`` uses one worker per core, at most one per
    item; ``workers=1`` runs the calls one after the other in the calling thread.

    ``backend``:

    * ``"process"`` — ``workers − 1`` forked worker processes plus this one (Linux
      only), taking items from a shared counter. ``fn`` and the items are inherited,
      not pickled, so closures work; every **result goes through pickle** (also from
      this process) and must be picklable — it is a copy, not the object ``fn``
      returned. Other side effects are undefined: a model trained in place or a
      generator advanced by ``fn`` may or may not be changed for the caller, depending
      on where the item ran — return what you need (e.g. the trained model). The
      caller's global random states (PyTorch, NumPy, ``random``) are left as they
      were.
    * ``"thread"`` — threads of this process (a pool kept alive between calls); side
      effects are visible, but the interpreter lock limits the gain for small tensor
      operations.
    * ``"auto"`` (default) — ``"process"`` where forking is safe (Linux, no CUDA
      context created yet), else ``"thread"``. Write ``fn`` so that only its return
      value matters, and both backends give the same result.

    An exception raised by any call is re-raised in the caller.

    Chapters: see the module docstring (training several models, decoding with several
    methods or rendering several figures at once).
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {V.describe(fn)}")
    backend = V.choice("backend", backend, BACKENDS)
    items = list(items)
    if workers is None:
        workers = os.cpu_count() or 1
    workers = V.integer("workers", workers, minimum=1)
    workers = min(workers, max(1, len(items)))
    if backend == "process" and not _fork_is_safe():
        raise ValueError(
            "backend='process' needs fork-based worker processes (Linux, before any "
            "CUDA context is created); use backend='thread' or 'auto'"
        )
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        if workers == 1:
            return [fn(item) for item in items]
        if backend == "process" or (backend == "auto" and _fork_is_safe()):
            return _map_processes(fn, items, workers)
        return list(_thread_pool(workers).map(fn, items))
    finally:
        torch.set_num_threads(threads)
