"""The Nyströmformer approximation of softmax attention: chapter
``attention/nystromformer``.

Segment-mean landmarks (:func:`segment_means`), a Newton–Schulz-type pseudo-inverse
(:func:`iterative_pinv`) and the three-factor product (:func:`nystrom_attention`).
"""

from __future__ import annotations

import torch

from .. import _validate as V
from .softmax import _check_qkv, _default_scale

__all__ = ["segment_means", "iterative_pinv", "nystrom_attention"]


def segment_means(x: torch.Tensor, m: int) -> torch.Tensor:
    """Means of ``m`` contiguous segments of the ``n`` rows of ``x`` ``(..., n, d)`` →
    ``(..., m, d)``.

    Row ``j`` belongs to segment ``⌊j·m/n⌋``, so segment sizes differ by at most one and
    every segment is non-empty when ``m ≤ n``; with ``m = n`` the result is ``x`` itself
    (the landmarks of the Nyströmformer, chapter ``attention/nystromformer``, C1).
    """
    V.tensor("x", x, shape="(..., n, d)", min_ndim=2)
    n = x.shape[-2]
    m = V.integer("m", m, minimum=1)
    if m > n:
        raise ValueError(f"m must be <= n = {n} (one row per segment), got {m}")
    ids = torch.div(torch.arange(n, device=x.device) * m, n, rounding_mode="floor")
    counts = torch.bincount(ids, minlength=m).to(x.dtype)
    out = x.new_zeros(*x.shape[:-2], m, x.shape[-1]).index_add_(-2, ids, x)
    return out / counts.unsqueeze(-1)


def iterative_pinv(a: torch.Tensor, n_iter: int = 6) -> torch.Tensor:
    """Approximate Moore–Penrose pseudo-inverse of square matrices ``a`` ``(..., m, m)``
    by iteration.

    ``V₀ = aᵀ/(‖a‖₁‖a‖_∞)`` (largest column and row sums of ``|a|``, per matrix), then
    ``n_iter`` times ``V ← ¼ V (13I − aV(15I − aV(7I − aV)))``, the iteration of the
    Nyströmformer paper; it converges to ``a†`` (chapter ``attention/nystromformer``,
    C2). ``n_iter = 0`` returns ``V₀``.

    For invertible ``a`` more steps never hurt. For singular ``a`` the iterates converge
    to ``a†`` in exact arithmetic, but rounding errors in the null space of ``a`` are
    multiplied by 13/4 per step, so in floating point the error reaches a minimum and
    then grows: use a few steps (the paper's 6), not many.
    """
    V.tensor("a", a, shape="(..., m, m)", min_ndim=2, floating=True)
    if a.shape[-1] != a.shape[-2]:
        raise ValueError(
            f"a must have shape (..., m, m) (square), got {tuple(a.shape)}"
        )
    n_iter = V.integer("n_iter", n_iter, minimum=0)
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
    """Nyström approximation of ``softmax(s·QKᵀ) V`` with segment-mean landmarks, shape
    ``(..., n, d_v)``.

    With ``Q̃ = segment_means(Q, m)``, ``K̃ = segment_means(K, m)`` it returns
    ``softmax(s·QK̃ᵀ) · pinv(softmax(s·Q̃K̃ᵀ)) · (softmax(s·Q̃Kᵀ) V)``, computed right
    to left in ``O(n m (d + d_v) + m³)``. ``pinv`` is :func:`iterative_pinv` with
    ``pinv_iters`` steps, or the exact ``torch.linalg.pinv`` when ``pinv_iters`` is
    ``None``. Exact for ``m = n`` (chapter ``attention/nystromformer``, C1): the
    landmarks are then the tokens, all three factors equal ``S = softmax(s·QKᵀ)`` and
    ``S S† S = S`` (with the iterative pinv: once it has converged). Non-causal only:
    the segment means mix future positions (C4). ``s`` defaults to ``1/√d``.
    """
    _check_qkv(q, k, v, causal=False)
    n = min(q.shape[-2], k.shape[-2])
    num_landmarks = V.integer("num_landmarks", num_landmarks, minimum=1)
    if num_landmarks > n:
        raise ValueError(f"num_landmarks must be <= n = {n}, got {num_landmarks}")
    if pinv_iters is not None:
        pinv_iters = V.integer("pinv_iters", pinv_iters, minimum=0)
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
