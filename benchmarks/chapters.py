"""Chapter-timing benchmark: every chapter executed the way the book build executes it,
one at a time.

Each chapter is run by ``nbclient`` (what Jupyter Book's execution uses) in a fresh
``python3`` kernel with the chapter's folder as working directory; the wall time
includes starting and stopping the kernel. The budget of the book (DESIGN.md) is
**≤ 30 s per chapter and a median ≤ 15 s** on an idle 2-core machine. Speed is measured
here and never in a test: a busy machine makes a slow table, not a failing build.

    # all chapters in _toc.yml order -> benchmarks/results/chapters.csv
    python benchmarks/chapters.py
    # some chapters (the CSV rows of the others are kept)
    python benchmarks/chapters.py book/vae/*.ipynb
    # three rounds over all chapters; the median per chapter is kept
    python benchmarks/chapters.py --repeat 3

Writes ``chapter,seconds`` rows and prints a table against the budget; exits 1 when a
chapter failed to run.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kexue_lib._book import toc_files  # noqa: E402

LIMIT, MEDIAN = 30.0, 15.0
CSV = ROOT / "benchmarks" / "results" / "chapters.csv"


def chapters() -> list[Path]:
    return [
        ROOT / f"{f}.ipynb" for f in toc_files(ROOT) if (ROOT / f"{f}.ipynb").exists()
    ]


def _name(path: Path) -> str:
    """``part/slug`` for a chapter of the book, the file's stem for any other
    notebook.
    """
    if path.is_relative_to(ROOT / "book"):
        return path.relative_to(ROOT / "book").with_suffix("").as_posix()
    return path.stem


def run_once(path: Path, timeout: int = 600) -> float:
    """Seconds to execute one chapter in a new kernel, kernel start and shutdown
    included.
    """
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    t0 = time.perf_counter()
    client.execute()
    return time.perf_counter() - t0


def table(rows: dict[str, float], load: float | None = None) -> str:
    med = statistics.median(rows.values())
    lines = [f"{'seconds':>8}  chapter", f"{'-' * 8}  {'-' * 40}"]
    for name, t in sorted(rows.items(), key=lambda kv: -kv[1]):
        flag = "  OVER 30 s" if t > LIMIT else ("  over 15 s" if t > MEDIAN else "")
        lines.append(f"{t:8.1f}  {name}{flag}")
    over = sum(t > LIMIT for t in rows.values())
    lines.append(
        f"{len(rows)} chapters; median {med:.1f} s (budget ≤ {MEDIAN:g}), max "
        f"{max(rows.values()):.1f} s "
        f"(budget ≤ {LIMIT:g} each); {over} over the limit; load average before the "
        "run: "
        f"{os.getloadavg()[0] if load is None else load:.2f}"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "paths", nargs="*", type=Path, help="chapters to time (default: every chapter)"
    )
    ap.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="rounds over all chapters; the median per chapter is kept",
    )
    ap.add_argument("--csv", type=Path, default=CSV)
    args = ap.parse_args(argv)
    if args.repeat < 1:
        ap.error(f"--repeat must be >= 1, got {args.repeat}")
    todo = [p.resolve() for p in args.paths] or chapters()
    rows: dict[str, float] = {}
    if args.csv.exists() and args.paths:
        with args.csv.open() as f:
            rows = {r["chapter"]: float(r["seconds"]) for r in csv.DictReader(f)}
    load = os.getloadavg()[0]  # before the first chapter
    failed: list[str] = []
    times: dict[str, list[float]] = {}
    # Rounds, not repeats back to back: every round runs each chapter once, so a slow
    # phase of the machine (a shared VM drifts by tens of per cent over minutes) is
    # spread over all chapters instead of inflating the few timed during it.
    for rnd in range(args.repeat):
        if args.repeat > 1:
            print(f"round {rnd + 1} of {args.repeat}", flush=True)
        for path in todo:
            name = _name(path)
            if name in failed:
                continue
            try:
                t = run_once(path)
            # report and go on: one broken chapter should not hide the others' times
            except Exception as exc:
                print(
                    f"{name}: FAILED ({type(exc).__name__}: "
                    f"{str(exc).splitlines()[0][:200]})",
                    flush=True,
                )
                failed.append(name)
                continue
            times.setdefault(name, []).append(t)
            print(f"{t:8.1f}  {name}", flush=True)
    for name, ts in times.items():
        if name not in failed:
            rows[name] = statistics.median(ts)
    if rows:
        args.csv.parent.mkdir(parents=True, exist_ok=True)
        order = {
            p.relative_to(ROOT / "book").with_suffix("").as_posix(): i
            for i, p in enumerate(chapters())
        }
        with args.csv.open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["chapter", "seconds"])
            for name in sorted(rows, key=lambda n: order.get(n, len(order))):
                w.writerow([name, f"{rows[name]:.1f}"])
        print()
        print(table(rows, load))
        shown = (
            args.csv.relative_to(ROOT) if args.csv.is_relative_to(ROOT) else args.csv
        )
        print(f"wrote {shown}")
    if failed:
        print("failed: " + ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
