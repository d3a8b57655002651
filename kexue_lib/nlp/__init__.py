"""NLP models of Part 7: one submodule per idea, the public names re-exported here.

* :mod:`kexue_lib.nlp.unargmaxable` — which classes of a softmax layer can ever be the
  argmax (chapter ``nlp/unargmaxable``).
* :mod:`kexue_lib.nlp.whitening` — whitening of sentence embeddings (chapter
  ``nlp/whitening``).
* :mod:`kexue_lib.nlp.minilm` — a small sentence encoder whose weights ship in a
  package, and :mod:`kexue_lib.nlp.sts_pairs`, sentence pairs written for the book
  (chapter ``nlp/whitening``). Not imported here: the encoder needs torch, tokenizers
  and the weights' package.
"""

from .unargmaxable import argmax_margins, argmax_witness, argmaxable, min_norm_point
from .whitening import whiten

__all__ = [
    "argmaxable",
    "argmax_margins",
    "argmax_witness",
    "min_norm_point",
    "whiten",
]
