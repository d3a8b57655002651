"""Whitening of sentence embeddings (BERT-whitening), chapter ``nlp/whitening``.

Given row vectors ``X`` (N, d) with mean ``mu`` and population (1/N) covariance
``Sigma = U Lambda U^T``, eigenvalues from largest to smallest, whitening maps (C1)::

    x  ->  (x - mu) W,      W = U Lambda^{-1/2},      so that  W^T Sigma W = I:

the transformed vectors have zero mean and identity covariance. Keeping the first ``k``
columns of ``W`` keeps the ``k`` directions of largest variance (PCA), each scaled to
unit variance.

The eigen-decomposition comes from an SVD of the centred data (``X - mu = P S U^T``
gives ``Lambda = S^2 / N``), which is more accurate than forming ``Sigma``. Each
column's sign is fixed so that its entry of largest magnitude is positive. This makes
the output deterministic; it does not change any cosine similarity.
"""

from __future__ import annotations

import numpy as np

from .unargmaxable import _as_array

__all__ = ["whiten"]


def whiten(X, k: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Mean and whitening matrix of the rows of ``X``: ``(X - mu) @ W`` has covariance I

    Parameters
    ----------
    X : array (N, d)
        One embedding per row (numpy array or torch tensor, real, finite), ``N >= 2``.
    k : int, optional
        Number of directions kept, largest variance first; ``None`` keeps all ``d``. It
        must not exceed the numerical rank of the centred data (at most ``N - 1``): a
        direction of zero variance cannot be scaled to unit variance.

    Returns
    -------
    mu : numpy.ndarray (d,)
        The mean of the rows.
    W : numpy.ndarray (d, k)
        ``U_k diag(lambda_1..k)^{-1/2}``. With ``Z = (X - mu) @ W``,
        ``Z.T @ Z / N = I_k`` (the 1/N covariance), and the columns of ``Z`` are ordered
        by the variance they had in ``X``. ``whiten(X)[1][:, :k]`` equals
        ``whiten(X, k)[1]``.

    Raises
    ------
    TypeError
        ``X`` is not a real numpy array / torch tensor, or ``k`` is not an int.
    ValueError
        ``X`` is not 2-D with at least 2 rows, has NaN or inf, or ``k`` is outside
        ``[1, rank]``.

    Implements C1 of the chapter ``nlp/whitening``.
    """
    X = _as_array(X, "X")
    if X.ndim != 2 or X.shape[0] < 2 or X.shape[1] < 1:
        raise ValueError(
            f"X must have shape (N, d) with N >= 2 and d >= 1, got shape {X.shape}"
        )
    if not np.all(np.isfinite(X)):
        raise ValueError("X must be finite, got NaN or inf entries")
    N, d = X.shape
    if k is not None:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
            raise TypeError(f"k must be an int or None, got {type(k).__name__}")
        if not 1 <= k <= d:
            raise ValueError(f"k must be in [1, d] = [1, {d}], got {k}")
    mu = X.mean(0)
    Xc = X - mu
    _, s, Ut = np.linalg.svd(Xc, full_matrices=False)  # s descending
    rank = int(np.sum(s > s[0] * max(N, d) * np.finfo(np.float64).eps)) if s[0] else 0
    kk = d if k is None else int(k)
    if kk > rank:
        what = "k" if k is not None else "k=None (all d directions)"
        raise ValueError(
            f"{what} asks for {kk} directions, but the centred X has numerical "
            f"rank {rank} (N = {N} rows, d = {d}); pass k <= {rank}"
        )
    U = Ut[:kk].T  # (d, kk), columns = principal directions
    signs = np.sign(U[np.argmax(np.abs(U), axis=0), np.arange(kk)])
    U = U * signs
    lam = s[:kk] ** 2 / N
    return mu, U / np.sqrt(lam)
