"""Repository-wide pytest hooks: per-chapter wall time, reported (never enforced).

nbval turns each notebook cell into a test item; this plugin adds the cells' durations
up per chapter and prints a table at the end of the run. Speed is *measured*, not
tested: a slow or busy machine never fails the run (per-cell timeouts in
``pyproject.toml`` still guard against hangs). The budget (≤ 30 s per chapter, median ≤
15 s on an idle 2-core machine, kernel start included) is measured by ``make timings``.
"""

from __future__ import annotations

import statistics
from collections import defaultdict

_TIMES: dict[str, float] = defaultdict(float)


def pytest_runtest_logreport(report):
    path = report.nodeid.split("::", 1)[0]
    if path.endswith(".ipynb"):
        _TIMES[path] += report.duration


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not _TIMES:
        return
    tr = terminalreporter
    med = statistics.median(_TIMES.values())
    tr.write_sep(
        "=",
        f"chapter cell time in this run (median {med:.1f} s; excludes kernel start; "
        "informational — `make timings` measures the budget)",
    )
    for path, t in sorted(_TIMES.items(), key=lambda kv: -kv[1]):
        tr.write_line(f"{t:7.1f} s  {path}")


def pytest_sessionfinish(session, exitstatus):
    """Say loudly when the built site was not tested because the browser is missing."""
    import shutil

    if shutil.which("chromium") and shutil.which("chromedriver"):
        return
    if not any("test_site" in str(getattr(i, "fspath", "")) for i in session.items):
        return
    bar = "!" * 88
    print(
        f"\n{bar}"
        "\n THE BUILT SITE WAS NOT TESTED: Chromium and ChromeDriver are missing,"
        "\n so the browser test of the site (math typeset, images, offline, sliders)"
        "\n was skipped. Install them with"
        "\n     apt-get install chromium chromium-driver   (Debian; CI installs them)"
        f"\n and run `make test` again.\n{bar}"
    )
