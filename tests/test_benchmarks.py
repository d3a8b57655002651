"""The benchmark scripts run and write their CSVs (smoke tests, tiny sizes, no timing
asserted)."""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

import pytest
import torch

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
    expected = {
        ("sdpa", "False"),
        ("sdpa", "True"),
        ("linear", "False"),
        ("linear", "True"),
        ("nystrom", "False"),
    }
    if _fused_or_none() is not None:
        expected |= {("linear-f", "False"), ("linear-f", "True")}
    assert kernels == expected
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
    # causal chunked scan, chunk c: per chunk the lower half of the scores and of the
    # scores × V (c·c·d each), the chunk state and φ(Q_c)·state (2·c·d·d each)
    c = mod.CHUNK
    assert flops(mod.gemm_shapes("linear", n, d, h, True)) == h * (n // c) * (
        2 * c * c * d + 4 * c * d * d
    )
    # the compiled (--compile) and fused C kernels do the same products: same roofline
    for kernel in ("linear-c", "linear-f"):
        for causal in (False, True):
            assert mod.gemm_shapes(kernel, n, d, h, causal) == mod.gemm_shapes(
                "linear", n, d, h, causal
            )


_FUSED = []


def _fused_or_none():
    """The fused C kernel of benchmarks/fused_linear.c, or None without a compiler or
    AVX2 (built once per session)."""
    if not _FUSED:
        try:
            _FUSED.append(_load("fused_linear").build(2))
        except RuntimeError:
            _FUSED.append(None)
    return _FUSED[0]


@pytest.mark.parametrize(
    "lead, n, d, dv",
    [
        ((2, 4), 512, 64, 64),  # several chunks, more heads than threads
        ((1,), 208, 12, 32),  # one head split across threads; d % 8 == 4; short chunk
        ((3,), 16, 4, 16),  # a single chunk smaller than the block
    ],
)
@pytest.mark.parametrize("causal", [False, True])
def test_fused_linear_kernel_matches_the_library(lead, n, d, dv, causal):
    from kexue_lib.attention import linear_attention

    fused = _fused_or_none()
    if fused is None:
        pytest.skip("no C compiler or no AVX2/FMA on this machine")
    g = torch.Generator().manual_seed(n + d)
    q, k, v = (torch.randn(*lead, n, w, generator=g) for w in (d, d, dv))
    k.view(-1, n, d)[0, : n // 2] -= 30.0  # deep in the exp branch of elu + 1
    ref = linear_attention(
        q.double(), k.double(), v.double(), feature="elu1", causal=causal
    )
    out = fused(q, k, v, causal)
    assert out.shape == ref.shape and out.dtype == torch.float32
    err = float((out.double() - ref).norm() / ref.norm())
    assert err < 2e-6, err


@pytest.mark.parametrize("causal", [False, True])
def test_fused_linear_kernel_feature_map_to_float32_rounding(causal):
    """With φ(q) = 1 (q = 0) and V = I the outputs are the normalised φ(k_j) themselves,
    element by element, so an error in the kernel's exp shows undiluted."""
    fused = _fused_or_none()
    if fused is None:
        pytest.skip("no C compiler or no AVX2/FMA on this machine")
    x = torch.linspace(-6.0, 3.0, 16, dtype=torch.float64)
    q = torch.zeros(1, 16, 4)
    k = x[:, None].repeat(1, 4)[None].float()
    v = torch.eye(16)[None]
    s = torch.where(x > 0, x + 1, torch.exp(x))  # φ(x_j); all four coordinates alike
    if causal:
        ref = torch.tril(s.expand(16, 16)) / torch.cumsum(s, 0)[:, None]
    else:
        ref = (s / s.sum()).expand(16, 16)
    out = fused(q, k, v, causal)[0].double()
    nz = ref > 0
    assert torch.equal(out[~nz], torch.zeros_like(out[~nz]))
    assert float(((out[nz] - ref[nz]) / ref[nz]).abs().max()) < 1e-6


def test_fused_linear_kernel_rejects_bad_input():
    fused = _fused_or_none()
    if fused is None:
        pytest.skip("no C compiler or no AVX2/FMA on this machine")
    x = torch.randn(2, 32, 16)
    with pytest.raises(TypeError, match="q must be a torch.Tensor"):
        fused(x.numpy(), x, x)
    with pytest.raises(ValueError, match="k must be a float32 CPU tensor"):
        fused(x, x.double(), x)
    with pytest.raises(ValueError, match="n % 16 == 0"):
        fused(x[:, :20], x[:, :20], x[:, :20])
    with pytest.raises(ValueError, match="must share shape"):
        fused(x, x[:, :16], x)


def test_attention_benchmark_refuses_a_fused_kernel_that_disagrees():
    mod = _load("attention")
    ref = torch.randn(1, 2, 32, 16)
    mod.check_fused(ref + 1e-7 * torch.randn_like(ref), ref, 32, False)
    with pytest.raises(RuntimeError, match="differs from linear_attention"):
        mod.check_fused(ref + 1e-3 * torch.randn_like(ref), ref, 32, True)


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
