"""Repository-wide pytest hooks: per-chapter wall time, reported and held to the book's budget.

nbval turns each notebook cell into a test item; this plugin adds the cells' durations up per chapter, prints
a table at the end of the run and fails the run when a chapter exceeds ``KEXUE_CHAPTER_BUDGET`` seconds
(default 60, the hard limit of DESIGN.md; the target is 20).
"""

from __future__ import annotations

import os
from collections import defaultdict

import pytest

_TIMES: dict[str, float] = defaultdict(float)


def pytest_runtest_logreport(report):
    path = report.nodeid.split("::", 1)[0]
    if path.endswith(".ipynb"):
        _TIMES[path] += report.duration


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not _TIMES:
        return
    budget = float(os.environ.get("KEXUE_CHAPTER_BUDGET", "60"))
    tr = terminalreporter
    tr.write_sep("=", "chapter wall time (budget: target 20 s, limit %g s)" % budget)
    for path, t in sorted(_TIMES.items(), key=lambda kv: -kv[1]):
        flag = "OVER BUDGET" if t > budget else ("over target" if t > 20 else "")
        tr.write_line(f"{t:7.1f} s  {path}  {flag}")


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    budget = float(os.environ.get("KEXUE_CHAPTER_BUDGET", "60"))
    over = {p: t for p, t in _TIMES.items() if t > budget}
    if over and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        print("\nchapters over the time budget: " + ", ".join(f"{p} ({t:.0f} s)" for p, t in over.items()))
