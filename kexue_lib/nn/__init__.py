"""Neural-network building blocks shared by the chapters: one masked Transformer and what is built on it.

* :mod:`kexue_lib.nn.transformer` — :class:`MultiHeadAttention`, :class:`TransformerBlock`, :class:`TinyTransformer`
  (masks, additive biases, rotary hooks, log-n scaling) and small training helpers; used by the position chapters.
* :mod:`kexue_lib.nn.univae` — :func:`uniae_mask` and :class:`UniVAE` (chapter ``vae/univae``).
"""

from .transformer import *  # noqa: F401,F403
from .transformer import __all__ as _transformer_all
from .univae import UniVAE, uniae_mask

__all__ = [*_transformer_all, "uniae_mask", "UniVAE"]
