"""Time the attention kernels of ``kexue_lib.attention`` against PyTorch's fused SDPA.

For each sequence length n (default 256 … 16384), d = 64, 4 heads, batch 1, float32, causal and not, it times

* ``sdpa``     — ``torch.nn.functional.scaled_dot_product_attention`` (the baseline; ``is_causal`` for causal);
* ``linear``   — ``linear_attention(..., feature="elu1")`` (non-causal: two matmuls; causal: chunked scan);
* ``nystrom``  — ``nystrom_attention(..., num_landmarks=64)`` (non-causal only),

on the same inputs in the same run, and reports for each: speed-up over SDPA, the FLOP ratio (the speed-up the
kernel would have if it ran at SDPA's own GFLOP/s), achieved GFLOP/s (from the flop counts below) as a fraction
of the machine's measured float32 matmul throughput, and peak memory allocated during one call (torch profiler
memory events: the largest running total of bytes allocated minus bytes freed). It prints a table and writes
``benchmarks/results/attention.csv``.

Timing is *interleaved* (:func:`kexue_lib.timing.interleaved_times`): after one warm-up call each, every
round calls SDPA and then each other kernel (the fast ones several times per round), for ``--repeats``
rounds, and each kernel's median and minimum are taken over its samples. All kernels are thus sampled over
the same stretch of time, so a slow phase of a shared machine (seen here: the same call taking 7 ms one
minute and 18 ms the next) inflates the baseline and the kernel alike instead of whichever happened to run
during it. Run::

    .venv/bin/python benchmarks/attention.py            # full run, n = 256 … 16384
    .venv/bin/python benchmarks/attention.py --quick    # n = 256 … 2048, fewer repeats

Flop counts (multiply-add = 2 flops, per head): SDPA 4n²d (causal: half); linear non-causal 4nrd + 2nr
(r = d features); linear causal with chunk C: 2nC(r + d) + 4nrd + 2nr (the triangular matrix products that
prefix the chunk states, about 2nrd·32/C more, are overhead of the implementation and not counted);
Nyström with m landmarks: 2nm(2d + 2d) + 2m²d + 8·m³·iters (approximately). Timings on a shared machine are
inflated and noisy; the load average is printed next to the table.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from kexue_lib.attention import linear_attention, nystrom_attention  # noqa: E402
from kexue_lib.timing import interleaved_times  # noqa: E402

CHUNK = 64
LANDMARKS = 64
PINV_ITERS = 6


def timeit(fn, repeats: int) -> tuple[float, float]:
    """(median, min) wall time of ``fn()`` over ``repeats`` calls after one warm-up call."""
    fn()
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts), min(ts)


def peak_bytes(fn) -> int:
    """Peak of (allocated − freed) bytes on the CPU during one call of ``fn`` (torch profiler memory events)."""
    from torch.profiler import ProfilerActivity, profile

    # the profiler's C++ backend logs "profiler_start/stop" lines straight to file descriptor 2: silence it
    # for the duration of the one profiled call (Python-level errors are raised, not printed, so none is lost)
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            with profile(
                activities=[ProfilerActivity.CPU], profile_memory=True
            ) as prof:
                fn()
    finally:
        os.dup2(saved, 2)
        os.close(saved)
    events = [
        e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"
    ]
    events.sort(key=lambda e: e.start_ns())
    cur = peak = 0
    for e in events:
        cur += e.nbytes()
        peak = max(peak, cur)
    return peak


def matmul_gflops(sizes, repeats: int) -> float:
    """The machine's float32 matmul throughput: the best, over square sizes, of the median GFLOP/s."""
    best = 0.0
    for size in sizes:
        a, b = torch.randn(size, size), torch.randn(size, size)
        med, _ = timeit(lambda: a @ b, max(repeats, 5))
        best = max(best, 2 * size**3 / med / 1e9)
    return best


def flops(kernel: str, n: int, d: int, heads: int, causal: bool) -> float:
    r = d
    if kernel == "sdpa":
        f = 4 * n * n * d / (2 if causal else 1)
    elif kernel == "linear":
        c = min(CHUNK, n)
        f = (2 * n * c * (r + d) if causal else 0) + 4 * n * r * d + 2 * n * r
    elif kernel == "nystrom":
        m = LANDMARKS
        f = 2 * n * m * 4 * d + 2 * m * m * d + 8 * m**3 * PINV_ITERS
    else:  # pragma: no cover
        raise ValueError(kernel)
    return heads * f


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--quick",
        action="store_true",
        help="n = 256 … 2048 and 3 repeats (a smoke test)",
    )
    p.add_argument(
        "--ns",
        type=int,
        nargs="+",
        help="sequence lengths (default 256 … 16384 in powers of 2)",
    )
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--dim", type=int, default=64)
    p.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="interleaved timing rounds (default 7, quick 3); fast kernels run several times per round",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch.set_num_threads (default: PyTorch's choice)",
    )
    p.add_argument(
        "--no-memory", action="store_true", help="skip the peak-memory measurement"
    )
    p.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parent / "results" / "attention.csv",
    )
    args = p.parse_args(argv)
    if args.threads is not None:
        if args.threads < 1:
            p.error(f"--threads must be >= 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    ns = args.ns or (
        [256, 512, 1024, 2048] if args.quick else [256 * 2**i for i in range(7)]
    )
    repeats = args.repeats or (3 if args.quick else 7)
    if min(ns) < 1 or args.heads < 1 or args.dim < 1 or repeats < 1:
        p.error("n, heads, dim and repeats must be >= 1")

    torch.manual_seed(0)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    peak = matmul_gflops((512, 1024) if args.quick else (512, 1024, 2048), repeats)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs, "
        f"load average {load:.1f}; float32 matmul: {peak:.1f} GFLOP/s (median)"
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
    rows = []
    header = (
        f"{'n':>6} {'causal':>6} {'kernel':>8} {'median ms':>10} {'min ms':>9} {'× SDPA':>8} {'FLOP ×':>7} "
        f"{'GFLOP/s':>8} {'% mm':>6} {'peak MB':>8}"
    )
    print(header)
    print("-" * len(header))
    for n in ns:
        q, k, v = (torch.randn(1, args.heads, n, args.dim) for _ in range(3))
        for causal in (False, True):
            # sdpa first: it is the baseline every ratio refers to
            calls = {
                name: (lambda fn=fn: fn(q, k, v, causal))
                for name, fn in kernels.items()
                if not (name == "nystrom" and causal)
            }  # segment-mean landmarks mix future positions
            samples = interleaved_times(calls, repeats)
            base = statistics.median(samples["sdpa"])
            for name, call in calls.items():
                med, mn = statistics.median(samples[name]), min(samples[name])
                fl = flops(name, n, args.dim, args.heads, causal)
                flop_ratio = flops("sdpa", n, args.dim, args.heads, causal) / fl
                mem = float("nan") if args.no_memory else peak_bytes(call) / 2**20
                row = dict(
                    n=n,
                    causal=causal,
                    kernel=name,
                    median_s=med,
                    min_s=mn,
                    samples=len(samples[name]),
                    speedup_vs_sdpa=base / med,
                    flop_ratio_vs_sdpa=flop_ratio,
                    gflops=fl / med / 1e9,
                    frac_matmul_peak=fl / med / 1e9 / peak,
                    peak_mb=mem,
                    heads=args.heads,
                    d=args.dim,
                    threads=torch.get_num_threads(),
                    load=load,
                    matmul_gflops=peak,
                )
                rows.append(row)
                print(
                    f"{n:>6} {str(causal):>6} {name:>8} {1e3 * med:10.2f} {1e3 * mn:9.2f} {base / med:8.1f} "
                    f"{flop_ratio:7.1f} {row['gflops']:8.1f} {100 * row['frac_matmul_peak']:5.0f}% {mem:8.1f}",
                    flush=True,
                )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print(
        f"wrote {args.out} ({len(rows)} rows); load average now {os.getloadavg()[0]:.1f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
