"""One small masked Transformer, shared by every chapter that needs attention with a
mask or a position scheme.

The position chapters (local attention, ALiBi/KERPLE, log-n scaling, RoPE scaling) and
the UniVAE chapter all train *the same* block; they differ only in what they pass to
``forward`` (the arguments are described in :mod:`.attention`). One module per piece:

* :mod:`.attention` — :class:`MultiHeadAttention` (masks, additive biases, rotary hooks,
  log-n scaling), :func:`causal_mask`, :func:`attention_logits_bias`;
* :mod:`.block` — :class:`TransformerBlock`, the pre-LayerNorm block every model uses;
* :mod:`.norm` — :class:`ConditionalLayerNorm` (the block's optional conditional
  LayerNorm, chapter ``nlp/conditional-layernorm``); :func:`unilm_mask` (in
  :mod:`.attention`) is the sequence-to-sequence mask of ``nlp/seq2seq-qa``;
* :mod:`.model` — :class:`TinyTransformer`, a causal language model built from blocks;
* :mod:`.lm` — :func:`lm_loss`, :func:`train_lm`, :func:`evaluate_lm` and
  :func:`attention_entropy`.

Chapters: book/position/local-attention, book/position/position-robustness,
book/position/beta-base-rope, book/vae/univae.
"""

from .attention import (
    MultiHeadAttention,
    attention_logits_bias,
    causal_mask,
    unilm_mask,
)
from .block import TransformerBlock
from .lm import attention_entropy, evaluate_lm, lm_loss, train_lm
from .model import TinyTransformer
from .norm import ConditionalLayerNorm

__all__ = [
    "causal_mask",
    "unilm_mask",
    "attention_logits_bias",
    "ConditionalLayerNorm",
    "MultiHeadAttention",
    "TransformerBlock",
    "TinyTransformer",
    "attention_entropy",
    "lm_loss",
    "train_lm",
    "evaluate_lm",
]
