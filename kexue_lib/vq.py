"""Vector quantisation: the pieces of VQ-VAE (chapter ``vae/vq-vae``).

* :func:`straight_through` — the straight-through estimator ``z + sg[z_q − z]`` (C2).
* :class:`VectorQuantizer` — nearest-code lookup (C1) with the two loss terms of C4,
  optionally with the exponential-moving-average codebook update that replaces the
  codebook term (C5).
* :func:`code_perplexity` — ``exp`` of the entropy of the empirical code-usage
  distribution.

Naming (the book follows the post, claim C4 of ``vae/vq-vae``): the total loss is

    ‖x − dec(z + sg[z_q − z])‖² + β ‖sg[z] − z_q‖² + γ ‖z − sg[z_q]‖²,   γ < β,

so ``beta`` weighs the *codebook* term (it moves the codes) and ``gamma`` the
*commitment* term (it moves the encoder). The VQ-VAE paper (van den Oord et al. 2017)
writes ``‖sg[z_e] − e‖² + β‖z_e − sg[e]‖²`` with β = 0.25: its β is our ``gamma``, and
our ``beta`` is fixed to 1 there. The defaults ``beta=1, gamma=0.25`` reproduce the
paper. Like Sonnet's ``VectorQuantizer`` (and most PyTorch ports), each squared norm is
averaged over all elements (a mean-squared error), not summed over the code dimension.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from . import _validate as V

__all__ = ["straight_through", "VQOutput", "VectorQuantizer", "code_perplexity"]


def straight_through(z: torch.Tensor, zq: torch.Tensor) -> torch.Tensor:
    """The straight-through estimator ``z + sg[zq − z]`` (chapter ``vae/vq-vae``, C2).

    Its value equals ``zq`` (up to one rounding); its gradient with respect to ``z`` is
    the identity and no gradient flows into ``zq``. ``z`` and ``zq`` must have the same
    shape; the result has that shape.
    """
    V.tensor("z", z)
    V.tensor("zq", zq)
    V.same_shape("zq", zq, "z", z)
    return z + (zq - z).detach()


class VQOutput(NamedTuple):
    """What :meth:`VectorQuantizer.forward` returns.

    * ``quantized`` (..., dim) — ``straight_through(z, z_q)``: value ``z_q``, gradient
      to ``z``;
    * ``indices`` (...) int64 — the index of the nearest code for each input vector;
    * ``codebook_loss``, a scalar — ``beta · mean (sg[z] − z_q)²`` (a zero tensor in EMA
      mode, where the codebook is updated without gradients);
    * ``commitment_loss``, a scalar — ``gamma · mean (z − sg[z_q])²``.
    """

    quantized: torch.Tensor
    indices: torch.Tensor
    codebook_loss: torch.Tensor
    commitment_loss: torch.Tensor

    @property
    def loss(self) -> torch.Tensor:
        """The two VQ terms summed (add the reconstruction loss to get the VQ-VAE
        objective, C4).
        """
        return self.codebook_loss + self.commitment_loss


class VectorQuantizer(nn.Module):
    """Nearest-neighbour quantiser with a learnable codebook of ``num_codes`` vectors in
    R^dim.

    Chapter ``vae/vq-vae``: C1 (``z_q = e_k, k = argmin_j ‖z − e_j‖``), C4 (loss terms),
    C5 (EMA update).

    Parameters
    ----------
    num_codes : int ≥ 1
        K, the codebook size.
    dim : int ≥ 1
        D, the dimension of each code (the last dimension of the input).
    beta : float ≥ 0
        Weight of the codebook term ``‖sg[z] − z_q‖²`` (1 in the paper). Ignored when
        ``ema=True``.
    gamma : float ≥ 0
        Weight of the commitment term ``‖z − sg[z_q]‖²`` (the paper's β = 0.25).
    ema : bool
        If True, the codebook is not trained by gradients: in training mode each forward
        pass moves per-code running counts ``N_k`` and sums ``m_k`` by an exponential
        moving average (``N_k ← λN_k + (1−λ)n_k``, ``m_k ← λm_k + (1−λ)Σ_{i∈k} z_i``)
        and sets ``e_k = m_k / Ñ_k`` with the Laplace-smoothed count
        ``Ñ_k = (N_k + ε)/(ΣN + Kε) · ΣN`` (as in Sonnet's ``VectorQuantizerEMA``). On a
        fixed assignment this converges to the mean of the assigned vectors — a k-means
        step (C5). The forward pass quantises with the codes as they were *before* its
        own EMA step.
    decay : float in (0, 1)
        λ, the EMA decay.
    eps : float > 0
        ε of the Laplace smoothing.

    The codebook starts uniform in [−1/K, 1/K] (small next to typical encoder outputs);
    the EMA statistics start at ``N_k = 1``, ``m_k = e_k`` so the first update does not
    shrink the codes towards zero (Sonnet starts both at zero and divides out the bias
    of the average instead; the ratio ``m_k / N_k`` — the code — is the same kind of
    weighted mean of past assigned vectors either way, only the weight of the initial
    code differs).
    """

    def __init__(
        self,
        num_codes: int,
        dim: int,
        beta: float = 1.0,
        gamma: float = 0.25,
        ema: bool = False,
        decay: float = 0.99,
        eps: float = 1e-5,
    ) -> None:
        super().__init__()
        self.num_codes = V.integer("num_codes", num_codes, minimum=1)
        self.dim = V.integer("dim", dim, minimum=1)
        self.beta = V.real("beta", beta, ge=0)
        self.gamma = V.real("gamma", gamma, ge=0)
        self.ema = V.boolean("ema", ema)
        self.decay = V.real("decay", decay, gt=0, lt=1)
        self.eps = V.real("eps", eps, gt=0)
        init = (torch.rand(num_codes, dim) * 2.0 - 1.0) / num_codes
        if self.ema:
            self.register_buffer("codebook", init)
            self.register_buffer("ema_count", torch.ones(num_codes))
            self.register_buffer("ema_sum", init.clone())
        else:
            self.codebook = nn.Parameter(init)

    def extra_repr(self) -> str:
        return (
            f"num_codes={self.num_codes}, dim={self.dim}, beta={self.beta}, "
            f"gamma={self.gamma}, ema={self.ema}"
        )

    @torch.no_grad()
    def reset_codebook(self, codes: torch.Tensor) -> None:
        """Overwrite the codebook with ``codes`` (num_codes, dim); in EMA mode also
        restart the statistics (``N_k = 1``, ``m_k = e_k``). Used to study
        initialisations (dead codes, chapter ``vae/vq-vae``)."""
        shape = f"({self.num_codes}, {self.dim})"
        V.tensor("codes", codes, shape=shape, floating=True, finite=True)
        if codes.shape != (self.num_codes, self.dim):
            raise ValueError(f"codes must have shape {shape}, got {tuple(codes.shape)}")
        self.codebook.copy_(codes)
        if self.ema:
            self.ema_count.fill_(1.0)
            self.ema_sum.copy_(codes)

    def _check(self, z: torch.Tensor) -> None:
        V.tensor("z", z, shape=f"(..., {self.dim})", last=self.dim, floating=True)
        if not bool(torch.isfinite(z).all()):
            raise ValueError(
                "z must be finite, got NaN or inf entries (the nearest code would be "
                "arbitrary)"
            )

    def nearest(self, z: torch.Tensor) -> torch.Tensor:
        """Indices (...) of the nearest code to each vector of ``z`` (..., dim); ties go
        to the lower index (C1).
        """
        self._check(z)
        flat = z.reshape(-1, self.dim)
        e = self.codebook.to(flat.dtype)
        d2 = (
            flat.pow(2).sum(1, keepdim=True)
            - 2.0 * flat @ e.t()
            + e.pow(2).sum(1)[None, :]
        )
        return d2.argmin(dim=1).reshape(z.shape[:-1])

    @torch.no_grad()
    def ema_update(self, z: torch.Tensor, indices: torch.Tensor) -> None:
        """One EMA codebook step from inputs ``z`` (..., dim) assigned to ``indices``
        (...) (C5).
        """
        self._check(z)
        V.tensor("indices", indices, shape=f"{tuple(z.shape[:-1])}", integral=True)
        if indices.shape != z.shape[:-1]:
            raise ValueError(
                f"indices must have shape {tuple(z.shape[:-1])}, got "
                f"{tuple(indices.shape)}"
            )
        if not self.ema:
            raise ValueError(
                "ema_update needs a quantizer built with ema=True, got ema=False"
            )
        if indices.numel() and (
            int(indices.min()) < 0 or int(indices.max()) >= self.num_codes
        ):
            raise ValueError(
                f"indices must lie in [0, {self.num_codes}), got values in "
                f"[{int(indices.min())}, {int(indices.max())}]"
            )
        flat = z.reshape(-1, self.dim).to(self.codebook.dtype)
        onehot = torch.nn.functional.one_hot(indices.reshape(-1), self.num_codes).to(
            flat.dtype
        )
        lam = self.decay
        self.ema_count.mul_(lam).add_(onehot.sum(0), alpha=1 - lam)
        self.ema_sum.mul_(lam).add_(onehot.t() @ flat, alpha=1 - lam)
        n = self.ema_count.sum()
        smoothed = (self.ema_count + self.eps) / (n + self.num_codes * self.eps) * n
        self.codebook.copy_(self.ema_sum / smoothed[:, None])

    def forward(self, z: torch.Tensor) -> VQOutput:
        """Quantise ``z`` (..., dim); see :class:`VQOutput` for what is returned."""
        idx = self.nearest(z)
        # Quantise with the codebook as it was before this step's EMA move (as Sonnet).
        zq = self.codebook.to(z.dtype)[idx]
        if self.ema and self.training:
            self.ema_update(z.detach(), idx)
        commitment = self.gamma * (z - zq.detach()).pow(2).mean()
        if self.ema:
            codebook = z.new_zeros(())
        else:
            codebook = self.beta * (z.detach() - zq).pow(2).mean()
        return VQOutput(straight_through(z, zq), idx, codebook, commitment)


def code_perplexity(indices: torch.Tensor, num_codes: int) -> torch.Tensor:
    """``exp(H(p))`` of the empirical code-usage distribution
    ``p_k = #{i: indices_i = k} / n``.

    Between 1 (one code used) and ``num_codes`` (all codes used equally often): the
    "effective number of codes" (chapter ``vae/vq-vae``, experiment). ``indices`` is an
    integer tensor of any shape with values in [0, num_codes). Returns a float scalar
    tensor.
    """
    num_codes = V.integer("num_codes", num_codes, minimum=1)
    V.tensor("indices", indices, integral=True)
    if indices.numel() == 0:
        raise ValueError("indices must not be empty")
    if int(indices.min()) < 0 or int(indices.max()) >= num_codes:
        raise ValueError(
            f"indices must lie in [0, {num_codes}), got values in "
            f"[{int(indices.min())}, {int(indices.max())}]"
        )
    p = (
        torch.bincount(indices.reshape(-1), minlength=num_codes).double()
        / indices.numel()
    )
    h = -(p[p > 0] * p[p > 0].log()).sum()
    return h.exp()
