"""Reading a chapter notebook without running it: its Claims list, its ``claim(...)``
calls and its reproduction-ledger row (used by the tests and the build; see
:mod:`kexue_lib.checks`)."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

from .. import _validate as V
from .claims import _blank_magics, _call_name

__all__ = [
    "VERDICTS",
    "reproduction",
    "reproduction_rows",
    "listed_claims",
    "checked_claims",
]


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
            if isinstance(node, ast.Call) and _call_name(node) == "reproduction":
                rows.append(
                    {kw.arg: _literal(kw.value) for kw in node.keywords if kw.arg}
                )
    return rows


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
