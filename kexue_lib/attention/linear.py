"""Linear attention ``φ(Q)(φ(K)ᵀV)`` (chapter ``attention/linear-attention``).

The non-causal form sums ``φ(K)ᵀV`` once (C2); the causal form is an exact chunked scan
(C3): masked quadratic work inside chunks, a cumulative ``φ(K)ᵀV`` state across chunks.
Long sequences run in segments carrying that state, so a call touches little fresh
memory.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .. import _validate as V
from .softmax import _check_qkv

__all__ = ["FEATURES", "linear_attention"]


#: The feature maps understood by :func:`linear_attention`.
FEATURES = ("elu1", "exp", "relu", "cos1", "softmax2")


def _elu1(x: torch.Tensor) -> torch.Tensor:
    """``elu(x) + 1`` computed as ``exp(min(x, 0)) + max(x, 0)`` (equal for every x).
    Without autograd it takes four element-wise passes and two allocations
    (``F.elu(x) + 1`` is slower: ``elu`` goes through ``expm1``, several times slower
    than ``exp`` on CPU); with autograd the out-of-place form keeps ``exp``'s saved
    output intact."""
    if x.requires_grad:
        return torch.exp(x.clamp(max=0.0)) + torch.relu(x)
    return x.clamp(max=0.0).exp_().add_(torch.relu(x))


#: Target size (elements) of one segment of a long sequence: the linear kernels run over
#: the positions in segments of about this many numbers per tensor (2 MiB in float32),
#: carrying the state ``φ(K)ᵀV`` across; the causal scan, which holds several more
#: temporaries per segment, uses half as many. (Measured at n = 2048 … 16384, 4 heads of
#: 64: smaller segments add per-call overhead, larger ones fresh memory.)
_SEGMENT_ELEMENTS = 1 << 19


def _featurizer(q: torch.Tensor, k: torch.Tensor, feature: str, causal: bool):
    """Return ``(φq, φk, normalise)`` for :func:`linear_attention`: ``φq(s, e)`` is
    ``φ(q)`` at positions ``s:e``, from ``q`` and ``k`` of shape ``(batch, n, d)``.

    Position-wise maps are applied to the slice only, so a long sequence never holds a
    full-length copy of the features; maps with a sequence-wide part (the key shift of
    ``"exp"``, the position softmax of ``"softmax2"``) compute that part once.
    Rescalings that cancel in the normalised output are used for numerical safety: for
    ``"exp"`` ``q`` is shifted by its row maximum (a factor depending on the query only)
    and ``k`` by one maximum over the whole sequence (a constant).
    """
    if feature == "elu1":
        return (lambda s, e: _elu1(q[:, s:e])), (lambda s, e: _elu1(k[:, s:e])), True
    if feature == "relu":
        return (
            (lambda s, e: torch.relu(q[:, s:e])),
            (lambda s, e: torch.relu(k[:, s:e])),
            True,
        )
    if feature == "exp":
        kmax = k.amax(dim=(-2, -1), keepdim=True)

        def fq(s, e):
            x = q[:, s:e]
            return torch.exp(x - x.amax(dim=-1, keepdim=True))

        return fq, (lambda s, e: torch.exp(k[:, s:e] - kmax)), True
    if feature == "cos1":

        def cos1(x):
            return torch.cat([x.new_ones(*x.shape[:-1], 1), F.normalize(x, dim=-1)], -1)

        return (lambda s, e: cos1(q[:, s:e])), (lambda s, e: cos1(k[:, s:e])), True
    if feature == "softmax2":
        if not causal:
            sk = torch.softmax(k, dim=-2)  # over all positions
            return (
                (lambda s, e: torch.softmax(q[:, s:e], dim=-1)),
                (lambda s, e: sk[:, s:e]),
                False,
            )
        # causal: the softmax over positions runs over j ≤ i only, so its normaliser Z_i
        # = Σ_{j≤i} exp(k_j) depends on the query position; it is folded into the query
        # features (exact, no approximation).
        ek = torch.exp(k - k.amax(dim=-2, keepdim=True))
        fq = torch.softmax(q, dim=-1) / ek.cumsum(dim=-2).clamp_min(
            torch.finfo(ek.dtype).tiny
        )
        return (lambda s, e: fq[:, s:e]), (lambda s, e: ek[:, s:e]), False
    raise ValueError(f"feature must be one of {FEATURES}, got {feature!r}")


def _segment_length(n: int, nb: int, width: int, elements: int, unit: int = 1) -> int:
    """Positions per segment for ``n`` positions of ``(nb, n, width)`` tensors: about
    ``elements`` numbers per segment, a multiple of ``unit`` (the causal chunk), and
    segments of equal size (no short tail)."""
    p = max(unit, elements // max(1, nb * width))
    count = -(-n // p)
    per = -(-n // count)
    return -(-per // unit) * unit


def _noncausal(fq, fk, v, nq: int, normalise: bool, seg: int):
    """``φ(Q)(φ(K)ᵀV)`` (C2) over segments of ``seg`` positions: first ``S = φ(K)ᵀV``
    and ``z = φ(K)ᵀ1``, then each query segment's ``φ(Q)S / φ(Q)z``."""
    nb, nk, dv = v.shape
    state = z = None
    for s in range(0, nk, seg):
        fks = fk(s, s + seg)
        kv, zs = fks.transpose(1, 2) @ v[:, s : s + seg], fks.sum(dim=1).unsqueeze(-1)
        state, z = (kv, zs) if state is None else (state + kv, z + zs)

    def block(s, e):
        fqs = fq(s, e)
        o = fqs @ state
        if normalise:
            den = fqs @ z
            o = o.div_(den.clamp_min_(torch.finfo(den.dtype).tiny))
        return o

    if nq <= seg:
        return block(0, nq)
    out = v.new_empty(nb, nq, dv)
    for s in range(0, nq, seg):
        out[:, s : s + seg] = block(s, s + seg)
    return out


def _exclusive_prefix_sum(
    x: torch.Tensor, initial: torch.Tensor | None = None, block: int = 32
) -> torch.Tensor:
    """``out[:, c] = initial + Σ_{c' < c} x[:, c']`` for ``x`` of shape
    ``(batch, m, f)`` (``initial``: ``(batch, f)``, zero if None), by matrix products.

    A product with the strictly lower-triangular ``m × m`` matrix of ones when
    ``m ≤ block``; otherwise blocks of ``block`` rows are summed the same way and the
    blocks' totals are prefixed recursively, so the cost stays ``O(m · block · f)``. On
    CPU this is several times faster than ``torch.cumsum`` along a non-last dimension (a
    strided scalar loop), and needs no Python loop over the ``m`` rows.
    """
    nb, m, f = x.shape
    if m <= block:
        lower = torch.ones(m, m, dtype=x.dtype, device=x.device).tril_(-1)
        if initial is None:
            return torch.matmul(lower, x)
        return torch.baddbmm(initial.unsqueeze(1), lower.expand(nb, m, m), x)
    pad = (-m) % block
    if pad:
        x = F.pad(x, (0, 0, 0, pad))
    g = x.shape[1] // block
    xb = x.view(nb, g, block, f)
    within = torch.matmul(
        torch.ones(block, block, dtype=x.dtype, device=x.device).tril_(-1), xb
    )
    totals = within[:, :, -1] + xb[:, :, -1]  # each block's sum
    within.add_(_exclusive_prefix_sum(totals, initial, block).unsqueeze(2))
    return within.view(nb, g * block, f)[:, :m]


def _causal_chunks(fq, fk, v, state, z, normalise: bool):
    """One segment of the causal scan (C3). ``fq, fk``: ``(nb, nc, C, r)`` (``nc``
    chunks of ``C`` positions), ``v``: ``(nb, nc·C, dv)``; ``state`` ``(nb, r·dv)`` and
    ``z`` ``(nb, r)`` carry ``Σ φ(k_j) v_jᵀ`` and ``Σ φ(k_j)`` over all earlier segments
    (None: nothing earlier). Returns ``(out, state, z)``: ``out`` of shape
    ``(nb, nc·C, dv)`` and the carries advanced past it."""
    nb, nc, chunk, r = fq.shape
    dv = v.shape[-1]
    fq = fq.reshape(nb * nc, chunk, r)
    fk = fk.reshape(nb * nc, chunk, r)
    v = v.reshape(nb * nc, chunk, dv)
    # inside each chunk: the masked quadratic form
    a = torch.bmm(fq, fk.transpose(1, 2)).tril_()
    out = torch.bmm(a, v)
    # across chunks: the exclusive prefix state S_c = Σ_{c' < c} φ(K_c')ᵀ V_c', applied
    # to chunk c's queries
    kv = torch.bmm(fk.transpose(1, 2), v).view(nb, nc, r * dv)
    prefix = _exclusive_prefix_sum(kv, state)
    out = out.baddbmm_(fq, prefix.reshape(nb * nc, r, dv))
    state = prefix[:, -1] + kv[:, -1]
    if normalise:
        zc = fk.sum(dim=1).view(nb, nc, r)
        zprefix = _exclusive_prefix_sum(zc, z)
        den = torch.baddbmm(
            a.sum(dim=-1, keepdim=True), fq, zprefix.reshape(nb * nc, r, 1)
        )
        out = out.div_(den.clamp_min_(torch.finfo(den.dtype).tiny))
        z = zprefix[:, -1] + zc[:, -1]
    return out.view(nb, nc * chunk, dv), state, z


def _causal(fq, fk, v, chunk: int, normalise: bool, seg: int):
    """Exact causal ``Σ_{j≤i} (φq_i·φk_j) v_j`` (and the same sum for the normaliser):
    segments of ``seg`` positions (a multiple of ``chunk``) in turn, each by
    :func:`_causal_chunks`, carrying the state."""
    nb, n, dv = v.shape
    out = None if n <= seg else v.new_empty(nb, n, dv)
    state = z = None
    for s in range(0, n, seg):
        e = min(n, s + seg)
        fqs, fks, vs = fq(s, e), fk(s, e), v[:, s:e]
        pad = (-(e - s)) % chunk
        if pad:
            # zero rows of φ(k) contribute nothing; padded query rows are cut off below
            fqs, fks, vs = (F.pad(t, (0, 0, 0, pad)) for t in (fqs, fks, vs))
        r = fqs.shape[-1]
        nc = fqs.shape[1] // chunk
        o, state, z = _causal_chunks(
            fqs.reshape(nb, nc, chunk, r),
            fks.reshape(nb, nc, chunk, r),
            vs,
            state,
            z,
            normalise,
        )
        if out is None:
            return o[:, : e - s]
        out[:, s:e] = o[:, : e - s]
    return out


def linear_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    feature: str = "elu1",
    causal: bool = False,
    chunk_size: int | None = None,
) -> torch.Tensor:
    """Kernelised (linear) attention
    ``out_i = Σ_j sim(q_i,k_j) v_j / Σ_j sim(q_i,k_j)``, shape ``(..., n, d_v)``.

    ``sim(q, k) = φ(q)·φ(k) ≥ 0`` for the feature maps (chapter
    ``attention/linear-attention``):

    * ``"elu1"``: ``φ(x) = elu(x) + 1`` (Katharopoulos et al.);
    * ``"exp"``: ``φ(x) = exp(x)`` element-wise;
    * ``"relu"``: ``φ(x) = relu(x)``;
    * ``"cos1"``: ``sim = 1 + q̂·k̂`` with ``x̂ = x/‖x‖`` — the ``d+1`` features
      ``[1, x̂]`` (C5);
    * ``"softmax2"``: ``softmax`` of ``Q`` over features times ``softmax`` of ``K`` over
      positions (Shen et al.); its rows already sum to one (C4), so no normaliser is
      applied. Causally, ``K``'s softmax runs over the positions ``j ≤ i`` visible to
      query ``i``.

    Non-causal cost is ``O(n r d_v)`` with ``r`` features (C2: ``φ(Q)(φ(K)ᵀV)``). With
    ``causal=True`` (C3) the sum runs over ``j ≤ i``; it is computed exactly by a
    chunked scan: inside chunks of ``chunk_size`` positions (default 64) the masked
    quadratic form, across chunks a cumulative sum of the per-chunk states
    ``φ(K_c)ᵀV_c`` (by matrix products with a triangular matrix of ones, blocked when
    there are more than 32 chunks). ``chunk_size`` only affects the causal path. Long
    sequences run in segments of about ``2**19`` numbers per tensor (``2**18`` causal),
    the sums carried from one segment to the next: the result is the same, and a call
    touches little fresh memory. A query whose similarities are all zero (possible with
    ``"relu"``) gets the output 0 instead of ``0/0``.
    """
    causal = _check_qkv(q, k, v, causal)
    V.choice("feature", feature, FEATURES)
    chunk_size = (
        64 if chunk_size is None else V.integer("chunk_size", chunk_size, minimum=1)
    )
    *batch, nq, d = q.shape
    nb, dv = math.prod(batch), v.shape[-1]
    q3, k3, v3 = (
        q.reshape(nb, nq, d),
        k.reshape(nb, k.shape[-2], d),
        v.reshape(nb, v.shape[-2], dv),
    )
    fq, fk, normalise = _featurizer(q3, k3, feature, causal)
    width = max(d, dv)
    if causal:
        chunk = min(chunk_size, nq)
        seg = _segment_length(nq, nb, width, _SEGMENT_ELEMENTS // 2, chunk)
        out = _causal(fq, fk, v3, chunk, normalise, seg)
    else:
        seg = _segment_length(max(nq, k3.shape[1]), nb, width, _SEGMENT_ELEMENTS)
        out = _noncausal(fq, fk, v3, nq, normalise, seg)
    return out.reshape(*batch, nq, dv)
