"""Claims: the executable statements every chapter verifies.

A chapter lists its claims C1…Cn in a Markdown cell headed ``## Claims`` (one list item
per claim, written ``**C1** — statement``) and checks each one where it is derived::

    with claim("C2", "KL(vMF‖U) does not depend on μ"):
        assert_close(kl_a, kl_b, rtol=1e-12, name="KL for two directions")

On success the block prints ``✓ C2 …``; an ``AssertionError`` inside it is re-raised
naming the claim, so a wrong derivation stops the chapter (and CI). The helpers below
are the comparisons chapters use; each raises ``AssertionError`` with the numbers
involved, never returns a bool that could be ignored.

The functions :func:`listed_claims` and :func:`checked_claims` read a notebook file and
are used by the test that keeps each chapter's Claims list and its ``claim(...)`` calls
in step, and by the build step that writes ``book/claims.md``.
"""

from __future__ import annotations

import ast
import json
import linecache
import re
import sys
from pathlib import Path

import numpy as np

from . import _validate as V

__all__ = [
    "claim",
    "ClaimFailed",
    "assert_close",
    "assert_sympy_zero",
    "assert_sympy_equal",
    "assert_less",
    "listed_claims",
    "checked_claims",
    "claim_blocks",
    "reproduction",
    "reproduction_rows",
    "VERDICTS",
]

_CID = re.compile(r"^C\d+[a-z]?$")


class ClaimFailed(AssertionError):
    """Raised when the body of a ``claim`` block fails; the message names the claim."""


#: Calls of the ``assert_*`` helpers below; a ``claim`` block compares it on entry and
#: exit.
_HELPER_CALLS = [0]


def _count_helper_call() -> None:
    _HELPER_CALLS[0] += 1


def _is_assert_call(node: ast.AST) -> bool:
    if not isinstance(node, ast.Call):
        return False
    f = node.func
    name = (
        f.id
        if isinstance(f, ast.Name)
        else f.attr
        if isinstance(f, ast.Attribute)
        else ""
    )
    return name.startswith("assert")


def _is_claim_with(node: ast.AST) -> bool:
    if not isinstance(node, (ast.With, ast.AsyncWith)):
        return False
    for item in node.items:
        call = item.context_expr
        if isinstance(call, ast.Call):
            f = call.func
            name = (
                f.id
                if isinstance(f, ast.Name)
                else f.attr
                if isinstance(f, ast.Attribute)
                else ""
            )
            if name == "claim":
                return True
    return False


def body_asserts(with_node: ast.AST) -> bool:
    """Whether the body of a ``with claim(...)`` node contains an ``assert`` statement
    or a call of a function whose name starts with ``assert`` (``assert_close``,
    ``np.testing.assert_allclose``, ...)."""
    for stmt in with_node.body:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Assert) or _is_assert_call(node):
                return True
    return False


def _blank_magics(source: str) -> str:
    """Replace IPython magic lines (``%pip ...``, ``!ls``) by ``pass`` at the same
    indentation.
    """
    out = []
    for ln in source.splitlines():
        body = ln.lstrip()
        out.append(
            ln[: len(ln) - len(body)] + "pass" if body.startswith(("%", "!")) else ln
        )
    return "\n".join(out)


def claim_blocks(source: str) -> list[tuple[str, int, bool]]:
    """Every ``with claim("C…", …):`` block of a code cell or file:
    ``(cid, line, asserts)`` where ``asserts`` says whether its body holds an ``assert``
    statement or an ``assert*`` call.

    IPython magics (lines starting with ``%`` or ``!``) become ``pass`` before parsing.
    """
    clean = _blank_magics(V.string("source", source))
    out = []
    for node in ast.walk(ast.parse(clean)):
        if _is_claim_with(node):
            call = next(
                i.context_expr
                for i in node.items
                if isinstance(i.context_expr, ast.Call)
            )
            arg = call.args[0] if call.args else None
            cid = (
                arg.value
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str)
                else "?"
            )
            out.append((cid, node.lineno, body_asserts(node)))
    return out


def _static_asserts(frame) -> bool | None:
    """Whether the ``with claim(...)`` statement executing in ``frame`` has an assert in
    its body.

    ``None`` when its source cannot be read (code built from a string): then only helper
    calls count.
    """
    lines = linecache.getlines(frame.f_code.co_filename, frame.f_globals)
    if not lines:
        return None
    try:
        tree = ast.parse("".join(lines))
    except SyntaxError:
        return None
    line = frame.f_lineno
    found = [
        n
        for n in ast.walk(tree)
        if _is_claim_with(n)
        and n.lineno <= line <= (n.items[-1].context_expr.end_lineno or n.lineno)
    ]
    if not found:
        return None
    return body_asserts(found[-1])


class claim:  # noqa: N801 - used as a context manager, named like one
    """Context manager that checks one claim of a chapter.

    Parameters
    ----------
    cid : str
        The claim id as listed in the chapter's Claims section, ``"C1"``, ``"C2"``, ...
    statement : str
        A short statement of what is verified; printed on success.

    A block must *check* something: its body has to contain an ``assert`` statement or
    call one of the ``assert_*`` helpers (which count their calls). A block that checked
    nothing raises ``ClaimFailed``.

    Raises
    ------
    TypeError
        If ``cid`` or ``statement`` is not a string.
    ValueError
        If ``cid`` is not of the form ``C<number>`` or ``statement`` is empty.
    ClaimFailed
        (a subclass of ``AssertionError``) if an assertion inside the block fails, or if
        the block checked nothing. Any other exception is re-raised unchanged in type,
        with the claim id prefixed to its message.
    """

    def __init__(self, cid: str, statement: str) -> None:
        if not isinstance(cid, str):
            raise TypeError(f"cid must be a str like 'C1', got {type(cid).__name__}")
        if not _CID.match(cid):
            raise ValueError(f"cid must look like 'C1', 'C2', ..., got {cid!r}")
        if not isinstance(statement, str):
            raise TypeError(f"statement must be a str, got {type(statement).__name__}")
        if not statement.strip():
            raise ValueError("statement must be a non-empty string")
        self.cid, self.statement = cid, statement

    def __enter__(self) -> claim:
        self._calls = _HELPER_CALLS[0]
        self._static = _static_asserts(sys._getframe(1))
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        tag = f"{self.cid} {self.statement}"
        if exc is not None:
            if isinstance(exc, AssertionError):
                if isinstance(exc, ClaimFailed):
                    return False
                raise ClaimFailed(f"✗ {tag}: {exc}") from exc
            if isinstance(exc, Exception):
                note = f"in claim {tag}"
                if exc.args and isinstance(exc.args[0], str):
                    exc.args = (f"[{self.cid}] {exc.args[0]}", *exc.args[1:])
                elif not exc.args:
                    exc.args = (f"[{self.cid}]",)
                exc.add_note(note)
            return False
        helpers = _HELPER_CALLS[0] - self._calls
        if not self._static and helpers == 0:
            why = (
                "its source could not be read"
                if self._static is None
                else "its body has none"
            )
            raise ClaimFailed(
                f"✗ {tag}: the block checked nothing (no assert_* helper ran, and "
                f"{why} "
                "of an assert statement)"
            )
        print(f"✓ {tag}")
        return False


#: The verdicts a chapter may give its toy-scale reproduction of the post's headline
#: result.
VERDICTS = ("reproduced", "partly", "not at this scale")


def reproduction(*, headline: str, result: str, verdict: str, reason: str) -> None:
    """Declare the chapter's row of the reproduction ledger (``book/ledger.md``) and
    print it.

    Parameters (keyword-only, literal strings: the build reads them from the notebook
    source)
    ----------
    headline : str
        The post's headline result, in one sentence.
    result : str
        What this chapter's experiment shows, in one sentence (numbers in it are
        asserted in the same cell).
    verdict : str
        One of ``"reproduced"``, ``"partly"``, ``"not at this scale"``.
    reason : str
        One line: why the verdict (what the toy scale can and cannot show).

    Raises ``TypeError`` for a non-string argument and ``ValueError`` for an empty one
    or an unknown verdict.
    """
    fields = {
        "headline": headline,
        "result": result,
        "verdict": verdict,
        "reason": reason,
    }
    for key, value in fields.items():
        if not isinstance(value, str):
            raise TypeError(f"{key} must be a str, got {type(value).__name__}")
        if not value.strip():
            raise ValueError(f"{key} must be a non-empty string")
    if verdict not in VERDICTS:
        raise ValueError(f"verdict must be one of {VERDICTS}, got {verdict!r}")
    print(f"Reproduction: {verdict} — {result}\n  post: {headline}\n  why: {reason}")


def _literal(node: ast.AST) -> str | None:
    return (
        node.value
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
        else None
    )


def reproduction_rows(nb_path) -> list[dict[str, str]]:
    """The ``reproduction(...)`` declarations of a notebook, read from its code cells
    without running it.

    Each is a dict with the four fields; a field that is not a literal string is
    reported as ``None`` (the test of the chapters rejects it).
    """
    rows = []
    for cell in _cells(nb_path):
        if cell.get("cell_type") != "code":
            continue
        src = _source(cell)
        if "reproduction(" not in src:
            continue
        clean = _blank_magics(src)
        for node in ast.walk(ast.parse(clean)):
            if isinstance(node, ast.Call):
                f = node.func
                name = (
                    f.id
                    if isinstance(f, ast.Name)
                    else f.attr
                    if isinstance(f, ast.Attribute)
                    else ""
                )
                if name == "reproduction":
                    rows.append(
                        {kw.arg: _literal(kw.value) for kw in node.keywords if kw.arg}
                    )
    return rows


def _to_numpy(x) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def assert_close(
    actual, expected, *, rtol: float = 1e-7, atol: float = 0.0, name: str = "value"
) -> float:
    """Assert ``|actual - expected| <= atol + rtol·|expected|`` elementwise (arrays or
    tensors).

    Returns the largest absolute error, so a chapter can print it next to the tolerance.
    NaN or inf anywhere in ``actual`` fails (they are never "close").
    """
    _count_helper_call()
    rtol = V.real("rtol", rtol, ge=0)
    atol = V.real("atol", atol, ge=0)
    V.string("name", name)
    a, e = _to_numpy(actual), _to_numpy(expected)
    a = a.astype(np.complex128 if np.iscomplexobj(a) else np.float64)
    if a.shape != e.shape and e.size != 1:
        raise AssertionError(f"{name}: shape {a.shape} differs from expected {e.shape}")
    if not np.all(np.isfinite(a)):
        raise AssertionError(f"{name}: contains NaN or inf")
    err = np.abs(a - e)
    bound = atol + rtol * np.abs(e)
    if not np.all(err <= bound):
        i = np.unravel_index(np.argmax(err - bound), err.shape) if err.ndim else ()
        raise AssertionError(
            f"{name}: max error {float(np.max(err)):.3e} exceeds tolerance "
            f"(rtol={rtol:g}, atol={atol:g}); "
            f"worst entry {i}: got {a[i] if a.ndim else a}, expected "
            f"{np.broadcast_to(e, a.shape)[i]}"
        )
    return float(np.max(err)) if err.size else 0.0


def assert_less(value, bound, *, name: str = "value") -> float:
    """Assert ``value < bound`` (both scalars) and return ``value``."""
    _count_helper_call()
    V.string("name", name)
    bound = V.real("bound", bound, finite=False)
    arr = _to_numpy(value)
    if (
        arr.size != 1
        or not np.isrealobj(arr)
        or not np.issubdtype(arr.dtype, np.number)
    ):
        raise TypeError(f"value must be a real scalar, got {V.describe(value)}")
    v = float(arr.reshape(()))
    if not v < bound:
        raise AssertionError(f"{name} = {v:.6g} is not < {float(bound):.6g}")
    return v


def assert_sympy_zero(expr, *, name: str = "expression") -> None:
    """Assert that a sympy expression simplifies to exactly 0."""
    _count_helper_call()
    V.string("name", name)
    import sympy as sp

    simplified = sp.simplify(expr)
    if simplified != 0:
        raise AssertionError(f"{name} simplifies to {simplified}, not 0")


def assert_sympy_equal(lhs, rhs, *, name: str = "identity") -> None:
    """Assert that ``lhs - rhs`` simplifies to 0 (matrices: every entry)."""
    _count_helper_call()
    V.string("name", name)
    import sympy as sp

    diff = (
        sp.simplify(sp.Matrix(lhs) - sp.Matrix(rhs))
        if isinstance(lhs, sp.MatrixBase)
        else sp.simplify(lhs - rhs)
    )
    zero = diff.is_zero_matrix if isinstance(diff, sp.MatrixBase) else diff == 0
    if zero is not True:
        raise AssertionError(f"{name}: lhs - rhs simplifies to {diff}, not 0")


# ------------------------------------------------------------------------------------
# Reading claims out of a chapter notebook (used by tests and by the build's claims
# index).

_LIST_ITEM = re.compile(
    r"^\s*(?:\d+\.|[-*+])\s+\*\*(C\d+[a-z]?)\*\*\.?\s*(?:[—–:-]\s*)?(.*\S)\s*$"
)
_CALL = re.compile(r"""\bclaim\(\s*["'](C\d+[a-z]?)["']""")


def _cells(nb_path) -> list[dict]:
    nb = json.loads(Path(V.path("nb_path", nb_path)).read_text(encoding="utf-8"))
    return nb.get("cells", [])


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def listed_claims(nb_path) -> dict[str, str]:
    """The claims listed in a notebook's ``## Claims`` Markdown cell, as
    ``{cid: statement}`` in order.

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
    """The claim ids passed to ``claim(...)`` in a notebook's code cells, in order of
    appearance.
    """
    ids: list[str] = []
    for cell in _cells(nb_path):
        if cell.get("cell_type") == "code":
            ids.extend(_CALL.findall(_source(cell)))
    return ids
