"""Sinusoidal encodings and rotary position embeddings (adjacent-pair convention).

Chapters ``book/position/sinusoidal`` and ``book/position/rope-2d``; the pairing
convention is described in :mod:`kexue_lib.position`.
"""

from __future__ import annotations

import torch

from .. import _validate as V

__all__ = [
    "sinusoidal_pe",
    "rope_inv_freq",
    "apply_rope",
    "pairs_to_halves",
    "halves_to_pairs",
    "rope_2d",
]


def sinusoidal_pe(
    n: int,
    d: int,
    base: float = 10000.0,
    *,
    dtype: torch.dtype = torch.float32,
    device=None,
):
    """The Sinusoidal position encoding of Vaswani et al., shape ``(n, d)``.

    ``PE[p, 2i] = sin(p · base^(-2i/d))`` and ``PE[p, 2i+1] = cos(p · base^(-2i/d))``
    for positions ``p = 0 … n−1`` (interleaved sin/cos pairs, the layout of the original
    paper). Computed in float64 and cast.

    Chapter: book/position/sinusoidal, claims C2–C3 (⟨PE[m], PE[n]⟩ = Σ_i cos((m−n)θ_i)
    depends on m−n only).
    """
    n = V.integer("n", n, minimum=1)
    d = V.integer("d", d, minimum=2, even=True)
    inv = rope_inv_freq(d, base, dtype=torch.float64, device=device)
    ang = torch.arange(n, dtype=torch.float64, device=device)[:, None] * inv
    pe = torch.stack([torch.sin(ang), torch.cos(ang)], dim=-1).reshape(n, d)
    return pe.to(dtype)


def rope_inv_freq(
    d: int, base: float = 10000.0, *, dtype: torch.dtype = torch.float32, device=None
):
    """RoPE inverse frequencies ``θ_i = base^(-2i/d)``, ``i = 0 … d/2−1``, shape
    ``(d/2,)``.

    Same values as the ``1 / base ** (arange(0, d, 2) / d)`` of common implementations
    (computed in float64, then cast to ``dtype``). ``θ_0 = 1`` is the fastest rotation,
    ``θ_{d/2−1} = base^(-(d−2)/d)`` the slowest.

    Chapter: book/position/rope-2d, claim C2; book/position/beta-base-rope, claim C1
    (β = base^(2/d)).
    """
    d = V.integer("d", d, minimum=2, even=True)
    base = V.real("base", base, gt=1)
    i = torch.arange(0, d, 2, dtype=torch.float64, device=device)
    return (base ** (-i / d)).to(dtype)


def _rope_angles(positions, inv_freq, dtype):
    positions = V.real_tensor("positions", positions, inv_freq.device)
    work = torch.float64 if dtype == torch.float64 else torch.float32
    return positions.to(work)[..., None] * inv_freq.to(work)


def apply_rope(x, positions, inv_freq):
    """Rotary position embedding (adjacent-pair convention) of ``x``, shape
    ``(..., n, d)`` → same shape.

    Channel pair ``(x[..., 2i], x[..., 2i+1])`` at sequence index ``t`` is rotated by
    the angle ``positions[..., t] · inv_freq[i]``::

        y[2i]   = x[2i] cos φ − x[2i+1] sin φ
        y[2i+1] = x[2i] sin φ + x[2i+1] cos φ

    i.e. ``y = R(positions) x`` with ``R(m) = diag(R_2(mθ_0), …, R_2(mθ_{d/2−1}))``, so
    that ``⟨R(m) q, R(n) k⟩ = qᵀ R(n − m) k`` depends on the positions only through
    ``n − m``.

    ``positions`` has shape ``(n,)`` or any shape broadcastable to ``x.shape[:-1]``
    (integers or floats, e.g. interpolated positions); ``inv_freq`` has shape ``(d/2,)``
    (see :func:`rope_inv_freq`, :func:`rope_scaling`). Angles are computed in float32
    (float64 for float64 ``x``) and the result has ``x``'s dtype. For the split-half
    convention use :func:`pairs_to_halves` / :func:`halves_to_pairs`.

    Chapter: book/position/rope-2d, claims C1–C2 (and every RoPE model of the position
    part).
    """
    V.tensor("x", x, shape="(..., n, d)", min_ndim=2, floating=True)
    d = x.shape[-1]
    if d % 2:
        raise ValueError(f"x must have an even last dimension d, got shape {x.shape}")
    V.tensor("inv_freq", inv_freq, shape=f"({d // 2},) = (d/2,)", ndim=1)
    if inv_freq.shape[0] != d // 2:
        raise ValueError(
            f"inv_freq must have shape ({d // 2},) = (d/2,), "
            f"got {tuple(inv_freq.shape)}"
        )
    ang = _rope_angles(positions, inv_freq.to(x.device), x.dtype)  # (..., n, d/2)
    V.broadcasts_to("positions", ang.shape[:-1], "x.shape[:-1] =", x.shape[:-1])
    cos, sin = torch.cos(ang).to(x.dtype), torch.sin(ang).to(x.dtype)
    x1, x2 = x[..., 0::2], x[..., 1::2]
    y1 = x1 * cos - x2 * sin
    y2 = x1 * sin + x2 * cos
    return torch.stack([y1, y2], dim=-1).flatten(-2)


def _even_last(name: str, x) -> None:
    V.tensor(name, x, shape="(..., d) with d even", min_ndim=1)
    if x.shape[-1] % 2:
        raise ValueError(
            f"{name} must have an even last dimension d, got shape {tuple(x.shape)}"
        )


def pairs_to_halves(x):
    """Permute the last dimension from the adjacent-pair to the split-half RoPE layout.

    ``[x0, x1, x2, x3, …] → [x0, x2, x4, …, x1, x3, x5, …]``: pair ``i`` (channels
    ``2i, 2i+1``) becomes the channels ``i`` and ``i + d/2``. Then
    ``pairs_to_halves(apply_rope(x, p, f))`` equals the split-half ("rotate_half")
    rotation of ``pairs_to_halves(x)``. Inverse: :func:`halves_to_pairs`.
    """
    _even_last("x", x)
    return torch.cat([x[..., 0::2], x[..., 1::2]], dim=-1)


def halves_to_pairs(x):
    """Inverse of :func:`pairs_to_halves`:
    ``[a_0…a_{h−1}, b_0…b_{h−1}] → [a_0, b_0, a_1, b_1, …]``.
    """
    _even_last("x", x)
    h = x.shape[-1] // 2
    return torch.stack([x[..., :h], x[..., h:]], dim=-1).flatten(-2)


def rope_2d(x, xs, ys, base: float = 10000.0):
    """Two-dimensional RoPE: ``x`` of shape ``(..., n, d)`` with ``d`` divisible by 4;
    ``xs, ys`` of shape ``(n,)``.

    The first ``d/2`` channels get the 1-D RoPE (:func:`apply_rope`, adjacent pairs,
    ``rope_inv_freq(d/2)``) of the first coordinate ``xs``, the last ``d/2`` channels
    the 1-D RoPE of ``ys``. Up to a permutation of channels this is the block form
    ``diag(R_2(xθ_i), R_2(yθ_i))`` of the post, so
    ``⟨R(x₁,y₁) q, R(x₂,y₂) k⟩ = qᵀ R(x₂−x₁, y₂−y₁) k``: logits are invariant to a joint
    translation.

    Chapter: book/position/rope-2d, claims C1, C3.
    """
    V.tensor("x", x, shape="(..., n, d)", min_ndim=2, floating=True)
    d = x.shape[-1]
    if d % 4 or d == 0:
        raise ValueError(
            f"x must have a last dimension d that is a positive multiple of 4, "
            f"got shape {tuple(x.shape)}"
        )
    xs, ys = V.real_tensor("xs", xs, x.device), V.real_tensor("ys", ys, x.device)
    if xs.shape != ys.shape:
        raise ValueError(
            f"ys must have the shape of xs, {tuple(xs.shape)}, got {tuple(ys.shape)}"
        )
    inv = rope_inv_freq(d // 2, base, dtype=torch.float64, device=x.device)
    h = d // 2
    return torch.cat(
        [apply_rope(x[..., :h], xs, inv), apply_rope(x[..., h:], ys, inv)], dim=-1
    )
