"""Unified diffusion: a general forward process x_t = F_t(x₀, ε) and cold diffusion.

Chapter book/generative/unified-diffusion. The forward process is any map
``x_t = F_t(x₀, ε)``; a reverse step first estimates x̂₀ from x_t, then moves to an
earlier time s with x₀ replaced by x̂₀ (claim C1). When F_t is invertible in ε,

    x_s = F_s(x̂₀, √(1 − σ̃²) F_t⁻¹(x̂₀, x_t) + σ̃ z),     z ~ N(0, I),

(:func:`udm_step`, claim C2): the noise of x_t, read back through F_t⁻¹, is reused.
With F_t(x₀, ε) = ᾱ_t x₀ + β̄_t ε it is the DDIM step of
:func:`~kexue_lib.diffusion.ddim_step` with σ = β̄_s σ̃ (the tests check it). Cold
diffusion (Bansal et al. 2022) degrades deterministically, x_t = F_t(x₀) (+ σε), and
has two samplers (:func:`cold_step`, :func:`cold_sample`):

* naive:     x_s = F_s(x̂₀);
* improved:  x_s = x_t + F_s(x̂₀) − F_t(x̂₀),

the improved one being :func:`udm_step` for F_t(x₀, ε) = F_t(x₀) + σε, for every σ > 0
(C2). For a linear F and x̂₀ = x₀ + δ their errors are F_s δ and (F_s − F_t) δ
(claim C3). :func:`heat_blur_operators` and :class:`LinearDegradation` give the blur of
the chapter's experiment: the heat semigroup exp(−τL) of an image grid.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch

from .._validate import choice, integer, real, same_shape, tensor

__all__ = [
    "udm_step",
    "cold_step",
    "cold_sample",
    "heat_blur_operators",
    "LinearDegradation",
]

_METHODS = ("naive", "improved")


def _callable(name: str, fn) -> Callable:
    if not callable(fn):
        raise TypeError(f"{name} must be callable, got {type(fn).__name__}")
    return fn


def _checked_output(name: str, out, ref: torch.Tensor) -> torch.Tensor:
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"{name} must return a torch.Tensor, got {type(out).__name__}")
    if tuple(out.shape) != tuple(ref.shape):
        raise ValueError(
            f"{name} must return a tensor of the shape of its input, "
            f"{tuple(ref.shape)}, got {tuple(out.shape)}"
        )
    return out


def udm_step(
    forward: Callable,
    inverse: Callable,
    x0_hat: torch.Tensor,
    x_t: torch.Tensor,
    t: int,
    s: int,
    sigma_tilde=0.0,
    noise: torch.Tensor | None = None,
) -> torch.Tensor:
    """One reverse step t → s of the unified model with an invertible forward map
    (claim C2).

    ``forward(x0, eps, t)`` is F_t(x₀, ε) and ``inverse(x0, x_t, t)`` the ε with
    F_t(x₀, ε) = x_t. Returns F_s(x̂₀, √(1 − σ̃²) F_t⁻¹(x̂₀, x_t) + σ̃ z): with σ̃ = 0 the
    noise of x_t is reused (deterministic), with σ̃ = 1 it is replaced by fresh noise
    (the baseline x_s = F_s(x̂₀, z) of C1). Requires a standard normal ``noise`` of the
    shape of ``x_t`` when σ̃ > 0 (used as given, so a step is a function of its
    inputs). ``t`` and ``s`` are passed to the maps unchanged (any ints).

    Raises ``TypeError`` for non-callables or non-tensors, ``ValueError`` for shape
    mismatches, σ̃ outside [0, 1] or a missing ``noise``.
    """
    _callable("forward", forward)
    _callable("inverse", inverse)
    x0_hat = tensor("x0_hat", x0_hat, floating=True)
    x_t = tensor("x_t", x_t, floating=True)
    same_shape("x0_hat", x0_hat, "x_t", x_t)
    t = integer("t", t)
    s = integer("s", s)
    st = real("sigma_tilde", sigma_tilde, ge=0, le=1)
    if st > 0:
        if noise is None:
            raise ValueError(
                f"noise is required when sigma_tilde > 0 (got sigma_tilde={st}): pass "
                "a standard normal tensor of the shape of x_t"
            )
        noise = tensor("noise", noise, floating=True)
        same_shape("noise", noise, "x_t", x_t)
    eps = _checked_output("inverse", inverse(x0_hat, x_t, t), x_t)
    if st > 0:
        eps = math.sqrt(1.0 - st * st) * eps + st * noise
    return _checked_output("forward", forward(x0_hat, eps, s), x_t)


def cold_step(
    x_t: torch.Tensor,
    x0_hat: torch.Tensor,
    degrade: Callable,
    t: int,
    s: int,
    method: str = "improved",
) -> torch.Tensor:
    """One step t → s of cold diffusion given the restoration x̂₀ (claims C2, C3).

    ``degrade(x, t)`` is F_t(x) (with F_0 the identity by convention, not checked).
    ``method="naive"`` returns F_s(x̂₀) (Bansal et al.'s Algorithm 1),
    ``"improved"`` returns x_t + F_s(x̂₀) − F_t(x̂₀) (their Algorithm 2).

    Raises ``TypeError`` for a non-callable ``degrade`` or non-tensors, ``ValueError``
    for shape mismatches, an unknown method or ``s`` not earlier than ``t``.
    """
    x_t = tensor("x_t", x_t, floating=True)
    x0_hat = tensor("x0_hat", x0_hat, floating=True)
    same_shape("x0_hat", x0_hat, "x_t", x_t)
    _callable("degrade", degrade)
    t = integer("t", t, minimum=1)
    s = integer("s", s, minimum=0, maximum=t - 1)
    choice("method", method, _METHODS)
    to_s = _checked_output("degrade", degrade(x0_hat, s), x0_hat)
    if method == "naive":
        return to_s
    return x_t + to_s - _checked_output("degrade", degrade(x0_hat, t), x0_hat)


def cold_sample(
    restore: Callable,
    degrade: Callable,
    x_t: torch.Tensor,
    t: int,
    method: str = "improved",
    final: str = "step",
) -> torch.Tensor:
    """Run :func:`cold_step` from time ``t`` down to 0, one step at a time; returns x_0.

    ``restore(x, t)`` receives the batch and an int64 tensor of shape ``(batch,)``
    holding the current time and returns x̂₀ of the shape of x; ``degrade(x, t)`` is
    F_t with t a Python int. Each step is x̂₀ = restore(x_u, u), then
    x_{u−1} = cold_step(x_u, x̂₀, degrade, u, u − 1, method) for u = t, …, 1: the
    naive and the improved samplers of claim C3 (Bansal et al.'s Algorithms 1 and 2).

    ``final="restore"`` returns the last restoration x̂₀ = restore(x_1, 1) instead of
    the step 1 → 0: the unified model's last step when the data themselves carry no
    noise (x_t = F_t(x₀) + σε for t ≥ 1 only), so that the σε carried along by the
    improved sampler does not end up in the output. Runs under ``torch.no_grad()``.
    """
    _callable("restore", restore)
    _callable("degrade", degrade)
    x = tensor("x_t", x_t, floating=True, min_ndim=1)
    t = integer("t", t, minimum=1)
    choice("method", method, _METHODS)
    choice("final", final, ("step", "restore"))
    with torch.no_grad():
        for u in range(t, 0, -1):
            u_batch = torch.full((x.shape[0],), u, dtype=torch.int64, device=x.device)
            x0_hat = _checked_output("restore", restore(x, u_batch), x)
            if u == 1 and final == "restore":
                return x0_hat
            x = cold_step(x, x0_hat, degrade, u, u - 1, method)
    return x


def heat_blur_operators(
    side: int, times: Sequence[float] | torch.Tensor
) -> torch.Tensor:
    """The blur matrices F(τ) = exp(−τL) of a ``side × side`` image, one per τ in
    ``times``; float64, shape ``(len(times), side², side²)``.

    L is the Laplacian of the pixel grid with reflecting (Neumann) borders, so every
    F(τ) is symmetric, keeps the mean intensity (rows sum to 1) and F(a)F(b) = F(a + b);
    τ = 0 is the identity and τ = ∞ (``math.inf``) the projection onto constant
    images, the end of a blur that has erased everything but the mean. Images are
    flattened row by row. Computed from the eigenvectors of the path Laplacian (a
    cosine basis): F(τ) = (U ⊗ U) diag(e^{−τ(λ_i + λ_j)}) (U ⊗ U)ᵀ.

    Raises ``TypeError`` for a non-integer ``side`` or non-real times, ``ValueError``
    for ``side < 2``, an empty list or a negative or NaN τ.
    """
    side = integer("side", side, minimum=2)
    if isinstance(times, torch.Tensor):
        if times.dtype == torch.bool or times.is_complex():
            raise TypeError(f"times must hold real numbers, got dtype {times.dtype}")
        taus = [float(v) for v in times.reshape(-1).tolist()]
    else:
        try:
            taus = list(times)
        except TypeError:
            raise TypeError(
                f"times must be a sequence of reals, got {type(times).__name__}"
            ) from None
    if not taus:
        raise ValueError("times must not be empty")
    taus = [real(f"times[{i}]", v, ge=0, finite=False) for i, v in enumerate(taus)]
    lap = torch.zeros(side, side, dtype=torch.float64)
    idx = torch.arange(side - 1)
    lap[idx, idx + 1] = lap[idx + 1, idx] = -1.0
    lap += torch.diag(-lap.sum(1))
    lam, u = torch.linalg.eigh(lap)
    lam = lam.clamp_min(0.0)
    lam[0] = 0.0  # the constant vector: exactly 0, so that exp(-inf * 0) = 1
    basis = torch.kron(u, u)
    lam2 = (lam[:, None] + lam[None, :]).reshape(-1)
    out = []
    for tau in taus:
        if math.isinf(tau):
            w = (lam2 == 0).to(torch.float64)
        else:
            w = torch.exp(-tau * lam2)
        out.append((basis * w) @ basis.T)
    return torch.stack(out)


class LinearDegradation:
    """F_t(x) = x Fₜᵀ for a stack of matrices F_0 … F_T (``operators[t]``): a callable
    ``degrade(x, t)`` for :func:`cold_step` and :func:`cold_sample`.

    ``x`` has shape ``(..., d)``; the matrices are cast to its dtype and device. The
    chapter's blur is ``LinearDegradation(heat_blur_operators(8, taus))`` with
    ``taus[0] = 0``, so that F_0 is the identity.
    """

    def __init__(self, operators: torch.Tensor) -> None:
        ops = tensor(
            "operators", operators, shape="(T + 1, d, d)", ndim=3, floating=True
        )
        if ops.shape[1] != ops.shape[2]:
            raise ValueError(
                f"operators must have shape (T + 1, d, d), got {tuple(ops.shape)}"
            )
        self.operators = ops

    @property
    def T(self) -> int:  # noqa: N802 - the book's name for the last time
        """The last time index (``len(operators) − 1``)."""
        return self.operators.shape[0] - 1

    def __call__(self, x: torch.Tensor, t: int) -> torch.Tensor:
        x = tensor("x", x, floating=True, min_ndim=1, last=self.operators.shape[1])
        t = integer("t", t, minimum=0, maximum=self.T)
        return x @ self.operators[t].to(dtype=x.dtype, device=x.device).T
