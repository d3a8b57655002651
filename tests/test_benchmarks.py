"""The benchmark script runs and writes its CSV (a smoke test on tiny sizes; no timing is asserted here)."""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _load():
    spec = importlib.util.spec_from_file_location("bench_attention", ROOT / "benchmarks" / "attention.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_attention_benchmark_writes_a_row_per_kernel_and_length(tmp_path, capsys):
    out = tmp_path / "attention.csv"
    assert _load().main(["--ns", "128", "256", "--repeats", "1", "--no-memory", "--out", str(out)]) == 0
    rows = list(csv.DictReader(out.open()))
    kernels = {(r["kernel"], r["causal"]) for r in rows} if rows and "kernel" in rows[0] else set()
    assert rows, "no rows written"
    assert len(kernels) >= 4, f"expected sdpa/linear causal and not, and nystrom; got {kernels or list(rows[0])}"
    assert {int(r["n"]) for r in rows} == {128, 256}
    for r in rows:  # the FLOP ratio is a count, not a timing: SDPA 4n²d against linear 4nd² + 2nd (+ chunks)
        ratio = float(r["flop_ratio_vs_sdpa"])
        assert ratio > 0 and float(r["speedup_vs_sdpa"]) > 0
        if r["kernel"] == "sdpa":
            assert ratio == 1.0
    assert "n" in capsys.readouterr().out


def test_interleaved_times_samples_every_kernel_in_every_round():
    import pytest

    bench = _load()
    import time

    calls = []

    def slow():
        calls.append("s")
        time.sleep(0.02)

    def fast():
        calls.append("f")

    samples = bench.interleaved_times({"slow": slow, "fast": fast}, 3)
    assert set(samples) == {"slow", "fast"}
    assert calls.count("s") == 1 + len(samples["slow"]) and calls.count("f") == 1 + len(samples["fast"])
    assert len(samples["slow"]) == 3 and len(samples["fast"]) == 3 * 8  # the fast one: 8 calls per round
    # interleaved: after the two warm-up calls, "slow" never runs twice in a row without "fast" in between
    timed = "".join(calls[2:])
    assert "ss" not in timed
    with pytest.raises(ValueError, match="rounds"):
        bench.interleaved_times({"x": lambda: None}, 0)
