"""Invertible residual networks (i-ResNets): spectral normalisation, the fixed-point
inverse and the power-series log-determinant.

Chapter ``generative/iresnet`` (Behrmann et al., *Invertible Residual Networks*, 2019).
A residual block ``y = F(x) = x + g(x)`` is invertible when ``Lip(g) < 1``:

* :func:`spectral_normalize` — rescale a weight so that its spectral norm is at most
  ``coeff`` (claim C2); with every weight of ``g`` normalised and 1-Lipschitz
  activations, ``Lip(g) <= coeff ** (number of linear layers)``.
* :class:`IResBlock` — the block; :meth:`IResBlock.inverse` is the fixed-point
  iteration ``x_{n+1} = y − g(x_n)`` (claim C1), :meth:`IResBlock.logdet` the series
  ``log det(I + J_g) = Σ_k (−1)^{k−1} tr(J_g^k)/k`` with exact traces (reusing
  :func:`kexue_lib.linalg.logdet_series`, chapter ``math/det-exp-trace``) or
  Hutchinson's estimate ``tr A ≈ uᵀAu`` (claims C3, C4).
* :class:`IResFlow` — a stack of blocks on a standard normal base, trained by maximum
  likelihood with the exact log-determinant (fine in two dimensions); the chapter's
  experiment on two moons.
"""

from __future__ import annotations

from .block import IResBlock
from .flow import IResFlow
from .spectral import spectral_normalize

__all__ = ["spectral_normalize", "IResBlock", "IResFlow"]
