"""GAN building blocks shared by Part 3 (GANs and optimal transport).

* :func:`mlp` — the small fully connected network used as generator, critic or encoder
  in the toy runs.
* :class:`MLPEnsemble` — ``k`` independent copies of :func:`mlp` evaluated by batched
  matrix products, to train several seeds or settings at the cost of about one.
* :func:`gradient_penalty` — the WGAN-GP penalty E[(‖∇ₓD(x̂)‖ − 1)²] on random
  interpolates (chapter ``gan/wasserstein-duality``: the soft 1-Lipschitz constraint on
  the critic).
* :func:`gan_losses` — the discriminator and generator losses of the logistic
  (non-saturating), hinge and WGAN games, written with one sign convention: the
  discriminator scores real data *high*.
* :func:`standardize`, :func:`pearson_rho`, :func:`ogan_losses`,
  :func:`ogan_reconstruct` — O-GAN (chapter ``gan/o-gan``): the encoder's mean is the
  discriminator's score, the Pearson correlation between ``z`` and ``E(G(z))`` is the
  extra loss, and ``G(N(E(x)))`` reconstructs.
* :func:`single_loss` — both players of a GAN trained by one loss through
  stop-gradients (chapter ``gan/single-loss-gan``).
"""

from .losses import KINDS, GANLosses, gan_losses, single_loss
from .nets import MLPEnsemble, gradient_penalty, mlp
from .ogan import (
    OGANLosses,
    ogan_losses,
    ogan_reconstruct,
    pearson_rho,
    standardize,
)

__all__ = [
    "mlp",
    "MLPEnsemble",
    "gradient_penalty",
    "KINDS",
    "GANLosses",
    "gan_losses",
    "standardize",
    "pearson_rho",
    "OGANLosses",
    "ogan_losses",
    "ogan_reconstruct",
    "single_loss",
]
