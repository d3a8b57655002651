"""Attention kernels: the quadratic reference and three ways around its O(n²) cost.

Chapters ``attention/linear-attention``, ``attention/performer-linear`` and
``attention/nystromformer``. One module per idea:

* :mod:`.softmax` — :func:`softmax_attention`, ``softmax(QKᵀ·s + bias) V`` with an
  optional causal mask; the reference every approximation is compared with.
* :mod:`.linear` — :func:`linear_attention`, kernelised attention ``φ(Q)(φ(K)ᵀV)``,
  normalised row-wise, with five feature maps (:data:`FEATURES`); the causal form is an
  exact chunked scan (masked quadratic work inside chunks of ``chunk_size`` positions, a
  cumulative ``φ(K)ᵀV`` state across chunks), not a Python loop over positions.
* :mod:`.performer` — :func:`performer_features`,
  :func:`gaussian_orthogonal_projection`: random features whose inner products are
  unbiased estimates of ``exp(q·k)`` (Performer/FAVOR+).
* :mod:`.nystrom` — :func:`nystrom_attention`, :func:`iterative_pinv`,
  :func:`segment_means`: the Nyströmformer approximation with segment-mean landmarks and
  a Newton–Schulz-type pseudo-inverse.

Shapes follow ``torch.nn.functional.scaled_dot_product_attention``: ``q`` is
``(..., n, d)``, ``k`` is ``(..., n_k, d)``, ``v`` is ``(..., n_k, d_v)``; the leading
(batch, head) dimensions of the three must be equal. Non-causal kernels accept
``n ≠ n_k`` (cross-attention); causal kernels need ``n == n_k``.
"""

# The ``_x as _x`` imports re-export private helpers: the linear-attention chapter shows
# their source (``show_source(attention._featurizer, ...)``) and the tests call them.
# The segment size ``_SEGMENT_ELEMENTS`` is deliberately not re-exported: patch it where
# it is read, in ``kexue_lib.attention.linear``.
from .linear import FEATURES, linear_attention
from .linear import _causal as _causal
from .linear import _causal_chunks as _causal_chunks
from .linear import _elu1 as _elu1
from .linear import _exclusive_prefix_sum as _exclusive_prefix_sum
from .linear import _featurizer as _featurizer
from .linear import _noncausal as _noncausal
from .linear import _segment_length as _segment_length
from .nystrom import iterative_pinv, nystrom_attention, segment_means
from .performer import gaussian_orthogonal_projection, performer_features
from .softmax import softmax_attention

__all__ = [
    "FEATURES",
    "softmax_attention",
    "linear_attention",
    "performer_features",
    "gaussian_orthogonal_projection",
    "segment_means",
    "iterative_pinv",
    "nystrom_attention",
]
