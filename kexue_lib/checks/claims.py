"""The ``claim`` context manager and the static reading of claim blocks (see
:mod:`kexue_lib.checks`)."""

from __future__ import annotations

import ast
import linecache
import re
import sys

from .. import _validate as V

__all__ = ["claim", "ClaimFailed", "claim_blocks"]

_CID = re.compile(r"^C\d+[a-z]?$")


class ClaimFailed(AssertionError):
    """Raised when the body of a ``claim`` block fails; the message names the claim."""


#: Calls of the ``assert_*`` helpers below; a ``claim`` block compares it on entry and
#: exit.
_HELPER_CALLS = [0]


def _count_helper_call() -> None:
    _HELPER_CALLS[0] += 1


def _call_name(call: ast.Call) -> str:
    """The name a call is made by: ``f`` for ``f(...)`` and ``m.f(...)``; else ""."""
    f = call.func
    if isinstance(f, ast.Name):
        return f.id
    return f.attr if isinstance(f, ast.Attribute) else ""


def _is_assert_call(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and _call_name(node).startswith("assert")


def _is_claim_with(node: ast.AST) -> bool:
    if not isinstance(node, (ast.With, ast.AsyncWith)):
        return False
    for item in node.items:
        call = item.context_expr
        if isinstance(call, ast.Call) and _call_name(call) == "claim":
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
