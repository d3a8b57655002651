"""A Gaussian mixture whose diffused marginals, ε and class posteriors are exact.

If x₀ ~ Σ_k π_k N(m_k, s²I) and x_t = ᾱ_t x₀ + β̄_t ε, then
x_t ~ Σ_k π_k N(ᾱ_t m_k, v_t I) with v_t = ᾱ_t² s² + β̄_t². Hence the exact
(Bayes-optimal) ε-prediction E[ε | x_t] = −β̄_t ∇ log p_t(x_t) is

    ε*(x, t) = β̄_t (x − ᾱ_t Σ_k r_k(x) m_k) / v_t,
    r_k(x)   = p_t(y = k | x) = softmax_k(log π_k − ‖x − ᾱ_t m_k‖² / 2v_t),

and the class-conditional one is ε*(x, t | y) = β̄_t (x − ᾱ_t m_y)/v_t. The chapters use
it to separate sampler error from model error (book/generative/ddim) and to check
guidance formulas exactly (book/generative/diffusion-guidance, claims C3–C4).
"""

from __future__ import annotations

import math

import torch

from .._validate import integer, real
from .schedule import check_schedule

__all__ = ["DiffusedMixture"]


class DiffusedMixture:
    """Σ_k π_k N(m_k, s²I) under the schedule ``alpha_bar``; exact ε and p_t(y | x).

    Parameters
    ----------
    means : (K, d) array-like
        Component means m_k.
    std : float > 0
        Common standard deviation s of the components.
    alpha_bar : 1-D tensor
        The schedule ᾱ_0 … ᾱ_{T−1}; time arguments ``t`` are int64 index tensors of
        shape ``(batch,)``.
    weights : (K,) array-like, optional
        Mixture weights π_k (normalised here); uniform by default.
    """

    def __init__(self, means, std: float, alpha_bar: torch.Tensor, weights=None):
        m = torch.as_tensor(means, dtype=torch.float64)
        if m.ndim != 2 or m.shape[0] < 1:
            raise ValueError(f"means must have shape (K, d), got {tuple(m.shape)}")
        s = real("std", std, gt=0)
        w = (
            torch.ones(m.shape[0], dtype=torch.float64)
            if weights is None
            else torch.as_tensor(weights, dtype=torch.float64)
        )
        if w.shape != (m.shape[0],) or bool((w <= 0).any()):
            raise ValueError(
                f"weights must be {m.shape[0]} positive numbers, got {w.tolist()}"
            )
        self.means, self.std, self.weights = m, s, w / w.sum()
        self.alpha_bar = check_schedule(alpha_bar)

    @classmethod
    def ring(
        cls, modes: int, radius: float, std: float, alpha_bar: torch.Tensor
    ) -> DiffusedMixture:
        """``modes`` equal-weight components on a circle, as
        :func:`kexue_lib.data.ring_of_gaussians`."""
        modes = integer("modes", modes, minimum=1)
        ang = 2 * math.pi * torch.arange(modes, dtype=torch.float64) / modes
        means = real("radius", radius) * torch.stack([ang.cos(), ang.sin()], 1)
        return cls(means, std, alpha_bar)

    @property
    def num_classes(self) -> int:
        return self.means.shape[0]

    def sample(self, n: int, *, generator: torch.Generator | None = None):
        """``(x₀, y)``: n float32 draws from the mixture and their component labels
        (int64)."""
        n = integer("n", n, minimum=1)
        y = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        z = torch.randn(
            n, self.means.shape[1], generator=generator, dtype=torch.float64
        )
        return (self.means[y] + self.std * z).float(), y

    def _scales(self, x: torch.Tensor, t: torch.Tensor):
        if t.dtype != torch.int64 or t.shape != (x.shape[0],):
            raise ValueError(
                f"t must be an int64 tensor of shape ({x.shape[0]},), got {t.dtype} "
                f"of shape {tuple(t.shape)}"
            )
        if x.ndim != 2 or x.shape[1] != self.means.shape[1]:
            raise ValueError(
                f"x must have shape (batch, {self.means.shape[1]}), "
                f"got {tuple(x.shape)}"
            )
        a = self.alpha_bar.to(x.device)[t].to(x.dtype)[:, None]
        b2 = 1 - a**2
        return a, b2, a**2 * self.std**2 + b2

    def class_logits(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """log π_k + log N(x; ᾱ_t m_k, v_t I) up to a constant in k, shape (batch, K):
        softmax is p_t(y|x)."""
        a, _, v = self._scales(x, t)
        m = self.means.to(x)
        d2 = ((x[:, None, :] - a[:, :, None] * m[None]) ** 2).sum(-1)
        return self.weights.to(x).log()[None] - 0.5 * d2 / v

    def eps(
        self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Exact ε*(x, t) (or ε*(x, t | y) when class labels ``y`` are given), shape of
        x."""
        a, b2, v = self._scales(x, t)
        m = self.means.to(x)
        if y is None:
            centre = torch.softmax(self.class_logits(x, t), dim=1) @ m
        else:
            centre = m[y]
        return b2.sqrt() * (x - a * centre) / v
