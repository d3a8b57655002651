"""Spectral normalisation by power iteration (chapter ``generative/iresnet``, C2; see
:mod:`kexue_lib.flows`)."""

from __future__ import annotations

import torch

from .. import _validate as V

__all__ = ["spectral_normalize"]


def _start_vector(weight: torch.Tensor, generator) -> torch.Tensor:
    gen = generator if generator is not None else torch.Generator().manual_seed(0)
    v = torch.randn(weight.shape[1], generator=gen, dtype=torch.float64)
    return (v / v.norm()).to(dtype=weight.dtype, device=weight.device)


def spectral_normalize(
    weight: torch.Tensor,
    coeff: float = 0.9,
    n_power_iterations: int = 50,
    *,
    generator: torch.Generator | None = None,
    v0: torch.Tensor | None = None,
    return_vector: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """``weight · min(1, coeff / σ̂)``, where ``σ̂`` estimates the spectral norm
    ``‖W‖₂`` by power iteration: a weight whose spectral norm is ``min(‖W‖₂, coeff)``.

    Chapter ``generative/iresnet``, claim C2 (``W ← cW/‖W‖₂`` with ``c < 1``; weights
    already below ``c`` are left alone, as in Behrmann et al.). The power iteration
    runs on ``WᵀW`` from a random unit vector ``v`` (drawn from ``generator``, or from a
    fixed seed when it is ``None``, so the result is deterministic), without gradient;
    then ``σ̂ = ‖W v‖`` is computed *with* gradient, so autograd differentiates through
    the normalisation with ``v`` held fixed (Miyato et al.'s spectral normalisation).

    **Accuracy.** ``σ̂ ≤ ‖W‖₂`` always (``v`` is a unit vector), so the result's spectral
    norm is never below ``min(‖W‖₂, coeff)`` and exceeds it by the relative error
    ``1 − σ̂/‖W‖₂``, which shrinks like ``(σ₂/σ₁)^{2k}`` after ``k`` iterations (σ₁ > σ₂
    the two largest singular values). Measured against
    ``torch.linalg.matrix_norm(W, ord=2)`` (``tests/test_flows.py``): for Gaussian
    matrices from 2×2 to 128×128 in float64, with the default 50 iterations the
    relative error of the output's spectral norm is below 2e-3; with 200 iterations it
    is below 1e-6 for the thin layers of the chapter (2×64, 64×2) and below 1e-3 for
    a square 64×64. A matrix with nearly equal top singular values converges slowly;
    raise ``n_power_iterations`` (or warm-start with ``v0``).

    Parameters
    ----------
    weight : tensor of shape (out, in)
        A floating-point, finite matrix (a ``nn.Linear`` weight).
    coeff : float in (0, ∞)
        The target bound on the spectral norm (``< 1`` for an invertible block).
    n_power_iterations : int >= 1
    generator : torch.Generator, optional
        Source of the random starting vector.
    v0 : tensor of shape (in,), optional
        Start the iteration from this vector instead (a warm start: the vector
        returned by the previous call, as :class:`IResBlock` does between training
        steps, so that one iteration per step suffices).
    return_vector : bool
        Also return the final unit vector ``v`` (to pass as ``v0`` next time).

    Returns
    -------
    Tensor of the shape, dtype and device of ``weight``; with ``return_vector`` the
    pair ``(normalised weight, v)``.

    Raises
    ------
    TypeError
        If ``weight`` is not a floating tensor, ``coeff`` not a real number,
        ``n_power_iterations`` not an int or ``generator`` not a ``torch.Generator``.
    ValueError
        If ``weight`` is not 2-D or not finite, ``coeff <= 0`` or
        ``n_power_iterations < 1``.
    """
    weight = V.tensor(
        "weight", weight, shape="(out, in)", ndim=2, floating=True, finite=True
    )
    coeff = V.real("coeff", coeff, gt=0)
    n_power_iterations = V.integer("n_power_iterations", n_power_iterations, minimum=1)
    generator = V.generator("generator", generator)
    return_vector = V.boolean("return_vector", return_vector)
    if weight.numel() == 0:
        raise ValueError(f"weight must be non-empty, got shape {tuple(weight.shape)}")
    if v0 is not None:
        v0 = V.tensor("v0", v0, shape=f"({weight.shape[1]},)", ndim=1, finite=True)
        if v0.shape[0] != weight.shape[1] or not float(v0.norm()) > 0:
            raise ValueError(
                f"v0 must be a nonzero vector of shape ({weight.shape[1]},), "
                f"got {V.describe(v0)}"
            )
    if v0 is None:
        v0 = _start_vector(weight, generator)
    else:
        v0 = v0.detach().to(dtype=weight.dtype, device=weight.device)
        v0 = v0 / v0.norm()
    out, v = _normalize(weight, coeff, n_power_iterations, v0)
    return (out, v) if return_vector else out


def _normalize(weight, coeff, n_iter, v):
    """The unchecked body of :func:`spectral_normalize` (``v`` a unit vector)."""
    with torch.no_grad():
        W = weight.detach()
        for _ in range(n_iter):
            u = W @ v
            u = u / u.norm().clamp_min(1e-30)
            v = W.T @ u
            v = v / v.norm().clamp_min(1e-30)
    sigma = (weight @ v).norm()
    # a zero matrix (sigma = 0) is left alone: coeff / 0 = inf is clamped to 1
    return weight * torch.clamp(coeff / sigma, max=1.0), v
