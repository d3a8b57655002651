"""Diffusion models in the posts' notation: x_t = ᾱ_t x₀ + β̄_t ε, ᾱ_t² + β̄_t² = 1.

A library's ``alphas_cumprod[t]`` is ᾱ_t² here (see :func:`from_alphas_cumprod`).
Modules:

* :mod:`.schedule` — :func:`linear_schedule`, :func:`check_schedule`,
  :func:`timestep_subsequence`.
* :mod:`.ddim` — the η-family of reverse steps: :func:`ddim_step`, :func:`ddim_sample`
  (DDPM is η = 1 on every step), :func:`ddim_sigma`, :func:`ddim_coefficients`,
  :func:`predict_x0`. Chapter book/generative/ddim.
* :mod:`.guidance` — :func:`classifier_log_prob_grad`, :func:`classifier_guided_eps`,
  :func:`guided_mean`, :func:`cfg_eps`. Chapter book/generative/diffusion-guidance.
* :mod:`.models` — :class:`TimeMLP` (ε-model / noisy classifier),
  :func:`denoising_loss`, :func:`train_eps_model`.
* :mod:`.mixture` — :class:`DiffusedMixture`: a Gaussian mixture with exact ε and
  class posteriors p_t(y | x).
* :mod:`.metrics` — :func:`mmd2_rbf`, :func:`sliced_w1` (sample distances for toy data).
* :mod:`.cold` — the unified view x_t = F_t(x₀, ε): :func:`udm_step`, and cold
  diffusion's naive and improved samplers :func:`cold_step`, :func:`cold_sample`, with
  the blur :func:`heat_blur_operators`, :class:`LinearDegradation`. Chapter
  book/generative/unified-diffusion.
"""

from .cold import (  # book/generative/unified-diffusion
    LinearDegradation,
    cold_sample,
    cold_step,
    heat_blur_operators,
    udm_step,
)
from .ddim import ddim_coefficients, ddim_sample, ddim_sigma, ddim_step, predict_x0
from .guidance import (
    cfg_eps,
    classifier_guided_eps,
    classifier_log_prob_grad,
    guided_mean,
)
from .metrics import mmd2_rbf, sliced_w1
from .mixture import DiffusedMixture
from .models import TimeMLP, denoising_loss, train_eps_model
from .schedule import (
    check_schedule,
    from_alphas_cumprod,
    linear_schedule,
    timestep_subsequence,
)

__all__ = [
    "linear_schedule",
    "from_alphas_cumprod",
    "check_schedule",
    "timestep_subsequence",
    "ddim_sigma",
    "ddim_coefficients",
    "predict_x0",
    "ddim_step",
    "ddim_sample",
    "classifier_log_prob_grad",
    "classifier_guided_eps",
    "guided_mean",
    "cfg_eps",
    "DiffusedMixture",
    "TimeMLP",
    "denoising_loss",
    "train_eps_model",
    "mmd2_rbf",
    "sliced_w1",
    "udm_step",
    "cold_step",
    "cold_sample",
    "heat_blur_operators",
    "LinearDegradation",
]
