"""Training and scoring the tiny causal language models of the position part.

Three chapters — ``book/position/local-attention``,
``book/position/position-robustness`` and ``book/position/beta-base-rope`` — train *the
same* model: a
:class:`~kexue_lib.nn.TinyTransformer` trained by :func:`~kexue_lib.nn.train_lm` at one
length on a synthetic task, for several seeds, then scored at longer lengths under
different position schemes. This module is that shared recipe:

* :func:`train_tiny_lms` builds one model per job (a seed and, optionally, a
  configuration), seeds its initialisation and its stream of training batches, and
  trains all jobs concurrently (:func:`parallel_map`);
* :func:`token_scores` scores a trained model on a test batch, token by token, in
  chunks that bound the memory of long sequences; :class:`TokenScores` turns the result
  into a loss, an accuracy or a per-position loss curve.

**Why one process per job.** The models are tiny: a training step is a few hundred
small tensor operations, each far too small to gain from several intra-op threads.
:func:`~kexue_lib.parallel.parallel_map` runs one job per core, each with *one*
intra-op thread (in forked worker processes where possible, see
:mod:`kexue_lib.parallel`), so the numbers do not depend on the number of workers or of
cores: a run is reproducible on any machine.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Mapping
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from .. import _validate as V
from ..parallel import parallel_map
from .transformer import TinyTransformer, train_lm

__all__ = [
    "parallel_map",
    "TrainedLM",
    "train_tiny_lm",
    "train_tiny_lms",
    "TokenScores",
    "token_scores",
]

#: Offset between a job's seed and the seed of its stream of training batches, so that
#: the initialisation (global RNG seeded with ``seed``) and the data (a generator seeded
#: with ``seed + DATA_SEED_OFFSET``) are different random streams.
DATA_SEED_OFFSET = 1_000_003

Task = Callable[..., tuple[torch.Tensor, torch.Tensor]]


class TrainedLM(NamedTuple):
    """A model trained by :func:`train_tiny_lm`.

    ``model`` is in eval mode; ``losses`` are the training losses per step;
    ``forward_kwargs`` are the keyword arguments the model was trained with (e.g. the
    RoPE ``inv_freq`` or a learnable ALiBi/KERPLE bias), to be passed again when it is
    scored; ``extra_params`` the learnable tensors trained along with the model.
    """

    model: TinyTransformer
    losses: list[float]
    seed: int
    forward_kwargs: dict[str, Any]
    extra_params: list[torch.Tensor]


def _build(
    seed: int,
    vocab: int,
    d_model: int,
    n_heads: int,
    n_layers: int,
    mlp_ratio: int,
    forward_kwargs,
) -> tuple[TinyTransformer, dict, list]:
    """Model and keyword arguments of one job, initialised from ``seed``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = TinyTransformer(vocab, d_model, n_heads, n_layers, mlp_ratio=mlp_ratio)
        if callable(forward_kwargs):
            kwargs = forward_kwargs(seed)
        else:
            kwargs = forward_kwargs
    if kwargs is None:
        kwargs = {}
    if not isinstance(kwargs, Mapping):
        raise TypeError(
            f"forward_kwargs must be a mapping or a callable seed -> mapping, "
            f"got {V.describe(kwargs)}"
        )
    kwargs = dict(kwargs)
    extra = list(kwargs.pop("extra_params", ()))
    for i, p in enumerate(extra):
        if not isinstance(p, torch.Tensor) or not p.requires_grad:
            raise TypeError(
                f"extra_params[{i}] must be a tensor with requires_grad=True, "
                f"got {V.describe(p)}"
            )
    return model, kwargs, extra


def _check_job(
    task,
    seed,
    vocab,
    train_len,
    steps,
    batch,
    d_model,
    n_heads,
    n_layers,
    mlp_ratio,
    lr,
    warmup,
) -> dict:
    if not callable(task):
        raise TypeError(
            f"task must be callable (batch, n, *, generator) -> (tokens, mask), "
            f"got {V.describe(task)}"
        )
    out = dict(
        seed=V.integer("seed", seed, minimum=0, maximum=2**31 - 1),
        vocab=V.integer("vocab", vocab, minimum=2),
        train_len=V.integer("train_len", train_len, minimum=1),
        steps=V.integer("steps", steps, minimum=1),
        batch=V.integer("batch", batch, minimum=1),
        d_model=V.integer("d_model", d_model, minimum=1),
        n_heads=V.integer("n_heads", n_heads, minimum=1),
        n_layers=V.integer("n_layers", n_layers, minimum=1),
        mlp_ratio=V.integer("mlp_ratio", mlp_ratio, minimum=1),
        lr=V.real("lr", lr, gt=0),
        warmup=V.integer("warmup", warmup, minimum=0),
    )
    if out["d_model"] % out["n_heads"] or (out["d_model"] // out["n_heads"]) % 2:
        raise ValueError(
            f"d_model must be a multiple of n_heads with an even head size, "
            f"got d_model={out['d_model']}, n_heads={out['n_heads']}"
        )
    return out


def _fit(task, job: dict, model, kwargs, extra) -> TrainedLM:
    gen = torch.Generator().manual_seed(job["seed"] + DATA_SEED_OFFSET)
    batch, n = job["batch"], job["train_len"] + 1

    def batch_fn(step: int):
        tokens, loss_mask = task(batch, n, generator=gen)
        if tokens.shape != (batch, n) or loss_mask.shape != (batch, n):
            raise ValueError(
                f"task must return tokens and loss_mask of shape (batch, train_len + 1)"
                f" = {(batch, n)}, got {tuple(tokens.shape)} and "
                f"{tuple(loss_mask.shape)}"
            )
        return tokens, loss_mask

    losses = train_lm(
        model,
        batch_fn,
        job["steps"],
        lr=job["lr"],
        warmup=job["warmup"],
        extra_params=extra,
        **kwargs,
    )
    for p in extra:
        p.requires_grad_(False)
    return TrainedLM(model.eval(), losses, job["seed"], kwargs, extra)


def _fit_state(task, prepared) -> tuple[dict, list[float], list[torch.Tensor]]:
    """Train one prepared job and return what a worker process sends back: the
    model's trained state, the losses and the values of the extra parameters."""
    _, job, model, kwargs, extra = prepared
    trained = _fit(task, job, model, kwargs, extra)
    return trained.model.state_dict(), trained.losses, [p.detach() for p in extra]


def train_tiny_lm(
    task: Task,
    *,
    seed: int,
    vocab: int,
    train_len: int,
    steps: int,
    batch: int = 32,
    d_model: int = 32,
    n_heads: int = 1,
    n_layers: int = 2,
    mlp_ratio: int = 4,
    lr: float = 1e-2,
    warmup: int = 20,
    forward_kwargs: Mapping[str, Any] | Callable[[int], Mapping] | None = None,
) -> TrainedLM:
    """Train one :class:`TinyTransformer` on ``task`` at length ``train_len``.

    ``task(batch, n, *, generator)`` returns ``(tokens, loss_mask)`` of shape
    ``(batch, n)`` (e.g. ``functools.partial(copy_task, vocab=16, period=(2, 8))`` or
    :func:`kexue_lib.data.markov_language`); the model reads ``n = train_len`` tokens
    and predicts the next ones (:func:`~kexue_lib.nn.train_lm`: AdamW, linear warm-up
    then cosine decay, gradient clipping at 1).

    ``seed`` fixes everything random: the initialisation (global RNG seeded with
    ``seed``, restored afterwards) and the training batches (a generator seeded with
    ``seed + DATA_SEED_OFFSET``). ``forward_kwargs`` are passed to the model at every
    step (a callable value is called with the length first, as in ``train_lm``); give a
    callable ``seed -> dict`` to build per-seed objects, e.g. a generator for random
    position ids or learnable bias parameters, which go under the key
    ``"extra_params"`` and are optimised with the model.

    Returns a :class:`TrainedLM` (the model in eval mode). Runs in the calling thread
    with the current number of intra-op threads; :func:`train_tiny_lms` trains many.
    """
    job = _check_job(
        task,
        seed,
        vocab,
        train_len,
        steps,
        batch,
        d_model,
        n_heads,
        n_layers,
        mlp_ratio,
        lr,
        warmup,
    )
    model, kwargs, extra = _build(
        job["seed"],
        job["vocab"],
        job["d_model"],
        job["n_heads"],
        job["n_layers"],
        job["mlp_ratio"],
        forward_kwargs,
    )
    return _fit(task, job, model, kwargs, extra)


_DEFAULTS = dict(
    batch=32, d_model=32, n_heads=1, n_layers=2, mlp_ratio=4, lr=1e-2, warmup=20
)
_JOB_KEYS = (
    "seed",
    "vocab",
    "train_len",
    "steps",
    "batch",
    "d_model",
    "n_heads",
    "n_layers",
    "mlp_ratio",
    "lr",
    "warmup",
    "forward_kwargs",
)


def train_tiny_lms(
    task: Task,
    jobs: Mapping[Hashable, Mapping[str, Any]],
    *,
    workers: int | None = None,
    **common,
) -> dict[Hashable, TrainedLM]:
    """Train one model per job concurrently; returns ``{key: TrainedLM}`` in job order.

    ``jobs`` maps a key (e.g. ``("RoPE", 0)``) to the keyword arguments of
    :func:`train_tiny_lm` that differ between jobs (at least ``seed``); ``common``
    holds the shared ones. Models and their per-seed arguments are built one after the
    other in the calling thread (so initialisations do not depend on scheduling);
    training then runs through :func:`parallel_map` with one intra-op thread per job, so
    the result is the same for any ``workers``. The trained weights and extra
    parameters are copied back into the models built here; other state that a job
    changes while training (e.g. a generator of random positions in its
    ``forward_kwargs``) may be left as it was before training.

    Chapters: book/position/local-attention, position-robustness, beta-base-rope.
    """
    if not isinstance(jobs, Mapping) or not jobs:
        raise (TypeError if not isinstance(jobs, Mapping) else ValueError)(
            f"jobs must be a non-empty mapping key -> dict of arguments, "
            f"got {V.describe(jobs)}"
        )
    prepared = []
    for key, spec in jobs.items():
        if not isinstance(spec, Mapping):
            raise TypeError(
                f"jobs[{key!r}] must be a mapping of arguments, got {V.describe(spec)}"
            )
        args = {**common, **spec}
        unknown = set(args) - set(_JOB_KEYS)
        if unknown:
            raise TypeError(
                f"jobs[{key!r}] got unknown arguments {sorted(unknown)}; "
                f"expected some of {list(_JOB_KEYS)}"
            )
        missing = {"seed", "vocab", "train_len", "steps"} - set(args)
        if missing:
            raise TypeError(f"jobs[{key!r}] is missing arguments {sorted(missing)}")
        fkw = args.pop("forward_kwargs", None)
        job = _check_job(task, **{**_DEFAULTS, **args})
        model, kwargs, extra = _build(
            job["seed"],
            job["vocab"],
            job["d_model"],
            job["n_heads"],
            job["n_layers"],
            job["mlp_ratio"],
            fkw,
        )
        prepared.append((key, job, model, kwargs, extra))
    states = parallel_map(lambda p: _fit_state(task, p), prepared, workers=workers)
    out = {}
    for (key, job, model, kwargs, extra), (state, losses, values) in zip(
        prepared, states
    ):
        model.load_state_dict(state)  # trained in a worker process (or in place)
        with torch.no_grad():
            for p, v in zip(extra, values):
                p.copy_(v)
                p.requires_grad_(False)
        out[key] = TrainedLM(model.eval(), losses, job["seed"], kwargs, extra)
    return out


class TokenScores(NamedTuple):
    """Per-token scores of a causal LM on a test batch, all of shape ``(b, n)``.

    ``nll[i, t]`` is the negative log-likelihood (nats) of ``tokens[i, t + 1]`` given
    ``tokens[i, :t + 1]``, ``correct[i, t]`` whether it was the arg-max prediction, and
    ``mask[i, t]`` whether that position counts (the task's loss mask, shifted).
    """

    nll: torch.Tensor
    correct: torch.Tensor
    mask: torch.Tensor

    def loss(self) -> float:
        """Mean NLL over the counted positions."""
        return float(self.nll[self.mask].mean())

    def accuracy(self) -> float:
        """Fraction of counted positions predicted correctly."""
        return float(self.correct[self.mask].double().mean())

    def per_position_loss(self) -> torch.Tensor:
        """Mean NLL at each position over the sequences where it counts, shape ``(n,)``
        (NaN where no sequence counts)."""
        w = self.mask.double()
        return (self.nll.double() * w).sum(0) / w.sum(0)


_PER_SAMPLE = {"positions": 2, "mask": 3}


@torch.no_grad()
def token_scores(
    model: nn.Module,
    tokens: torch.Tensor,
    loss_mask: torch.Tensor,
    *,
    max_scores: int = 2**22,
    **forward_kwargs,
) -> TokenScores:
    """Score a causal LM token by token: the model reads ``tokens[:, :-1]`` and predicts
    ``tokens[:, 1:]`` (same conventions as :func:`~kexue_lib.nn.evaluate_lm`).

    ``tokens`` and ``loss_mask`` have shape ``(b, n + 1)``. ``forward_kwargs`` go to
    the model; a callable value is called with ``n`` first (``"rotary"`` excepted). The
    batch is processed in chunks of rows so that one attention map holds at most
    ``max_scores`` logits per head (``rows · n² ≤ max_scores``); per-sample arguments —
    ``positions`` of shape ``(b, n)`` and ``mask`` of shape ``(b, n, n)`` — are chunked
    along with the rows.

    Returns :class:`TokenScores` with tensors of shape ``(b, n)``.
    Chapters: book/position/local-attention, position-robustness, beta-base-rope.
    """
    V.module("model", model)
    V.tensor("tokens", tokens, shape="(b, n+1)", ndim=2, integral=True)
    V.tensor("loss_mask", loss_mask, shape="(b, n+1)", ndim=2)
    V.same_shape("loss_mask", loss_mask, "tokens", tokens)
    max_scores = V.integer("max_scores", max_scores, minimum=1)
    b, n = tokens.shape[0], tokens.shape[1] - 1
    if n < 1:
        raise ValueError(f"tokens must have at least 2 columns, got {tokens.shape[1]}")
    kwargs = {
        k: (v(n) if callable(v) and k != "rotary" else v)
        for k, v in forward_kwargs.items()
    }
    rows = max(1, min(b, max_scores // (n * n)))
    was_training = model.training
    model.eval()
    nll, correct = [], []
    try:
        for lo in range(0, b, rows):
            hi = min(b, lo + rows)
            kw = {}
            for k, v in kwargs.items():
                per_sample = (
                    k in _PER_SAMPLE
                    and isinstance(v, torch.Tensor)
                    and v.dim() == _PER_SAMPLE[k]
                    and v.shape[0] == b
                )
                kw[k] = v[lo:hi] if per_sample else v
            logits = model(tokens[lo:hi, :-1], **kw)
            tgt = tokens[lo:hi, 1:]
            nll.append(
                F.cross_entropy(logits.transpose(1, 2), tgt, reduction="none").float()
            )
            correct.append(logits.argmax(-1) == tgt)
    finally:
        model.train(was_training)
    mask = loss_mask[:, 1:].bool()
    if not bool(mask.any()):
        raise ValueError("loss_mask selects no position to score")
    out = TokenScores(torch.cat(nll), torch.cat(correct), mask)
    if not math.isfinite(out.loss()):
        raise ValueError("the model produced a non-finite loss on these tokens")
    return out
