"""Training and evaluating a causal language model, and the entropy of attention rows.

Chapters: book/position/* (the copy and language-model experiments).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ... import _validate as V

__all__ = ["attention_entropy", "lm_loss", "train_lm", "evaluate_lm"]


def attention_entropy(weights: torch.Tensor) -> torch.Tensor:
    """Shannon entropy (nats) of each attention row: ``-Σ_j w_ij log w_ij``, shape
    ``weights.shape[:-1]``.

    Zero weights contribute 0. Chapter: book/position/position-robustness, claim C1
    (entropy grows like log n without scaling).
    """
    V.tensor("weights", weights, shape="(..., n_k)", min_ndim=1, floating=True)
    if bool((weights < 0).any()):
        raise ValueError(f"weights must be >= 0, got min {float(weights.min()):.3g}")
    return -(torch.xlogy(weights, weights)).sum(-1)


def lm_loss(
    logits: torch.Tensor, targets: torch.Tensor, loss_mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Mean next-token cross-entropy: ``logits[:, t]`` predicts ``targets[:, t]`` (shift
    before calling).

    ``logits`` (b, n, V), ``targets`` (b, n) ints, ``loss_mask`` (b, n) bool/0-1
    selecting positions that count.
    """
    V.tensor("logits", logits, shape="(b, n, V)", ndim=3, floating=True)
    V.tensor("targets", targets, shape="(b, n)", integral=True)
    if targets.shape != logits.shape[:2]:
        raise ValueError(
            f"targets must have shape (b, n) = {tuple(logits.shape[:2])}, "
            f"got {tuple(targets.shape)}"
        )
    nll = F.cross_entropy(logits.transpose(1, 2), targets, reduction="none")
    if loss_mask is None:
        return nll.mean()
    V.tensor("loss_mask", loss_mask, shape="(b, n)")
    V.same_shape("loss_mask", loss_mask, "targets", targets)
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
    """Train a causal LM with AdamW and a linear-warmup/cosine schedule; returns the
    loss per step.

    ``batch_fn(step)`` returns ``(tokens, loss_mask)``: ``tokens`` (b, n+1) and a (b,
    n+1) mask of positions whose token is to be predicted; the model reads
    ``tokens[:, :-1]`` and predicts ``tokens[:, 1:]``. ``forward_kwargs`` (e.g.
    ``inv_freq``, ``attn_bias``, ``mask``) are passed to ``model`` on every step; a
    callable value is called with the model's input length ``n`` first (e.g.
    ``attn_bias=lambda n: ...`` built from learnable ``extra_params``, which are
    optimised together with the model). Chapters: book/position/*.
    """
    V.module("model", model)
    if not callable(batch_fn):
        raise TypeError(f"batch_fn must be callable, got {V.describe(batch_fn)}")
    steps = V.integer("steps", steps, minimum=1)
    lr = V.real("lr", lr, gt=0)
    warmup = V.integer("warmup", warmup, minimum=0)
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
    """Mean next-token loss (nats) and accuracy of a causal LM over the positions
    selected by ``loss_mask``.

    Same conventions as :func:`train_lm` (``tokens`` of shape (b, n+1); callables in
    ``forward_kwargs`` are called with ``n``). Returns ``(loss, accuracy)`` as floats.
    Chapters: book/position/*.
    """
    V.module("model", model)
    V.tensor("tokens", tokens, shape="(b, n+1)", ndim=2, integral=True)
    V.tensor("loss_mask", loss_mask, shape="(b, n+1)")
    V.same_shape("loss_mask", loss_mask, "tokens", tokens)
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
