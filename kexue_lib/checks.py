"""Claims: the executable statements every chapter verifies.

A chapter lists its claims C1…Cn in a Markdown cell headed ``## Claims`` (one list item per claim, written
``**C1** — statement``) and checks each one where it is derived::

    with claim("C2", "KL(vMF‖U) does not depend on μ"):
        assert_close(kl_a, kl_b, rtol=1e-12, name="KL for two directions")

On success the block prints ``✓ C2 …``; an ``AssertionError`` inside it is re-raised naming the claim, so a
wrong derivation stops the chapter (and CI). The helpers below are the comparisons chapters use; each raises
``AssertionError`` with the numbers involved, never returns a bool that could be ignored.

The functions :func:`listed_claims` and :func:`checked_claims` read a notebook file and are used by the test
that keeps each chapter's Claims list and its ``claim(...)`` calls in step, and by the build step that writes
``book/claims.md``.
"""

from __future__ import annotations

import contextlib
import json
import re
from pathlib import Path
from typing import Iterator

import numpy as np

__all__ = [
    "claim",
    "ClaimFailed",
    "assert_close",
    "assert_sympy_zero",
    "assert_sympy_equal",
    "assert_less",
    "listed_claims",
    "checked_claims",
]

_CID = re.compile(r"^C\d+[a-z]?$")


class ClaimFailed(AssertionError):
    """Raised when the body of a ``claim`` block fails; the message names the claim."""


@contextlib.contextmanager
def claim(cid: str, statement: str) -> Iterator[None]:
    """Context manager that checks one claim of a chapter.

    Parameters
    ----------
    cid : str
        The claim id as listed in the chapter's Claims section, ``"C1"``, ``"C2"``, ...
    statement : str
        A short statement of what is verified; printed on success.

    Raises
    ------
    ValueError
        If ``cid`` is not of the form ``C<number>`` or ``statement`` is empty.
    ClaimFailed
        (a subclass of ``AssertionError``) if an assertion inside the block fails.
    """
    if not isinstance(cid, str) or not _CID.match(cid):
        raise ValueError(f"cid must look like 'C1', 'C2', ..., got {cid!r}")
    if not isinstance(statement, str) or not statement.strip():
        raise ValueError("statement must be a non-empty string")
    try:
        yield
    except AssertionError as exc:
        raise ClaimFailed(f"✗ {cid} {statement}: {exc}") from exc
    print(f"✓ {cid} {statement}")


def _to_numpy(x) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def assert_close(actual, expected, *, rtol: float = 1e-7, atol: float = 0.0, name: str = "value") -> float:
    """Assert ``|actual - expected| <= atol + rtol·|expected|`` elementwise (arrays or tensors).

    Returns the largest absolute error, so a chapter can print it next to the tolerance.
    NaN or inf anywhere in ``actual`` fails (they are never "close").
    """
    a, e = _to_numpy(actual).astype(np.complex128 if np.iscomplexobj(actual) else np.float64), _to_numpy(expected)
    if a.shape != e.shape and e.size != 1:
        raise AssertionError(f"{name}: shape {a.shape} differs from expected {e.shape}")
    if not np.all(np.isfinite(a)):
        raise AssertionError(f"{name}: contains NaN or inf")
    err = np.abs(a - e)
    bound = atol + rtol * np.abs(e)
    if not np.all(err <= bound):
        i = np.unravel_index(np.argmax(err - bound), err.shape) if err.ndim else ()
        raise AssertionError(
            f"{name}: max error {float(np.max(err)):.3e} exceeds tolerance (rtol={rtol:g}, atol={atol:g}); "
            f"worst entry {i}: got {a[i] if a.ndim else a}, expected {np.broadcast_to(e, a.shape)[i]}"
        )
    return float(np.max(err)) if err.size else 0.0


def assert_less(value, bound, *, name: str = "value") -> float:
    """Assert ``value < bound`` (both scalars) and return ``value``."""
    v = float(_to_numpy(value))
    if not v < float(bound):
        raise AssertionError(f"{name} = {v:.6g} is not < {float(bound):.6g}")
    return v


def assert_sympy_zero(expr, *, name: str = "expression") -> None:
    """Assert that a sympy expression simplifies to exactly 0."""
    import sympy as sp

    simplified = sp.simplify(expr)
    if simplified != 0:
        raise AssertionError(f"{name} simplifies to {simplified}, not 0")


def assert_sympy_equal(lhs, rhs, *, name: str = "identity") -> None:
    """Assert that ``lhs - rhs`` simplifies to 0 (matrices: every entry)."""
    import sympy as sp

    diff = sp.simplify(sp.Matrix(lhs) - sp.Matrix(rhs)) if isinstance(lhs, sp.MatrixBase) else sp.simplify(lhs - rhs)
    zero = diff.is_zero_matrix if isinstance(diff, sp.MatrixBase) else diff == 0
    if zero is not True:
        raise AssertionError(f"{name}: lhs - rhs simplifies to {diff}, not 0")


# ---------------------------------------------------------------------------------------------------------
# Reading claims out of a chapter notebook (used by tests and by the build's claims index).

_LIST_ITEM = re.compile(r"^\s*(?:\d+\.|[-*+])\s+\*\*(C\d+[a-z]?)\*\*\.?\s*(?:[—–:-]\s*)?(.*\S)\s*$")
_CALL = re.compile(r"""\bclaim\(\s*["'](C\d+[a-z]?)["']""")


def _cells(nb_path) -> list[dict]:
    nb = json.loads(Path(nb_path).read_text(encoding="utf-8"))
    return nb.get("cells", [])


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def listed_claims(nb_path) -> dict[str, str]:
    """The claims listed in a notebook's ``## Claims`` Markdown cell, as ``{cid: statement}`` in order.

    Only the list items of the first Markdown cell whose heading is ``Claims`` are read.
    """
    for cell in _cells(nb_path):
        if cell.get("cell_type") != "markdown":
            continue
        text = _source(cell)
        if not re.search(r"^#{2,3}\s+Claims\s*$", text, flags=re.M):
            continue
        out: dict[str, str] = {}
        for line in text.splitlines():
            m = _LIST_ITEM.match(line)
            if m:
                out[m.group(1)] = m.group(2)
        return out
    return {}


def checked_claims(nb_path) -> list[str]:
    """The claim ids passed to ``claim(...)`` in a notebook's code cells, in order of appearance."""
    ids: list[str] = []
    for cell in _cells(nb_path):
        if cell.get("cell_type") == "code":
            ids.extend(_CALL.findall(_source(cell)))
    return ids
