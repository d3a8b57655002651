"""Mutual information of a discrete joint table.

Chapters ``vae/vae-prior-mi`` and ``vae/vae-ib-normal``.
"""

from __future__ import annotations

import numpy as np

from .. import _validate as V

__all__ = ["discrete_mi"]


def discrete_mi(p_xz, *, atol: float = 1e-9) -> float:
    """Mutual information I(X; Z) in nats of a joint probability table ``p_xz[x, z]``
    (shape (|X|, |Z|)).

    I = Σ p(x, z) log[p(x, z) / (p(x) p(z))], with 0·log 0 = 0, computed in float64
    (NumPy array, nested list or torch tensor accepted; returns a float). Chapters
    ``vae/vae-prior-mi`` (C2, C3) and ``vae/vae-ib-normal`` (C1).

    Raises ``ValueError`` if the table is not 2-D, has negative or non-finite entries,
    or does not sum to 1 within ``atol``.
    """
    p = V.real_array("p_xz", p_xz)
    atol = V.real("atol", atol, ge=0)
    if p.ndim != 2:
        raise ValueError(
            f"p_xz must be a 2-D table p[x, z], got {p.ndim} dimension(s) "
            f"with shape {p.shape}"
        )
    if p.size == 0:
        raise ValueError(f"p_xz must not be empty, got shape {p.shape}")
    if np.any(p < 0):
        raise ValueError(f"p_xz must be non-negative, got minimum {p.min():.3g}")
    total = p.sum()
    if abs(total - 1.0) > atol:
        raise ValueError(f"p_xz must sum to 1 (within atol={atol:g}), got {total:.12g}")
    px, pz = p.sum(1, keepdims=True), p.sum(0, keepdims=True)
    nz = p > 0
    return float(np.sum(p[nz] * (np.log(p[nz]) - np.log((px * pz)[nz]))))
