"""TeaForN: teacher forcing with N nested passes of one decoder, its loss, and a small
beam search for a causal :class:`~kexue_lib.nn.TinyTransformer`.

Chapter ``nlp/teaforn`` (post https://kexue.fm/archives/7818; Goodman et al. 2020).
The decoder is split as in the post into an embedding ``E`` (``model.embed``, plus the
absolute position embedding if the model has one) and the rest ``M`` (the blocks and
the final LayerNorm), whose output ``h_t`` gives ``p_t = softmax(W h_t + b)``
(``model.head``). Pass 1 reads ``[e_0, …, e_{L-1}]`` (teacher forcing); pass ``i+1``
reads ``[e_0, h^(i)_1, …, h^(i)_{L-1}]``: the outputs of pass ``i`` shifted one place
right, in place of the ground-truth embeddings.
"""

from __future__ import annotations

import torch
from torch import nn

from .. import _validate as V
from ..nn.transformer.attention import causal_mask
from ..nn.transformer.block import apply_norm
from ..nn.transformer.lm import lm_loss
from ..nn.transformer.model import _and_causal

__all__ = ["teaforn_forward", "teaforn_loss", "beam_search"]


def _check_model(model) -> nn.Module:
    V.module("model", model)
    for attr in ("embed", "blocks", "norm", "head"):
        if not hasattr(model, attr):
            raise TypeError(
                f"model must be a TinyTransformer (with embed, blocks, norm, head), "
                f"got {type(model).__name__} without {attr!r}"
            )
    return model


def teaforn_forward(
    model: nn.Module,
    tokens: torch.Tensor,
    n_passes: int,
    *,
    prefix: int = 1,
    top_k: int | None = None,
    embeds: torch.Tensor | None = None,
    mask: torch.Tensor | None = None,
    return_hidden: bool = False,
):
    """Logits of ``n_passes`` nested passes of ``model`` over ``tokens`` (b, n).

    Returns a tensor ``(n_passes, b, n, vocab)`` (and, with ``return_hidden``, the
    vectors ``h`` of shape ``(n_passes, b, n, d_model)`` that the head reads). Entry
    ``[i, :, t]`` is ``p^(i+1)`` at input position ``t``: like teacher forcing, it
    predicts ``tokens[:, t+1]``. Pass 1 is the ordinary forward pass (claim C3).

    Pass ``i+1`` keeps the first ``prefix`` input embeddings (``e_0`` in the post; in a
    decoder-only seq2seq model, the source and separator) and replaces input position
    ``t ≥ prefix`` by the output of pass ``i`` at position ``t-1`` — which is
    ``h^(i)_t``, the vector that predicts token ``t`` (claim C1). With ``top_k = k`` it
    feeds instead the top-k probability-weighted average of the token embeddings,
    ``Σ_{w∈Top_k} p_t[w] e_w / Σ_{w∈Top_k} p_t[w]`` (the paper's variant; ``k = 1`` is
    the embedding of the argmax, ``k = vocab`` the full expectation). ``embeds`` (b, n,
    d_model) overrides ``model.embed(tokens)`` (to differentiate with respect to the
    inputs, claim C2). ``mask`` is passed to every layer (AND-ed with the causal mask
    when the model is causal). The model's LayerNorms must be unconditional.
    """
    _check_model(model)
    V.tensor("tokens", tokens, shape="(b, n)", ndim=2, integral=True)
    n_passes = V.integer("n_passes", n_passes, minimum=1)
    b, n = tokens.shape
    prefix = V.integer("prefix", prefix, minimum=1)
    if prefix > n:
        raise ValueError(f"prefix must be <= n = {n}, got {prefix}")
    if top_k is not None:
        top_k = V.integer("top_k", top_k, minimum=1)
        if top_k > model.vocab:
            raise ValueError(f"top_k must be <= vocab = {model.vocab}, got {top_k}")
    return_hidden = V.boolean("return_hidden", return_hidden)
    if tokens.numel() and (int(tokens.min()) < 0 or int(tokens.max()) >= model.vocab):
        raise ValueError(
            f"tokens must lie in [0, {model.vocab}), "
            f"got range [{int(tokens.min())}, {int(tokens.max())}]"
        )
    if embeds is None:
        e = model.embed(tokens)
    else:
        V.tensor("embeds", embeds, shape="(b, n, d_model)", ndim=3, floating=True)
        if tuple(embeds.shape) != (b, n, model.d_model):
            raise ValueError(
                f"embeds must have shape (b, n, d_model) = {(b, n, model.d_model)}, "
                f"got {tuple(embeds.shape)}"
            )
        e = embeds
    if mask is not None:
        V.tensor("mask", mask, shape="(n, n), (b, n, n) or (b, h, n, n)")
    if model.causal:
        c = causal_mask(n, device=tokens.device)
        mask = c if mask is None else _and_causal(mask, c)
    pos = None
    if model.abs_pos != "none":
        pos = model._absolute(torch.arange(n, device=tokens.device))

    def run(x):  # M: blocks and final LayerNorm → h, then the head
        if pos is not None:
            x = x + pos
        for block in model.blocks:
            x = block(x, mask=mask)
        h = apply_norm(model.norm, x, None)
        return h, model.head(h)

    logits, hidden = [], []
    x = e
    for i in range(n_passes):
        h, z = run(x)
        logits.append(z)
        hidden.append(h)
        if i + 1 < n_passes:
            if top_k is None:
                fed = h[:, prefix - 1 : n - 1]
            else:
                p = torch.softmax(z[:, prefix - 1 : n - 1], -1)
                val, idx = p.topk(top_k, dim=-1)
                w = val / val.sum(-1, keepdim=True)
                fed = (w.unsqueeze(-1) * model.embed(idx)).sum(-2)
            x = torch.cat([e[:, :prefix], fed], 1)
    out = torch.stack(logits)
    return (out, torch.stack(hidden)) if return_hidden else out


def teaforn_loss(
    logits: torch.Tensor,
    targets: torch.Tensor,
    loss_mask: torch.Tensor | None = None,
    weights=None,
) -> torch.Tensor:
    """The TeaForN loss ``Σ_i λ_i · CE(p^(i), w)``: ``logits`` (N, b, n, V) from
    :func:`teaforn_forward`, ``targets`` (b, n) (already shifted: ``logits[i, :, t]``
    predicts ``targets[:, t]``), ``loss_mask`` (b, n) selecting the positions that
    count, ``weights`` the N numbers λ_i ≥ 0 (default all 1).

    Each pass contributes the mean next-token cross-entropy over the selected positions
    (:func:`~kexue_lib.nn.lm_loss`), i.e. the post's sum over t divided by the number of
    positions. With N = 1 and λ = 1 it is the teacher-forcing loss (claims C1, C3).
    """
    V.tensor("logits", logits, shape="(N, b, n, V)", ndim=4, floating=True)
    n_passes = logits.shape[0]
    if weights is None:
        lam = torch.ones(n_passes, dtype=logits.dtype, device=logits.device)
    else:
        lam = V.real_tensor("weights", weights, logits.device).to(logits.dtype)
        if lam.shape != (n_passes,):
            raise ValueError(
                f"weights must have shape (N,) = ({n_passes},), got {tuple(lam.shape)}"
            )
        if not bool(torch.isfinite(lam).all()) or bool((lam < 0).any()):
            raise ValueError(f"weights must be finite and >= 0, got {lam.tolist()}")
    return sum(lam[i] * lm_loss(logits[i], targets, loss_mask) for i in range(n_passes))


@torch.no_grad()
def beam_search(
    model: nn.Module, prefix: torch.Tensor, length: int, beam_size: int = 1
) -> tuple[torch.Tensor, torch.Tensor]:
    """Decode ``length`` tokens after ``prefix`` (b, P) with a causal ``model`` (one
    pass, as TeaForN decodes: claim C3), keeping the ``beam_size`` partial sequences of
    highest total log-probability. ``beam_size = 1`` is greedy decoding.

    Returns ``(tokens, logprob)``: the best continuation (b, length) and its total
    log-probability (b,). Recomputes the forward pass every step (no cache): meant for
    short outputs. Chapter ``nlp/teaforn`` (the experiment).
    """
    _check_model(model)
    V.tensor("prefix", prefix, shape="(b, P)", ndim=2, integral=True)
    length = V.integer("length", length, minimum=1)
    beam_size = V.integer("beam_size", beam_size, minimum=1)
    if prefix.shape[1] < 1 or prefix.shape[0] < 1:
        raise ValueError(f"prefix must be non-empty, got {tuple(prefix.shape)}")
    was_training = model.training
    model.eval()
    b = prefix.shape[0]
    seqs = prefix.unsqueeze(1)  # (b, k, P + s)
    score = torch.zeros(b, 1, device=prefix.device)
    for _ in range(length):
        k = seqs.shape[1]
        logp = torch.log_softmax(model(seqs.flatten(0, 1))[:, -1], -1).view(b, k, -1)
        total = (score.unsqueeze(-1) + logp).flatten(1)  # (b, k·V)
        score, flat = total.topk(min(beam_size, total.shape[1]), dim=-1)
        parent, tok = flat // model.vocab, flat % model.vocab
        seqs = torch.cat(
            [
                torch.gather(
                    seqs, 1, parent.unsqueeze(-1).expand(-1, -1, seqs.shape[2])
                ),
                tok.unsqueeze(-1),
            ],
            -1,
        )
    model.train(was_training)
    return seqs[:, 0, prefix.shape[1] :], score[:, 0]
