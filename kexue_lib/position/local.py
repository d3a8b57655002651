"""Locality priors for attention: sliding windows, ALiBi, KERPLE and XPOS.

Chapter ``book/position/local-attention``.
"""

from __future__ import annotations

from typing import Literal

import torch

from .. import _validate as V

__all__ = [
    "alibi_slopes",
    "alibi_bias",
    "kerple_bias",
    "sliding_window_mask",
    "xpos_scale",
]


def alibi_slopes(heads: int, *, dtype: torch.dtype = torch.float32, device=None):
    """ALiBi head slopes (Press et al. 2022), shape ``(heads,)``.

    For ``heads = 2^j`` the slopes are the geometric sequence ``r, r², …, r^heads`` with
    ``r = 2^(-8/heads)``. Otherwise, with ``p`` the largest power of two below
    ``heads``, the ``p`` slopes of ``p`` heads are followed by the first ``heads − p``
    odd-indexed terms ``s_1, s_3, …`` (1-based) of the ``2p``-head sequence, as in the
    paper's reference recipe.

    Chapter: book/position/local-attention, claim C3.
    """
    heads = V.integer("heads", heads, minimum=1)

    def pow2(h: int) -> list[float]:
        return [2.0 ** (-8.0 * (j + 1) / h) for j in range(h)]

    p = 1 << (heads.bit_length() - 1)
    slopes = pow2(p) if p == heads else pow2(p) + pow2(2 * p)[0::2][: heads - p]
    return torch.tensor(slopes, dtype=dtype, device=device)


def _distance(n: int, device=None):
    pos = torch.arange(n, device=device)
    return (pos[:, None] - pos[None, :]).abs()


def alibi_bias(n: int, heads: int, *, dtype: torch.dtype = torch.float32, device=None):
    """ALiBi additive bias ``−slope_h · |m − n|``, shape ``(heads, n, n)`` (query index
    m, key index n).

    Symmetric in m and n; in a causal model the entries above the diagonal are masked
    anyway (the paper's causal form ``−slope·(m − n)``, m ≥ n, coincides on the allowed
    entries).

    Chapter: book/position/local-attention, claim C3.
    """
    n = V.integer("n", n, minimum=1)
    s = alibi_slopes(heads, dtype=dtype, device=device)
    # + 0.0 turns −0 into 0
    return -(s[:, None, None] * _distance(n, device).to(dtype)) + 0.0


def _rate(name: str, r, dtype, device) -> torch.Tensor:
    """A KERPLE parameter (a number or a real tensor, finite and > 0) as a tensor."""
    if torch.is_tensor(r):
        if r.dtype == torch.bool or r.is_complex():
            raise TypeError(f"{name} must be a real number or tensor, got {r.dtype}")
    else:
        r = torch.tensor(V.real(name, r), dtype=dtype, device=device)
    if not bool(torch.isfinite(r).all()) or not bool((r > 0).all()):
        raise ValueError(
            f"{name} must be finite and > 0, got {r.detach().cpu().tolist()}"
        )
    return r


def kerple_bias(
    n: int,
    r1,
    r2,
    kind: Literal["log", "power"] = "log",
    *,
    dtype: torch.dtype = torch.float32,
    device=None,
):
    """KERPLE additive bias (Chi et al. 2022), shape ``(*r.shape, n, n)``.

    ``kind="log"``: ``−r1 · log(1 + r2·|m − n|)`` with r1, r2 > 0; ``kind="power"``:
    ``−r1 · |m − n|^r2`` with r1 > 0 and 0 < r2 ≤ 2. ``r1`` and ``r2`` are numbers or
    tensors (e.g. one learnable value per head, shape ``(heads,)``) that broadcast
    together; gradients flow through tensor arguments.

    Chapter: book/position/local-attention, claim C3.
    """
    n = V.integer("n", n, minimum=1)
    V.choice("kind", kind, ("log", "power"))
    r1t, r2t = (_rate(name, r, dtype, device) for name, r in (("r1", r1), ("r2", r2)))
    if kind == "power" and bool((r2t > 2).any()):
        raise ValueError(
            f"r2 must be in (0, 2] for kind='power', got {r2t.detach().cpu().tolist()}"
        )
    V.broadcast(r1=r1t.shape, r2=r2t.shape)
    r1t, r2t = torch.broadcast_tensors(r1t, r2t)
    dist = _distance(n, r1t.device).to(torch.promote_types(r1t.dtype, torch.float32))
    a, c = r1t[..., None, None], r2t[..., None, None]
    if kind == "log":
        return -(a * torch.log1p(c * dist)) + 0.0
    # |m−n|^r2 on the diagonal is 0; clamping avoids the NaN gradient of 0^r2 with
    # respect to r2
    return (
        -(a * torch.where(dist > 0, dist.clamp_min(1).pow(c), torch.zeros_like(dist)))
        + 0.0
    )


def sliding_window_mask(n: int, window: int, *, causal: bool = True, device=None):
    """Boolean local-attention mask, shape ``(n, n)``; ``True`` where query m may attend
    to key n.

    ``causal=True``: ``0 ≤ m − n < window`` (each token sees itself and the
    ``window − 1`` previous tokens); ``causal=False``: ``|m − n| < window``. With
    ``window ≥ n`` (causal) it is the full causal mask.

    Chapter: book/position/local-attention, claim C2.
    """
    n = V.integer("n", n, minimum=1)
    window = V.integer("window", window, minimum=1)
    causal = V.boolean("causal", causal)
    pos = torch.arange(n, device=device)
    diff = pos[:, None] - pos[None, :]
    if causal:
        return (diff >= 0) & (diff < window)
    return diff.abs() < window


def xpos_scale(
    positions,
    d: int,
    gamma: float = 0.4,
    scale_base: float = 512.0,
    *,
    dtype: torch.dtype = torch.float32,
):
    """XPOS per-channel scale ``ζ_i^(position / scale_base)``, shape
    ``(*positions.shape, d)`` (adjacent pairs).

    ``ζ_i = (i/(d/2) + γ)/(1 + γ)`` for pair ``i = 0 … d/2−1`` (Sun et al. 2023),
    repeated for the two channels of each pair as in :func:`apply_rope`. Queries are
    multiplied by ``xpos_scale(m, …)`` and keys by ``xpos_scale(−n, …)`` (= its
    reciprocal) after the rotation, so that
    ``(R_m q ξ^m)·(R_n k ξ^(−n)) = qᵀ R_(n−m) k · ξ^(m−n)`` channel-pair-wise: a decay
    with the relative distance. Implementations usually centre the positions (subtract
    about n/2) to avoid overflow for long sequences.

    Chapter: book/position/local-attention, claim C4.
    """
    d = V.integer("d", d, minimum=2, even=True)
    g = V.real("gamma", gamma, gt=0)
    sb = V.real("scale_base", scale_base, gt=0)
    positions = V.real_tensor("positions", positions)
    i = torch.arange(d // 2, dtype=torch.float64, device=positions.device)
    zeta = (i / (d / 2) + g) / (1 + g)
    s = zeta ** (positions.to(torch.float64)[..., None] / sb)
    return s.repeat_interleave(2, dim=-1).to(dtype)
