"""Small noise-conditioned networks and the ε-prediction loss (2-D toys of Part 4).

* :class:`TimeMLP` — an MLP on ``[x, emb(t) (+ emb(y))]``: the ε-model
  (``d_out = d_in``) of the DDIM and guidance chapters, optionally class-conditional
  with a "null" label for classifier-free guidance, and the noise-conditioned
  classifier p(y | x_t) of classifier guidance (``d_out`` = number of classes).
* :func:`denoising_loss` — ‖ε − ε_θ(ᾱ_t x₀ + β̄_t ε, t)‖², t uniform (the post's
  training objective) or drawn from given weights.
* :func:`train_eps_model` — Adam on that loss, with optional label dropout.
"""

from __future__ import annotations

import torch
from torch import nn

from .._validate import integer, real, tensor
from ..position import sinusoidal_pe
from .schedule import check_schedule

__all__ = ["TimeMLP", "denoising_loss", "train_eps_model"]


class TimeMLP(nn.Module):
    """MLP ``f(x, t, y)`` on x, a sinusoidal embedding of t and a learned one of y.

    Parameters
    ----------
    d_in, d_out : int
        Input and output widths (ε-model: both the data dimension; classifier:
        d_out = number of classes).
    T : int
        Number of diffusion steps; t is an int64 tensor of shape ``(batch,)`` with
        values in [0, T). The embedding of t is row t of
        :func:`kexue_lib.position.sinusoidal_pe` ``(T, time_dim)``.
    hidden, depth : int
        Width and number of hidden layers (SiLU activations).
    num_classes : int or None
        If set, ``forward`` takes labels y in [0, num_classes]; the extra index
        ``num_classes`` (:attr:`null_label`, also used when ``y is None``) is the
        unconditional input of classifier-free guidance.
    """

    def __init__(
        self,
        d_in: int,
        d_out: int,
        T: int,
        *,
        hidden: int = 128,
        depth: int = 3,
        time_dim: int = 32,
        num_classes: int | None = None,
    ) -> None:
        super().__init__()
        for name, v in (("d_in", d_in), ("d_out", d_out), ("T", T), ("hidden", hidden)):
            integer(name, v, minimum=1)
        integer("depth", depth, minimum=1)
        integer("time_dim", time_dim, minimum=2, even=True)
        self.T, self.num_classes = T, num_classes
        self.register_buffer("time_table", sinusoidal_pe(T, time_dim), persistent=False)
        width = d_in + time_dim
        if num_classes is not None:
            integer("num_classes", num_classes, minimum=1)
            self.label_emb = nn.Embedding(num_classes + 1, time_dim)
            width += time_dim
        layers: list[nn.Module] = []
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.SiLU()]
            width = hidden
        layers.append(nn.Linear(width, d_out))
        self.net = nn.Sequential(*layers)

    @property
    def null_label(self) -> int:
        """The label index meaning "no label" (the unconditional input of CFG)."""
        if self.num_classes is None:
            raise AttributeError("an unconditional TimeMLP has no null label")
        return self.num_classes

    def forward(
        self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None = None
    ) -> torch.Tensor:
        if t.dtype != torch.int64 or t.shape != (x.shape[0],):
            raise ValueError(
                f"t must be an int64 tensor of shape ({x.shape[0]},), "
                f"got {t.dtype} of shape {tuple(t.shape)}"
            )
        if bool((t < 0).any()) or bool((t >= self.T).any()):
            raise ValueError(f"t must lie in [0, {self.T})")
        if self.num_classes is None and y is not None:
            raise ValueError(
                "y was given to an unconditional TimeMLP (num_classes=None)"
            )
        # The first layer acts on the concatenation [x, emb(t), emb(y)]; it is applied
        # blockwise so that an embedding shared by the whole batch (one t during
        # sampling, one target class) is projected once instead of once per row.
        first = self.net[0]
        d, k = x.shape[1], self.time_table.shape[1]
        h = nn.functional.linear(x, first.weight[:, :d], first.bias)
        h = h + _rows(self.time_table, t).to(x.dtype) @ first.weight[:, d : d + k].T
        if self.num_classes is not None:
            if y is None:
                y = torch.full_like(t, self.num_classes)
            h = (
                h
                + _rows(self.label_emb.weight, y).to(x.dtype)
                @ first.weight[:, d + k :].T
            )
        for layer in self.net[1:]:
            h = layer(h)
        return h


def _rows(table: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``table[index]``, as a single broadcastable row when all indices are equal."""
    if index.numel() > 1 and bool((index == index[0]).all()):
        return table[index[:1]]
    return table[index]


def denoising_loss(
    eps_model: nn.Module,
    x0: torch.Tensor,
    alpha_bar: torch.Tensor,
    *,
    labels: torch.Tensor | None = None,
    t_weights: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Mean of ‖ε − ε_θ(ᾱ_t x₀ + β̄_t ε, t)‖² over the batch, ε standard normal.

    t is uniform on [0, T), or drawn with probabilities proportional to ``t_weights``
    (length T, non-negative). Re-weighting the times changes how much each per-t
    regression counts, not its minimiser E[ε | x_t]. ``labels`` (int64, shape
    ``(batch,)``) are passed to the model as its third argument.
    """
    x0 = tensor("x0", x0, floating=True, min_ndim=1)
    ab = check_schedule(alpha_bar)
    w = _t_weights(t_weights, ab.numel())
    return _loss(eps_model, x0, ab, torch.sqrt(1 - ab**2), labels, w, generator)


def _t_weights(t_weights, T: int) -> torch.Tensor | None:
    if t_weights is None:
        return None
    w = tensor("t_weights", t_weights, floating=True).detach().to(torch.float64).cpu()
    if w.shape != (T,) or bool((w < 0).any()) or not float(w.sum()) > 0:
        raise ValueError(
            f"t_weights must be {T} non-negative numbers with a positive sum, "
            f"got shape {tuple(w.shape)}"
        )
    return w


def _loss(eps_model, x0, ab, bb, labels, t_weights, generator):
    n = x0.shape[0]
    if t_weights is None:
        t = torch.randint(0, ab.numel(), (n,), generator=generator)
    else:
        t = torch.multinomial(t_weights, n, replacement=True, generator=generator)
    eps = torch.randn(x0.shape, generator=generator, dtype=x0.dtype).to(x0.device)
    shape = (n,) + (1,) * (x0.ndim - 1)
    x_t = ab[t].to(x0).view(shape) * x0 + bb[t].to(x0).view(shape) * eps
    t = t.to(x0.device)
    pred = eps_model(x_t, t) if labels is None else eps_model(x_t, t, labels)
    return (pred - eps).pow(2).flatten(1).sum(1).mean()


def train_eps_model(
    eps_model: nn.Module,
    data: torch.Tensor,
    alpha_bar: torch.Tensor,
    *,
    steps: int = 2000,
    batch: int = 256,
    lr: float = 2e-3,
    labels: torch.Tensor | None = None,
    label_dropout: float = 0.0,
    t_weights: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> list[float]:
    """Train an ε-model with Adam on :func:`denoising_loss`; returns the losses.

    With ``labels`` the model is conditional; each label is replaced by
    ``eps_model.null_label`` with probability ``label_dropout``, so one network learns
    both ε(x, y) and ε(x) (classifier-free guidance). ``t_weights`` as in
    :func:`denoising_loss`. The learning rate decays linearly to 0 over the run. The
    model is left in ``eval`` mode.
    """
    data = tensor("data", data, floating=True, min_ndim=1)
    steps = integer("steps", steps, minimum=1)
    batch = integer("batch", batch, minimum=1)
    lr = real("lr", lr, gt=0)
    p = real("label_dropout", label_dropout, ge=0, lt=1)
    if labels is not None and labels.shape != (data.shape[0],):
        raise ValueError(
            f"labels must have shape ({data.shape[0]},), got {tuple(labels.shape)}"
        )
    ab = check_schedule(alpha_bar)
    bb = torch.sqrt(1 - ab**2)
    w = _t_weights(t_weights, ab.numel())
    opt = torch.optim.Adam(eps_model.parameters(), lr=lr, foreach=True)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda k: 1.0 - k / steps)
    eps_model.train()
    losses = []
    for _ in range(steps):
        idx = torch.randint(0, data.shape[0], (batch,), generator=generator)
        y = None
        if labels is not None:
            y = labels[idx].clone()
            drop = torch.rand(batch, generator=generator) < p
            y[drop] = eps_model.null_label
        loss = _loss(eps_model, data[idx], ab, bb, y, w, generator)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
    eps_model.eval()
    return losses
