"""Attention kernels of ``kexue_lib.attention`` against their roofline on this machine.

For each sequence length n (default 256 … 16384), d = 64, 4 heads, batch 1, float32,
causal and not, it times

* ``sdpa``    — ``torch.nn.functional.scaled_dot_product_attention`` (PyTorch's fused
  kernel);
* ``linear``  — ``linear_attention(..., feature="elu1")`` (non-causal: two products;
  causal: chunked scan);
* ``nystrom`` — ``nystrom_attention(..., num_landmarks=64)`` (non-causal only: landmarks
  mix the future);
* ``linear-f`` — the same function (elu + 1 features) as one fused C kernel
  (``fused_linear.c``: the feature map applied to 64-row blocks in cache, register-tiled
  AVX2 products; built with the system C compiler at start-up, checked against
  ``linear_attention`` before timing, only where n % 16 == 0, skipped with a note when
  there is no compiler or no AVX2 — or with ``--no-fused``), to show how close to the
  roofline linear attention gets once its element-wise passes are fused with its
  products;
* ``linear-c`` (with ``--compile`` only) — the same ``linear_attention`` call compiled
  by ``torch.compile`` (needs a C++ compiler; the compilation is done before timing
  and reported), to show what Inductor's fusion of the element-wise passes buys,

and reports each kernel's time against its **roofline**: the larger of

* the compute bound — the kernel's matrix products, each timed *alone* on random inputs
  of exactly the shapes the kernel multiplies (the same thin, batched shapes: an n × 64
  by 64 × 64 product runs far below the square-matrix peak, so a square-matmul peak
  would flatter no kernel); and
* the memory bound — the minimal bytes a kernel must move (read Q, K, V, write the
  output, float32) divided by the machine's measured copy bandwidth (a 64 MiB ``copy_``,
  read + write counted).

``× roofline`` = median time ÷ roofline: 1 is as fast as the products it cannot avoid
(or the bytes it must move); the goal for linear attention at n = 8192 is ≤ 2.
``GFLOP/s`` = those products' FLOPs ÷ the kernel's median time, to compare with
``gemm_gflops`` (the products' own rate, in the CSV). A kernel can beat its roofline
when it multiplies faster than ``torch.bmm`` does at its shapes — the fused kernel on
many 64 × 64 chunk matrices, SDPA by never writing the n × n scores that the timed
``QKᵀ`` product writes — so the roofline is this machine's library speed for those
shapes, not a hardware floor.
Element-wise work (feature maps, normalisers, softmax) counts in the kernel's time but
not in its roofline: it is what a fused kernel would hide.

Method: threads are pinned (``--threads``, default all cores: ``torch.set_num_threads``
and the process's CPU affinity); kernels are timed interleaved, **one call per kernel
per round** (no back-to-back repeats that would favour a kernel whose data stay in
cache), for ``--rounds`` rounds after a warm-up; each time is the median with the
interquartile range (IQR) of its samples. Next to every time stands the kernel's output
error against exact softmax attention (float64, blockwise), relative Frobenius norm:
linear attention is a different model, not an approximation of softmax, and its error
says so; Nyström approximates softmax. The SDPA ratio (speed-up over SDPA) is kept as a
column.

    .venv/bin/python benchmarks/attention.py            # full run, n = 256 … 16384
    .venv/bin/python benchmarks/attention.py --quick    # n = 256 … 2048, 5 rounds
    .venv/bin/python benchmarks/attention.py --ns 8192 --compile  # + compiled linear
    .venv/bin/python benchmarks/attention.py --no-fused   # without the C kernel

Writes ``benchmarks/results/attention.csv`` and prints a table; never part of ``make
test`` (a smoke test only checks that it runs and writes its rows)."""

from __future__ import annotations

import argparse
import csv
import math
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from kexue_lib.attention import linear_attention, nystrom_attention  # noqa: E402
from kexue_lib.timing import interleaved_times  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fused_linear  # noqa: E402

CHUNK = 64
LANDMARKS = 64
PINV_ITERS = 6
GOAL = 2.0


def quartiles(xs: list[float]) -> tuple[float, float, float]:
    """(first quartile, median, third quartile) of the samples (inclusive method)."""
    if len(xs) < 2:
        return xs[0], xs[0], xs[0]
    q1, med, q3 = statistics.quantiles(xs, n=4, method="inclusive")
    return q1, med, q3


def median_time(fn: Callable[[], object], rounds: int) -> float:
    fn()
    ts = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def copy_bandwidth(rounds: int) -> float:
    """Bytes per second of a 64 MiB float32 ``copy_`` (read + write counted)."""
    src = torch.randn(16 * 2**20)
    dst = torch.empty_like(src)
    t = median_time(lambda: dst.copy_(src), max(rounds, 5))
    return 2 * src.numel() * 4 / t


def gemm_shapes(kernel: str, n: int, d: int, h: int, causal: bool) -> list[tuple]:
    """The batched products ``(batch, rows, inner, cols)`` a kernel cannot avoid."""
    r = d  # elu+1 features: r = d
    if kernel == "sdpa":
        # QKᵀ and PV; causal: the fused kernel skips the masked half (half the rows)
        rows = n // 2 if causal else n
        return [(h, rows, d, n), (h, rows, n, d)]
    if kernel in ("linear", "linear-c", "linear-f"):
        if not causal:
            return [
                (h, r, n, d),
                (h, n, r, d),
                (h, 1, n, r),
            ]  # φ(K)ᵀV, φ(Q)S, normaliser
        c = min(CHUNK, n)
        b = h * (n // c)
        # per chunk: scores φ(Q_c)φ(K_c)ᵀ and masked scores × V_c — of which only the
        # lower triangle is needed, counted as half the rows (as for causal SDPA) — then
        # the chunk state φ(K_c)ᵀV_c and φ(Q_c)·state
        return [(b, c // 2, r, c), (b, c // 2, c, d), (b, r, c, d), (b, c, r, d)]
    if kernel == "nystrom":
        m = LANDMARKS
        shapes = [(h, n, d, m), (h, m, d, m), (h, m, d, n), (h, m, n, d), (h, m, m, d)]
        shapes += [(h, n, m, d)]
        shapes += [(h, m, m, m)] * (4 * PINV_ITERS)  # four m×m products per iteration
        return shapes
    raise ValueError(f"unknown kernel {kernel!r}")


def compute_bound(shapes: list[tuple], rounds: int) -> tuple[float, float]:
    """(seconds, flops) of the products in ``shapes``, each timed alone."""
    total = flops = 0.0
    for b, i, k, j in shapes:
        x, y = torch.randn(b, i, k), torch.randn(b, k, j)
        out = torch.empty(b, i, j)
        total += median_time(lambda x=x, y=y, out=out: torch.bmm(x, y, out=out), rounds)
        flops += 2.0 * b * i * k * j
    return total, flops


def compiled_linear() -> Callable:
    """``linear_attention`` (elu + 1 features) compiled by ``torch.compile`` for fixed
    shapes: Inductor fuses the element-wise passes (feature map, normaliser) into
    generated C++ loops; the products stay library calls."""
    return torch.compile(
        lambda q, k, v, c: linear_attention(
            q, k, v, feature="elu1", causal=c, chunk_size=CHUNK
        ),
        dynamic=False,
    )


def fused_kernel() -> Callable:
    """The fused C kernel (``fused_linear.c``) as a ``(q, k, v, causal)`` callable."""
    kernel = fused_linear.build(torch.get_num_threads())
    return lambda q, k, v, c: kernel(q, k, v, c)


def check_fused(out: torch.Tensor, ref: torch.Tensor, n: int, causal: bool) -> None:
    """Refuse to time a fused kernel that computes something else: its output must
    match ``linear_attention``'s to float32 rounding."""
    err = float((out - ref).norm() / ref.norm())
    if not err < 1e-5:
        raise RuntimeError(
            f"linear-f differs from linear_attention at n = {n}, causal = {causal}: "
            f"relative error {err:.2e}"
        )


def exact_softmax(q, k, v, causal: bool, block: int = 1024) -> torch.Tensor:
    """softmax(QKᵀ/√d)V in float64, a block of queries at a time (memory O(block·n))."""
    q, k, v = q.double(), k.double(), v.double()
    n, outs = q.shape[-2], []
    for s in range(0, n, block):
        logits = q[..., s : s + block, :] @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
        if causal:
            i = torch.arange(s, min(s + block, n))[:, None]
            logits = logits.masked_fill(torch.arange(n)[None, :] > i, float("-inf"))
        outs.append(torch.softmax(logits, -1) @ v)
    return torch.cat(outs, -2)


def rel_error(out: torch.Tensor, ref: torch.Tensor) -> float:
    return float((out.double() - ref).norm() / ref.norm())


def pin_threads(threads: int) -> None:
    torch.set_num_threads(threads)
    if hasattr(os, "sched_setaffinity"):
        cpus = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, cpus[:threads])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="n = 256 … 2048, 5 rounds")
    p.add_argument("--ns", type=int, nargs="+", help="sequence lengths")
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--dim", type=int, default=64)
    p.add_argument(
        "--rounds", type=int, default=None, help="timing rounds (default 15)"
    )
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument(
        "--no-error", action="store_true", help="skip the error against exact softmax"
    )
    p.add_argument(
        "--compile",
        action="store_true",
        help="also time linear attention compiled by torch.compile (linear-c)",
    )
    p.add_argument(
        "--no-fused",
        action="store_true",
        help="skip the fused C kernel (linear-f)",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parent / "results" / "attention.csv",
    )
    args = p.parse_args(argv)
    ns = args.ns or (
        [256, 512, 1024, 2048] if args.quick else [256 * 2**i for i in range(7)]
    )
    rounds = args.rounds or (5 if args.quick else 15)
    for name, val in (("n", min(ns)), ("heads", args.heads), ("dim", args.dim)):
        if val < 1:
            p.error(f"--{name} must be >= 1, got {val}")
    if rounds < 1 or args.threads < 1:
        p.error(f"--rounds and --threads must be >= 1, got {rounds} and {args.threads}")
    pin_threads(args.threads)
    torch.manual_seed(0)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    bw = copy_bandwidth(rounds)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads pinned, "
        f"load average {load:.2f}; copy bandwidth {bw / 1e9:.1f} GB/s; "
        f"{rounds} rounds, one call per kernel per round; times are median [IQR]"
    )
    kernels = {
        "sdpa": lambda q, k, v, c: F.scaled_dot_product_attention(q, k, v, is_causal=c),
        "linear": lambda q, k, v, c: linear_attention(
            q, k, v, feature="elu1", causal=c, chunk_size=CHUNK
        ),
        "nystrom": lambda q, k, v, c: nystrom_attention(
            q, k, v, min(LANDMARKS, q.shape[-2]), PINV_ITERS
        ),
    }
    if not args.no_fused:
        try:
            kernels["linear-f"] = fused_kernel()
        except RuntimeError as exc:
            print(f"  (linear-f skipped: {exc})")
    if args.compile:
        kernels["linear-c"] = compiled_linear()
    head = (
        f"{'n':>6} {'causal':>6} {'kernel':>8} {'median ms':>10} {'IQR ms':>13} "
        f"{'roof ms':>8} {'bound':>7} {'× roof':>7} {'GFLOP/s':>8} {'× SDPA':>7} "
        f"{'error':>8}"
    )
    print(head)
    print("-" * len(head))
    rows = []
    bounds: dict[tuple, tuple[float, float]] = {}  # products -> (seconds, flops)
    d, h = args.dim, args.heads
    for n in ns:
        q, k, v = (torch.randn(1, h, n, d) for _ in range(3))
        for causal in (False, True):
            calls = {
                name: (lambda fn=fn, q=q, k=k, v=v, c=causal: fn(q, k, v, c))
                for name, fn in kernels.items()
                if not (name == "nystrom" and causal)
                and not (name == "linear-f" and n % 16)  # its blocks need n % 16 == 0
            }
            if "linear-c" in calls:
                t0 = time.perf_counter()
                calls["linear-c"]()  # compiles for this shape before any timing
                print(
                    f"  (linear-c compiled for n = {n}, causal = {causal} in "
                    f"{time.perf_counter() - t0:.0f} s)",
                    flush=True,
                )
            if "linear-f" in calls:  # the same function as the library's, or no row
                check_fused(calls["linear-f"](), calls["linear"](), n, causal)
            samples = interleaved_times(calls, rounds, max_inner=1)
            ref = None if args.no_error else exact_softmax(q, k, v, causal)
            base = statistics.median(samples["sdpa"])
            for name, call in calls.items():
                q1, med, q3 = quartiles(samples[name])
                shapes = tuple(gemm_shapes(name, n, d, h, causal))
                if shapes not in bounds:  # linear-c/-f share linear's products
                    bounds[shapes] = compute_bound(list(shapes), 3)
                t_gemm, fl = bounds[shapes]
                t_mem = 4 * h * n * d * 4 / bw
                roof = max(t_gemm, t_mem)
                err = float("nan") if ref is None else rel_error(call(), ref)
                row = {
                    "n": n,
                    "causal": causal,
                    "kernel": name,
                    "median_s": med,
                    "q1_s": q1,
                    "q3_s": q3,
                    "samples": len(samples[name]),
                    "roofline_s": roof,
                    "bound": "compute" if t_gemm >= t_mem else "memory",
                    "gemm_s": t_gemm,
                    "memory_s": t_mem,
                    "gemm_gflops": fl / t_gemm / 1e9,
                    "kernel_gflops": fl / med / 1e9,
                    "x_roofline": med / roof,
                    "speedup_vs_sdpa": base / med,
                    "rel_error_vs_softmax": err,
                    "heads": h,
                    "d": d,
                    "threads": torch.get_num_threads(),
                    "load": load,
                    "copy_gb_s": bw / 1e9,
                }
                rows.append(row)
                print(
                    f"{n:>6} {str(causal):>6} {name:>8} {1e3 * med:10.2f} "
                    f"[{1e3 * q1:5.2f}, {1e3 * q3:5.2f}] {1e3 * roof:8.2f} "
                    f"{row['bound']:>7} {med / roof:7.2f} {fl / med / 1e9:8.1f} "
                    f"{base / med:7.1f} {err:8.1e}",
                    flush=True,
                )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    what = {"linear": "eager", "linear-c": "compiled", "linear-f": "fused C"}
    lin = [r for r in rows if r["kernel"] in what and r["n"] == 8192]
    for r in lin:
        verdict = "meets" if r["x_roofline"] <= GOAL else "misses"
        print(
            f"linear attention ({what[r['kernel']]}) at n = 8192, "
            f"causal={r['causal']}: "
            f"{r['x_roofline']:.2f}× its roofline ({verdict} the ≤ {GOAL:g}× goal)"
        )
    print(
        f"wrote {args.out} ({len(rows)} rows); "
        f"load average now {os.getloadavg()[0]:.2f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
