"""One small masked Transformer, shared by every chapter that needs attention with a mask or a position scheme.

The position chapters (local attention, ALiBi/KERPLE, log-n scaling, RoPE scaling) and the UniVAE chapter all
train *the same* block; they differ only in what they pass to ``forward``:

* ``mask`` — which keys each query may see. Boolean (``True`` = may attend, the convention of
  ``torch.nn.functional.scaled_dot_product_attention``) or additive float (``0`` / ``-inf``).
  Shapes ``(n, n)``, ``(b, n, n)`` (one mask per sample) or ``(b|1, h|1, n, n)``.
* ``attn_bias`` — an additive float bias on the logits, e.g. ALiBi ``-λ_h|m-n|`` or KERPLE;
  shapes ``(n, n)``, ``(h, n, n)`` (one per head) or ``(b|1, h|1, n, n)``. It is *not* multiplied by
  ``logit_scale``.
* ``positions`` and ``inv_freq`` — rotary position embedding: q and k are rotated by
  :func:`kexue_lib.position.apply_rope` (its pairing convention) before the inner product; ``rotary`` is a
  free hook ``(q, k) -> (q, k)`` for other schemes (2-D RoPE, XPOS).
* ``logit_scale`` — multiplies ``q·k/√d`` (the log-n trick): a float, a tensor of shape ``(n,)`` (one factor
  per query position) or anything broadcastable to ``(b, h, n, 1)``.

The logits of one head are ``s_ij = logit_scale_i · (R_i q_i)·(R_j k_j)/√d_head + bias_ij + mask_ij`` and the
output is ``softmax_j(s_ij) v_j``. :class:`TinyTransformer` is a pre-LayerNorm causal language model built
from :class:`TransformerBlock`; optional absolute sinusoidal or learned position embeddings are added to the
token embeddings.

Chapters: book/position/local-attention, book/position/position-robustness, book/position/beta-base-rope,
book/vae/univae.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "causal_mask",
    "attention_logits_bias",
    "MultiHeadAttention",
    "TransformerBlock",
    "TinyTransformer",
    "attention_entropy",
    "lm_loss",
    "train_lm",
    "evaluate_lm",
]

Rotary = Callable[[torch.Tensor, torch.Tensor], "tuple[torch.Tensor, torch.Tensor]"]


def causal_mask(n: int, device=None) -> torch.Tensor:
    """Boolean lower-triangular mask of shape ``(n, n)``: entry ``[i, j]`` is True iff ``j <= i``.

    Chapter: book/position/local-attention (the causal LM of the experiment).
    """
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    return torch.ones(n, n, dtype=torch.bool, device=device).tril()


def _as_4d(
    t: torch.Tensor, name: str, n_q: int, n_k: int, three_d: str
) -> torch.Tensor:
    """Bring a mask/bias to 4-D ``(b|1, h|1, n_q, n_k)``; ``three_d`` says whether a 3-D tensor is per batch or head."""
    if not isinstance(t, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if t.dim() < 2 or t.dim() > 4:
        raise ValueError(
            f"{name} must have 2, 3 or 4 dimensions, got shape {tuple(t.shape)}"
        )
    if tuple(t.shape[-2:]) != (n_q, n_k):
        raise ValueError(
            f"{name} must end in (n_q, n_k) = ({n_q}, {n_k}), got shape {tuple(t.shape)}"
        )
    if t.dim() == 2:
        return t[None, None]
    if t.dim() == 3:
        return t[:, None] if three_d == "batch" else t[None]
    return t


def attention_logits_bias(
    mask: torch.Tensor | None,
    attn_bias: torch.Tensor | None,
    n_q: int,
    n_k: int,
    dtype: torch.dtype,
) -> torch.Tensor | None:
    """Combine a (boolean or additive) ``mask`` and an additive ``attn_bias`` into one float tensor.

    Returns ``None`` if both are ``None``; otherwise a tensor broadcastable to ``(b, h, n_q, n_k)`` holding
    ``bias + (0 where allowed, -inf where masked)``. Raises ``ValueError`` if a boolean mask leaves some query
    with no key at all (its softmax would be NaN).
    """
    out = None
    if mask is not None:
        m = _as_4d(mask, "mask", n_q, n_k, "batch")
        if m.dtype == torch.bool:
            if not bool(m.any(-1).all()):
                raise ValueError(
                    "mask must allow at least one key for every query, got a row that is all False"
                )
            out = torch.zeros(m.shape, dtype=dtype, device=m.device).masked_fill(
                ~m, float("-inf")
            )
        elif m.is_floating_point():
            if bool(torch.isnan(m).any()) or bool((m == float("inf")).any()):
                raise ValueError("mask (additive) must not contain NaN or +inf")
            if not bool(torch.isfinite(m).any(-1).all()):
                raise ValueError(
                    "mask must allow at least one key for every query, got a row that is all -inf"
                )
            out = m.to(dtype)
        else:
            raise ValueError(
                f"mask must be bool or floating point, got dtype {m.dtype}"
            )
    if attn_bias is not None:
        b = _as_4d(attn_bias, "attn_bias", n_q, n_k, "head")
        if not b.is_floating_point():
            raise ValueError(f"attn_bias must be floating point, got dtype {b.dtype}")
        if not bool(torch.isfinite(b).all()):
            raise ValueError("attn_bias must be finite (use mask for -inf entries)")
        out = b.to(dtype) if out is None else out + b.to(dtype)
    return out


class MultiHeadAttention(nn.Module):
    """Multi-head self-attention with a free mask, additive bias, rotary hook and logit scale.

    ``x`` has shape ``(b, n, d_model)``; the output has the same shape. ``d_model`` must be divisible by
    ``n_heads`` and the head size ``d_model // n_heads`` must be even (RoPE rotates pairs).
    See the module docstring for the arguments of :meth:`forward`.

    Chapters: book/position/local-attention (C2, C3), book/position/position-robustness (C1),
    book/position/beta-base-rope (C2–C4), book/vae/univae (C1).
    """

    def __init__(self, d_model: int, n_heads: int, *, bias: bool = False):
        super().__init__()
        if not isinstance(d_model, int) or d_model < 1:
            raise ValueError(f"d_model must be a positive int, got {d_model!r}")
        if not isinstance(n_heads, int) or n_heads < 1:
            raise ValueError(f"n_heads must be a positive int, got {n_heads!r}")
        if d_model % n_heads:
            raise ValueError(
                f"d_model must be divisible by n_heads, got d_model={d_model}, n_heads={n_heads}"
            )
        self.d_model, self.n_heads, self.d_head = d_model, n_heads, d_model // n_heads
        self.qkv = nn.Linear(d_model, 3 * d_model, bias=bias)
        self.out = nn.Linear(d_model, d_model, bias=bias)

    def forward(
        self,
        x: torch.Tensor,
        *,
        mask: torch.Tensor | None = None,
        attn_bias: torch.Tensor | None = None,
        positions: torch.Tensor | None = None,
        inv_freq: torch.Tensor | None = None,
        rotary: Rotary | None = None,
        logit_scale: float | torch.Tensor | None = None,
        return_weights: bool = False,
    ):
        if x.dim() != 3 or x.shape[-1] != self.d_model:
            raise ValueError(
                f"x must have shape (batch, n, {self.d_model}), got {tuple(x.shape)}"
            )
        b, n, _ = x.shape
        q, k, v = (
            self.qkv(x).view(b, n, 3, self.n_heads, self.d_head).permute(2, 0, 3, 1, 4)
        )  # (b, h, n, dh) each
        if inv_freq is not None:
            from kexue_lib.position import apply_rope

            if inv_freq.dim() != 1 or 2 * inv_freq.shape[0] != self.d_head:
                raise ValueError(
                    f"inv_freq must have shape (d_head/2,) = ({self.d_head // 2},), got {tuple(inv_freq.shape)}"
                )
            pos = torch.arange(n, device=x.device) if positions is None else positions
            if pos.shape[-1] != n:
                raise ValueError(
                    f"positions must end in n = {n}, got shape {tuple(pos.shape)}"
                )
            if (
                pos.dim() == 2
            ):  # (b, n): one position vector per sample, broadcast over heads
                pos = pos[:, None, :]
            q, k = apply_rope(q, pos, inv_freq), apply_rope(k, pos, inv_freq)
        if rotary is not None:
            q, k = rotary(q, k)
        # fold 1/sqrt(d_head) and the per-query logit scale into q: (s_i q_i)·k_j = s_i (q_i·k_j)
        q = q / math.sqrt(self.d_head)
        if logit_scale is not None:
            s = torch.as_tensor(logit_scale, dtype=q.dtype, device=q.device)
            if s.dim() == 1:
                if s.shape[0] != n:
                    raise ValueError(
                        f"logit_scale of shape (n,) must have n = {n}, got {tuple(s.shape)}"
                    )
                s = s[:, None]
            q = q * s
        extra = attention_logits_bias(mask, attn_bias, n, n, q.dtype)
        if not return_weights:  # fused kernel; same math as the explicit branch below
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=extra, scale=1.0)
            return self.out(y.transpose(1, 2).reshape(b, n, self.d_model))
        scores = q @ k.transpose(-1, -2)
        if extra is not None:
            scores = scores + extra
        w = scores.softmax(-1)
        y = (w @ v).transpose(1, 2).reshape(b, n, self.d_model)
        y = self.out(y)
        return (y, w) if return_weights else y


class TransformerBlock(nn.Module):
    """Pre-LayerNorm block: ``x + MHA(LN(x))`` then ``x + MLP(LN(x))`` with a GELU MLP of width ``mlp_ratio·d``.

    ``forward(x, **attn_kwargs)`` passes every keyword (mask, attn_bias, positions, inv_freq, rotary,
    logit_scale, return_weights) to :class:`MultiHeadAttention`.
    """

    def __init__(self, d_model: int, n_heads: int, *, mlp_ratio: int = 4):
        super().__init__()
        if not isinstance(mlp_ratio, int) or mlp_ratio < 1:
            raise ValueError(f"mlp_ratio must be a positive int, got {mlp_ratio!r}")
        self.ln1, self.ln2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.attn = MultiHeadAttention(d_model, n_heads)
        self.mlp = nn.Sequential(
            nn.Linear(d_model, mlp_ratio * d_model),
            nn.GELU(),
            nn.Linear(mlp_ratio * d_model, d_model),
        )

    def forward(self, x: torch.Tensor, return_weights: bool = False, **attn_kwargs):
        a = self.attn(self.ln1(x), return_weights=return_weights, **attn_kwargs)
        a, w = a if return_weights else (a, None)
        x = x + a
        x = x + self.mlp(self.ln2(x))
        return (x, w) if return_weights else x


class TinyTransformer(nn.Module):
    """A tiny Transformer language model: embedding → ``n_layers`` × :class:`TransformerBlock` → LN → logits.

    Parameters
    ----------
    vocab : int
        Vocabulary size; tokens are ints in ``[0, vocab)``.
    d_model, n_heads, n_layers : int
        Width, heads (head size must be even for RoPE), depth.
    abs_pos : {"none", "sinusoidal", "learned"}
        Absolute position embedding added to the token embeddings. ``"sinusoidal"`` uses
        :func:`kexue_lib.position.sinusoidal_pe` at the given positions (any length); ``"learned"`` needs
        ``max_len`` and fails for positions ``>= max_len``.
    causal : bool
        If True (default) a causal mask is AND-ed with any ``mask`` passed to :meth:`forward`.

    ``forward(tokens, mask=None, positions=None, **attn_kwargs)``: ``tokens`` of shape ``(b, n)`` → logits
    ``(b, n, vocab)``. ``mask`` may also be a list with one mask per layer (UniVAE's first-k-layers mask).
    ``positions`` (``(n,)`` or ``(b, n)``, default ``0..n-1``) feed both RoPE and absolute embeddings.
    Other keywords (``attn_bias``, ``inv_freq``, ``rotary``, ``logit_scale``) go to every layer.
    With ``return_weights=True`` also returns the list of attention weights ``(b, h, n, n)`` per layer.
    """

    def __init__(
        self,
        vocab: int,
        d_model: int = 32,
        n_heads: int = 2,
        n_layers: int = 2,
        *,
        abs_pos: str = "none",
        max_len: int | None = None,
        causal: bool = True,
        mlp_ratio: int = 4,
    ):
        super().__init__()
        if not isinstance(vocab, int) or vocab < 2:
            raise ValueError(f"vocab must be an int >= 2, got {vocab!r}")
        if not isinstance(n_layers, int) or n_layers < 1:
            raise ValueError(f"n_layers must be a positive int, got {n_layers!r}")
        if abs_pos not in ("none", "sinusoidal", "learned"):
            raise ValueError(
                f"abs_pos must be 'none', 'sinusoidal' or 'learned', got {abs_pos!r}"
            )
        if abs_pos == "learned" and (max_len is None or max_len < 1):
            raise ValueError(
                f"max_len must be a positive int when abs_pos='learned', got {max_len!r}"
            )
        self.vocab, self.d_model, self.n_layers = vocab, d_model, n_layers
        self.abs_pos, self.max_len, self.causal = abs_pos, max_len, causal
        self.embed = nn.Embedding(vocab, d_model)
        self.pos_embed = (
            nn.Embedding(max_len, d_model) if abs_pos == "learned" else None
        )
        self.blocks = nn.ModuleList(
            TransformerBlock(d_model, n_heads, mlp_ratio=mlp_ratio)
            for _ in range(n_layers)
        )
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab)

    def _absolute(self, positions: torch.Tensor) -> torch.Tensor:
        if self.abs_pos == "learned":
            if int(positions.max()) >= self.max_len:
                raise ValueError(
                    f"positions must be < max_len = {self.max_len}, got max {int(positions.max())}"
                )
            return self.pos_embed(positions)
        from kexue_lib.position import sinusoidal_pe

        table = sinusoidal_pe(int(positions.max()) + 1, self.d_model).to(
            self.embed.weight
        )
        return table[positions]

    def forward(
        self,
        tokens: torch.Tensor,
        *,
        mask: torch.Tensor | Sequence[torch.Tensor] | None = None,
        positions: torch.Tensor | None = None,
        return_weights: bool = False,
        **attn_kwargs,
    ):
        if tokens.dim() != 2 or tokens.dtype not in (torch.int64, torch.int32):
            raise ValueError(
                f"tokens must be an integer tensor of shape (batch, n), got {tuple(tokens.shape)}"
            )
        if tokens.numel() and (
            int(tokens.min()) < 0 or int(tokens.max()) >= self.vocab
        ):
            raise ValueError(
                f"tokens must lie in [0, {self.vocab}), got range [{int(tokens.min())}, {int(tokens.max())}]"
            )
        b, n = tokens.shape
        if positions is not None:
            positions = torch.as_tensor(positions, device=tokens.device)
            if positions.shape[-1] != n or positions.dim() not in (1, 2):
                raise ValueError(
                    f"positions must have shape (n,) or (batch, n) with n = {n}, got {tuple(positions.shape)}"
                )
            if positions.is_floating_point() and self.abs_pos != "none":
                raise ValueError("positions must be integers when abs_pos is used")
            if int(positions.min()) < 0:
                raise ValueError(
                    f"positions must be >= 0, got min {int(positions.min())}"
                )
        masks = (
            list(mask) if isinstance(mask, (list, tuple)) else [mask] * self.n_layers
        )
        if len(masks) != self.n_layers:
            raise ValueError(
                f"mask as a list must have n_layers = {self.n_layers} entries, got {len(masks)}"
            )
        if self.causal:
            c = causal_mask(n, device=tokens.device)
            masks = [c if m is None else _and_causal(m, c) for m in masks]
        h = self.embed(tokens)
        if self.abs_pos != "none":
            pos = (
                torch.arange(n, device=tokens.device)
                if positions is None
                else positions.long()
            )
            h = h + self._absolute(pos)
        weights = []
        for block, m in zip(self.blocks, masks):
            out = block(
                h,
                mask=m,
                positions=positions,
                return_weights=return_weights,
                **attn_kwargs,
            )
            if return_weights:
                h, w = out
                weights.append(w)
            else:
                h = out
        logits = self.head(self.norm(h))
        return (logits, weights) if return_weights else logits


def _and_causal(m: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """Intersect a boolean or additive mask with the boolean causal mask ``c``."""
    if m.dtype == torch.bool:
        return m & c
    return m.masked_fill(~c, float("-inf"))


def attention_entropy(weights: torch.Tensor) -> torch.Tensor:
    """Shannon entropy (nats) of each attention row: ``-Σ_j w_ij log w_ij``, shape ``weights.shape[:-1]``.

    Zero weights contribute 0. Chapter: book/position/position-robustness, claim C1 (entropy grows like log n
    without scaling).
    """
    if not weights.is_floating_point():
        raise ValueError(f"weights must be floating point, got dtype {weights.dtype}")
    if bool((weights < 0).any()):
        raise ValueError("weights must be >= 0")
    return -(torch.xlogy(weights, weights)).sum(-1)


def lm_loss(
    logits: torch.Tensor, targets: torch.Tensor, loss_mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Mean next-token cross-entropy: ``logits[:, t]`` predicts ``targets[:, t]`` (shift before calling).

    ``logits`` (b, n, V), ``targets`` (b, n) ints, ``loss_mask`` (b, n) bool/0-1 selecting positions that count.
    """
    if logits.dim() != 3 or targets.shape != logits.shape[:2]:
        raise ValueError(
            f"logits must be (b, n, V) and targets (b, n), got {tuple(logits.shape)} and {tuple(targets.shape)}"
        )
    nll = F.cross_entropy(logits.transpose(1, 2), targets, reduction="none")
    if loss_mask is None:
        return nll.mean()
    if loss_mask.shape != targets.shape:
        raise ValueError(
            f"loss_mask must have shape {tuple(targets.shape)}, got {tuple(loss_mask.shape)}"
        )
    w = loss_mask.to(nll.dtype)
    if float(w.sum()) == 0:
        raise ValueError("loss_mask selects no position")
    return (nll * w).sum() / w.sum()


def train_lm(
    model: nn.Module,
    batch_fn: Callable[[int], tuple[torch.Tensor, torch.Tensor]],
    steps: int,
    *,
    lr: float = 3e-3,
    warmup: int = 20,
    extra_params: Sequence[torch.Tensor] = (),
    **forward_kwargs,
) -> list[float]:
    """Train a causal LM with AdamW and a linear-warmup/cosine schedule; returns the loss per step.

    ``batch_fn(step)`` returns ``(tokens, loss_mask)``: ``tokens`` (b, n+1) and a (b, n+1) mask of positions
    whose token is to be predicted; the model reads ``tokens[:, :-1]`` and predicts ``tokens[:, 1:]``.
    ``forward_kwargs`` (e.g. ``inv_freq``, ``attn_bias``, ``mask``) are passed to ``model`` on every step; a
    callable value is called with the model's input length ``n`` first (e.g. ``attn_bias=lambda n: ...`` built
    from learnable ``extra_params``, which are optimised together with the model). Chapters: book/position/*.
    """
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    if lr <= 0:
        raise ValueError(f"lr must be > 0, got {lr}")
    opt = torch.optim.AdamW(
        [*model.parameters(), *extra_params], lr=lr, weight_decay=0.01
    )
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt,
        lambda s: (
            min(1.0, (s + 1) / max(1, warmup))
            * 0.5
            * (1 + math.cos(math.pi * min(s, steps) / steps))
        ),
    )
    losses = []
    model.train()
    for step in range(steps):
        tokens, loss_mask = batch_fn(step)
        n = tokens.shape[1] - 1
        kwargs = {
            k: (v(n) if callable(v) and k != "rotary" else v)
            for k, v in forward_kwargs.items()
        }
        logits = model(tokens[:, :-1], **kwargs)
        loss = lm_loss(logits, tokens[:, 1:], loss_mask[:, 1:])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
    model.eval()
    return losses


@torch.no_grad()
def evaluate_lm(
    model: nn.Module, tokens: torch.Tensor, loss_mask: torch.Tensor, **forward_kwargs
) -> tuple[float, float]:
    """Mean next-token loss (nats) and accuracy of a causal LM over the positions selected by ``loss_mask``.

    Same conventions as :func:`train_lm` (``tokens`` of shape (b, n+1); callables in ``forward_kwargs`` are
    called with ``n``). Returns ``(loss, accuracy)`` as floats. Chapters: book/position/*.
    """
    if tokens.dim() != 2 or tokens.shape != loss_mask.shape:
        raise ValueError(
            f"tokens and loss_mask must have the same shape (b, n+1), got {tuple(tokens.shape)}, {tuple(loss_mask.shape)}"
        )
    was_training = model.training
    model.eval()
    n = tokens.shape[1] - 1
    kwargs = {
        k: (v(n) if callable(v) and k != "rotary" else v)
        for k, v in forward_kwargs.items()
    }
    logits = model(tokens[:, :-1], **kwargs)
    tgt, m = tokens[:, 1:], loss_mask[:, 1:]
    loss = lm_loss(logits, tgt, m)
    acc = ((logits.argmax(-1) == tgt) & m).sum() / m.sum()
    model.train(was_training)
    return float(loss), float(acc)
