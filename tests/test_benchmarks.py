"""The benchmark scripts run and write their CSVs (smoke tests, tiny sizes, no timing
asserted)."""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _load(name: str):
    spec = importlib.util.spec_from_file_location(
        f"bench_{name}", ROOT / "benchmarks" / f"{name}.py"
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_attention_benchmark_writes_roofline_rows(tmp_path, capsys):
    out = tmp_path / "attention.csv"
    assert (
        _load("attention").main(
            ["--ns", "128", "256", "--rounds", "2", "--out", str(out)]
        )
        == 0
    )
    rows = list(csv.DictReader(out.open()))
    kernels = {(r["kernel"], r["causal"]) for r in rows}
    assert kernels == {
        ("sdpa", "False"),
        ("sdpa", "True"),
        ("linear", "False"),
        ("linear", "True"),
        ("nystrom", "False"),
    }
    assert {int(r["n"]) for r in rows} == {128, 256}
    for r in rows:
        q1, med, q3 = float(r["q1_s"]), float(r["median_s"]), float(r["q3_s"])
        assert 0 < q1 <= med <= q3
        roof = float(r["roofline_s"])
        assert roof == max(float(r["gemm_s"]), float(r["memory_s"])) > 0
        assert abs(float(r["x_roofline"]) - med / roof) < 1e-9 * med / roof
        err = float(r["rel_error_vs_softmax"])
        # SDPA is exact softmax; linear attention is another model (error O(1))
        assert err < 1e-5 if r["kernel"] == "sdpa" else err > 1e-3
        if r["kernel"] == "sdpa":
            assert float(r["speedup_vs_sdpa"]) == 1.0
    assert "× roof" in capsys.readouterr().out


def test_attention_benchmark_gemm_shapes_count_the_kernel_flops():
    mod = _load("attention")
    n, d, h = 1024, 64, 4
    flops = lambda shapes: sum(2 * b * i * k * j for b, i, k, j in shapes)  # noqa: E731
    assert flops(mod.gemm_shapes("sdpa", n, d, h, False)) == h * 4 * n * n * d
    assert flops(mod.gemm_shapes("sdpa", n, d, h, True)) == h * 2 * n * n * d
    # non-causal linear: φ(K)ᵀV and φ(Q)S, 2·n·d·d each, plus the normaliser's n·d
    assert flops(mod.gemm_shapes("linear", n, d, h, False)) == h * (
        4 * n * d * d + 2 * n * d
    )
    # the compiled kernel (--compile) does the same products: the same roofline
    for causal in (False, True):
        assert mod.gemm_shapes("linear-c", n, d, h, causal) == mod.gemm_shapes(
            "linear", n, d, h, causal
        )


def test_chapter_benchmark_times_a_chapter_and_writes_its_row(tmp_path):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 1 + 1")]
    path = tmp_path / "smoke_timing.ipynb"
    nbformat.write(nb, path)
    out = tmp_path / "chapters.csv"
    assert _load("chapters").main([str(path), "--csv", str(out)]) == 0
    rows = list(csv.DictReader(out.open()))
    assert [r["chapter"] for r in rows] == ["smoke_timing"]
    assert float(rows[0]["seconds"]) > 0
