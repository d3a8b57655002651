"""Wall-clock timing that stays fair on a shared machine.

On a shared 2-core machine the speed of the same call drifts by a factor of two from one
minute to the next (seen on the CI machine kind: 7 ms, then 18 ms, with nothing else of
ours running). Timing one kernel for a while and then the next one turns such drift into
a fake difference between them. :func:`interleaved_times` instead calls every timed
function in turn, round after round, so that all of them are sampled over the same
stretch of time and a slow phase hits all of them alike.

Used by ``benchmarks/attention.py`` and by the timing experiment of chapter
``attention/linear-attention``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Mapping

from . import _validate as V

__all__ = ["interleaved_times"]


def interleaved_times(
    calls: Mapping[Hashable, Callable[[], object]], rounds: int, max_inner: int = 8
) -> dict[Hashable, list[float]]:
    """Wall-time samples (seconds) of each zero-argument callable in ``calls``,
    interleaved round by round.

    Each callable is called once as a warm-up (its time estimates its cost); then come
    ``rounds`` rounds, in each of which every callable runs in turn, in the order of
    ``calls``. A callable at least twice as fast as the slowest one runs several times
    in a row per round — about ``slowest / (2 · own)`` times, at most ``max_inner`` — so
    that its statistics rest on more samples taken in the same window.

    Returns ``{key: [seconds, ...]}`` with ``rounds × (calls per round)`` samples per
    key; take the median (typical cost) or the minimum (cost without interference) of
    each list.
    """
    if not isinstance(calls, Mapping):
        raise TypeError(
            f"calls must be a non-empty mapping of callables, got {V.describe(calls)}"
        )
    if not calls:
        raise ValueError("calls must be a non-empty mapping of callables, got {}")
    for key, fn in calls.items():
        if not callable(fn):
            raise TypeError(f"calls[{key!r}] must be callable, got {V.describe(fn)}")
    rounds = V.integer("rounds", rounds, minimum=1)
    max_inner = V.integer("max_inner", max_inner, minimum=1)
    estimate = {}
    for key, fn in calls.items():
        t0 = time.perf_counter()
        fn()
        estimate[key] = max(time.perf_counter() - t0, 1e-9)
    slowest = max(estimate.values())
    inner = {
        key: max(1, min(max_inner, int(slowest / (2 * e))))
        for key, e in estimate.items()
    }
    samples: dict[Hashable, list[float]] = {key: [] for key in calls}
    for _ in range(rounds):
        for key, fn in calls.items():
            for _ in range(inner[key]):
                t0 = time.perf_counter()
                fn()
                samples[key].append(time.perf_counter() - t0)
    return samples
