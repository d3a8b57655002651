"""Position encodings and length extrapolation: Sinusoidal, RoPE (1-D, 2-D, scaled), ALiBi, KERPLE, XPOS, ...

Chapters: ``book/position/sinusoidal``, ``book/position/rope-2d``, ``book/position/local-attention``,
``book/position/position-robustness``, ``book/position/beta-base-rope``.

**Pairing convention.** Every rotary function of this module rotates *adjacent pairs* of channels,
``(x[2i], x[2i+1])``, by the angle ``position · inv_freq[i]`` — the block-diagonal form of the RoFormer paper and
of the posts (and the interleaving of :func:`sinusoidal_pe`, where ``PE[p, 2i] = sin``, ``PE[p, 2i+1] = cos``).
Many libraries (e.g. the GPT-NeoX/LLaMA code in Hugging Face ``transformers``) instead pair channel ``i`` with
channel ``i + d/2`` ("split halves", ``rotate_half``). The two are the same rotation up to a fixed permutation of
channels: ``pairs_to_halves(apply_rope(x, p, f)) == apply_rope_halves(pairs_to_halves(x), p, f)``, where the
right-hand side is the split-half formula. Use :func:`pairs_to_halves` / :func:`halves_to_pairs` to move query
and key weights or vectors between the two conventions.

Inverse frequencies follow the usual recipe ``inv_freq[i] = base ** (-2i/d)``, ``i = 0 … d/2 − 1``.
"""

from __future__ import annotations

import math
from typing import Literal

import torch

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

ROPE_SCALING_KINDS = ("none", "pi", "ntk-old", "ntk-aware", "ntk-fixed", "ntk-mixed")


# ---------------------------------------------------------------------------------------------------------
# validation helpers


def _check_int(name: str, value, minimum: int) -> int:
    if (
        isinstance(value, bool)
        or isinstance(value, float)
        or not hasattr(value, "__index__")
    ):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    value = int(value.__index__())
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}")
    return value


def _check_even(name: str, value) -> int:
    value = _check_int(name, value, 2)
    if value % 2:
        raise ValueError(f"{name} must be a positive even integer, got {value}")
    return value


def _check_positive(name: str, value) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}") from None
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return v


def _check_base(base) -> float:
    b = _check_positive("base", base)
    if b <= 1:
        raise ValueError(f"base must be > 1, got {base!r}")
    return b


# ---------------------------------------------------------------------------------------------------------
# Sinusoidal and RoPE


def sinusoidal_pe(
    n: int,
    d: int,
    base: float = 10000.0,
    *,
    dtype: torch.dtype = torch.float32,
    device=None,
):
    """The Sinusoidal position encoding of Vaswani et al., shape ``(n, d)``.

    ``PE[p, 2i] = sin(p · base^(-2i/d))`` and ``PE[p, 2i+1] = cos(p · base^(-2i/d))`` for positions
    ``p = 0 … n−1`` (interleaved sin/cos pairs, the layout of the original paper). Computed in float64 and cast.

    Chapter: book/position/sinusoidal, claims C2–C3 (⟨PE[m], PE[n]⟩ = Σ_i cos((m−n)θ_i) depends on m−n only).
    """
    n = _check_int("n", n, 1)
    d = _check_even("d", d)
    inv = rope_inv_freq(d, base, dtype=torch.float64, device=device)
    ang = torch.arange(n, dtype=torch.float64, device=device)[:, None] * inv
    pe = torch.stack([torch.sin(ang), torch.cos(ang)], dim=-1).reshape(n, d)
    return pe.to(dtype)


def rope_inv_freq(
    d: int, base: float = 10000.0, *, dtype: torch.dtype = torch.float32, device=None
):
    """RoPE inverse frequencies ``θ_i = base^(-2i/d)``, ``i = 0 … d/2−1``, shape ``(d/2,)``.

    Same values as the ``1 / base ** (arange(0, d, 2) / d)`` of common implementations (computed in float64,
    then cast to ``dtype``). ``θ_0 = 1`` is the fastest rotation, ``θ_{d/2−1} = base^(-(d−2)/d)`` the slowest.

    Chapter: book/position/rope-2d, claim C2; book/position/beta-base-rope, claim C1 (β = base^(2/d)).
    """
    d = _check_even("d", d)
    base = _check_base(base)
    i = torch.arange(0, d, 2, dtype=torch.float64, device=device)
    return (base ** (-i / d)).to(dtype)


def _rope_angles(positions, inv_freq, dtype):
    if not torch.is_tensor(inv_freq) or inv_freq.ndim != 1:
        raise ValueError(
            f"inv_freq must be a 1-D tensor of shape (d/2,), got "
            f"{tuple(inv_freq.shape) if torch.is_tensor(inv_freq) else type(inv_freq).__name__}"
        )
    positions = torch.as_tensor(positions, device=inv_freq.device)
    work = torch.float64 if dtype == torch.float64 else torch.float32
    return positions.to(work)[..., None] * inv_freq.to(work)


def apply_rope(x, positions, inv_freq):
    """Rotary position embedding (adjacent-pair convention) of ``x``, shape ``(..., n, d)`` → same shape.

    Channel pair ``(x[..., 2i], x[..., 2i+1])`` at sequence index ``t`` is rotated by the angle
    ``positions[..., t] · inv_freq[i]``::

        y[2i]   = x[2i] cos φ − x[2i+1] sin φ
        y[2i+1] = x[2i] sin φ + x[2i+1] cos φ

    i.e. ``y = R(positions) x`` with ``R(m) = diag(R_2(mθ_0), …, R_2(mθ_{d/2−1}))``, so that
    ``⟨R(m) q, R(n) k⟩ = qᵀ R(n − m) k`` depends on the positions only through ``n − m``.

    ``positions`` has shape ``(n,)`` or any shape broadcastable to ``x.shape[:-1]`` (integers or floats, e.g.
    interpolated positions); ``inv_freq`` has shape ``(d/2,)`` (see :func:`rope_inv_freq`, :func:`rope_scaling`).
    Angles are computed in float32 (float64 for float64 ``x``) and the result has ``x``'s dtype.
    For the split-half convention use :func:`pairs_to_halves` / :func:`halves_to_pairs`.

    Chapter: book/position/rope-2d, claims C1–C2 (and every RoPE model of the position part).
    """
    if not torch.is_tensor(x) or x.ndim < 2:
        raise ValueError(
            f"x must be a tensor of shape (..., n, d), got {getattr(x, 'shape', type(x).__name__)}"
        )
    d = x.shape[-1]
    if d % 2:
        raise ValueError(f"x's last dimension d must be even, got {d}")
    if (
        not torch.is_tensor(inv_freq)
        or inv_freq.ndim != 1
        or inv_freq.shape[0] != d // 2
    ):
        got = (
            tuple(inv_freq.shape)
            if torch.is_tensor(inv_freq)
            else type(inv_freq).__name__
        )
        raise ValueError(f"inv_freq must have shape ({d // 2},) = (d/2,), got {got}")
    ang = _rope_angles(positions, inv_freq.to(x.device), x.dtype)  # (..., n, d/2)
    try:
        torch.broadcast_shapes(ang.shape, x.shape[:-1] + (d // 2,))
    except RuntimeError:
        raise ValueError(
            f"positions of shape {tuple(ang.shape[:-1])} do not broadcast to x.shape[:-1] = {tuple(x.shape[:-1])}"
        ) from None
    cos, sin = torch.cos(ang).to(x.dtype), torch.sin(ang).to(x.dtype)
    x1, x2 = x[..., 0::2], x[..., 1::2]
    y1 = x1 * cos - x2 * sin
    y2 = x1 * sin + x2 * cos
    return torch.stack([y1, y2], dim=-1).flatten(-2)


def pairs_to_halves(x):
    """Permute the last dimension from the adjacent-pair to the split-half RoPE layout.

    ``[x0, x1, x2, x3, …] → [x0, x2, x4, …, x1, x3, x5, …]``: pair ``i`` (channels ``2i, 2i+1``) becomes the
    channels ``i`` and ``i + d/2``. Then ``pairs_to_halves(apply_rope(x, p, f))`` equals the split-half
    ("rotate_half") rotation of ``pairs_to_halves(x)``. Inverse: :func:`halves_to_pairs`.
    """
    if not torch.is_tensor(x) or x.ndim < 1 or x.shape[-1] % 2:
        raise ValueError(
            f"x must be a tensor with an even last dimension, got {getattr(x, 'shape', type(x).__name__)}"
        )
    return torch.cat([x[..., 0::2], x[..., 1::2]], dim=-1)


def halves_to_pairs(x):
    """Inverse of :func:`pairs_to_halves`: ``[a_0…a_{h−1}, b_0…b_{h−1}] → [a_0, b_0, a_1, b_1, …]``."""
    if not torch.is_tensor(x) or x.ndim < 1 or x.shape[-1] % 2:
        raise ValueError(
            f"x must be a tensor with an even last dimension, got {getattr(x, 'shape', type(x).__name__)}"
        )
    h = x.shape[-1] // 2
    return torch.stack([x[..., :h], x[..., h:]], dim=-1).flatten(-2)


def rope_2d(x, xs, ys, base: float = 10000.0):
    """Two-dimensional RoPE: ``x`` of shape ``(..., n, d)`` with ``d`` divisible by 4; ``xs, ys`` of shape ``(n,)``.

    The first ``d/2`` channels get the 1-D RoPE (:func:`apply_rope`, adjacent pairs, ``rope_inv_freq(d/2)``)
    of the first coordinate ``xs``, the last ``d/2`` channels the 1-D RoPE of ``ys``. Up to a permutation of
    channels this is the block form ``diag(R_2(xθ_i), R_2(yθ_i))`` of the post, so
    ``⟨R(x₁,y₁) q, R(x₂,y₂) k⟩ = qᵀ R(x₂−x₁, y₂−y₁) k``: logits are invariant to a joint translation.

    Chapter: book/position/rope-2d, claims C1, C3.
    """
    if not torch.is_tensor(x) or x.ndim < 2:
        raise ValueError(
            f"x must be a tensor of shape (..., n, d), got {getattr(x, 'shape', type(x).__name__)}"
        )
    d = x.shape[-1]
    if d % 4 or d == 0:
        raise ValueError(
            f"x's last dimension d must be a positive multiple of 4, got {d}"
        )
    xs, ys = torch.as_tensor(xs, device=x.device), torch.as_tensor(ys, device=x.device)
    if xs.shape != ys.shape:
        raise ValueError(
            f"xs and ys must have the same shape, got {tuple(xs.shape)} and {tuple(ys.shape)}"
        )
    inv = rope_inv_freq(d // 2, base, dtype=torch.float64, device=x.device)
    h = d // 2
    return torch.cat(
        [apply_rope(x[..., :h], xs, inv), apply_rope(x[..., h:], ys, inv)], dim=-1
    )


# ---------------------------------------------------------------------------------------------------------
# RoPE scaling (length extrapolation without / with little fine-tuning)


def rope_scaling(
    kind: str,
    d: int,
    factor: float,
    base: float = 10000.0,
    b: float = 0.625,
    *,
    dtype: torch.dtype = torch.float32,
    device=None,
):
    """Inverse frequencies of a scaled RoPE, shape ``(d/2,)``, for a context ``factor`` = k times the training one.

    With ``θ_i = base^(-2i/d)`` (``i = 0 … d/2−1``, i.e. the post's m = i + 1) and ``λ = k^(2/d)``:

    ============== ==================================================================================
    ``"none"``      ``θ_i`` (unchanged)
    ``"pi"``        ``θ_i / k`` — position interpolation (Chen et al. 2023): positions squeezed by k
    ``"ntk-old"``   ``(base·k)^(-2i/d) = θ_i / λ^i`` — the first "NTK" proposal, base → base·k
    ``"ntk-aware"`` ``(base·k^(d/(d−2)))^(-2i/d)`` — base scaled so that the lowest frequency is exactly θ/k
    ``"ntk-fixed"`` ``θ_i / λ^(i+1)`` — the post's fix of ntk-old: every frequency, the lowest included, is
                    divided by ``∏_{j≤m} λ``, the lowest by exactly k
    ``"ntk-mixed"`` ``θ_i / exp(a·(i+1)^b)`` with ``a = log k / (d/2)^b``: the cumulative divisor is
                    ``exp(a m^b)``; ``b = 1`` gives ntk-fixed, ``b = 0`` gives pi; the post uses b = 0.625
    ============== ==================================================================================

    The highest frequency ``θ_0 = 1`` is kept (``none``, ``ntk-old``, ``ntk-aware``) or barely changed
    (``ntk-fixed``: ``λ^-1``), the lowest is divided by k (``pi``, ``ntk-aware``, ``ntk-fixed``, ``ntk-mixed``).
    ``factor = 1`` returns ``rope_inv_freq(d, base)`` for every kind. ``b`` is used only by ``"ntk-mixed"``.

    Chapter: book/position/beta-base-rope, claims C2–C3.
    """
    if kind not in ROPE_SCALING_KINDS:
        raise ValueError(f"kind must be one of {ROPE_SCALING_KINDS}, got {kind!r}")
    d = _check_even("d", d)
    base = _check_base(base)
    k = _check_positive("factor", factor)
    if k < 1:
        raise ValueError(f"factor must be >= 1, got {factor!r}")
    i = torch.arange(d // 2, dtype=torch.float64, device=device)
    theta = base ** (-2 * i / d)
    logk = math.log(k)
    if kind == "none":
        out = theta
    elif kind == "pi":
        out = theta / k
    elif kind == "ntk-old":
        out = (base * k) ** (-2 * i / d)
    elif kind == "ntk-aware":
        if d < 4:
            raise ValueError(
                f"d must be >= 4 for kind='ntk-aware' (exponent d/(d-2)), got {d}"
            )
        out = (base * k ** (d / (d - 2))) ** (-2 * i / d)
    elif kind == "ntk-fixed":
        out = theta * torch.exp(-(2 * logk / d) * (i + 1))
    else:  # ntk-mixed
        bb = float(b)
        if not (math.isfinite(bb) and 0 <= bb):
            raise ValueError(f"b must be a finite number >= 0, got {b!r}")
        a = logk / (d / 2) ** bb
        out = theta * torch.exp(-a * (i + 1) ** bb)
    return out.to(dtype)


def logn_scale(n, train_len: int, *, clamp: bool = True):
    """The log-n attention scale ``log n / log L`` (``L = train_len``), clamped below at 1 by default.

    Multiplying the logits (or ``q``) of a query that sees ``n`` tokens by ``max(1, log_L n)`` keeps the
    attention entropy roughly flat as ``n`` grows beyond the training length ``L`` and leaves lengths ≤ L
    untouched. ``clamp=False`` gives the plain ``log_L n`` (which is < 1 for n < L).
    ``n`` may be a number (returns a float) or a tensor of lengths/1-based positions (returns a float tensor).

    Chapters: book/position/position-robustness, claim C1; book/position/beta-base-rope, claim C4.
    """
    L = _check_int("train_len", train_len, 2)
    if torch.is_tensor(n):
        if n.numel() and bool((n < 1).any()):
            raise ValueError(f"n must be >= 1 everywhere, got min {n.min().item()}")
        dt = n.dtype if n.is_floating_point() else torch.float32
        s = torch.log(n.to(dt)) / math.log(L)
        return s.clamp_min(1.0) if clamp else s
    nv = _check_positive("n", n)
    if nv < 1:
        raise ValueError(f"n must be >= 1, got {n!r}")
    s = math.log(nv) / math.log(L)
    return max(1.0, s) if clamp else s


# ---------------------------------------------------------------------------------------------------------
# additive biases and masks


def alibi_slopes(heads: int, *, dtype: torch.dtype = torch.float32, device=None):
    """ALiBi head slopes (Press et al. 2022), shape ``(heads,)``.

    For ``heads = 2^j`` the slopes are the geometric sequence ``r, r², …, r^heads`` with ``r = 2^(-8/heads)``.
    Otherwise, with ``p`` the largest power of two below ``heads``, the ``p`` slopes of ``p`` heads are followed
    by the first ``heads − p`` odd-indexed terms ``s_1, s_3, …`` (1-based) of the ``2p``-head sequence, as in the
    paper's reference recipe.

    Chapter: book/position/local-attention, claim C3.
    """
    heads = _check_int("heads", heads, 1)

    def pow2(h: int) -> list[float]:
        return [2.0 ** (-8.0 * (j + 1) / h) for j in range(h)]

    p = 1 << (heads.bit_length() - 1)
    slopes = pow2(p) if p == heads else pow2(p) + pow2(2 * p)[0::2][: heads - p]
    return torch.tensor(slopes, dtype=dtype, device=device)


def _distance(n: int, device=None):
    pos = torch.arange(n, device=device)
    return (pos[:, None] - pos[None, :]).abs()


def alibi_bias(n: int, heads: int, *, dtype: torch.dtype = torch.float32, device=None):
    """ALiBi additive bias ``−slope_h · |m − n|``, shape ``(heads, n, n)`` (query index m, key index n).

    Symmetric in m and n; in a causal model the entries above the diagonal are masked anyway (the paper's
    causal form ``−slope·(m − n)``, m ≥ n, coincides on the allowed entries).

    Chapter: book/position/local-attention, claim C3.
    """
    n = _check_int("n", n, 1)
    s = alibi_slopes(heads, dtype=dtype, device=device)
    return (
        -(s[:, None, None] * _distance(n, device).to(dtype)) + 0.0
    )  # + 0.0 turns −0 into 0


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

    ``kind="log"``: ``−r1 · log(1 + r2·|m − n|)`` with r1, r2 > 0; ``kind="power"``: ``−r1 · |m − n|^r2`` with
    r1 > 0 and 0 < r2 ≤ 2. ``r1`` and ``r2`` are numbers or tensors (e.g. one learnable value per head, shape
    ``(heads,)``) that broadcast together; gradients flow through tensor arguments.

    Chapter: book/position/local-attention, claim C3.
    """
    n = _check_int("n", n, 1)
    if kind not in ("log", "power"):
        raise ValueError(f"kind must be 'log' or 'power', got {kind!r}")
    r1t = (
        r1
        if torch.is_tensor(r1)
        else torch.tensor(float(r1), dtype=dtype, device=device)
    )
    r2t = (
        r2
        if torch.is_tensor(r2)
        else torch.tensor(float(r2), dtype=dtype, device=device)
    )
    for name, r in (("r1", r1t), ("r2", r2t)):
        if not bool(torch.isfinite(r).all()) or not bool((r > 0).all()):
            raise ValueError(
                f"{name} must be finite and > 0, got {r.detach().cpu().tolist()}"
            )
    if kind == "power" and bool((r2t > 2).any()):
        raise ValueError(
            f"r2 must be in (0, 2] for kind='power', got {r2t.detach().cpu().tolist()}"
        )
    try:
        r1t, r2t = torch.broadcast_tensors(r1t, r2t)
    except RuntimeError:
        raise ValueError(
            f"r1 and r2 must broadcast, got shapes {tuple(r1t.shape)} and {tuple(r2t.shape)}"
        ) from None
    dist = _distance(n, r1t.device).to(torch.promote_types(r1t.dtype, torch.float32))
    a, c = r1t[..., None, None], r2t[..., None, None]
    if kind == "log":
        return -(a * torch.log1p(c * dist)) + 0.0
    # |m−n|^r2 on the diagonal is 0; clamping avoids the NaN gradient of 0^r2 with respect to r2
    return (
        -(a * torch.where(dist > 0, dist.clamp_min(1).pow(c), torch.zeros_like(dist)))
        + 0.0
    )


def sliding_window_mask(n: int, window: int, *, causal: bool = True, device=None):
    """Boolean local-attention mask, shape ``(n, n)``; ``True`` where query m may attend to key n.

    ``causal=True``: ``0 ≤ m − n < window`` (each token sees itself and the ``window − 1`` previous tokens);
    ``causal=False``: ``|m − n| < window``. With ``window ≥ n`` (causal) it is the full causal mask.

    Chapter: book/position/local-attention, claim C2.
    """
    n = _check_int("n", n, 1)
    window = _check_int("window", window, 1)
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
    """XPOS per-channel scale ``ζ_i^(position / scale_base)``, shape ``(*positions.shape, d)`` (adjacent pairs).

    ``ζ_i = (i/(d/2) + γ)/(1 + γ)`` for pair ``i = 0 … d/2−1`` (Sun et al. 2023), repeated for the two channels
    of each pair as in :func:`apply_rope`. Queries are multiplied by ``xpos_scale(m, …)`` and keys by
    ``xpos_scale(−n, …)`` (= its reciprocal) after the rotation, so that
    ``(R_m q ξ^m)·(R_n k ξ^(−n)) = qᵀ R_(n−m) k · ξ^(m−n)`` channel-pair-wise: a decay with the relative distance.
    Implementations usually centre the positions (subtract about n/2) to avoid overflow for long sequences.

    Chapter: book/position/local-attention, claim C4.
    """
    d = _check_even("d", d)
    g = float(gamma)
    if not (math.isfinite(g) and g > 0):
        raise ValueError(f"gamma must be a finite number > 0, got {gamma!r}")
    sb = _check_positive("scale_base", scale_base)
    positions = torch.as_tensor(positions)
    i = torch.arange(d // 2, dtype=torch.float64, device=positions.device)
    zeta = (i / (d / 2) + g) / (1 + g)
    s = zeta ** (positions.to(torch.float64)[..., None] / sb)
    return s.repeat_interleave(2, dim=-1).to(dtype)


def random_position_ids(
    n: int,
    max_len: int,
    generator: torch.Generator | None = None,
    *,
    batch: int | None = None,
    device=None,
):
    """Randomised positions (Ruoss et al. 2023): a sorted uniformly random ``n``-subset of ``{0, …, max_len−1}``.

    Returns int64 of shape ``(n,)``, or ``(batch, n)`` with an independent subset per row. Train with these in
    place of ``0 … n−1`` so that every position up to ``max_len − 1`` is seen during training; the mean gap
    between consecutive ids is about ``max_len/(n+1)``.

    Chapter: book/position/position-robustness, claim C2.
    """
    n = _check_int("n", n, 1)
    max_len = _check_int("max_len", max_len, 1)
    if max_len < n:
        raise ValueError(f"max_len must be >= n = {n}, got {max_len}")
    rows = 1 if batch is None else _check_int("batch", batch, 1)
    gen_device = generator.device if generator is not None else device
    u = torch.rand(rows, max_len, generator=generator, device=gen_device)
    ids = u.argsort(dim=-1)[:, :n].sort(dim=-1).values
    if device is not None:
        ids = ids.to(device)
    return ids[0] if batch is None else ids
