"""Approximate geodesic distances on a k-nearest-neighbour graph (chapter
``nlp/geodesic-similarity``).

Distances between embedding vectors are trusted only at short range. The geodesic
distance along the data manifold is estimated the Isomap way (C1): join every point
to its ``k`` nearest neighbours with an edge weighted by their Euclidean distance, then
take shortest paths on that graph. Each edge is a straight segment, so a path is never
shorter than the straight line between its ends: the graph distance is >= the Euclidean
distance. As the sample gets denser (with ``k`` fixed), the graph distance approaches
the geodesic distance of the manifold (C2).

The graph is **symmetrised by union**: ``i`` and ``j`` are joined when ``i`` is among
the ``k`` nearest neighbours of ``j`` *or* ``j`` is among those of ``i`` (the graph of
scikit-learn's ``Isomap``). A point is not its own neighbour. Ties between equally
distant neighbours are broken by ``scipy.spatial.cKDTree``; two copies of one point are
joined by an edge of length 0, which the shortest-path routines keep as an edge.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

# SciPy's sparse-graph and spatial modules are imported where they are used: importing
# them costs about half a second, which every chapter importing kexue_lib.nlp would pay.
if TYPE_CHECKING:
    from scipy.sparse import csr_matrix

from .. import _validate as V

__all__ = ["knn_graph", "geodesic_distances"]


def _points(X) -> np.ndarray:
    if isinstance(X, (list, tuple)):
        raise TypeError(
            f"X must be a numpy array or torch tensor of shape (n, d), got "
            f"{V.describe(X)}"
        )
    X = V.real_array("X", X)
    if X.ndim != 2 or X.shape[0] < 2 or X.shape[1] < 1:
        raise ValueError(
            f"X must have shape (n, d) with n >= 2 and d >= 1, got shape {X.shape}"
        )
    return X


def knn_graph(X, k: int) -> csr_matrix:
    """The symmetrised k-nearest-neighbour graph of the rows of ``X``.

    Parameters
    ----------
    X : array (n, d)
        One point per row (numpy array or torch tensor, real, finite), ``n >= 2``.
    k : int
        Number of neighbours of each point, ``1 <= k <= n - 1``.

    Returns
    -------
    scipy.sparse.csr_matrix (n, n)
        Symmetric; entry ``(i, j)`` is ``||x_i - x_j||`` when ``j`` is among the ``k``
        nearest neighbours of ``i`` or ``i`` among those of ``j``, and absent
        otherwise. The diagonal is empty. An edge between two copies of one point is
        stored as an explicit 0.

    Raises
    ------
    TypeError
        ``X`` is not a real array or tensor, or ``k`` is not an int.
    ValueError
        ``X`` is not (n, d) with ``n >= 2``, has NaN or inf, or ``k`` is outside
        ``[1, n - 1]``.

    Implements the graph of C1 of the chapter ``nlp/geodesic-similarity``.
    """
    X = _points(X)
    n = X.shape[0]
    k = V.integer("k", k, minimum=1, maximum=n - 1)
    from scipy.sparse import csr_matrix
    from scipy.spatial import cKDTree

    _, idx = cKDTree(X).query(X, k=k + 1)
    # drop each point itself; with duplicated points it need not come first
    rows = np.repeat(np.arange(n), k + 1).reshape(n, k + 1)
    is_self = idx == rows
    drop_last = ~is_self.any(axis=1)  # a copy of the point took its place
    is_self[drop_last, k] = True
    nbr = idx[~is_self].reshape(n, k)
    i = np.repeat(np.arange(n), k)
    j = nbr.ravel()
    # union of both directions, each unordered pair once
    a, b = np.minimum(i, j), np.maximum(i, j)
    pairs = np.unique(a * n + b)
    a, b = pairs // n, pairs % n
    w = np.linalg.norm(X[a] - X[b], axis=1)
    G = csr_matrix(
        (np.r_[w, w], (np.r_[a, b], np.r_[b, a])), shape=(n, n), dtype=np.float64
    )
    G.sort_indices()
    return G


def geodesic_distances(X, k: int, sources=None) -> np.ndarray:
    """Shortest-path lengths on :func:`knn_graph` ``(X, k)``: approximate geodesics.

    Parameters
    ----------
    X : array (n, d)
        One point per row (numpy array or torch tensor, real, finite), ``n >= 2``.
    k : int
        Number of neighbours of each point, ``1 <= k <= n - 1``.
    sources : sequence of int, optional
        Row indices to measure from. ``None`` (default) gives all ``n`` rows.

    Returns
    -------
    numpy.ndarray (n, n), or (len(sources), n)
        ``D[s, j]`` is the length of the shortest path from ``sources[s]`` (or ``s``)
        to ``j`` (Dijkstra, ``scipy.sparse.csgraph``). Always finite: it is >= the
        Euclidean distance, with equality along any single edge that is itself a
        shortest path.

    Raises
    ------
    TypeError
        ``X`` is not a real array or tensor, ``k`` is not an int, or ``sources`` holds
        something other than ints.
    ValueError
        Bad ``X`` or ``k`` (as in :func:`knn_graph`), ``sources`` empty, not 1-D or
        out of ``[0, n - 1]``, or a requested distance does not exist because the graph
        is disconnected: the message names ``k`` and the number of components (never a
        silent ``inf``).

    Implements C1 (and, with growing density, C2) of the chapter
    ``nlp/geodesic-similarity``.
    """
    G = knn_graph(X, k)
    n = G.shape[0]
    k = int(k)
    if sources is not None:
        if hasattr(sources, "detach"):  # a torch tensor
            sources = sources.detach().cpu().numpy()
        try:
            src = np.asarray(sources)
        except (TypeError, ValueError):  # ragged nesting
            src = np.asarray(None)
        if src.ndim != 1 or src.size == 0:
            if src.dtype != object:
                raise ValueError(
                    f"sources must be a non-empty 1-D sequence of row indices, got "
                    f"shape {src.shape}"
                )
        if src.dtype == bool or not np.issubdtype(src.dtype, np.integer):
            raise TypeError(
                f"sources must be a sequence of ints (row indices), got "
                f"{V.describe(sources)}"
            )
        if src.min() < 0 or src.max() >= n:
            raise ValueError(
                f"sources must be row indices in [0, {n - 1}], got values from "
                f"{src.min()} to {src.max()}"
            )
        src = src.astype(np.intp)
    from scipy.sparse.csgraph import connected_components, dijkstra

    D = dijkstra(G, directed=False, indices=src if sources is not None else None)
    if not np.all(np.isfinite(D)):
        n_comp = connected_components(G, directed=False)[0]
        raise ValueError(
            f"k must connect the points asked for, got k = {k}: the {k}-nearest-"
            f"neighbour graph of X has {n_comp} connected components, so some "
            f"requested geodesic distances do not exist; increase k"
        )
    return D
