"""Conditional generation from a diffusion model: classifier(-free) guidance.

Post notation (book/generative/diffusion-guidance): the score of the noisy marginal is
``∇ log p_t(x) = −ε(x, t)/β̄_t``, so adding ``γ ∇ log p_t(y|x)`` to the score is the
ε-replacement (:func:`classifier_guided_eps`, valid for any σ, DDIM included)

    ε̃ = ε − γ β̄_t ∇ₓ log p_t(y | x),

and, for a DDPM-style step with mean μ and standard deviation σ, the mean shift
μ + γσ² ∇ₓ log p(y | x_t) (:func:`guided_mean`, claim C1; it vanishes at σ = 0).
Classifier-free guidance combines a conditional and an unconditional ε-prediction,
(1 + w) ε(x, y) − w ε(x) (:func:`cfg_eps`), which equals classifier guidance with
γ = 1 + w when the two predictions are exact (claim C4).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from .._validate import real, same_shape, tensor

__all__ = [
    "classifier_log_prob_grad",
    "classifier_guided_eps",
    "guided_mean",
    "cfg_eps",
]


def classifier_log_prob_grad(
    classifier: Callable[..., torch.Tensor], x: torch.Tensor, y: torch.Tensor, *args
) -> torch.Tensor:
    """∇ₓ log p(y | x) by autograd, for a classifier giving ``(batch, classes)`` logits.

    ``classifier(x, *args)`` is called on a detached copy of ``x`` with gradients
    enabled (so it works inside the ``no_grad`` loop of
    :func:`~kexue_lib.diffusion.ddim_sample`); ``args`` typically holds the time index
    of a noise-conditioned classifier. ``y`` is an int64 tensor of shape ``(batch,)``.
    Each sample's gradient is that of its own log-probability (the batch sum is
    differentiated; samples do not interact).
    """
    if not callable(classifier):
        raise TypeError(f"classifier must be callable, got {type(classifier).__name__}")
    x = tensor("x", x, floating=True, min_ndim=1)
    if not isinstance(y, torch.Tensor) or y.dtype != torch.int64:
        raise TypeError(
            "y must be an int64 tensor of class indices, got "
            f"{getattr(y, 'dtype', type(y).__name__)}"
        )
    if y.shape != (x.shape[0],):
        raise ValueError(
            f"y must have shape (batch,) = ({x.shape[0]},), got {tuple(y.shape)}"
        )
    with torch.enable_grad():
        xg = x.detach().requires_grad_(True)
        logits = classifier(xg, *args)
        if logits.ndim != 2 or logits.shape[0] != x.shape[0]:
            raise ValueError(
                "classifier must return logits of shape (batch, classes), got "
                f"{tuple(logits.shape)}"
            )
        if bool((y < 0).any()) or bool((y >= logits.shape[1]).any()):
            raise ValueError(f"y must lie in [0, {logits.shape[1]}), got {y.tolist()}")
        logp = torch.log_softmax(logits, dim=1).gather(1, y[:, None]).sum()
        (grad,) = torch.autograd.grad(logp, xg)
    return grad


def classifier_guided_eps(
    eps: torch.Tensor, grad_log_prob: torch.Tensor, beta_bar_t, scale=1.0
) -> torch.Tensor:
    """ε̃ = ε − scale · β̄_t · ∇ₓ log p_t(y | x): the score form of classifier guidance
    (claim C3).

    ``−ε̃/β̄_t = ∇ log p_t(x) + scale · ∇ log p_t(y | x)`` is the score of p_t(x) p_t(y
    | x)^scale; used in any sampler of the η-family, including the deterministic η = 0.
    ``beta_bar_t`` is β̄ (not squared).
    """
    eps = tensor("eps", eps, floating=True)
    g = tensor("grad_log_prob", grad_log_prob, floating=True)
    same_shape("grad_log_prob", g, "eps", eps)
    b = real("beta_bar_t", beta_bar_t, gt=0, le=1)
    return eps - real("scale", scale) * b * g


def guided_mean(
    mean: torch.Tensor, grad_log_prob: torch.Tensor, sigma, scale=1.0
) -> torch.Tensor:
    """μ + scale · σ² · ∇ₓ log p(y | x_t): the mean of the guided Gaussian step (claim
    C1).

    From a first-order Taylor expansion of log p(y | x_{t−1}) around x_t and completing
    the square in N(x_{t−1}; μ, σ²); the variance is unchanged. With σ = 0 the guidance
    disappears.
    """
    mean = tensor("mean", mean, floating=True)
    g = tensor("grad_log_prob", grad_log_prob, floating=True)
    same_shape("grad_log_prob", g, "mean", mean)
    s = real("sigma", sigma, ge=0)
    return mean + real("scale", scale) * s * s * g


def cfg_eps(eps_cond: torch.Tensor, eps_uncond: torch.Tensor, w) -> torch.Tensor:
    """Classifier-free guidance: (1 + w) ε(x, y) − w ε(x).

    ``w = 0`` is the conditional model, ``w = −1`` the unconditional one; ``w > 0``
    extrapolates away from the unconditional prediction. With exact predictions this is
    :func:`classifier_guided_eps` with ``scale = 1 + w`` (claim C4).
    """
    ec = tensor("eps_cond", eps_cond, floating=True)
    eu = tensor("eps_uncond", eps_uncond, floating=True)
    same_shape("eps_uncond", eu, "eps_cond", ec)
    w = real("w", w)
    return (1.0 + w) * ec - w * eu
