"""Variational autoencoders: the Gaussian pieces shared by the VAE chapters (part 2).

* :mod:`.gaussian` — :func:`reparameterize`, :func:`kl_std_normal`,
  :func:`kl_diag_gaussians`;
* :mod:`.model` — :class:`GaussianVAE` (with :class:`VAEOutput`, :class:`ELBOTerms`),
  the small reusable VAE;
* :mod:`.bn` — :class:`BNScaler`, the batch-normalised posterior of chapter
  ``vae/vae-bn``;
* :mod:`.mi` — :func:`discrete_mi`, mutual information of a joint table (chapters
  ``vae/vae-prior-mi`` and ``vae/vae-ib-normal``);
* :mod:`.hierarchical` — :func:`relative_posterior` and :class:`HierVAE` (chapter
  ``vae/nvae``).

Conventions: ``mu`` and ``logvar`` have shape (..., d); KLs are summed over the last
dimension and returned with shape (...), in nats.
"""

from .bn import BNScaler
from .gaussian import kl_diag_gaussians, kl_std_normal, reparameterize
from .hierarchical import HierVAE, RelativePosterior, relative_posterior
from .mi import discrete_mi
from .model import ELBOTerms, GaussianVAE, VAEOutput

__all__ = [
    "reparameterize",
    "kl_std_normal",
    "kl_diag_gaussians",
    "BNScaler",
    "discrete_mi",
    "RelativePosterior",
    "relative_posterior",
    "HierVAE",
    "GaussianVAE",
    "VAEOutput",
    "ELBOTerms",
]
