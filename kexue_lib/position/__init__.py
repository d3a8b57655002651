"""Position encodings and length extrapolation: Sinusoidal, RoPE (1-D, 2-D, scaled),
ALiBi, KERPLE, XPOS, log-n scaling, randomised positions.

Chapters: ``book/position/sinusoidal``, ``book/position/rope-2d``,
``book/position/local-attention``, ``book/position/position-robustness``,
``book/position/beta-base-rope``. One module per idea:

* :mod:`.rope` — :func:`sinusoidal_pe`, :func:`rope_inv_freq`, :func:`apply_rope`,
  :func:`rope_2d` and the layout converters :func:`pairs_to_halves` /
  :func:`halves_to_pairs`;
* :mod:`.extrapolation` — longer contexts than the training one: :func:`rope_scaling`
  (PI and the NTK variants), :func:`logn_scale`, :func:`random_position_ids`;
* :mod:`.local` — locality priors: :func:`sliding_window_mask`, :func:`alibi_slopes`,
  :func:`alibi_bias`, :func:`kerple_bias`, :func:`xpos_scale`.

**Pairing convention.** Every rotary function of this package rotates *adjacent pairs*
of channels, ``(x[2i], x[2i+1])``, by the angle ``position · inv_freq[i]`` — the
block-diagonal form of the RoFormer paper and of the posts (and the interleaving of
:func:`sinusoidal_pe`, where ``PE[p, 2i] = sin``, ``PE[p, 2i+1] = cos``). Many libraries
(e.g. the GPT-NeoX/LLaMA code in Hugging Face ``transformers``) instead pair channel
``i`` with channel ``i + d/2`` ("split halves", ``rotate_half``). The two are the same
rotation up to a fixed permutation of channels:
``pairs_to_halves(apply_rope(x, p, f)) == apply_rope_halves(pairs_to_halves(x), p, f)``,
where the right-hand side is the split-half formula. Use :func:`pairs_to_halves` /
:func:`halves_to_pairs` to move query and key weights or vectors between the two
conventions.

Inverse frequencies follow the usual recipe ``inv_freq[i] = base ** (-2i/d)``,
``i = 0 … d/2 − 1``.
"""

from .extrapolation import (
    ROPE_SCALING_KINDS,
    logn_scale,
    random_position_ids,
    rope_scaling,
)
from .local import (
    alibi_bias,
    alibi_slopes,
    kerple_bias,
    sliding_window_mask,
    xpos_scale,
)
from .rope import (
    apply_rope,
    halves_to_pairs,
    pairs_to_halves,
    rope_2d,
    rope_inv_freq,
    sinusoidal_pe,
)

__all__ = [
    "sinusoidal_pe",
    "rope_inv_freq",
    "apply_rope",
    "pairs_to_halves",
    "halves_to_pairs",
    "rope_2d",
    "ROPE_SCALING_KINDS",
    "rope_scaling",
    "logn_scale",
    "alibi_slopes",
    "alibi_bias",
    "kerple_bias",
    "sliding_window_mask",
    "xpos_scale",
    "random_position_ids",
]
