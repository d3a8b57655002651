"""Sampling from a distribution known only up to a constant: importance sampling,
rejection sampling, Metropolis–Hastings and Gibbs.

Chapter ``math/search-sampling`` (posts kexue.fm/archives/8062 and 8084). The target is
always given as ``log_rho``, the logarithm of an *unnormalised* density
``ρ(x) ∝ p(x)`` (``-inf`` where ``ρ = 0``, e.g. a sentence without its keywords); no
function here needs the normaliser ``Z = Σ_x ρ(x)``.

* :func:`importance_weights`, :func:`importance_expectation` — self-normalised
  importance sampling ``Σ w_i f(x_i) / Σ w_i`` with ``w = ρ/q`` (claim C2).
* :func:`rejection_sample` — propose from ``q``, accept with ``α = ρ/(M q)`` (claim C3).
* :func:`metropolis_hastings` — the MH chain with acceptance
  ``min(1, q(x←y)ρ(y) / (q(y←x)ρ(x)))`` (claim C4), vectorised over chains;
  :func:`propose_edit` is the symmetric edit proposal the chapter uses.
* :func:`gibbs_sweep` — resample positions of a sequence from their exact conditionals
  (claim C4: MH with acceptance 1).
* :func:`mh_acceptance`, :func:`mh_kernel` — the exact MH acceptance and transition
  matrices of a small finite space, for checking detailed balance by enumeration.
* :class:`BigramLM` — a fixed-length bigram language model (ancestral sampling, exact
  log-probabilities, enumeration of all sequences, tempering), the chapter's toy model.

Conventions: states are rows of an integer tensor ``x`` of shape ``(n, L)``;
``log_rho(x)`` and ``log_q(x)`` return shape ``(n,)``. Every random function takes a
``torch.Generator`` (keyword ``generator``, ``None`` = PyTorch's global one), so a
chapter is reproducible by seeding its generators.
"""

from __future__ import annotations

from .independent import importance_expectation, importance_weights, rejection_sample
from .lm import BigramLM, contains_keywords, total_variation
from .mcmc import (
    gibbs_sweep,
    metropolis_hastings,
    mh_acceptance,
    mh_kernel,
    propose_edit,
)

__all__ = [
    "BigramLM",
    "importance_weights",
    "importance_expectation",
    "rejection_sample",
    "metropolis_hastings",
    "propose_edit",
    "gibbs_sweep",
    "mh_acceptance",
    "mh_kernel",
    "contains_keywords",
    "total_variation",
]
