"""The comparisons chapters use inside ``claim`` blocks; each raises
``AssertionError`` with the numbers involved (see :mod:`kexue_lib.checks`)."""

from __future__ import annotations

import numpy as np

from .. import _validate as V
from .claims import _count_helper_call

__all__ = [
    "assert_close",
    "assert_less",
    "assert_quoted",
    "assert_sympy_zero",
    "assert_sympy_equal",
]


def _to_numpy(x) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def _real_scalar(value) -> float:
    """``value`` (number, 0-d array, one-element tensor) as a float; else TypeError."""
    arr = _to_numpy(value)
    if (
        arr.size != 1
        or not np.isrealobj(arr)
        or not np.issubdtype(arr.dtype, np.number)
    ):
        raise TypeError(f"value must be a real scalar, got {V.describe(value)}")
    return float(arr.reshape(()))


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
    v = _real_scalar(value)
    if not v < bound:
        raise AssertionError(f"{name} = {v:.6g} is not < {float(bound):.6g}")
    return v


def assert_quoted(value, quoted: str, *, name: str = "value") -> float:
    """Assert that ``value`` is the number the prose quotes as ``quoted`` (a decimal
    literal such as ``"0.22"`` or ``"68"``), to the precision it is quoted with: within
    one unit of its last digit (``"0.22"`` accepts 0.21 … 0.23). Returns ``value``.

    For numbers that come out of a training run. Their last digits move with the
    floating-point rounding of the machine (BLAS libraries take different code paths on
    different CPUs), so a value such as 0.2249 may come out as 0.2251 elsewhere; an
    exact ``round(value, 2) == 0.22`` would then fail although the sentence quoting
    "about 0.22" is still true. Exact results (algebra, counts) are asserted exactly.
    """
    _count_helper_call()
    V.string("name", name)
    if not isinstance(quoted, str):
        raise TypeError(
            f"quoted must be the number as written in the text (a str such as '0.22'), "
            f"got {V.describe(quoted)}"
        )
    text = quoted.strip().lstrip("+-")
    whole, _, frac = text.partition(".")
    if not text or not (whole or frac) or not (whole + frac).isdigit():
        raise ValueError(
            f"quoted must be a decimal literal such as '0.22', got {quoted!r}"
        )
    v, q, unit = _real_scalar(value), float(quoted), 10.0 ** -len(frac)
    if not abs(v - q) <= unit * (1 + 1e-9):
        raise AssertionError(
            f"{name} = {v:.6g} is not the quoted {quoted} (± {unit:g}, one unit of its "
            f"last digit)"
        )
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
