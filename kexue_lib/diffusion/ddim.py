"""DDIM: one family of reverse steps to any earlier time s; DDPM is its member η = 1.

Post notation (book/generative/ddim): ``x_t = ᾱ_t x₀ + β̄_t ε``, ``ᾱ_t² + β̄_t² = 1``.
Given an ε-prediction, the step from time t to an earlier time s is

    x̂₀  = (x_t − β̄_t ε) / ᾱ_t,
    x_s = ᾱ_s x̂₀ + √(β̄_s² − σ²) ε + σ z,
    σ   = η · (β̄_s / β̄_t) · √(1 − ᾱ_t² / ᾱ_s²),

the marginal-preserving family of p(x_s | x_t, x₀) with x₀ replaced by x̂₀ (claims
C1–C2); η = 1 is DDPM's posterior (C3), η = 0 an Euler step of an ODE (C4), and s need
not be t − 1 (C5: sub-sequence sampling). The tests compare every step with HuggingFace
diffusers' ``DDIMScheduler`` and ``DDPMScheduler``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch

from .._validate import generator as _generator
from .._validate import integer, real, same_shape, tensor
from .schedule import check_schedule

__all__ = [
    "ddim_sigma",
    "ddim_coefficients",
    "predict_x0",
    "ddim_step",
    "ddim_sample",
]


def _pair(alpha_bar_t, alpha_bar_s) -> tuple[float, float]:
    a_t = real("alpha_bar_t", alpha_bar_t, gt=0, lt=1)
    a_s = real("alpha_bar_s", alpha_bar_s, gt=0, le=1)
    if not a_s > a_t:
        raise ValueError(
            "alpha_bar_s must be > alpha_bar_t: s must be an earlier (less noisy) time "
            f"than t, got alpha_bar_s={a_s} <= alpha_bar_t={a_t}"
        )
    return a_t, a_s


def _eta(eta) -> float:
    return real("eta", eta, ge=0)


def ddim_sigma(alpha_bar_t, alpha_bar_s, eta=1.0) -> float:
    """σ = η · (β̄_s/β̄_t) · √(1 − ᾱ_t²/ᾱ_s²): the standard deviation of the step t → s.

    At η = 1 and s = t − 1 this is DDPM's posterior standard deviation β̄_{t−1}β_t/β̄_t
    (claim C3); ``alpha_bar_s = 1`` (the final step to x₀) gives σ = 0 for every η.
    """
    a_t, a_s = _pair(alpha_bar_t, alpha_bar_s)
    e = _eta(eta)
    bt2, bs2 = -math.expm1(2 * math.log(a_t)), -math.expm1(2 * math.log(a_s))
    return e * math.sqrt(bs2 / bt2) * math.sqrt(-math.expm1(2 * math.log(a_t / a_s)))


def ddim_coefficients(alpha_bar_t, alpha_bar_s, sigma) -> tuple[float, float]:
    """(κ, λ) of the marginal-preserving p(x_s | x_t, x₀) = N(κ x_t + λ x₀, σ²I).

    κ = √(β̄_s² − σ²)/β̄_t and λ = ᾱ_s − ᾱ_t κ solve ᾱ_s = κᾱ_t + λ and
    β̄_s² = κ²β̄_t² + σ² (claim C1; the root κ ≥ 0). ``ValueError`` unless 0 ≤ σ ≤ β̄_s.
    """
    a_t, a_s = _pair(alpha_bar_t, alpha_bar_s)
    bt, bs = math.sqrt(1.0 - a_t * a_t), math.sqrt(1.0 - a_s * a_s)
    sig = real("sigma", sigma, ge=0, le=bs * (1 + 1e-12))
    kappa = math.sqrt(max(bs * bs - sig * sig, 0.0)) / bt
    return kappa, a_s - a_t * kappa


def predict_x0(x_t: torch.Tensor, eps: torch.Tensor, alpha_bar_t) -> torch.Tensor:
    """x̂₀ = (x_t − β̄_t ε)/ᾱ_t: the x₀ implied by an ε-prediction (the post's μ̄(x_t))."""
    x_t = tensor("x_t", x_t, floating=True)
    eps = tensor("eps", eps, floating=True)
    same_shape("eps", eps, "x_t", x_t)
    a_t = real("alpha_bar_t", alpha_bar_t, gt=0, lt=1)
    return (x_t - math.sqrt(1.0 - a_t * a_t) * eps) / a_t


def ddim_step(
    x_t: torch.Tensor,
    eps: torch.Tensor,
    alpha_bar_t,
    alpha_bar_s,
    eta=0.0,
    noise: torch.Tensor | None = None,
) -> torch.Tensor:
    """One reverse step x_t → x_s (s earlier than t); deterministic given its inputs.

    Parameters
    ----------
    x_t, eps : tensors of the same shape
        The current sample and the ε-prediction at (x_t, t).
    alpha_bar_t, alpha_bar_s : real scalars (post notation, *not* squared)
        ᾱ at the current and the target time; 0 < ᾱ_t < ᾱ_s ≤ 1, and ``alpha_bar_s = 1``
        is the final step, which returns x̂₀.
    eta : real ≥ 0
        σ = η · (β̄_s/β̄_t) · √(1 − ᾱ_t²/ᾱ_s²); 0 is DDIM, 1 is DDPM's posterior. η > 1
        is allowed while σ ≤ β̄_s.
    noise : tensor like ``x_t``
        The standard normal z of the step, required when η > 0 and used as given.

    Returns x_s = ᾱ_s x̂₀ + √(β̄_s² − σ²) ε + σ z with x̂₀ = (x_t − β̄_t ε)/ᾱ_t.

    Raises ``TypeError`` for non-tensors or non-real scalars; ``ValueError`` (naming the
    argument) for a shape mismatch, ᾱ outside its range, s not earlier than t, η < 0,
    η > 0 without ``noise``, or σ > β̄_s.
    """
    x_t = tensor("x_t", x_t, floating=True)
    eps = tensor("eps", eps, floating=True)
    same_shape("eps", eps, "x_t", x_t)
    a_t, a_s = _pair(alpha_bar_t, alpha_bar_s)
    e = _eta(eta)
    if e > 0:
        if noise is None:
            raise ValueError(
                f"noise is required when eta > 0 (got eta={e}): pass a standard normal "
                "tensor of the shape of x_t"
            )
        noise = tensor("noise", noise, floating=True)
        same_shape("noise", noise, "x_t", x_t)
    sigma = ddim_sigma(a_t, a_s, e)
    bs = math.sqrt(-math.expm1(2 * math.log(a_s)))
    if sigma > bs * (1 + 1e-12):
        raise ValueError(
            f"eta={e} is too large for this step: sigma={sigma:.6g} exceeds "
            f"beta_bar_s={bs:.6g}"
        )
    bt = math.sqrt(-math.expm1(2 * math.log(a_t)))
    x0_hat = (x_t - bt * eps) / a_t
    direction = math.sqrt(max(bs * bs - sigma * sigma, 0.0))
    x_s = a_s * x0_hat + direction * eps
    if sigma > 0:
        x_s = x_s + sigma * noise
    return x_s


def ddim_sample(
    eps_model: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    x_T: torch.Tensor,
    alpha_bar: torch.Tensor,
    timesteps: Sequence[int] | torch.Tensor,
    eta=0.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Run :func:`ddim_step` along ``timesteps``, then to x₀; returns x₀.

    ``timesteps`` are strictly decreasing indices into ``alpha_bar``.

    ``eps_model(x, t)`` receives the batch and an int64 tensor of shape ``(batch,)``
    holding the index t and returns ε of the shape of x. The step from ``timesteps[i]``
    goes to ``timesteps[i+1]``; the last one goes to ᾱ = 1 and returns x̂₀. DDPM is
    ``timesteps = T−1, …, 0`` with ``eta=1``; a sub-sequence gives accelerated sampling
    (claim C5). When η > 0 one standard normal tensor is drawn per step from
    ``generator`` (on the generator's device, then moved), the last step included, where
    σ = 0 and it is unused — the draws match ``diffusers.DDIMScheduler`` given the same
    generator. The loop runs under ``torch.no_grad()``; a guided ``eps_model`` that
    needs gradients enables them itself (see :func:`classifier_log_prob_grad`).
    """
    if not callable(eps_model):
        raise TypeError(f"eps_model must be callable, got {type(eps_model).__name__}")
    x = tensor("x_T", x_T, floating=True, min_ndim=1)
    ab = check_schedule(alpha_bar)
    e = _eta(eta)
    generator = _generator("generator", generator)
    if isinstance(timesteps, torch.Tensor):
        tensor("timesteps", timesteps, shape="(steps,)", ndim=1, integral=True)
        ts = [int(v) for v in timesteps.tolist()]
    else:
        try:
            ts = list(timesteps)
        except TypeError:
            raise TypeError(
                f"timesteps must be a sequence of ints, got {type(timesteps).__name__}"
            ) from None
        ts = [integer("timesteps[i]", v) for v in ts]
    T = ab.numel()
    if not ts:
        raise ValueError("timesteps must not be empty")
    if any(not 0 <= v < T for v in ts):
        raise ValueError(f"timesteps must lie in [0, {T}), got {ts}")
    if any(b >= a for a, b in zip(ts, ts[1:])):
        raise ValueError(f"timesteps must be strictly decreasing, got {ts}")
    n = x.shape[0]
    with torch.no_grad():
        for i, t in enumerate(ts):
            a_s = float(ab[ts[i + 1]]) if i + 1 < len(ts) else 1.0
            t_batch = torch.full((n,), t, dtype=torch.int64, device=x.device)
            eps = eps_model(x, t_batch)
            noise = None
            if e > 0:
                gen_device = generator.device if generator is not None else "cpu"
                noise = torch.randn(
                    x.shape, generator=generator, dtype=x.dtype, device=gen_device
                ).to(x.device)
            x = ddim_step(x, eps, float(ab[t]), a_s, e, noise)
    return x
