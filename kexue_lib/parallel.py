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
travels back (pickled). So :func:`parallel_map` forks where that is safe (Linux, no
CUDA context yet) and falls back to threads elsewhere.

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
import sys
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import torch

from . import _validate as V

__all__ = ["parallel_map"]

BACKENDS = ("auto", "process", "thread")

# Work handed to forked workers: they inherit this dict, so neither ``fn`` nor the
# items are pickled (closures and lambdas work); only the index of an item is sent.
_WORK: dict[int, tuple[Callable, list]] = {}
_TOKENS = itertools.count()
_LOCK = threading.Lock()


def _fork_is_safe() -> bool:
    """Fork only on Linux (macOS frameworks are not fork-safe) and before any CUDA
    context exists (a forked child cannot use its parent's)."""
    if not sys.platform.startswith("linux"):
        return False
    if "fork" not in multiprocessing.get_all_start_methods():
        return False
    return not (torch.cuda.is_available() and torch.cuda.is_initialized())


def _run_in_worker(token: int, index: int) -> bytes:
    fn, items = _WORK[token]
    torch.set_num_threads(1)
    result = fn(items[index])
    try:
        return pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as err:  # noqa: BLE001 — re-raised as a clear TypeError
        raise TypeError(
            f"parallel_map: the result of fn(items[{index}]) cannot be sent back from "
            f"the worker process ({type(err).__name__}: {err}); return tensors, "
            f"arrays, numbers or modules (e.g. a model's state_dict), or pass "
            f"backend='thread'"
        ) from None


def _map_processes(fn: Callable, items: list, workers: int) -> list:
    with _LOCK:
        token = next(_TOKENS)
        _WORK[token] = (fn, items)
    try:
        ctx = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            blobs = list(
                pool.map(_run_in_worker, [token] * len(items), range(len(items)))
            )
    finally:
        with _LOCK:
            del _WORK[token]
    return [pickle.loads(b) for b in blobs]


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

    * ``"process"`` — forked worker processes (Linux only). ``fn`` and the items are
      inherited, not pickled, so closures work; each **result is pickled back** and
      must be picklable. Side effects stay in the worker: a model trained in place, a
      generator advanced or the global RNG consumed inside ``fn`` are *not* visible to
      the caller — return what you need (e.g. the trained model).
    * ``"thread"`` — threads of this process; side effects are visible, but the
      interpreter lock limits the gain for small tensor operations.
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
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(fn, items))
    finally:
        torch.set_num_threads(threads)
