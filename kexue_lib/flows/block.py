"""The invertible residual block (chapter ``generative/iresnet``, C1, C3, C4; see
:mod:`kexue_lib.flows`)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .. import _validate as V
from ..linalg import logdet_series
from .spectral import _normalize, spectral_normalize

__all__ = ["IResBlock"]


def _elu_grad(act: torch.Tensor) -> torch.Tensor:
    """ELU'(a) from the activation ``act = ELU(a)``: 1 where a > 0, e^a = act + 1
    elsewhere."""
    return act.clamp(max=0) + 1


class IResBlock(nn.Module):
    """An invertible residual block ``F(x) = x + g(x)`` with
    ``g = L_m ∘ ELU ∘ … ∘ ELU ∘ L_1`` and every weight spectrally normalised to
    ``coeff`` (chapter ``generative/iresnet``).

    ELU is 1-Lipschitz, so ``Lip(g) <= coeff ** m`` with ``m = len(hidden) + 1`` linear
    layers (:attr:`lip_bound`), and ``F`` is invertible for ``coeff < 1``.

    Each weight keeps its power-iteration vector in a buffer: it is converged at
    construction (200 iterations), and every call of :meth:`weights` runs
    ``n_power_iterations`` more from it, storing the result in training mode only —
    the scheme of Miyato et al., one iteration per training step. In evaluation mode
    the weights are a deterministic function of the parameters and buffers.

    Parameters
    ----------
    dim : int >= 1
        Size of ``x``.
    hidden : int or sequence of ints >= 1
        Widths of the hidden layers (an int means one hidden layer).
    coeff : float in (0, 1)
        Spectral-norm bound of each weight.
    n_power_iterations : int >= 1
        Power iterations of :func:`spectral_normalize` per call of :meth:`weights`.

    Raises
    ------
    TypeError, ValueError
        For arguments of the wrong type or out of range (``coeff`` must be in (0, 1)).
    """

    def __init__(
        self,
        dim: int,
        hidden: int | tuple[int, ...] = 64,
        coeff: float = 0.9,
        *,
        n_power_iterations: int = 1,
    ) -> None:
        super().__init__()
        self.dim = V.integer("dim", dim, minimum=1)
        self.hidden = V.positive_ints("hidden", hidden)
        self.coeff = V.real("coeff", coeff, gt=0, lt=1)
        self.n_power_iterations = V.integer(
            "n_power_iterations", n_power_iterations, minimum=1
        )
        widths = (self.dim, *self.hidden, self.dim)
        self.layers = nn.ModuleList(
            nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:])
        )
        for i, layer in enumerate(self.layers):
            self.register_buffer(f"_v{i}", torch.empty(layer.weight.shape[1]))
        self.refresh_normalization()

    def refresh_normalization(self, n_power_iterations: int = 200) -> None:
        """Re-converge the power-iteration vectors from fixed random starts (call after
        changing the weights by hand; done at construction)."""
        n_power_iterations = V.integer(
            "n_power_iterations", n_power_iterations, minimum=1
        )
        for i, layer in enumerate(self.layers):
            _, v = spectral_normalize(
                layer.weight, self.coeff, n_power_iterations, return_vector=True
            )
            setattr(self, f"_v{i}", v)

    @property
    def lip_bound(self) -> float:
        """``coeff ** (number of linear layers)``, a bound on ``Lip(g)``."""
        return self.coeff ** len(self.layers)

    def weights(self) -> list[torch.Tensor]:
        """The spectrally normalised weights used by :meth:`g` (see the class
        docstring for the power-iteration vectors)."""
        out = []
        for i, layer in enumerate(self.layers):
            W, v = _normalize(
                layer.weight,
                self.coeff,
                self.n_power_iterations,
                getattr(self, f"_v{i}"),
            )
            if self.training:
                setattr(self, f"_v{i}", v)
            out.append(W)
        return out

    def _check_x(self, x, name: str = "x") -> torch.Tensor:
        x = V.tensor(name, x, shape=f"(batch, {self.dim})", ndim=2, floating=True)
        if x.shape[1] != self.dim:
            raise ValueError(
                f"{name} must have shape (batch, {self.dim}), got {tuple(x.shape)}"
            )
        return x

    def _g(self, x: torch.Tensor, weights) -> tuple[torch.Tensor, list[torch.Tensor]]:
        pre = []
        h = x
        for i, (layer, W) in enumerate(zip(self.layers, weights)):
            h = F.linear(h, W, layer.bias)
            if i < len(self.layers) - 1:
                h = F.elu(h)
                pre.append(h)  # the activations, from which ELU' follows
        return h, pre

    def g(self, x: torch.Tensor) -> torch.Tensor:
        """The residual branch ``g(x)``, shape ``(batch, dim)``."""
        x = self._check_x(x)
        return self._g(x, self.weights())[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x + g(x)``."""
        return x + self.g(x)

    def forward_and_jacobian(
        self, x: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(x + g(x), J_g(x))`` with one normalisation of the weights; the Jacobian of
        the residual branch has shape ``(batch, dim, dim)`` and is computed by the
        chain rule ``W_m D_{m−1} W_{m−1} ⋯ D_1 W_1`` (``D`` the diagonal ELU
        derivatives), multiplied from the left; differentiable. The Jacobian of the
        block is ``I + J_g``.
        """
        return self._forward_and_jacobian(self._check_x(x))

    def _forward_and_jacobian(self, x):
        weights = self.weights()
        gx, acts = self._g(x, weights)
        # from the output side: (dim, h) rows times D, then one (batch·dim, h) @ W
        J = weights[-1]
        for W, act in zip(reversed(weights[:-1]), reversed(acts)):
            J = (J * _elu_grad(act).unsqueeze(-2)) @ W
        return x + gx, J

    def jacobian(self, x: torch.Tensor) -> torch.Tensor:
        """``J_g(x)``, shape ``(batch, dim, dim)``; see :meth:`forward_and_jacobian`."""
        return self.forward_and_jacobian(x)[1]

    def inverse(self, y: torch.Tensor, n_iter: int = 100) -> torch.Tensor:
        """``F⁻¹(y)`` by the fixed-point iteration ``x_{n+1} = y − g(x_n)`` from
        ``x_0 = y``, run for ``n_iter`` steps (claim C1; ``n_iter = 0`` returns ``y``).

        By Banach's fixed-point theorem ``‖x* − x_n‖ <= L^n/(1 − L)·‖x_1 − x_0‖`` with
        ``L = Lip(g) <= lip_bound``; in float32 the iteration stalls at rounding
        (about 1e-7 relative), which takes about ``16/−log10(L)`` steps at worst.
        """
        y = self._check_x(y, "y")
        n_iter = V.integer("n_iter", n_iter, minimum=0)
        weights = self.weights()
        x = y
        for _ in range(n_iter):
            x = y - self._g(x, weights)[0]
        return x

    def logdet(
        self,
        x: torch.Tensor,
        n_terms: int = 10,
        estimator: str = "exact",
        generator: torch.Generator | None = None,
        *,
        n_samples: int = 1,
        noise: str = "gaussian",
        vectors: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The truncated series ``Σ_{k=1}^{N} (−1)^{k−1} tr(J_g^k)/k`` of
        ``log det(I + J_g(x))``, one value per row of ``x`` (shape ``(batch,)``).

        Claims C3, C4 of ``generative/iresnet``. ``estimator="exact"`` forms ``J_g`` and
        takes exact traces (:func:`kexue_lib.linalg.logdet_series`); its only error is
        the truncation, at most ``d·L^{N+1}/((N+1)(1 − L))``. ``"hutchinson"`` never
        forms ``J_g``: it draws ``n_samples`` vectors ``u`` per row (standard normal,
        or ±1 with ``noise="rademacher"``; both have ``E u = 0``, ``E uuᵀ = I``) and
        replaces every ``tr(J_g^k)`` by the average of ``uᵀ J_g^k u``, computing
        ``uᵀJ_g^k`` by ``k`` vector–Jacobian products — an unbiased estimate of the
        truncated series. ``vectors`` of shape ``(n_samples, batch, dim)`` replaces
        the random draw (then ``generator``, ``n_samples`` and ``noise`` are unused).
        The exact log-determinant is ``torch.linalg.slogdet(I + jacobian(x))``.
        Differentiable in both cases (the Hutchinson products use ``create_graph``
        when gradients are enabled).

        Raises
        ------
        TypeError
            If ``x`` or ``vectors`` is not a floating tensor, ``n_terms``/``n_samples``
            not ints, ``estimator``/``noise`` not strings or ``generator`` not a
            generator.
        ValueError
            If ``x`` is not ``(batch, dim)``, ``vectors`` not
            ``(n_samples, batch, dim)``, ``n_terms`` or ``n_samples`` < 1, or
            ``estimator``/``noise`` is not one of the names above.
        """
        x = self._check_x(x)
        n_terms = V.integer("n_terms", n_terms, minimum=1)
        estimator = V.choice("estimator", estimator, ("exact", "hutchinson"))
        generator = V.generator("generator", generator)
        n_samples = V.integer("n_samples", n_samples, minimum=1)
        noise = V.choice("noise", noise, ("gaussian", "rademacher"))
        if estimator == "exact":
            return logdet_series(self.jacobian(x), n_terms, check=False)
        B, d = x.shape
        if vectors is not None:
            u = V.tensor("vectors", vectors, shape="(n_samples, batch, dim)", ndim=3)
            V.tensor("vectors", vectors, floating=True, finite=True)
            if u.shape[1:] != x.shape:
                raise ValueError(
                    f"vectors must have shape (n_samples, {B}, {d}), "
                    f"got {tuple(u.shape)}"
                )
            u = u.to(dtype=x.dtype, device=x.device)
        elif noise == "gaussian":
            u = torch.randn((n_samples, B, d), generator=generator, dtype=x.dtype)
        else:
            u = torch.randint(0, 2, (n_samples, B, d), generator=generator)
            u = u.to(x.dtype) * 2 - 1
        u = u.to(x.device)
        S = u.shape[0]
        create = torch.is_grad_enabled()
        with torch.enable_grad():
            # rows are independent: one vector-Jacobian product of the S·B copies
            # of x gives uᵀJ_g for every vector and row at once
            xr = x.unsqueeze(0).expand(S, B, d).reshape(S * B, d)
            if not xr.requires_grad:
                xr = xr.detach().requires_grad_(True)
            gx = self.g(xr)
            total = x.new_zeros(B)
            w = u.reshape(S * B, d)
            for k in range(1, n_terms + 1):
                w = torch.autograd.grad(
                    gx, xr, w, retain_graph=True, create_graph=create
                )[0]  # uᵀ J_g^k
                term = (w * u.reshape(S * B, d)).sum(-1).reshape(S, B).mean(0)
                total = total + (-1) ** (k - 1) / k * term
        return total if create else total.detach()
