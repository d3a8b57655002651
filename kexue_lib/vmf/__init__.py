"""The von Mises–Fisher distribution on the unit sphere, and the pieces of a vMF-VAE.

vMF(μ, κ) on the sphere :math:`S^{d-1} \\subset \\mathbb{R}^d` has density, with respect
to the surface measure,

    p(x) = C_d(κ) exp(κ μ·x),    C_d(κ) = κ^{d/2-1} / ((2π)^{d/2} I_{d/2-1}(κ)),

where I_ν is the modified Bessel function of the first kind. Chapter:
``book/vae/vmf-vae``.

* :mod:`.density` — :func:`vmf_log_norm`, :func:`vmf_mean_resultant`,
  :func:`vmf_kl_uniform`, :func:`log_sphere_area`;
* :mod:`.sampler` — :func:`sample_vmf` (Wood's rejection sampler) and
  :class:`VMFSampler` (reparameterised, for a fixed κ);
* :mod:`.info` — :func:`vmf_mutual_information`, I(X; Z) of a fixed-κ code (the KL is
  only an upper budget for it);
* :mod:`._bessel` — ``log I_ν`` and ``log ₀F₁`` in log space, which never overflow.

The scalar functions accept Python numbers, NumPy arrays or torch tensors for ``kappa``
and return the same kind (a tensor keeps its dtype and device; the computation itself
runs in float64 NumPy and is not differentiable in κ — in a vMF-VAE κ is a fixed
hyperparameter).
"""

# The ``_x as _x`` imports re-export private helpers whose source the vMF-VAE chapter
# shows (``show_source(vmf_module._log_0f1, ...)``).
from ._bessel import _log_0f1 as _log_0f1
from .density import _kl_np as _kl_np
from .density import (
    log_sphere_area,
    vmf_kl_uniform,
    vmf_log_norm,
    vmf_mean_resultant,
)
from .info import vmf_mutual_information
from .sampler import VMFSampler, sample_vmf
from .sampler import _wood_w as _wood_w

__all__ = [
    "vmf_log_norm",
    "vmf_mean_resultant",
    "vmf_kl_uniform",
    "log_sphere_area",
    "sample_vmf",
    "VMFSampler",
    "vmf_mutual_information",
]
