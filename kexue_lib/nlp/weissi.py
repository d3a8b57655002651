"""Weight-scale-shift-invariant regularisation, WEISSI (chapter ``nlp/weissi``).

A network built from linear layers and positively homogeneous activations (ReLU,
identity, max-pooling: ``phi(c x) = c phi(x)`` for ``c > 0``) computes the same
function after a **weight-scale shift** (C2)::

    W_l -> gamma_l W_l,   b_l -> (gamma_1 ... gamma_l) b_l,   gamma_l > 0,
    gamma_1 ... gamma_L = 1.

The L2 penalty ``sum_l ||W_l||_F^2`` changes under such a shift, so it can be lowered
without changing the function (C3). The WEISSI penalty (C4)::

    R = lam1 * sum_l log ||W_l||_F + lam2 * sum_l || W_l / ||W_l||_F ||_1

does not change: the log term moves by ``lam1 * log(gamma_1 ... gamma_L) = 0`` and the
second term only sees the directions of the ``W_l``.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence

import torch
from torch import nn

from .. import _validate as V

__all__ = ["weissi_penalty", "rescale_layers"]


def weissi_penalty(
    weights, lam1: float, lam2: float, *, batch_dims: int = 0
) -> torch.Tensor:
    """The WEISSI regulariser of a list of weight matrices (differentiable).

    Parameters
    ----------
    weights : sequence of torch.Tensor
        The weights ``W_1, ..., W_L`` (any shapes, floating point, finite, each with a
        nonzero norm), e.g. ``[m.weight for m in model.modules() if isinstance(m,
        nn.Linear)]``. Biases are not penalised.
    lam1, lam2 : float
        Weights of the log-norm term and of the L1 norm of the normalised weights,
        both ``>= 0``.
    batch_dims : int, keyword-only
        Number of leading dimensions that index independent networks trained side by
        side (default 0: one network). The norms are then taken over the remaining
        dimensions of each ``W_l``, and all ``W_l`` must share these leading sizes.

    Returns
    -------
    torch.Tensor, of the batch shape (0-dim by default)
        ``lam1 * sum_l log ||W_l||_F + lam2 * sum_l ||W_l / ||W_l||_F||_1``, unchanged
        by any weight-scale shift with ``prod gamma_l = 1``. The first term is negative
        when the norms are below 1; only its gradient matters for training.

    Raises
    ------
    TypeError
        ``weights`` is not a sequence of floating-point tensors, or ``lam1``/``lam2``
        are not real numbers.
    ValueError
        ``weights`` is empty, a weight has NaN/inf entries or a zero norm (its log
        would be ``-inf``), ``lam1``/``lam2`` is negative, ``batch_dims`` is negative
        or leaves no dimension to take a norm over, or the weights' batch shapes
        differ.

    Implements C4 of the chapter ``nlp/weissi``.
    """
    if isinstance(weights, torch.Tensor | str) or not isinstance(weights, Sequence):
        raise TypeError(
            f"weights must be a list or tuple of weight tensors, got "
            f"{V.describe(weights)}"
        )
    if len(weights) == 0:
        raise ValueError("weights must hold at least one tensor, got an empty sequence")
    lam1 = V.real("lam1", lam1, ge=0)
    lam2 = V.real("lam2", lam2, ge=0)
    nb = V.integer("batch_dims", batch_dims, minimum=0)
    total = None
    for i, W in enumerate(weights):
        W = V.tensor(f"weights[{i}]", W, floating=True, finite=True)
        if W.dim() <= nb:
            raise ValueError(
                f"weights[{i}] must have more than batch_dims = {nb} dimensions, got "
                f"shape {tuple(W.shape)}"
            )
        if i and W.shape[:nb] != weights[0].shape[:nb]:
            raise ValueError(
                f"weights[{i}] must have the batch shape of weights[0], "
                f"{tuple(weights[0].shape[:nb])}, got {tuple(W.shape[:nb])}"
            )
        dims = tuple(range(nb, W.dim()))
        norm = torch.linalg.vector_norm(W, dim=dims)
        if not bool((norm > 0).all()):
            raise ValueError(f"weights[{i}] must have a nonzero norm, got all zeros")
        term = lam1 * torch.log(norm) + lam2 * (W.abs().sum(dim=dims) / norm)
        total = term if total is None else total + term
    return total


def _linear_layers(model: nn.Module) -> list[nn.Linear]:
    return [m for m in model.modules() if isinstance(m, nn.Linear)]


def rescale_layers(model: nn.Module, gammas) -> nn.Module:
    """A copy of ``model`` with a weight-scale shift applied to its linear layers.

    The ``l``-th ``nn.Linear`` of ``model.modules()`` (in order) gets ``W_l ->
    gamma_l W_l`` and ``b_l -> (gamma_1 ... gamma_l) b_l``. If the layers are chained
    with positively homogeneous activations (ReLU, identity, max-pooling) the copy
    computes exactly the same function as ``model``; the L2 norms of its weights change,
    the WEISSI penalty does not.

    Parameters
    ----------
    model : torch.nn.Module
        A network whose ``nn.Linear`` layers run in the order of ``model.modules()``
        (an ``nn.Sequential`` MLP, for instance). It is not modified.
    gammas : sequence of float
        One positive, finite factor per linear layer, with product 1 (to a relative
        tolerance of 1e-9).

    Returns
    -------
    torch.nn.Module
        The rescaled deep copy.

    Raises
    ------
    TypeError
        ``model`` is not an ``nn.Module`` or ``gammas`` not a sequence of real numbers.
    ValueError
        ``model`` has no linear layer, ``len(gammas)`` differs from their number, a
        factor is not positive and finite, or the product is not 1.

    Implements C2 of the chapter ``nlp/weissi``.
    """
    V.module("model", model)
    if isinstance(gammas, str) or not isinstance(gammas, Sequence | torch.Tensor):
        raise TypeError(
            f"gammas must be a sequence of positive numbers, got {V.describe(gammas)}"
        )
    layers = _linear_layers(model)
    if not layers:
        raise ValueError("model must contain at least one nn.Linear layer, got none")
    if len(gammas) != len(layers):
        raise ValueError(
            f"gammas must have one factor per linear layer ({len(layers)}), got "
            f"{len(gammas)}"
        )
    gs = [V.real(f"gammas[{i}]", g, gt=0) for i, g in enumerate(gammas)]
    log_prod = math.fsum(math.log(g) for g in gs)
    if abs(log_prod) > 1e-9:
        raise ValueError(
            f"gammas must have product 1 (a shift that keeps the function), got "
            f"product {math.exp(log_prod):.12g}"
        )
    out = copy.deepcopy(model)
    cum = 1.0
    with torch.no_grad():
        for layer, g in zip(_linear_layers(out), gs):
            cum *= g
            layer.weight.mul_(g)
            if layer.bias is not None:
                layer.bias.mul_(cum)
    return out
