"""Samplers with an independent proposal: self-normalised importance sampling (C2)
and rejection sampling (C3); see :mod:`kexue_lib.sampling`."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from .. import _validate as V
from ._common import LogDensity, _log_values

__all__ = ["importance_weights", "importance_expectation", "rejection_sample"]


def importance_weights(log_rho: torch.Tensor, log_q: torch.Tensor) -> torch.Tensor:
    """Self-normalised importance weights ``w_i = (ρ/q)(x_i) / Σ_j (ρ/q)(x_j)`` from
    the values ``log ρ(x_i)`` and ``log q(x_i)`` at samples ``x_i ~ q``; shape (n,).

    Computed in log space, so ``ρ`` may be unnormalised and tiny. Chapter
    ``math/search-sampling``, claim C2. ``ValueError`` if ``q(x_i) = 0`` for a sample
    (it could not have been drawn) or if every sample has ``ρ = 0`` (no estimate).
    """
    log_rho = V.tensor("log_rho", log_rho, shape="(n,)", ndim=1, floating=True)
    log_q = V.tensor("log_q", log_q, shape="(n,)", ndim=1, floating=True)
    V.same_shape("log_q", log_q, "log_rho", log_rho)
    if bool(torch.isnan(log_rho).any()) or bool((log_rho == math.inf).any()):
        raise ValueError("log_rho must be < +inf and not NaN, got such entries")
    if not bool(torch.isfinite(log_q).all()):
        raise ValueError("log_q must be finite (q > 0 at every sample), got not")
    log_w = log_rho - log_q
    if not bool(torch.isfinite(log_w).any()):
        raise ValueError(
            "log_rho must be > -inf for at least one sample (all weights are 0), "
            "got none"
        )
    return torch.softmax(log_w, 0)


def importance_expectation(
    f: Callable[[torch.Tensor], torch.Tensor],
    log_rho: LogDensity,
    sample_q: Callable[..., torch.Tensor],
    log_q: LogDensity,
    n_samples: int,
    *,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Self-normalised importance-sampling estimate of ``E_p[f]`` with ``p ∝ ρ``:

    ``Σ_i (ρ/q)(x_i) f(x_i) / Σ_i (ρ/q)(x_i)``, ``x_1..x_N ~ q`` i.i.d.

    ``sample_q(n, generator=...)`` draws ``n`` states (n, ...), ``log_q`` and
    ``log_rho`` map them to (n,), and ``f`` to (n,) or (n, k); the result has shape
    ``()`` or ``(k,)``. Consistent as ``N → ∞`` (bias and variance O(1/N)) whenever
    ``q > 0`` wherever ``ρ > 0`` (chapter ``math/search-sampling``, claim C2).
    """
    for name, fn in (("f", f), ("log_rho", log_rho), ("sample_q", sample_q)):
        V.function(name, fn)
    V.function("log_q", log_q)
    n = V.integer("n_samples", n_samples, minimum=1)
    generator = V.generator("generator", generator)
    x = sample_q(n, generator=generator)
    w = importance_weights(
        _log_values("log_rho", log_rho(x), n), _log_values("log_q", log_q(x), n)
    )
    fx = f(x)
    if not isinstance(fx, torch.Tensor) or fx.dim() not in (1, 2) or fx.shape[0] != n:
        raise ValueError(
            f"f must return a tensor of shape ({n},) or ({n}, k), got {V.describe(fx)}"
        )
    fx = fx.to(w.dtype)
    return (w[:, None] * fx).sum(0) if fx.dim() == 2 else (w * fx).sum()


# --- C3: rejection sampling ----------------------------------------------------------


def rejection_sample(
    log_rho: LogDensity,
    sample_q: Callable[..., torch.Tensor],
    log_q: LogDensity,
    log_M: float,
    n_proposals: int,
    *,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, float]:
    """Rejection sampling with a fixed budget: draw ``n_proposals`` states from ``q``,
    keep each with probability ``α(x) = ρ(x) / (M q(x))``; return ``(accepted,
    acceptance_rate)``.

    The kept states are i.i.d. draws from ``q α / Σ q α = ρ / Z`` and the expected
    acceptance rate is ``Σ_x q α = Z / M`` (chapter ``math/search-sampling``, claim C3).
    The post's loop "repeat until accepted" is this with the budget spent until one
    state is kept; a fixed budget keeps the cost bounded when ``Z/M`` is tiny.
    ``ValueError`` (naming ``log_M``) when some proposal has ``ρ/q > M``: then ``α > 1``
    and the output would silently follow the wrong distribution.
    """
    V.function("log_rho", log_rho)
    V.function("sample_q", sample_q)
    V.function("log_q", log_q)
    log_M = V.real("log_M", log_M)
    n = V.integer("n_proposals", n_proposals, minimum=1)
    generator = V.generator("generator", generator)
    x = sample_q(n, generator=generator)
    lr = _log_values("log_rho", log_rho(x), n)
    lq = _log_values("log_q", log_q(x), n)
    if not bool(torch.isfinite(lq).all()):
        raise ValueError("log_q must be finite at every proposal, got -inf")
    log_alpha = lr - lq - log_M
    worst = float(log_alpha.max())
    if worst > 1e-9:
        raise ValueError(
            "log_M must bound log_rho − log_q (α = ρ/(Mq) <= 1), "
            f"got a proposal with α = {math.exp(worst):.4g}"
        )
    u = torch.rand(n, generator=generator, dtype=torch.float64)
    keep = u < log_alpha.exp()
    return x[keep], float(keep.double().mean())
