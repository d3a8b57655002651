"""Length extrapolation: scaled RoPE frequencies, log-n scaling, randomised positions.

Chapters ``book/position/beta-base-rope`` and ``book/position/position-robustness``.
"""

from __future__ import annotations

import math

import torch

from .. import _validate as V

__all__ = ["ROPE_SCALING_KINDS", "rope_scaling", "logn_scale", "random_position_ids"]


ROPE_SCALING_KINDS = ("none", "pi", "ntk-old", "ntk-aware", "ntk-fixed", "ntk-mixed")


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
    """Inverse frequencies of a scaled RoPE, shape ``(d/2,)``, for a context ``factor``
    = k times the training one.

    With ``θ_i = base^(-2i/d)`` (``i = 0 … d/2−1``, i.e. the post's m = i + 1) and
    ``λ = k^(2/d)``:

    * ``"none"``: ``θ_i`` (unchanged);
    * ``"pi"``: ``θ_i / k`` — position interpolation (Chen et al. 2023): positions
      squeezed by k;
    * ``"ntk-old"``: ``(base·k)^(-2i/d) = θ_i / λ^i`` — the first "NTK" proposal,
      base → base·k;
    * ``"ntk-aware"``: ``(base·k^(d/(d−2)))^(-2i/d)`` — base scaled so that the lowest
      frequency is exactly θ/k;
    * ``"ntk-fixed"``: ``θ_i / λ^(i+1)`` — the post's fix of ntk-old: every frequency,
      the lowest included, is divided by ``∏_{j≤m} λ``, the lowest by exactly k;
    * ``"ntk-mixed"``: ``θ_i / exp(a·(i+1)^b)`` with ``a = log k / (d/2)^b``: the
      cumulative divisor is ``exp(a m^b)``; ``b = 1`` gives ntk-fixed, ``b = 0`` gives
      pi; the post uses b = 0.625.

    The highest frequency ``θ_0 = 1`` is kept (``none``, ``ntk-old``, ``ntk-aware``) or
    barely changed (``ntk-fixed``: ``λ^-1``), the lowest is divided by k (``pi``,
    ``ntk-aware``, ``ntk-fixed``, ``ntk-mixed``). ``factor = 1`` returns
    ``rope_inv_freq(d, base)`` for every kind. ``b`` is used only by ``"ntk-mixed"``.

    Chapter: book/position/beta-base-rope, claims C2–C3.
    """
    V.choice("kind", kind, ROPE_SCALING_KINDS)
    d = V.integer("d", d, minimum=2, even=True)
    base = V.real("base", base, gt=1)
    k = V.real("factor", factor, ge=1)
    bb = V.real("b", b, ge=0)
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
        a = logk / (d / 2) ** bb
        out = theta * torch.exp(-a * (i + 1) ** bb)
    return out.to(dtype)


def logn_scale(n, train_len: int, *, clamp: bool = True):
    """The log-n attention scale ``log n / log L`` (``L = train_len``), clamped below at
    1 by default.

    Multiplying the logits (or ``q``) of a query that sees ``n`` tokens by
    ``max(1, log_L n)`` keeps the attention entropy roughly flat as ``n`` grows beyond
    the training length ``L`` and leaves lengths ≤ L untouched. ``clamp=False`` gives
    the plain ``log_L n`` (which is < 1 for n < L). ``n`` may be a number (returns a
    float) or a tensor of lengths/1-based positions (returns a float tensor).

    Chapters: book/position/position-robustness, claim C1; book/position/beta-base-rope,
    claim C4.
    """
    L = V.integer("train_len", train_len, minimum=2)
    clamp = V.boolean("clamp", clamp)
    if torch.is_tensor(n):
        if n.dtype == torch.bool or n.is_complex():
            raise TypeError(f"n must be a real number or tensor, got dtype {n.dtype}")
        if n.numel() and bool((n < 1).any()):
            raise ValueError(f"n must be >= 1 everywhere, got min {n.min().item()}")
        dt = n.dtype if n.is_floating_point() else torch.float32
        s = torch.log(n.to(dt)) / math.log(L)
        return s.clamp_min(1.0) if clamp else s
    nv = V.real("n", n, ge=1)
    s = math.log(nv) / math.log(L)
    return max(1.0, s) if clamp else s


def random_position_ids(
    n: int,
    max_len: int,
    generator: torch.Generator | None = None,
    *,
    batch: int | None = None,
    device=None,
):
    """Randomised positions (Ruoss et al. 2023): a sorted uniformly random ``n``-subset
    of ``{0, …, max_len−1}``.

    Returns int64 of shape ``(n,)``, or ``(batch, n)`` with an independent subset per
    row. Train with these in place of ``0 … n−1`` so that every position up to
    ``max_len − 1`` is seen during training; the mean gap between consecutive ids is
    about ``max_len/(n+1)``.

    Chapter: book/position/position-robustness, claim C2.
    """
    n = V.integer("n", n, minimum=1)
    max_len = V.integer("max_len", max_len, minimum=1)
    if max_len < n:
        raise ValueError(f"max_len must be >= n = {n}, got {max_len}")
    rows = 1 if batch is None else V.integer("batch", batch, minimum=1)
    V.generator("generator", generator)
    gen_device = generator.device if generator is not None else device
    u = torch.rand(rows, max_len, generator=generator, device=gen_device)
    ids = u.argsort(dim=-1)[:, :n].sort(dim=-1).values
    if device is not None:
        ids = ids.to(device)
    return ids[0] if batch is None else ids
