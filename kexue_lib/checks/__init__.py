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

from .asserts import (
    assert_close,
    assert_less,
    assert_quoted,
    assert_sympy_equal,
    assert_sympy_zero,
)
from .claims import ClaimFailed, body_asserts, claim, claim_blocks  # noqa: F401
from .notebook import (
    VERDICTS,
    checked_claims,
    listed_claims,
    reproduction,
    reproduction_rows,
)

__all__ = [
    "claim",
    "ClaimFailed",
    "assert_close",
    "assert_sympy_zero",
    "assert_sympy_equal",
    "assert_less",
    "assert_quoted",
    "listed_claims",
    "checked_claims",
    "claim_blocks",
    "reproduction",
    "reproduction_rows",
    "VERDICTS",
]
