"""kexue_lib.timing: interleaved wall-clock sampling (no timing is asserted, only the
calling pattern).
"""

from __future__ import annotations

import time

import pytest

from kexue_lib.timing import interleaved_times


def test_every_callable_is_sampled_in_every_round_and_fast_ones_repeat():
    calls = []

    def slow():
        calls.append("s")
        time.sleep(0.02)

    def fast():
        calls.append("f")

    samples = interleaved_times({"slow": slow, "fast": fast}, 3)
    assert set(samples) == {"slow", "fast"}
    assert (
        len(samples["slow"]) == 3 and len(samples["fast"]) == 3 * 8
    )  # the fast one: max_inner calls per round
    assert (
        calls.count("s") == 1 + 3 and calls.count("f") == 1 + 24
    )  # one warm-up call each
    # interleaved: after the warm-ups every round is "s" then eight "f"
    assert "".join(calls[2:]) == ("s" + "f" * 8) * 3
    assert all(t >= 0.02 for t in samples["slow"])


def test_keys_may_be_tuples_and_max_inner_caps_the_repeats():
    samples = interleaved_times(
        {("a", 1): lambda: time.sleep(0.01), ("b", 2): lambda: None}, 2, max_inner=3
    )
    assert len(samples[("a", 1)]) == 2 and len(samples[("b", 2)]) == 6


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (dict(calls={}, rounds=1), ValueError, "calls must be a non-empty mapping"),
        (dict(calls=[lambda: None], rounds=1), TypeError, "calls must be a non-empty"),
        (dict(calls={"x": 3}, rounds=1), TypeError, r"calls\['x'\] must be callable"),
        (dict(calls={"x": lambda: None}, rounds=0), ValueError, "rounds"),
        (dict(calls={"x": lambda: None}, rounds=True), TypeError, "rounds"),
        (
            dict(calls={"x": lambda: None}, rounds=1, max_inner=0),
            ValueError,
            "max_inner",
        ),
    ],
)
def test_bad_arguments_raise(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        interleaved_times(**kwargs)
