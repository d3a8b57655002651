"""Reading comprehension as sequence to sequence: a UniLM decoder read over several
passages at once, with the passages' next-token distributions averaged at every step.

Chapter ``nlp/seq2seq-qa`` (post https://kexue.fm/archives/7115; UniLM, Dong et al.
2019). One :class:`~kexue_lib.nn.TinyTransformer` with ``causal=False`` and the mask
:func:`~kexue_lib.nn.unilm_mask` reads ``source = question + passage``
bidirectionally and generates the answer causally after it. For a question with P
passages the decoder runs once per passage and beam search uses, at each step, the
average over the passages of the predicted distributions (claim C2):

* passages whose most likely *first* token is the end token say "no answer here" and
  are dropped; if all are dropped the question has no answer (rejection);
* the kept passages' next-token distributions are averaged (``average="prob"``: the
  mean of the probabilities, as the post does; ``"logprob"``: the renormalised mean of
  the log-probabilities, a geometric mean);
* with ``extract_from`` the answer must be a contiguous piece of one of the kept
  passages (claim C3): a token is allowed only if the answer so far followed by it
  occurs in such a passage, and the end token only after a non-empty answer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import nn

from .. import _validate as V
from ..nn.transformer.attention import unilm_mask

__all__ = [
    "Answer",
    "average_next_token",
    "extractive_allowed",
    "multi_passage_beam_search",
]


class Answer(NamedTuple):
    """Result of :func:`multi_passage_beam_search`: the answer tokens (empty list =
    no answer), its total log-probability under the averaged distributions, and the
    indices of the passages kept (those not saying "no answer")."""

    tokens: list[int]
    logprob: float
    kept: list[int]


def average_next_token(logprobs: torch.Tensor, average: str = "prob") -> torch.Tensor:
    """Average next-token distributions over passages (dimension 0).

    ``logprobs`` (P, ..., V) holds log-probabilities (each row a normalised
    distribution). Returns the log of the averaged distribution, shape (..., V):
    ``log(mean_p exp(logprobs[p]))`` for ``average="prob"`` (the post's choice), or
    ``log_softmax(mean_p logprobs[p])`` for ``"logprob"``. Chapter ``nlp/seq2seq-qa``,
    claim C2.
    """
    V.tensor("logprobs", logprobs, shape="(P, ..., V)", min_ndim=2, floating=True)
    V.choice("average", average, ("prob", "logprob"))
    if logprobs.shape[0] < 1:
        raise ValueError(
            f"logprobs must hold at least one passage, got shape "
            f"{tuple(logprobs.shape)}"
        )
    if bool(torch.isnan(logprobs).any()) or bool((logprobs > 1e-6).any()):
        raise ValueError("logprobs must be log-probabilities (<= 0, no NaN)")
    if average == "prob":
        return torch.logsumexp(logprobs, 0) - math.log(logprobs.shape[0])
    return torch.log_softmax(logprobs.mean(0), -1)


def _as_token_lists(name: str, seqs) -> list[list[int]]:
    if isinstance(seqs, torch.Tensor):
        V.tensor(name, seqs, shape="(P, L)", ndim=2, integral=True)
        return [row.tolist() for row in seqs]
    if not isinstance(seqs, Sequence) or isinstance(seqs, str):
        raise TypeError(
            f"{name} must be a (P, L) integer tensor or a list of token sequences, "
            f"got {V.describe(seqs)}"
        )
    out = []
    for s in seqs:
        if isinstance(s, torch.Tensor):
            V.tensor(name, s, shape="(L,)", ndim=1, integral=True)
            s = s.tolist()
        if not isinstance(s, Sequence) or not all(
            isinstance(t, int) and not isinstance(t, bool) for t in s
        ):
            raise TypeError(
                f"{name} must contain sequences of ints, got {V.describe(s)}"
            )
        out.append(list(s))
    return out


def extractive_allowed(
    prefix: Sequence[int], passages, vocab: int, end_token: int
) -> torch.Tensor:
    """Boolean mask (vocab,) of the tokens that may follow the answer ``prefix`` if the
    answer must be a contiguous substring of one of ``passages``.

    Token ``w`` is allowed iff ``prefix + [w]`` occurs contiguously in some passage;
    ``end_token`` is allowed iff ``prefix`` is non-empty and occurs in some passage.
    ``passages`` is a (P, L) integer tensor or a list of token sequences. Chapter
    ``nlp/seq2seq-qa``, claim C3.
    """
    vocab = V.integer("vocab", vocab, minimum=2)
    end_token = V.integer("end_token", end_token, minimum=0)
    if end_token >= vocab:
        raise ValueError(f"end_token must be < vocab = {vocab}, got {end_token}")
    prefix = _as_token_lists("prefix", [prefix])[0]
    texts = _as_token_lists("passages", passages)
    allowed = torch.zeros(vocab, dtype=torch.bool)
    m = len(prefix)
    for text in texts:
        for i in range(len(text) - m + 1):
            if text[i : i + m] != prefix:
                continue
            if m > 0:
                allowed[end_token] = True
            if i + m < len(text) and 0 <= text[i + m] < vocab:
                allowed[text[i + m]] = True
    return allowed


@torch.no_grad()
def multi_passage_beam_search(
    model: nn.Module,
    sources: torch.Tensor,
    max_len: int,
    *,
    end_token: int,
    beam_size: int = 1,
    average: str = "prob",
    drop_no_answer: bool = True,
    extract_from=None,
) -> Answer:
    """Decode one answer from P passages of the same question with a UniLM model.

    ``sources`` (P, S): each row the source (question + passage) of one passage, all of
    the same length. ``model(tokens, mask=unilm_mask(segment_ids))`` must return
    logits (b, n, V) (a :class:`~kexue_lib.nn.TinyTransformer` with ``causal=False``).
    At every step each partial answer is appended to every kept passage's source, the
    next-token log-probabilities are averaged over the kept passages
    (:func:`average_next_token`) and the ``beam_size`` best partial answers by total
    averaged log-probability are kept (``beam_size=1``: greedy). A beam ends with
    ``end_token``; the search stops when the best ended answer beats every live one
    (scores only decrease) or after ``max_len`` answer tokens (then the best live beam
    is returned as it stands).

    ``drop_no_answer``: first drop the passages whose most likely first token is
    ``end_token``; if none remains, return the empty answer (no answer) with the
    averaged log-probability of ending at once; the answer from the kept passages is
    then non-empty. With ``drop_no_answer=False`` all passages are averaged from the
    first step and the empty answer competes like any other (unless extractive).
    ``extract_from`` (P, L) tensor or list of P token sequences: restrict the answer
    to substrings of the kept passages (:func:`extractive_allowed`). Chapter
    ``nlp/seq2seq-qa``, claims C2 and C3.
    """
    V.module("model", model)
    V.tensor("sources", sources, shape="(P, S)", ndim=2, integral=True)
    if sources.shape[0] < 1 or sources.shape[1] < 1:
        raise ValueError(f"sources must be non-empty, got {tuple(sources.shape)}")
    max_len = V.integer("max_len", max_len, minimum=1)
    end_token = V.integer("end_token", end_token, minimum=0)
    beam_size = V.integer("beam_size", beam_size, minimum=1)
    V.choice("average", average, ("prob", "logprob"))
    drop_no_answer = V.boolean("drop_no_answer", drop_no_answer)
    texts = None
    if extract_from is not None:
        texts = _as_token_lists("extract_from", extract_from)
        if len(texts) != sources.shape[0]:
            raise ValueError(
                f"extract_from must hold one sequence per source "
                f"(P = {sources.shape[0]}), got {len(texts)}"
            )
    was_training = model.training
    model.eval()
    try:
        p_all, s = sources.shape

        def step_logprobs(src: torch.Tensor, beams: list[list[int]]) -> torch.Tensor:
            # (P, k, V): next-token log-probabilities of every passage for every beam
            p, k, t = src.shape[0], len(beams), len(beams[0])
            body = torch.tensor(beams, dtype=src.dtype, device=src.device)
            tokens = torch.cat([src.repeat_interleave(k, 0), body.repeat(p, 1)], 1)
            seg = torch.cat(
                [
                    torch.zeros(s, dtype=torch.long),
                    torch.ones(t, dtype=torch.long),
                ]
            ).to(src.device)
            logits = model(tokens, mask=unilm_mask(seg))
            return torch.log_softmax(logits[:, -1].double(), -1).view(p, k, -1)

        first = step_logprobs(sources, [[]])[:, 0]  # (P, V)
        if end_token >= first.shape[-1]:
            raise ValueError(
                f"end_token must be < vocab = {first.shape[-1]}, got {end_token}"
            )
        kept = list(range(p_all))
        if drop_no_answer:
            kept = [i for i in kept if int(first[i].argmax()) != end_token]
            if not kept:
                score = float(average_next_token(first, average)[end_token])
                return Answer([], score, [])
        src = sources[kept]
        passages = None if texts is None else [texts[i] for i in kept]
        vocab = first.shape[-1]
        beams: list[list[int]] = [[]]
        scores = torch.zeros(1, dtype=torch.float64)
        logp = average_next_token(first[kept].unsqueeze(1), average)  # (1, V)
        best: tuple[list[int], float] | None = None
        for step in range(max_len):
            if step > 0:
                logp = average_next_token(step_logprobs(src, beams), average)
            if passages is not None:
                allow = torch.stack(
                    [extractive_allowed(b, passages, vocab, end_token) for b in beams]
                )
                logp = logp.masked_fill(~allow, float("-inf"))
            elif step == 0 and drop_no_answer:
                logp = logp.clone()
                logp[:, end_token] = float("-inf")  # kept passages hold an answer
            total = (scores[:, None] + logp).flatten()
            top, flat = total.topk(min(beam_size, total.numel()))
            new_beams, new_scores = [], []
            for sc, f in zip(top.tolist(), flat.tolist()):
                if sc == float("-inf"):
                    continue
                parent, tok = divmod(f, vocab)
                if tok == end_token:
                    if best is None or sc > best[1]:
                        best = (beams[parent], sc)
                else:
                    new_beams.append(beams[parent] + [tok])
                    new_scores.append(sc)
            if not new_beams or (best is not None and best[1] >= max(new_scores)):
                break
            beams = new_beams
            scores = torch.tensor(new_scores, dtype=torch.float64)
        else:
            if best is None or float(scores.max()) > best[1]:
                i = int(scores.argmax())
                best = (beams[i], float(scores[i]))
        if best is None:  # every continuation was forbidden
            return Answer([], float("-inf"), kept)
        return Answer(list(best[0]), float(best[1]), kept)
    finally:
        model.train(was_training)
