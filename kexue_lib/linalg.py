"""Matrix exponential, matrix logarithm and log-determinant as truncated power series.

Chapter ``math/det-exp-trace`` (the identity det exp(A) = exp tr A and its companion
log det = tr log); the log-determinant series is reused by ``generative/iresnet`` for
the flow's log-Jacobian.

* :func:`expm_series` — ``Σ_{k=0}^{N-1} A^k / k!``, the exponential series (claim C1);
  converges for every A.
* :func:`logm_series` — ``Σ_{k=1}^{N} (-1)^{k-1} (A - I)^k / k``, the logarithm of ``A``
  expanded around ``I`` (claim C5); converges to the principal logarithm when the
  spectral radius of ``A - I`` is < 1.
* :func:`logdet_series` — ``Σ_{k=1}^{N} (-1)^{k-1} tr(A^k) / k``, the log-determinant of
  ``I + A`` (claim C5).

**Which matrix the argument is.** ``logm_series(A)`` approximates ``log A`` — the
argument is the matrix whose logarithm is wanted, near the identity.
``logdet_series(A)`` approximates ``log det(I + A)`` — the argument is the
*perturbation* of the identity, because that is what its users hold: in an invertible
residual block ``y = x + g(x)`` the Jacobian is ``I + J_g`` and one calls
``logdet_series(J_g, n)``. So ``logdet_series(A, n) == trace(logm_series(I + A, n))`` up
to rounding (tested).

All functions are pure tensor code (differentiable by autograd), work on a batch of
matrices of shape ``(..., n, n)`` and on any floating or complex dtype and device; a
NumPy array in gives a NumPy array out. They are *teaching* implementations whose
truncation error the chapter studies — in production use ``torch.linalg.matrix_exp``
(scaling and squaring) and ``torch.linalg.slogdet``. A sum that overflows to inf or NaN
in the dtype of ``A`` (a matrix too large for the plain series) raises ``ValueError``
naming ``A``; it is never returned.
"""

from __future__ import annotations

import numpy as np
import torch

from . import _validate as V

__all__ = ["expm_series", "logm_series", "logdet_series", "spectral_radius"]

ArrayLike = torch.Tensor | np.ndarray


def _check_n_terms(n_terms) -> int:
    return V.integer("n_terms", n_terms, minimum=1)


def _as_square(A, name: str = "A") -> tuple[torch.Tensor, bool]:
    """Validate a batch of square matrices; return it as a floating/complex tensor and
    whether it was NumPy.
    """
    was_numpy = isinstance(A, np.ndarray)
    if was_numpy:
        A = torch.from_numpy(np.ascontiguousarray(A))
    elif not isinstance(A, torch.Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor or numpy.ndarray of shape (..., n, n), "
            f"got {V.describe(A)}"
        )
    if A.ndim < 2 or A.shape[-1] != A.shape[-2]:
        raise ValueError(
            f"{name} must be square with shape (..., n, n), got shape {tuple(A.shape)}"
        )
    if A.shape[-1] == 0:
        raise ValueError(f"{name} must have n >= 1, got shape {tuple(A.shape)}")
    if A.dtype == torch.bool:
        raise TypeError(f"{name} must have a numeric dtype, got {A.dtype}")
    if not (A.is_floating_point() or A.is_complex()):
        A = A.to(torch.get_default_dtype())
    if not bool(torch.isfinite(A.detach()).all()):
        raise ValueError(f"{name} must be finite, got a matrix with NaN or inf entries")
    return A, was_numpy


def _out(x: torch.Tensor, was_numpy: bool) -> ArrayLike:
    return x.detach().cpu().numpy() if was_numpy else x


def _check_finite_sum(total: torch.Tensor, A: torch.Tensor, series: str, n: int):
    """Raise ``ValueError`` naming ``A`` when a partial sum overflowed to inf/NaN.

    A truncated series of a large matrix can overflow in floating point (the terms of
    ``Σ A^k/k!`` peak near ``k ≈ ‖A‖``, at about ``e^‖A‖``); returning that inf/NaN
    would be silent nonsense.
    """
    if not bool(torch.isfinite(total.detach()).all()):
        norm = float(torch.linalg.matrix_norm(A.detach(), ord=2).amax())
        raise ValueError(
            f"A must be small enough for {n} terms of the {series} series to stay "
            f"finite in {A.dtype}, got a matrix of spectral norm {norm:.3g} whose sum "
            "overflows to inf/NaN"
        )


def _eye_like(A: torch.Tensor) -> torch.Tensor:
    return torch.eye(A.shape[-1], dtype=A.dtype, device=A.device).expand_as(A)


def spectral_radius(A: ArrayLike) -> ArrayLike:
    """Largest modulus of an eigenvalue of each matrix, ``ρ(A) = max_i |λ_i(A)|``; shape
    ``(...)``.

    Used to decide whether the logarithm series converges (it does iff ``ρ(A − I) < 1``,
    away from the boundary). Computed without gradient. Chapter ``math/det-exp-trace``,
    claim C5.
    """
    A, was_numpy = _as_square(A)
    with torch.no_grad():
        rho = torch.linalg.eigvals(A).abs().amax(-1)
    return _out(rho, was_numpy)


def expm_series(A: ArrayLike, n_terms: int) -> ArrayLike:
    """Truncated exponential series ``S_N(A) = Σ_{k=0}^{N-1} A^k / k!`` with
    ``N = n_terms`` terms.

    ``n_terms = 1`` gives ``I``, ``n_terms = 2`` gives ``I + A``, and so on. The series
    converges for every square ``A`` and the truncation error obeys
    ``‖exp(A) − S_N(A)‖ ≤ ‖A‖^N / N! · e^{‖A‖}`` in any submultiplicative norm (chapter
    ``math/det-exp-trace``, claim C1). In floating point the plain sum loses about
    ``eps · e^{‖A‖}`` absolute accuracy to cancellation, so it is only accurate for
    moderate ``‖A‖`` (the chapter measures this); ``torch.linalg.matrix_exp`` scales and
    squares instead.

    Parameters
    ----------
    A : tensor or array of shape (..., n, n)
        A batch of square, finite matrices (real or complex). Integer input is promoted
        to the default dtype.
    n_terms : int >= 1
        Number of terms kept.

    Returns
    -------
    Same shape, dtype and type (tensor/array) as ``A``.

    Raises
    ------
    TypeError
        If ``A`` is not a tensor or array (or is boolean), or ``n_terms`` is not an int.
    ValueError
        If ``A`` is not square, empty or not finite, ``n_terms`` is < 1, or the sum
        overflows to inf/NaN in ``A``'s dtype (a matrix too large for the series, e.g.
        of norm 1e3 with a few hundred terms in float64); the message names ``A``.
    """
    n_terms = _check_n_terms(n_terms)
    A, was_numpy = _as_square(A)
    term = _eye_like(A).clone()
    total = term.clone()
    for k in range(1, n_terms):
        term = (term @ A) / k
        total = total + term
    _check_finite_sum(total, A, "exponential", n_terms)
    return _out(total, was_numpy)


def _check_convergence(X: torch.Tensor, argname: str, shifted: str) -> None:
    with torch.no_grad():
        rho = torch.linalg.eigvals(X).abs().amax(-1)
    worst = float(rho.max())
    if not worst < 1.0:
        raise ValueError(
            f"{argname} must satisfy spectral radius of {shifted} < 1 for the "
            f"logarithm series to converge, got spectral radius {worst:.6g} (pass "
            "check=False to sum the series anyway)"
        )


def logm_series(A: ArrayLike, n_terms: int, *, check: bool = True) -> ArrayLike:
    """Truncated logarithm series of ``A`` around ``I``:
    ``L_N(A) = Σ_{k=1}^{N} (-1)^{k-1} X^k / k``, ``X = A − I``.

    This is ``ln(I + X)`` expanded in powers of ``X = A − I`` with ``N = n_terms`` terms
    (chapter ``math/det-exp-trace``, claim C5). Exactly when it is valid:

    * The series converges if the spectral radius ``ρ(A − I) < 1`` (every eigenvalue of
      ``A`` lies in the open disc ``|z − 1| < 1``), and its limit is then the
      **principal** logarithm of ``A`` — the unique logarithm whose eigenvalues have
      imaginary part in ``(−π, π)`` — so ``exp(L_∞(A)) = A``. If ``ρ(A − I) > 1`` it
      diverges.
    * ``‖A − I‖₂ < 1`` implies ``ρ(A − I) < 1`` and gives the explicit tail bound
      ``‖log A − L_N(A)‖₂ ≤ r^{N+1} / ((N+1)(1 − r))`` with ``r = ‖A − I‖₂``. For a
      non-normal ``A`` with ``ρ < 1 ≤ ‖A − I‖₂`` the series still converges, but its
      terms may first grow.

    Parameters
    ----------
    A : tensor or array of shape (..., n, n)
        The matrices whose logarithm is wanted (not ``A − I``).
    n_terms : int >= 1
        Number of terms kept; ``n_terms = 1`` gives ``A − I``.
    check : bool, default True
        Raise ``ValueError`` unless ``ρ(A − I) < 1`` for every matrix in the batch (one
        eigenvalue computation, without gradient). ``check=False`` sums the series
        regardless, e.g. to show divergence.

    Returns
    -------
    Same shape, dtype and type as ``A``.

    Raises
    ------
    TypeError
        If ``A`` is not a tensor or array (or is boolean), ``n_terms`` is not an int or
        ``check`` not a bool.
    ValueError
        If ``A`` is not square, empty or not finite, ``n_terms`` is < 1, (with
        ``check``) the series does not converge, or (with ``check=False``) the sum of a
        diverging series overflows to inf/NaN.
    """
    n_terms = _check_n_terms(n_terms)
    A, was_numpy = _as_square(A)
    check = V.boolean("check", check)
    X = A - _eye_like(A)
    if check:
        _check_convergence(X, "A", "A - I")
    power = X
    total = X.clone()
    for k in range(2, n_terms + 1):
        power = power @ X
        total = total + ((-1) ** (k - 1) / k) * power
    _check_finite_sum(total, A, "logarithm", n_terms)
    return _out(total, was_numpy)


def logdet_series(A: ArrayLike, n_terms: int, *, check: bool = True) -> ArrayLike:
    """Truncated series of
    ``log det(I + A) = tr log(I + A) = Σ_{k≥1} (-1)^{k-1} tr(A^k) / k``.

    The argument is the perturbation ``A`` of the identity, not ``I + A`` (see the
    module docstring; in ``generative/iresnet`` it is the Jacobian ``J_g`` of the
    residual branch). With ``N = n_terms`` terms the result is
    ``Σ_{k=1}^{N} (-1)^{k-1} tr(A^k) / k`` (chapter ``math/det-exp-trace``, claim C5).

    * It converges iff the series of :func:`logm_series` at ``I + A`` does, i.e. when
      ``ρ(A) < 1``; the limit is ``log det(I + A)`` for real ``A`` (then
      ``det(I + A) > 0``), and in general ``Σ_i Log(1 + λ_i)``, which may differ from
      ``Log det(I + A)`` by a multiple of ``2πi``.
    * If ``‖A‖₂ ≤ r < 1`` (e.g. ``Lip(g) ≤ r`` in an invertible ResNet) the truncation
      error is at most ``n · r^{N+1} / ((N+1)(1 − r))``, because
      ``|tr(A^k)| ≤ n ‖A‖₂^k``.

    Parameters
    ----------
    A : tensor or array of shape (..., n, n)
    n_terms : int >= 1
        Number of terms kept; ``n_terms = 1`` gives ``tr A``.
    check : bool, default True
        Raise ``ValueError`` unless ``ρ(A) < 1`` for every matrix in the batch.

    Returns
    -------
    Tensor or array of shape ``(...)`` (the batch shape), dtype of ``A``.

    Raises
    ------
    TypeError
        If ``A`` is not a tensor or array (or is boolean), ``n_terms`` is not an int or
        ``check`` not a bool.
    ValueError
        If ``A`` is not square, empty or not finite, ``n_terms`` is < 1, (with
        ``check``) ``ρ(A) >= 1``, or (with ``check=False``) the sum of a diverging
        series overflows to inf/NaN.
    """
    n_terms = _check_n_terms(n_terms)
    A, was_numpy = _as_square(A)
    check = V.boolean("check", check)
    if check:
        _check_convergence(A, "A", "A")
    power = A
    total = torch.diagonal(A, dim1=-2, dim2=-1).sum(-1)
    for k in range(2, n_terms + 1):
        power = power @ A
        total = total + ((-1) ** (k - 1) / k) * torch.diagonal(
            power, dim1=-2, dim2=-1
        ).sum(-1)
    _check_finite_sum(total, A, "log-determinant", n_terms)
    return _out(total, was_numpy)
