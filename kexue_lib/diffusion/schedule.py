"""Noise schedules in the posts' notation: x_t = ᾱ_t x₀ + β̄_t ε with ᾱ_t² + β̄_t² = 1.

The posts (and this package) write the *signal* and *noise scales* ᾱ_t, β̄_t. A library
such as HuggingFace ``diffusers`` stores their squares: its ``alphas_cumprod[t]`` is
ᾱ_t² and ``1 − alphas_cumprod[t]`` is β̄_t². Index ``t = 0 … T−1`` of a schedule is the
post's time ``t + 1``; the post's ᾱ_0 = 1 (no noise) is not stored, it is the
``alpha_bar_s = 1`` of the final step of :func:`~kexue_lib.diffusion.ddim_step`.

Chapters: book/generative/ddim (all claims), book/generative/diffusion-guidance.
"""

from __future__ import annotations

import torch

from .._validate import choice, integer, real, real_tensor

__all__ = [
    "linear_schedule",
    "from_alphas_cumprod",
    "check_schedule",
    "timestep_subsequence",
]


def linear_schedule(
    T: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02
) -> tuple[torch.Tensor, torch.Tensor]:
    """DDPM's linear schedule in the post's notation: ``(alpha_bar, beta_bar)``.

    Both are float64 tensors of length T.

    The per-step variances ``β_t`` (DDPM's betas; the post's ``β_t²``) run linearly from
    ``beta_start`` to ``beta_end``; ``alpha_bar[t]² = Π_{i ≤ t} (1 − β_i)`` (index t
    included, as ``alphas_cumprod[t]``) and ``beta_bar[t] = √(1 − alpha_bar[t]²)``,
    computed as ``√(−expm1(Σ log1p(−β_i)))`` so that β̄ keeps full relative precision at
    small t.

    Raises ``TypeError`` for a non-integer ``T`` or non-real betas, ``ValueError``
    unless ``T ≥ 1`` and ``0 < beta_start, beta_end < 1``.
    """
    T = integer("T", T, minimum=1)
    b0 = real("beta_start", beta_start, gt=0, lt=1)
    b1 = real("beta_end", beta_end, gt=0, lt=1)
    betas = torch.linspace(b0, b1, T, dtype=torch.float64)
    log_ab2 = torch.cumsum(torch.log1p(-betas), 0)
    return torch.exp(0.5 * log_ab2), torch.sqrt(-torch.expm1(log_ab2))


def from_alphas_cumprod(alphas_cumprod) -> tuple[torch.Tensor, torch.Tensor]:
    """A library's ``alphas_cumprod`` (ᾱ_t²) as the post's ``(alpha_bar, beta_bar)``.

    Both float64; ``ValueError`` unless ᾱ² lies in (0, 1) and strictly decreases.
    """
    a2 = real_tensor("alphas_cumprod", alphas_cumprod).to(torch.float64)
    alpha_bar = check_schedule(torch.sqrt(a2), name="alphas_cumprod")
    return alpha_bar, torch.sqrt(1.0 - a2)


def check_schedule(alpha_bar, *, name: str = "alpha_bar") -> torch.Tensor:
    """Validate a schedule ᾱ_0 … ᾱ_{T−1}: a 1-D real tensor, each value in (0, 1),
    strictly decreasing in t.

    Returns it as float64. ``TypeError`` for a non-tensor or non-floating tensor,
    ``ValueError`` (naming ``name``) for a wrong shape, a value outside (0, 1), or a
    step where ᾱ does not decrease.
    """
    if not isinstance(alpha_bar, torch.Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor, got {type(alpha_bar).__name__}"
        )
    if not alpha_bar.is_floating_point():
        raise TypeError(
            f"{name} must be a floating-point tensor, got {alpha_bar.dtype}"
        )
    if alpha_bar.ndim != 1 or alpha_bar.numel() < 1:
        raise ValueError(
            f"{name} must be a non-empty 1-D tensor, got shape {tuple(alpha_bar.shape)}"
        )
    a = alpha_bar.detach().to(torch.float64)
    bad = ~((a > 0) & (a < 1))
    if bool(bad.any()):
        i = int(bad.nonzero()[0, 0])
        raise ValueError(
            f"{name} must lie in (0, 1) (the signal scale ᾱ_t), "
            f"got {float(a[i])} at t={i}"
        )
    if a.numel() > 1:
        up = a[1:] >= a[:-1]
        if bool(up.any()):
            i = int(up.nonzero()[0, 0])
            raise ValueError(
                f"{name} must be strictly decreasing in t (more noise at later times), "
                f"got {float(a[i])} at t={i} and {float(a[i + 1])} at t={i + 1}"
            )
    return a


def timestep_subsequence(T: int, steps: int, spacing: str = "leading") -> torch.Tensor:
    """A decreasing sub-sequence τ of the indices ``0 … T−1`` with ``steps`` entries,
    for accelerated sampling.

    ``spacing="leading"`` (default) is ``k·(T // steps)`` for k = steps−1, …, 0: the
    DDIM paper's uniform τ and the default of HuggingFace diffusers; it ends at index 0,
    so the last step to x₀ is a small one. ``"trailing"`` is ``round(T − k·T/steps) −
    1`` for k = 0 … steps−1: it starts at the last index T−1, where x_T ~ N(0, I) is
    most accurate, but its last step to x₀ starts from index ≈ T/steps − 1. Int64.
    """
    T = integer("T", T, minimum=1)
    steps = integer("steps", steps, minimum=1, maximum=T)
    choice("spacing", spacing, ("leading", "trailing"))
    if spacing == "trailing":
        grid = torch.arange(steps, dtype=torch.float64) * (T / steps)
        ts = torch.round(T - grid).to(torch.int64) - 1
    else:
        ts = (torch.arange(steps, dtype=torch.int64) * (T // steps)).flip(0)
    return ts
