"""Neural-network building blocks shared by the chapters: one masked Transformer and
what is built on it.

* :mod:`kexue_lib.nn.transformer` — :class:`MultiHeadAttention` (masks, additive biases,
  rotary hooks, log-n scaling; in ``transformer/attention.py``),
  :class:`TransformerBlock` (``transformer/block.py``), :class:`TinyTransformer`
  (``transformer/model.py``) and small training helpers (``transformer/lm.py``); used by
  the position chapters.
* :mod:`kexue_lib.nn.univae` — :func:`uniae_mask` and :class:`UniVAE` (chapter
  ``vae/univae``).
"""

from .training import *  # noqa: F401,F403  (train_tiny_lms, token_scores, ...)
from .transformer import *  # noqa: F401,F403
from .transformer import __all__ as _transformer_all
from .univae import UniVAE, uniae_mask

__all__ = [*_transformer_all, "uniae_mask", "UniVAE"]
