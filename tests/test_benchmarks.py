"""The benchmark script runs and writes its CSV (a smoke test on tiny sizes; no timing
is asserted here).
"""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _load():
    spec = importlib.util.spec_from_file_location(
        "bench_attention", ROOT / "benchmarks" / "attention.py"
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_attention_benchmark_writes_a_row_per_kernel_and_length(tmp_path, capsys):
    out = tmp_path / "attention.csv"
    assert (
        _load().main(
            ["--ns", "128", "256", "--repeats", "1", "--no-memory", "--out", str(out)]
        )
        == 0
    )
    rows = list(csv.DictReader(out.open()))
    kernels = (
        {(r["kernel"], r["causal"]) for r in rows}
        if rows and "kernel" in rows[0]
        else set()
    )
    assert rows, "no rows written"
    assert len(kernels) >= 4, (
        "expected sdpa/linear causal and not, and nystrom; got "
        f"{kernels or list(rows[0])}"
    )
    assert {int(r["n"]) for r in rows} == {128, 256}
    # the FLOP ratio is a count, not a timing: SDPA 4n²d against linear 4nd² + 2nd
    # (+ chunks)
    for r in rows:
        ratio = float(r["flop_ratio_vs_sdpa"])
        assert ratio > 0 and float(r["speedup_vs_sdpa"]) > 0
        if r["kernel"] == "sdpa":
            assert ratio == 1.0
    assert "n" in capsys.readouterr().out
