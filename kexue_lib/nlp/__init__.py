"""NLP models of Part 7: one submodule per idea, the public names re-exported here.

* :mod:`kexue_lib.nlp.unargmaxable` — which classes of a softmax layer can ever be the
  argmax (chapter ``nlp/unargmaxable``).
* :mod:`kexue_lib.nlp.whitening` — whitening of sentence embeddings (chapter
  ``nlp/whitening``).
* :mod:`kexue_lib.nlp.geodesic` — approximate geodesic distances on a k-nearest-
  neighbour graph (chapter ``nlp/geodesic-similarity``).
* :mod:`kexue_lib.nlp.weissi` — the weight-scale-shift-invariant regulariser and the
  shift itself (chapter ``nlp/weissi``).
* :mod:`kexue_lib.nlp.globalpointer` — GlobalPointer span scores, the multi-label
  categorical cross-entropy, span decoding and entity F1 (chapter
  ``nlp/globalpointer``).
* :mod:`kexue_lib.nlp.teaforn` — TeaForN's N nested decoder passes and their loss, and
  a small beam search (chapter ``nlp/teaforn``).
* :mod:`kexue_lib.nlp.seq2seq` — multi-passage averaged beam search with the
  extractive constraint and no-answer rejection (chapter ``nlp/seq2seq-qa``).
* :mod:`kexue_lib.nlp.minilm` — a small sentence encoder whose weights ship in a
  package, and :mod:`kexue_lib.nlp.sts_pairs`, sentence pairs written for the book
  (chapter ``nlp/whitening``). Not imported here: the encoder needs torch, tokenizers
  and the weights' package.
"""

from .geodesic import geodesic_distances, knn_graph
from .globalpointer import (
    EntityScore,
    GlobalPointer,
    decode_spans,
    entity_f1,
    multilabel_categorical_crossentropy,
    span_mask,
)
from .seq2seq import (
    Answer,
    average_next_token,
    extractive_allowed,
    multi_passage_beam_search,
)
from .teaforn import beam_search, teaforn_forward, teaforn_loss
from .unargmaxable import argmax_margins, argmax_witness, argmaxable, min_norm_point
from .weissi import rescale_layers, weissi_penalty
from .whitening import whiten

__all__ = [
    "argmaxable",
    "argmax_margins",
    "argmax_witness",
    "min_norm_point",
    "whiten",
    "knn_graph",
    "geodesic_distances",
    "weissi_penalty",
    "rescale_layers",
    "GlobalPointer",
    "span_mask",
    "multilabel_categorical_crossentropy",
    "decode_spans",
    "EntityScore",
    "entity_f1",
    "teaforn_forward",
    "teaforn_loss",
    "beam_search",
    "Answer",
    "average_next_token",
    "extractive_allowed",
    "multi_passage_beam_search",
]
