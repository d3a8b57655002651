"""How much a fixed-κ vMF code can say about its input: the mutual information
I(X; Z).

Chapters ``book/vae/vmf-vae`` (C4) and ``book/vae/univae`` (C4): with κ fixed the KL
term of every input is the same constant, and that constant is only an *upper* budget
for I(X; Z) — an encoder whose direction ignores the input pays the same KL and carries
nothing.
"""

from __future__ import annotations

import math

import torch

from .. import _validate as V
from .density import vmf_kl_uniform
from .sampler import _check_mu, sample_vmf

__all__ = ["vmf_mutual_information"]


def vmf_mutual_information(
    mu: torch.Tensor,
    kappa: float,
    n_samples: int = 4096,
    generator: torch.Generator | None = None,
) -> tuple[float, float]:
    """Monte Carlo estimate of I(X; Z) in nats for X uniform over the ``n`` rows of
    ``mu`` (n, d) and Z | X = i ~ vMF(μ_i, κ); returns ``(estimate, standard_error)``.

    With q_i the vMF density around μ_i and q = (1/n) Σ_j q_j the aggregate posterior,

        I(X; Z) = E_i E_{z ~ q_i} [log q_i(z) − log q(z)]
                = log n + E_i E_{z ~ q_i} [κ μ_i·z − logsumexp_j κ μ_j·z],

    since the normaliser C_d(κ) is common to all q_j and cancels. Because
    E_i KL(q_i ‖ U) = I(X; Z) + KL(q ‖ U), the estimate lies in [0, min(KL, log n)] up
    to Monte Carlo error, with KL = ``vmf_kl_uniform(d, κ)``. If all rows of ``mu`` are
    equal every term is exactly 0, so the estimate is exactly 0 (a constant encoder
    carries no information, whatever its KL). ``n_samples`` draws (Wood's exact sampler)
    are spread evenly over the rows (at least one per row).

    Raises ``ValueError`` if ``mu`` is not (n, d) with unit rows, ``kappa`` is not
    positive, or ``n_samples < 2``.
    """
    mu = _check_mu(mu)
    if mu.dim() != 2:
        raise ValueError(f"mu must have shape (n, d), got {tuple(mu.shape)}")
    V.generator("generator", generator)
    n_samples = V.integer("n_samples", n_samples, minimum=2)
    kappa = V.real("kappa", kappa, gt=0)
    vmf_kl_uniform(mu.shape[-1], kappa)  # validates κ and d
    mu = mu.detach().to(torch.float64)
    n = mu.shape[0]
    reps = max(1, math.ceil(n_samples / n))
    src = mu.repeat_interleave(reps, dim=0)
    z = sample_vmf(src, kappa, generator=generator)
    logits = kappa * (z @ mu.T)  # (n·reps, n): κ μ_j·z
    own = kappa * (z * src).sum(-1)
    terms = math.log(n) + own - torch.logsumexp(logits, dim=-1)
    se = float(terms.std()) / math.sqrt(len(terms)) if len(terms) > 1 else 0.0
    return float(terms.mean()), se
