"""Attention kernels: the quadratic reference and three ways around its O(n²) cost.

Chapters ``attention/linear-attention``, ``attention/performer-linear`` and ``attention/nystromformer``.

* :func:`softmax_attention` — ``softmax(QKᵀ·s + bias) V`` with an optional causal mask; the reference.
* :func:`linear_attention` — kernelised attention ``φ(Q)(φ(K)ᵀV)``, normalised row-wise, with five feature
  maps; the causal form is an exact chunked scan (masked quadratic work inside chunks of ``chunk_size``
  positions, a cumulative ``φ(K)ᵀV`` state across chunks), not a Python loop over positions.
* :func:`performer_features`, :func:`gaussian_orthogonal_projection` — random features whose inner products
  are unbiased estimates of ``exp(q·k)`` (Performer/FAVOR+).
* :func:`nystrom_attention`, :func:`iterative_pinv`, :func:`segment_means` — the Nyströmformer
  approximation with segment-mean landmarks and a Newton–Schulz-type pseudo-inverse.

Shapes follow ``torch.nn.functional.scaled_dot_product_attention``: ``q`` is ``(..., n, d)``, ``k`` is
``(..., n_k, d)``, ``v`` is ``(..., n_k, d_v)``; the leading (batch, head) dimensions of the three must be
equal. Non-causal kernels accept ``n ≠ n_k`` (cross-attention); causal kernels need ``n == n_k``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

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

#: The feature maps understood by :func:`linear_attention`.
FEATURES = ("elu1", "exp", "relu", "cos1", "softmax2")


# ---------------------------------------------------------------------------------------------------------
# input checks


def _check_qkv(q, k, v, causal: bool) -> None:
    for name, t in (("q", q), ("k", k), ("v", v)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
        if t.dim() < 2:
            raise ValueError(
                f"{name} must have shape (..., n, d), got shape {tuple(t.shape)}"
            )
        if not t.is_floating_point():
            raise ValueError(
                f"{name} must be a floating-point tensor, got dtype {t.dtype}"
            )
    if not (q.dtype == k.dtype == v.dtype):
        raise ValueError(
            f"q, k, v must share one dtype, got {q.dtype}, {k.dtype}, {v.dtype}"
        )
    if not (q.shape[:-2] == k.shape[:-2] == v.shape[:-2]):
        raise ValueError(
            f"q, k, v must have the same leading (batch) dimensions, got {tuple(q.shape)}, "
            f"{tuple(k.shape)}, {tuple(v.shape)}"
        )
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(
            f"q and k must have the same feature dimension d, got {q.shape[-1]} and {k.shape[-1]}"
        )
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(
            f"k and v must have the same length n, got {k.shape[-2]} and {v.shape[-2]}"
        )
    if causal and q.shape[-2] != k.shape[-2]:
        raise ValueError(
            f"causal attention needs q and k of the same length n, got {q.shape[-2]} and {k.shape[-2]}"
        )
    if q.shape[-2] == 0 or k.shape[-2] == 0:
        raise ValueError(
            f"sequence length n must be >= 1, got q: {q.shape[-2]}, k: {k.shape[-2]}"
        )


def _default_scale(scale, d: int) -> float:
    if scale is None:
        return 1.0 / math.sqrt(d)
    scale = float(scale)
    if not math.isfinite(scale):
        raise ValueError(f"scale must be finite, got {scale}")
    return scale


# ---------------------------------------------------------------------------------------------------------
# the reference


def softmax_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    causal: bool = False,
    bias: torch.Tensor | None = None,
    *,
    scale: float | None = None,
) -> torch.Tensor:
    """Standard (quadratic) attention ``softmax(s·QKᵀ + bias [+ causal mask]) V``, shape ``(..., n, d_v)``.

    ``scale`` ``s`` defaults to ``1/√d`` as in ``scaled_dot_product_attention``; pass ``scale=1`` for
    ``exp(q·k)`` weights. ``bias`` is added to the logits and must broadcast to ``(..., n, n_k)``. With
    ``causal=True`` position ``i`` attends to ``j ≤ i``. The reference every approximation is compared with
    (chapters ``attention/linear-attention`` C1, ``attention/performer-linear``, ``attention/nystromformer``).
    """
    _check_qkv(q, k, v, causal)
    s = _default_scale(scale, q.shape[-1])
    logits = (q @ k.transpose(-1, -2)) * s
    if bias is not None:
        if not isinstance(bias, torch.Tensor):
            raise TypeError(
                f"bias must be a torch.Tensor or None, got {type(bias).__name__}"
            )
        try:
            torch.broadcast_shapes(bias.shape, logits.shape)
        except RuntimeError:
            raise ValueError(
                f"bias must broadcast to the logits' shape {tuple(logits.shape)}, got {tuple(bias.shape)}"
            ) from None
        logits = logits + bias
    if causal:
        n = q.shape[-2]
        mask = torch.ones(n, n, dtype=torch.bool, device=q.device).triu_(1)
        logits = logits.masked_fill(mask, float("-inf"))
    return torch.softmax(logits, dim=-1) @ v


# ---------------------------------------------------------------------------------------------------------
# linear attention


def _elu1(x: torch.Tensor) -> torch.Tensor:
    """``elu(x) + 1`` computed as ``exp(min(x, 0)) + max(x, 0)`` (equal for every x). Without autograd it
    takes four element-wise passes and two allocations (``F.elu(x) + 1`` is slower: ``elu`` goes through
    ``expm1``, several times slower than ``exp`` on CPU); with autograd the out-of-place form keeps ``exp``'s
    saved output intact."""
    if x.requires_grad:
        return torch.exp(x.clamp(max=0.0)) + torch.relu(x)
    return x.clamp(max=0.0).exp_().add_(torch.relu(x))


#: Target size (elements) of one segment of a long sequence: the linear kernels run over the positions in
#: segments of about this many numbers per tensor (2 MiB in float32), carrying the state ``φ(K)ᵀV`` across;
#: the causal scan, which holds several more temporaries per segment, uses half as many. (Measured at
#: n = 2048 … 16384, 4 heads of 64: smaller segments add per-call overhead, larger ones fresh memory.)
_SEGMENT_ELEMENTS = 1 << 19


def _featurizer(q: torch.Tensor, k: torch.Tensor, feature: str, causal: bool):
    """Return ``(φq, φk, normalise)`` for :func:`linear_attention`: ``φq(s, e)`` is ``φ(q)`` at positions
    ``s:e``, from ``q`` and ``k`` of shape ``(batch, n, d)``.

    Position-wise maps are applied to the slice only, so a long sequence never holds a full-length copy of the
    features; maps with a sequence-wide part (the key shift of ``"exp"``, the position softmax of
    ``"softmax2"``) compute that part once. Rescalings that cancel in the normalised output are used for
    numerical safety: for ``"exp"`` ``q`` is shifted by its row maximum (a factor depending on the query only)
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
        # causal: the softmax over positions runs over j ≤ i only, so its normaliser Z_i = Σ_{j≤i} exp(k_j)
        # depends on the query position; it is folded into the query features (exact, no approximation).
        ek = torch.exp(k - k.amax(dim=-2, keepdim=True))
        fq = torch.softmax(q, dim=-1) / ek.cumsum(dim=-2).clamp_min(
            torch.finfo(ek.dtype).tiny
        )
        return (lambda s, e: fq[:, s:e]), (lambda s, e: ek[:, s:e]), False
    raise ValueError(f"feature must be one of {FEATURES}, got {feature!r}")


def _segment_length(n: int, nb: int, width: int, elements: int, unit: int = 1) -> int:
    """Positions per segment for ``n`` positions of ``(nb, n, width)`` tensors: about ``elements`` numbers
    per segment, a multiple of ``unit`` (the causal chunk), and segments of equal size (no short tail)."""
    p = max(unit, elements // max(1, nb * width))
    count = -(-n // p)
    per = -(-n // count)
    return -(-per // unit) * unit


def _noncausal(fq, fk, v, nq: int, normalise: bool, seg: int):
    """``φ(Q)(φ(K)ᵀV)`` (C2) over segments of ``seg`` positions: first ``S = φ(K)ᵀV`` and ``z = φ(K)ᵀ1``,
    then each query segment's ``φ(Q)S / φ(Q)z``."""
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
    """``out[:, c] = initial + Σ_{c' < c} x[:, c']`` for ``x`` of shape ``(batch, m, f)`` (``initial``:
    ``(batch, f)``, zero if None), by matrix products.

    A product with the strictly lower-triangular ``m × m`` matrix of ones when ``m ≤ block``; otherwise
    blocks of ``block`` rows are summed the same way and the blocks' totals are prefixed recursively, so the
    cost stays ``O(m · block · f)``. On CPU this is several times faster than ``torch.cumsum`` along a
    non-last dimension (a strided scalar loop), and needs no Python loop over the ``m`` rows.
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
    """One segment of the causal scan (C3). ``fq, fk``: ``(nb, nc, C, r)`` (``nc`` chunks of ``C``
    positions), ``v``: ``(nb, nc·C, dv)``; ``state`` ``(nb, r·dv)`` and ``z`` ``(nb, r)`` carry
    ``Σ φ(k_j) v_jᵀ`` and ``Σ φ(k_j)`` over all earlier segments (None: nothing earlier).
    Returns ``(out, state, z)``: ``out`` of shape ``(nb, nc·C, dv)`` and the carries advanced past it."""
    nb, nc, chunk, r = fq.shape
    dv = v.shape[-1]
    fq = fq.reshape(nb * nc, chunk, r)
    fk = fk.reshape(nb * nc, chunk, r)
    v = v.reshape(nb * nc, chunk, dv)
    # inside each chunk: the masked quadratic form
    a = torch.bmm(fq, fk.transpose(1, 2)).tril_()
    out = torch.bmm(a, v)
    # across chunks: the exclusive prefix state S_c = Σ_{c' < c} φ(K_c')ᵀ V_c', applied to chunk c's queries
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
    """Exact causal ``Σ_{j≤i} (φq_i·φk_j) v_j`` (and the same sum for the normaliser): segments of ``seg``
    positions (a multiple of ``chunk``) in turn, each by :func:`_causal_chunks`, carrying the state."""
    nb, n, dv = v.shape
    out = None if n <= seg else v.new_empty(nb, n, dv)
    state = z = None
    for s in range(0, n, seg):
        e = min(n, s + seg)
        fqs, fks, vs = fq(s, e), fk(s, e), v[:, s:e]
        pad = (-(e - s)) % chunk
        if (
            pad
        ):  # zero rows of φ(k) contribute nothing; padded query rows are cut off below
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
    """Kernelised (linear) attention ``out_i = Σ_j sim(q_i,k_j) v_j / Σ_j sim(q_i,k_j)``, shape ``(..., n, d_v)``.

    ``sim(q, k) = φ(q)·φ(k) ≥ 0`` for the feature maps (chapter ``attention/linear-attention``):

    * ``"elu1"``: ``φ(x) = elu(x) + 1`` (Katharopoulos et al.);
    * ``"exp"``: ``φ(x) = exp(x)`` element-wise;
    * ``"relu"``: ``φ(x) = relu(x)``;
    * ``"cos1"``: ``sim = 1 + q̂·k̂`` with ``x̂ = x/‖x‖`` — the ``d+1`` features ``[1, x̂]`` (C5);
    * ``"softmax2"``: ``softmax`` of ``Q`` over features times ``softmax`` of ``K`` over positions
      (Shen et al.); its rows already sum to one (C4), so no normaliser is applied. Causally, ``K``'s softmax
      runs over the positions ``j ≤ i`` visible to query ``i``.

    Non-causal cost is ``O(n r d_v)`` with ``r`` features (C2: ``φ(Q)(φ(K)ᵀV)``). With ``causal=True``
    (C3) the sum runs over ``j ≤ i``; it is computed exactly by a chunked scan: inside chunks of
    ``chunk_size`` positions (default 64) the masked quadratic form, across chunks a cumulative sum of the
    per-chunk states ``φ(K_c)ᵀV_c`` (by matrix products with a triangular matrix of ones, blocked when there
    are more than 32 chunks). ``chunk_size`` only affects the causal path. Long sequences run in segments
    of about ``2**19`` numbers per tensor (``2**18`` causal), the sums carried from one segment to the next:
    the result is the same, and a call touches little fresh memory. A query whose similarities are all zero
    (possible with ``"relu"``) gets the output 0 instead of ``0/0``.
    """
    _check_qkv(q, k, v, causal)
    if not isinstance(feature, str) or feature not in FEATURES:
        raise ValueError(f"feature must be one of {FEATURES}, got {feature!r}")
    if chunk_size is None:
        chunk_size = 64
    if (
        isinstance(chunk_size, bool)
        or not isinstance(chunk_size, int)
        or chunk_size < 1
    ):
        raise ValueError(
            f"chunk_size must be a positive int or None, got {chunk_size!r}"
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


# ---------------------------------------------------------------------------------------------------------
# Performer random features


def gaussian_orthogonal_projection(
    m: int,
    d: int,
    generator: torch.Generator | None = None,
    *,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """``m`` random directions ``ω_1..ω_m ∈ ℝ^d`` (rows of an ``(m, d)`` tensor), each marginally ``N(0, I_d)``.

    Rows come in blocks of ``d`` that are exactly orthogonal to each other (QR of a Gaussian matrix, sign-fixed
    so the block is Haar-distributed); each row is rescaled to the norm of an independent Gaussian vector, so
    its length is chi-distributed with ``d`` degrees of freedom as for an i.i.d. Gaussian row. The last block
    is truncated when ``d`` does not divide ``m``. Orthogonality lowers the variance of the Performer estimator
    (chapter ``attention/performer-linear``, C1).
    """
    for name, val in (("m", m), ("d", d)):
        if isinstance(val, bool) or not isinstance(val, int) or val < 1:
            raise ValueError(f"{name} must be a positive int, got {val!r}")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(
            f"generator must be a torch.Generator or None, got {type(generator).__name__}"
        )
    blocks = []
    for _ in range(-(-m // d)):
        g = torch.randn(d, d, generator=generator, dtype=torch.float64)
        qmat, rmat = torch.linalg.qr(g)
        qmat = qmat * torch.sign(torch.diagonal(rmat)).unsqueeze(0)
        blocks.append(qmat.T)
    w = torch.cat(blocks, 0)[:m]
    norms = torch.randn(m, d, generator=generator, dtype=torch.float64).norm(
        dim=1, keepdim=True
    )
    return (w * norms).to(dtype)


def performer_features(
    x: torch.Tensor, proj: torch.Tensor, kind: str = "positive"
) -> torch.Tensor:
    """Random features ``φ(x)`` with ``E[φ(q)·φ(k)] = exp(q·k)`` for ``ω`` rows of ``proj`` drawn ``N(0, I)``.

    ``x`` is ``(..., n, d)``, ``proj`` is ``(m, d)``.

    * ``"positive"``: ``φ(x) = exp(ω·x − ‖x‖²/2)/√m``, shape ``(..., n, m)``; every feature is positive.
    * ``"trig"``: ``φ(x) = exp(‖x‖²/2)/√m · [cos(ω·x), sin(ω·x)]``, shape ``(..., n, 2m)``; the estimate can
      be negative and its variance blows up where ``‖q‖, ‖k‖`` are large (large logits).

    Chapter ``attention/performer-linear``, C1. For ``exp(q·k/√d)`` pass ``x·d^{-1/4}``.
    """
    if not isinstance(x, torch.Tensor) or not isinstance(proj, torch.Tensor):
        raise TypeError(
            f"x and proj must be tensors, got {type(x).__name__} and {type(proj).__name__}"
        )
    if x.dim() < 1 or proj.dim() != 2 or proj.shape[1] != x.shape[-1]:
        raise ValueError(
            f"proj must have shape (m, d) with d = x.shape[-1] = {x.shape[-1] if x.dim() else None}, "
            f"got proj shape {tuple(proj.shape)}"
        )
    if kind not in ("positive", "trig"):
        raise ValueError(f"kind must be 'positive' or 'trig', got {kind!r}")
    m = proj.shape[0]
    wx = x @ proj.to(x.dtype).T
    half_sq = 0.5 * (x * x).sum(dim=-1, keepdim=True)
    if kind == "positive":
        return torch.exp(wx - half_sq) / math.sqrt(m)
    return (
        torch.exp(half_sq)
        / math.sqrt(m)
        * torch.cat([torch.cos(wx), torch.sin(wx)], dim=-1)
    )


# ---------------------------------------------------------------------------------------------------------
# Nyströmformer


def segment_means(x: torch.Tensor, m: int) -> torch.Tensor:
    """Means of ``m`` contiguous segments of the ``n`` rows of ``x`` ``(..., n, d)`` → ``(..., m, d)``.

    Row ``j`` belongs to segment ``⌊j·m/n⌋``, so segment sizes differ by at most one and every segment is
    non-empty when ``m ≤ n``; with ``m = n`` the result is ``x`` itself (the landmarks of the Nyströmformer,
    chapter ``attention/nystromformer``, C1).
    """
    if not isinstance(x, torch.Tensor) or x.dim() < 2:
        raise ValueError(
            f"x must be a tensor of shape (..., n, d), got {getattr(x, 'shape', type(x).__name__)}"
        )
    n = x.shape[-2]
    if isinstance(m, bool) or not isinstance(m, int) or not 1 <= m <= n:
        raise ValueError(
            f"m (number of segments) must be an int in [1, n={n}], got {m!r}"
        )
    ids = torch.div(torch.arange(n, device=x.device) * m, n, rounding_mode="floor")
    counts = torch.bincount(ids, minlength=m).to(x.dtype)
    out = x.new_zeros(*x.shape[:-2], m, x.shape[-1]).index_add_(-2, ids, x)
    return out / counts.unsqueeze(-1)


def iterative_pinv(a: torch.Tensor, n_iter: int = 6) -> torch.Tensor:
    """Approximate Moore–Penrose pseudo-inverse of square matrices ``a`` ``(..., m, m)`` by iteration.

    ``V₀ = aᵀ/(‖a‖₁‖a‖_∞)`` (largest column and row sums of ``|a|``, per matrix), then ``n_iter`` times
    ``V ← ¼ V (13I − aV(15I − aV(7I − aV)))``, the iteration of the Nyströmformer paper; it converges to
    ``a†`` (chapter ``attention/nystromformer``, C2). ``n_iter = 0`` returns ``V₀``.

    For invertible ``a`` more steps never hurt. For singular ``a`` the iterates converge to ``a†`` in exact
    arithmetic, but rounding errors in the null space of ``a`` are multiplied by 13/4 per step, so in floating
    point the error reaches a minimum and then grows: use a few steps (the paper's 6), not many.
    """
    if not isinstance(a, torch.Tensor) or a.dim() < 2 or a.shape[-1] != a.shape[-2]:
        raise ValueError(
            f"a must be a tensor of square matrices (..., m, m), got {getattr(a, 'shape', type(a).__name__)}"
        )
    if isinstance(n_iter, bool) or not isinstance(n_iter, int) or n_iter < 0:
        raise ValueError(f"n_iter must be an int >= 0, got {n_iter!r}")
    absa = a.abs()
    norm1 = absa.sum(dim=-2).amax(dim=-1)
    norminf = absa.sum(dim=-1).amax(dim=-1)
    denom = (norm1 * norminf).clamp_min(torch.finfo(a.dtype).tiny)
    vmat = a.transpose(-1, -2) / denom[..., None, None]
    eye = torch.eye(a.shape[-1], dtype=a.dtype, device=a.device)
    for _ in range(n_iter):
        av = a @ vmat
        vmat = 0.25 * vmat @ (13 * eye - av @ (15 * eye - av @ (7 * eye - av)))
    return vmat


def nystrom_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    num_landmarks: int,
    pinv_iters: int | None = 6,
    *,
    scale: float | None = None,
) -> torch.Tensor:
    """Nyström approximation of ``softmax(s·QKᵀ) V`` with segment-mean landmarks, shape ``(..., n, d_v)``.

    With ``Q̃ = segment_means(Q, m)``, ``K̃ = segment_means(K, m)`` it returns
    ``softmax(s·QK̃ᵀ) · pinv(softmax(s·Q̃K̃ᵀ)) · (softmax(s·Q̃Kᵀ) V)``, computed right to left in
    ``O(n m (d + d_v) + m³)``. ``pinv`` is :func:`iterative_pinv` with ``pinv_iters`` steps, or the exact
    ``torch.linalg.pinv`` when ``pinv_iters`` is ``None``. Exact for ``m = n`` (chapter
    ``attention/nystromformer``, C1): the landmarks are then the tokens, all three factors equal
    ``S = softmax(s·QKᵀ)`` and ``S S† S = S`` (with the iterative pinv: once it has converged). Non-causal
    only: the segment means mix future positions (C4). ``s`` defaults to ``1/√d``.
    """
    _check_qkv(q, k, v, causal=False)
    n = min(q.shape[-2], k.shape[-2])
    if (
        isinstance(num_landmarks, bool)
        or not isinstance(num_landmarks, int)
        or not 1 <= num_landmarks <= n
    ):
        raise ValueError(
            f"num_landmarks must be an int in [1, n={n}], got {num_landmarks!r}"
        )
    if pinv_iters is not None and (
        isinstance(pinv_iters, bool)
        or not isinstance(pinv_iters, int)
        or pinv_iters < 0
    ):
        raise ValueError(f"pinv_iters must be an int >= 0 or None, got {pinv_iters!r}")
    s = _default_scale(scale, q.shape[-1])
    ql = segment_means(q, num_landmarks)
    kl = segment_means(k, num_landmarks)
    f = torch.softmax((q @ kl.transpose(-1, -2)) * s, dim=-1)
    a = torch.softmax((ql @ kl.transpose(-1, -2)) * s, dim=-1)
    b = torch.softmax((ql @ k.transpose(-1, -2)) * s, dim=-1)
    a_pinv = (
        torch.linalg.pinv(a) if pinv_iters is None else iterative_pinv(a, pinv_iters)
    )
    return f @ (a_pinv @ (b @ v))
