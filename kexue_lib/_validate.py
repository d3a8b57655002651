"""Argument checks shared by every module of the library (private).

One convention for the whole of :mod:`kexue_lib`:

* the Python type of an argument, or the dtype of a tensor or array, is wrong →
  :class:`TypeError`;
* its value, shape or range is wrong → :class:`ValueError`;

and both messages read ``"<name> must be <expected>, got <received>"``, so they name the
argument, what was expected and what was received (``kappa must be > 0, got -1.0``).
``bool`` is never accepted where a number is expected. Every checker returns the value
in a normal form (a Python ``int`` or ``float``, the tensor itself, ...), so a caller
writes ``n = integer("n", n, minimum=1)``.
"""

from __future__ import annotations

import math
import numbers
import operator
import os
from collections.abc import Iterable, Sequence

import numpy as np
import torch

__all__ = [
    "describe",
    "integer",
    "real",
    "boolean",
    "choice",
    "positive_ints",
    "tensor",
    "real_array",
    "real_tensor",
    "generator",
    "module",
    "path",
    "string",
    "same_shape",
    "broadcast",
    "broadcasts_to",
]


def describe(value) -> str:
    """A short description of a received value for an error message.

    ``"float 2.5"``, ``"str 'abc'"``, ``"list"`` (long representations are replaced by
    the type name), ``"tensor of shape (3, 4) and dtype torch.float32"``.
    """
    if isinstance(value, torch.Tensor):
        return f"tensor of shape {tuple(value.shape)} and dtype {value.dtype}"
    if isinstance(value, np.ndarray):
        return f"ndarray of shape {value.shape} and dtype {value.dtype}"
    text = repr(value)
    name = type(value).__name__
    if value is None:
        return "None"
    if len(text) > 40 or text.startswith("<"):
        return name
    return f"{name} {text}"


def _bounds(gt=None, ge=None, lt=None, le=None) -> str:
    """``"> 0"``, ``">= 1"``, ``"in (0, 1]"``, ... ("" without bounds)."""
    low = (gt, "(") if gt is not None else (ge, "[") if ge is not None else None
    high = (lt, ")") if lt is not None else (le, "]") if le is not None else None
    if low and high:
        return f"in {low[1]}{low[0]:g}, {high[0]:g}{high[1]}"
    if low:
        return f"{'>' if gt is not None else '>='} {low[0]:g}"
    if high:
        return f"{'<' if lt is not None else '<='} {high[0]:g}"
    return ""


def integer(
    name: str,
    value,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    even: bool = False,
) -> int:
    """``value`` as a Python ``int``: an ``int``, a NumPy integer or anything with
    ``__index__`` (a 0-dim integer tensor), never a ``bool`` or a ``float``.

    Raises ``TypeError`` for any other type and ``ValueError`` when it is below
    ``minimum``, above ``maximum`` or odd although ``even`` is asked for.
    """
    rng = _bounds(ge=minimum, le=maximum)
    expected = f"an {'even ' if even else ''}int{' ' + rng if rng else ''}"
    if isinstance(value, bool | float | complex | str):
        raise TypeError(f"{name} must be {expected}, got {describe(value)}")
    try:
        out = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be {expected}, got {describe(value)}") from None
    if (
        (minimum is not None and out < minimum)
        or (maximum is not None and out > maximum)
        or (even and out % 2)
    ):
        raise ValueError(f"{name} must be {expected}, got {out}")
    return out


def real(
    name: str,
    value,
    *,
    gt: float | None = None,
    ge: float | None = None,
    lt: float | None = None,
    le: float | None = None,
    finite: bool = True,
) -> float:
    """``value`` as a Python ``float``: a real number, a NumPy scalar, or a 0-dim array
    or one-element tensor of a real dtype (not ``bool``, not complex).

    Raises ``TypeError`` for any other type, ``ValueError`` for an array or tensor with
    more than one element, for NaN and (with ``finite``) infinity, and outside the
    bounds ``gt`` (>), ``ge`` (>=), ``lt`` (<) and ``le`` (<=).
    """
    rng = _bounds(gt, ge, lt, le)
    expected = f"a {'finite ' if finite else ''}real number{' ' + rng if rng else ''}"
    if isinstance(value, torch.Tensor):
        if value.dtype == torch.bool or value.is_complex():
            raise TypeError(f"{name} must be {expected}, got {describe(value)}")
        if value.numel() != 1:
            raise ValueError(f"{name} must be a single number, got {describe(value)}")
        value = value.item()
    elif isinstance(value, np.ndarray):
        if not np.issubdtype(value.dtype, np.number) or np.iscomplexobj(value):
            raise TypeError(f"{name} must be {expected}, got {describe(value)}")
        if value.shape != ():
            raise ValueError(f"{name} must be a single number, got {describe(value)}")
        value = value.item()
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be {expected}, got {describe(value)}")
    out = float(value)
    if math.isnan(out) or (finite and not math.isfinite(out)):
        raise ValueError(f"{name} must be {expected}, got {out}")
    if (
        (gt is not None and not out > gt)
        or (ge is not None and not out >= ge)
        or (lt is not None and not out < lt)
        or (le is not None and not out <= le)
    ):
        raise ValueError(f"{name} must be {expected}, got {out:g}")
    return out


def boolean(name: str, value) -> bool:
    """``value`` if it is a ``bool`` (or a NumPy bool); ``TypeError`` otherwise."""
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{name} must be a bool, got {describe(value)}")
    return bool(value)


def choice(name: str, value, choices: Sequence):
    """``value`` if it is one of ``choices``.

    ``TypeError`` when the choices are strings and ``value`` is not a string;
    ``ValueError`` when it is not one of them.
    """
    expected = f"one of {tuple(choices)}"
    if all(isinstance(c, str) for c in choices) and not isinstance(value, str):
        raise TypeError(f"{name} must be {expected}, got {describe(value)}")
    if value not in choices:
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    return value


def positive_ints(name: str, value) -> tuple[int, ...]:
    """An int or a sequence of ints, each >= 1, as a tuple (hidden-layer widths).

    ``TypeError`` for anything else (a float, a string, a sequence holding a float) and
    ``ValueError`` for an empty sequence or an element < 1.
    """
    expected = "a positive int or a sequence of them"
    if isinstance(value, str) or not isinstance(value, numbers.Integral | Iterable):
        raise TypeError(f"{name} must be {expected}, got {describe(value)}")
    items = (value,) if isinstance(value, numbers.Integral) else tuple(value)
    if not items:
        raise ValueError(f"{name} must be {expected}, got an empty sequence")
    for item in items:
        if isinstance(item, bool) or not isinstance(item, numbers.Integral):
            raise TypeError(f"{name} must be {expected}, got {describe(value)}")
    if any(item < 1 for item in items):
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    return tuple(int(item) for item in items)


def tensor(
    name: str,
    value,
    *,
    shape: str | None = None,
    ndim: int | Sequence[int] | None = None,
    min_ndim: int | None = None,
    last: int | None = None,
    floating: bool = False,
    integral: bool = False,
    finite: bool = False,
) -> torch.Tensor:
    """``value`` if it is a ``torch.Tensor`` with the asked properties.

    ``shape`` is the documented shape, used in messages (``"(..., n, d)"``); ``ndim`` an
    exact number of dimensions (or a sequence of allowed numbers), ``min_ndim`` a
    minimum, ``last`` the size of the last dimension. ``floating`` asks for a
    floating-point dtype, ``integral`` for an integer dtype (not ``bool``); ``finite``
    rejects NaN and infinite entries.

    Raises ``TypeError`` when ``value`` is not a tensor or its dtype is wrong, and
    ``ValueError`` for a wrong number of dimensions or last size, or non-finite entries.
    """
    of_shape = f" of shape {shape}" if shape else ""
    if not isinstance(value, torch.Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor{of_shape}, got {describe(value)}"
        )
    allowed = (ndim,) if isinstance(ndim, int) else ndim
    if (allowed is not None and value.dim() not in allowed) or (
        min_ndim is not None and value.dim() < min_ndim
    ):
        if shape is None:
            shape = (
                f"with {' or '.join(map(str, allowed))} dimension(s)"
                if allowed is not None
                else f"with at least {min_ndim} dimension(s)"
            )
            raise ValueError(f"{name} must be a tensor {shape}, got {describe(value)}")
        raise ValueError(f"{name} must have shape {shape}, got {tuple(value.shape)}")
    if last is not None and (value.dim() == 0 or value.shape[-1] != last):
        raise ValueError(
            f"{name} must have shape {shape or f'(..., {last})'}, "
            f"got {tuple(value.shape)}"
        )
    if floating and not value.is_floating_point():
        raise TypeError(
            f"{name} must be a floating-point tensor, got dtype {value.dtype}"
        )
    if integral and (
        value.is_floating_point() or value.is_complex() or value.dtype == torch.bool
    ):
        raise TypeError(f"{name} must be an integer tensor, got dtype {value.dtype}")
    if finite and not bool(torch.isfinite(value.detach()).all()):
        raise ValueError(f"{name} must be finite, got NaN or inf entries")
    return value


def real_array(name: str, value, *, finite: bool = True) -> np.ndarray:
    """``value`` (a number, nested sequence, NumPy array or tensor) as a float64 array.

    ``TypeError`` for a non-numeric or complex dtype (``bool`` is accepted as 0/1);
    ``ValueError`` for NaN or (with ``finite``) infinite entries.
    """
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError):
        raise TypeError(
            f"{name} must be a real number or array, got {describe(value)}"
        ) from None
    if not (
        np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_
    ) or np.iscomplexobj(arr):
        raise TypeError(
            f"{name} must be a real number or array, got {describe(value)}"
            + (f" of dtype {arr.dtype}" if not isinstance(value, np.ndarray) else "")
        )
    arr = arr.astype(np.float64)
    bad = np.isnan(arr) | (np.isinf(arr) if finite else False)
    if np.any(bad):
        raise ValueError(f"{name} must be finite, got NaN or inf entries")
    return arr


def real_tensor(name: str, value, device=None) -> torch.Tensor:
    """``value`` (a tensor, array, sequence or number of ints or floats) as a tensor on
    ``device``; integers stay integers (positions, indices).

    ``TypeError`` for a ``bool``, complex or non-numeric dtype.
    """
    if not isinstance(value, torch.Tensor):
        try:
            arr = np.asarray(value)
        except (TypeError, ValueError):
            arr = np.asarray(None)
        if arr.dtype.kind not in "iuf":
            raise TypeError(
                f"{name} must be a real tensor, array or number (ints or floats), "
                f"got {describe(value)}"
            )
        value = torch.as_tensor(arr)
    elif value.dtype == torch.bool or value.is_complex():
        raise TypeError(
            f"{name} must be a real tensor (ints or floats), got dtype {value.dtype}"
        )
    return value if device is None else value.to(device)


def generator(name: str, value) -> torch.Generator | None:
    """``value`` if it is ``None`` or a ``torch.Generator``; ``TypeError`` otherwise."""
    if value is not None and not isinstance(value, torch.Generator):
        raise TypeError(
            f"{name} must be a torch.Generator or None, got {describe(value)}"
        )
    return value


def function(name: str, value):
    """``value`` if it is callable (a function, a module, a lambda); ``TypeError``
    otherwise."""
    if not callable(value):
        raise TypeError(f"{name} must be callable, got {describe(value)}")
    return value


def module(name: str, value, *, optional: bool = False) -> torch.nn.Module | None:
    """``value`` if it is a ``torch.nn.Module`` (or ``None`` when ``optional``)."""
    if optional and value is None:
        return None
    if not isinstance(value, torch.nn.Module):
        expected = "a torch.nn.Module" + (" or None" if optional else "")
        raise TypeError(f"{name} must be {expected}, got {describe(value)}")
    return value


def path(name: str, value) -> str | os.PathLike:
    """``value`` if it is a ``str`` or an ``os.PathLike``; ``TypeError`` otherwise."""
    if not isinstance(value, str | os.PathLike):
        raise TypeError(
            f"{name} must be a path (str or os.PathLike), got {describe(value)}"
        )
    return value


def string(name: str, value, *, optional: bool = False) -> str | None:
    """``value`` if it is a ``str`` (or ``None`` when ``optional``); ``TypeError``
    otherwise."""
    if optional and value is None:
        return None
    if not isinstance(value, str):
        expected = "a str" + (" or None" if optional else "")
        raise TypeError(f"{name} must be {expected}, got {describe(value)}")
    return value


def same_shape(name: str, value: torch.Tensor, ref_name: str, ref: torch.Tensor):
    """``ValueError`` unless ``value`` has the shape of ``ref``."""
    if tuple(value.shape) != tuple(ref.shape):
        raise ValueError(
            f"{name} must have the shape of {ref_name}, {tuple(ref.shape)}, "
            f"got {tuple(value.shape)}"
        )
    return value


def broadcast(**shapes) -> torch.Size:
    """The broadcast of the named shapes, e.g.
    ``broadcast(mu_q=a.shape, mu_p=b.shape)``.

    ``ValueError`` naming every argument when they do not broadcast.
    """
    try:
        return torch.broadcast_shapes(*shapes.values())
    except RuntimeError:
        names = ", ".join(shapes)
        got = ", ".join(str(tuple(s)) for s in shapes.values())
        raise ValueError(
            f"{names} must have shapes that broadcast together, got {got}"
        ) from None


def broadcasts_to(name: str, shape, target_name: str, target) -> None:
    """``ValueError`` unless ``shape`` broadcasts to exactly ``target``.

    ``broadcasts_to("bias", bias.shape, "the logits' shape", logits.shape)``.
    """
    try:
        ok = torch.broadcast_shapes(shape, target) == torch.Size(target)
    except RuntimeError:
        ok = False
    if not ok:
        raise ValueError(
            f"{name} must broadcast to {target_name} {tuple(target)}, "
            f"got shape {tuple(shape)}"
        )
