"""UniAE / UniVAE (chapter ``vae/univae``): a seq2seq autoencoder inside one
Transformer.

Built from the shared :class:`kexue_lib.nn.TransformerBlock`; only the attention mask
(:func:`uniae_mask`) and a per-layer [CLS] bottleneck with a vMF latent
(:class:`UniVAE`) are new.
"""

from __future__ import annotations

import torch
from torch import nn

from .. import _validate as V
from .transformer import TransformerBlock

__all__ = ["uniae_mask", "UniVAE"]


def uniae_mask(
    segment_ids: torch.Tensor, *, cls_position: int = 0, independent: bool = False
) -> torch.Tensor:
    """Boolean UniAE attention mask (``True`` = may attend) for ``segment_ids`` of shape
    ``(n,)`` or ``(b, n)``.

    Segment 0 is the encoder copy of the sentence (it must come first and contain
    ``cls_position``), segment 1 the decoder copy. Rows are queries, columns keys:

    * encoder queries see every encoder key (bidirectional) and no decoder key;
    * decoder queries see decoder keys at positions ``<=`` their own (causal) and, from
      the encoder, only the [CLS] key at ``cls_position`` — so everything the decoder
      learns about the input passes through [CLS] (chapter ``vae/univae``, C1);
    * with ``independent=True`` the decoder does not see [CLS] either: the two segments
      are processed as two unrelated sequences (UniVAE's first k layers, C2).

    Returns a bool tensor of shape ``(n, n)`` or ``(b, n, n)`` on the device of
    ``segment_ids``.
    """
    shape = "(n,) or (batch, n) with n >= 2"
    V.tensor("segment_ids", segment_ids, shape=shape, integral=True)
    if segment_ids.dim() not in (1, 2) or segment_ids.shape[-1] < 2:
        raise ValueError(
            f"segment_ids must have shape {shape}, got {tuple(segment_ids.shape)}"
        )
    independent = V.boolean("independent", independent)
    s = segment_ids.long()
    if not bool(((s == 0) | (s == 1)).all()):
        raise ValueError(
            "segment_ids must contain only 0 (encoder) and 1 (decoder), "
            f"got values {sorted(set(s.flatten().tolist()))}"
        )
    if bool((s[..., 1:] < s[..., :-1]).any()):
        raise ValueError(
            "segment_ids must be non-decreasing (all encoder positions before all "
            "decoder positions)"
        )
    n = s.shape[-1]
    cls_position = V.integer("cls_position", cls_position, minimum=0, maximum=n - 1)
    if bool((s[..., cls_position] != 0).any()):
        raise ValueError(
            "cls_position must be an encoder position (segment 0), "
            f"got segment 1 at {cls_position}"
        )
    enc_q, enc_k = (s == 0)[..., :, None], (s == 0)[..., None, :]
    dec_q, dec_k = (s == 1)[..., :, None], (s == 1)[..., None, :]
    causal = torch.ones(n, n, dtype=torch.bool, device=s.device).tril()
    mask = (enc_q & enc_k) | (dec_q & dec_k & causal)
    if not independent:
        is_cls = torch.zeros(n, dtype=torch.bool, device=s.device)
        is_cls[cls_position] = True
        mask = mask | (dec_q & is_cls)
    return mask


class UniVAE(nn.Module):
    """UniVAE: a UniAE Transformer whose [CLS] state is replaced, in each of the last
    ``n_layers - k`` layers, by a projected vMF latent (chapter ``vae/univae``, C2–C4).

    Input: ``src`` (b, n) integer tokens. The model builds the sequence
    ``[CLS] src [BOS] src`` with segment ids 0 (``n + 1`` positions) then 1 (``n + 1``
    positions) and learned position and segment embeddings. Layers ``0..k-1`` use
    ``uniae_mask(..., independent=True)``; layers ``k..L-1`` use the UniAE mask and,
    before layer ``l``, set the [CLS] state to ``W_out^l z_l`` with
    ``z_l ~ vMF(l2norm(W_in^l h_CLS), κ)`` (κ fixed; in eval mode ``z_l`` is the mean
    direction). The decoder positions ``[BOS] src`` predict ``src`` (teacher forcing).

    ``forward(src, z=None, generator=None)`` returns ``(logits, zs)``: logits (b, n,
    vocab) for the n decoder predictions and the list of the ``L - k`` latents (b,
    z_dim). Passing ``z`` (a list of ``L - k`` tensors (b, z_dim) on the unit sphere)
    overrides the latents — what a latent swap does. The KL term per sample is the
    constant ``kl`` = (L − k) · KL(vMF(κ) ‖ uniform on S^{z_dim−1}) (C4).
    """

    def __init__(
        self,
        vocab: int,
        n: int,
        *,
        d_model: int = 32,
        n_heads: int = 2,
        n_layers: int = 4,
        k: int = 2,
        z_dim: int = 16,
        kappa: float = 32.0,
    ) -> None:
        super().__init__()
        from kexue_lib.vmf import VMFSampler

        vocab = V.integer("vocab", vocab, minimum=2)
        n = V.integer("n", n, minimum=1)
        n_layers = V.integer("n_layers", n_layers, minimum=1)
        z_dim = V.integer("z_dim", z_dim, minimum=2)
        k = V.integer("k", k, minimum=0)
        if k >= n_layers:
            raise ValueError(f"k must be < n_layers = {n_layers}, got {k}")
        self.vocab, self.n, self.n_layers, self.k, self.z_dim = (
            vocab,
            n,
            n_layers,
            k,
            z_dim,
        )
        self.sampler = VMFSampler(z_dim, kappa)
        self.kappa, self.kl = self.sampler.kappa, (n_layers - k) * self.sampler.kl
        self.cls_id, self.bos_id = vocab, vocab + 1  # two extra tokens
        self.embed = nn.Embedding(vocab + 2, d_model)
        self.pos = nn.Embedding(2 * (n + 1), d_model)
        self.seg = nn.Embedding(2, d_model)
        self.blocks = nn.ModuleList(
            TransformerBlock(d_model, n_heads) for _ in range(n_layers)
        )
        self.w_in = nn.ModuleList(
            nn.Linear(d_model, z_dim) for _ in range(n_layers - k)
        )
        self.w_out = nn.ModuleList(
            nn.Linear(z_dim, d_model) for _ in range(n_layers - k)
        )
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab)
        seg = torch.cat(
            [torch.zeros(n + 1, dtype=torch.long), torch.ones(n + 1, dtype=torch.long)]
        )
        self.register_buffer("segment_ids", seg, persistent=False)
        self.register_buffer(
            "mask_independent", uniae_mask(seg, independent=True), persistent=False
        )
        self.register_buffer("mask_uniae", uniae_mask(seg), persistent=False)

    def _check_src(self, src: torch.Tensor) -> None:
        shape = f"(batch, {self.n})"
        V.tensor("src", src, shape=shape, ndim=2, integral=True)
        if src.shape[1] != self.n:
            raise ValueError(f"src must have shape {shape}, got {tuple(src.shape)}")
        if int(src.min()) < 0 or int(src.max()) >= self.vocab:
            raise ValueError(
                f"src tokens must lie in [0, {self.vocab}), "
                f"got [{int(src.min())}, {int(src.max())}]"
            )

    def sequence(
        self, src: torch.Tensor, dec_in: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The token sequence ``[CLS] src [BOS] dec_in`` (b, 2n + 2); ``dec_in``
        defaults to ``src``.
        """
        b = src.shape[0]
        dec_in = src if dec_in is None else dec_in
        cls = torch.full((b, 1), self.cls_id, dtype=torch.long, device=src.device)
        bos = torch.full((b, 1), self.bos_id, dtype=torch.long, device=src.device)
        return torch.cat([cls, src, bos, dec_in], 1)

    def forward(
        self,
        src: torch.Tensor,
        z: list | None = None,
        generator: torch.Generator | None = None,
        dec_in: torch.Tensor | None = None,
        hidden: bool = False,
    ):
        self._check_src(src)
        V.generator("generator", generator)
        if z is not None:
            expected = (
                f"a list of {self.n_layers - self.k} tensors of shape "
                f"({src.shape[0]}, {self.z_dim})"
            )
            if not isinstance(z, list | tuple) or not all(
                isinstance(t, torch.Tensor) for t in z
            ):
                raise TypeError(f"z must be {expected}, got {V.describe(z)}")
            if len(z) != self.n_layers - self.k or any(
                t.shape != (src.shape[0], self.z_dim) for t in z
            ):
                raise ValueError(
                    f"z must be {expected}, got shapes {[tuple(t.shape) for t in z]}"
                )
        tokens = self.sequence(src, dec_in)
        pos = torch.arange(tokens.shape[1], device=src.device)
        h = self.embed(tokens) + self.pos(pos) + self.seg(self.segment_ids)
        zs, states = [], []
        for l, block in enumerate(self.blocks):
            if l >= self.k:
                j = l - self.k
                if z is None:
                    u = nn.functional.normalize(self.w_in[j](h[:, 0]), dim=-1)
                    zj = (
                        self.sampler.sample(u.double(), generator).to(u.dtype)
                        if self.training
                        else u
                    )
                else:
                    zj = z[j]
                zs.append(zj)
                h = torch.cat([self.w_out[j](zj)[:, None], h[:, 1:]], 1)
            h = block(h, mask=self.mask_independent if l < self.k else self.mask_uniae)
            states.append(h)
        logits = self.head(self.norm(h[:, self.n + 1 : -1]))
        return (logits, zs, states) if hidden else (logits, zs)

    @torch.no_grad()
    def decode(self, z: list, batch: int) -> torch.Tensor:
        """Greedy decoding of ``batch`` sentences (batch, n) from given latents ``z``
        (list of (batch, z_dim)).
        """
        dummy = torch.zeros(
            batch, self.n, dtype=torch.long, device=self.head.weight.device
        )
        out = dummy.clone()
        for i in range(self.n):
            logits, _ = self(dummy, z=z, dec_in=out)
            out[:, i] = logits[:, i].argmax(-1)
        return out
