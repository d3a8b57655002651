"""Tests for kexue_lib.nlp.geodesic (chapter nlp/geodesic-similarity).

Independent references: scikit-learn's Isomap graph distances (``dist_matrix_``) on the
same inputs; a brute-force k-nearest-neighbour graph from the full distance matrix; the
Floyd–Warshall shortest paths of scipy; closed-form geodesics of a circle.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse.csgraph import floyd_warshall
from scipy.spatial.distance import cdist
from sklearn.datasets import make_swiss_roll
from sklearn.manifold import Isomap

from kexue_lib.nlp import geodesic_distances, knn_graph


def brute_knn_graph(X: np.ndarray, k: int) -> np.ndarray:
    """Dense adjacency (inf = no edge) from a full distance matrix and argsort."""
    E = cdist(X, X)
    np.fill_diagonal(E, np.inf)
    nbr = np.argsort(E, axis=1, kind="stable")[:, :k]
    A = np.zeros_like(E, dtype=bool)
    A[np.repeat(np.arange(len(X)), k), nbr.ravel()] = True
    A |= A.T
    return np.where(A, cdist(X, X), np.inf)


@pytest.mark.parametrize("k", [5, 8, 15])
@pytest.mark.parametrize("seed", [0, 1])
def test_matches_isomap_graph_distances(k, seed):
    X, _ = make_swiss_roll(400, noise=0.1, random_state=seed)
    D = geodesic_distances(X, k)
    iso = Isomap(n_neighbors=k).fit(X).dist_matrix_
    np.testing.assert_allclose(D, iso, rtol=1e-10, atol=1e-10)


def test_matches_isomap_on_digits():
    from sklearn.datasets import load_digits

    X = load_digits().data[:500]
    D = geodesic_distances(X, 10)
    np.testing.assert_allclose(D, Isomap(n_neighbors=10).fit(X).dist_matrix_, atol=1e-9)


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(5, 60),
    d=st.integers(1, 5),
    frac=st.floats(0.05, 1.0),
)
def test_graph_is_the_union_of_knn_and_distances_are_shortest_paths(seed, n, d, frac):
    X = np.random.default_rng(seed).standard_normal((n, d))
    k = max(1, min(n - 1, round(frac * (n - 1))))
    G = knn_graph(X, k)
    dense = np.where(G.toarray() > 0, G.toarray(), np.inf)  # no duplicates here
    np.testing.assert_allclose(dense, brute_knn_graph(X, k), rtol=1e-12)
    assert (G != G.T).nnz == 0 and G.diagonal().sum() == 0
    ref = floyd_warshall(brute_knn_graph(X, k), directed=False)
    if np.all(np.isfinite(ref)):
        D = geodesic_distances(X, k)
        np.testing.assert_allclose(D, ref, rtol=1e-10, atol=1e-12)
        E = cdist(X, X)
        assert np.all(D >= E - 1e-12)  # never shorter than the straight line
        r, c = G.nonzero()
        np.testing.assert_allclose(D[r, c], E[r, c], rtol=1e-12)  # equal on edges
    else:
        with pytest.raises(ValueError, match=r"^k must connect"):
            geodesic_distances(X, k)


def test_sources_give_the_rows_of_the_full_matrix():
    X, _ = make_swiss_roll(300, random_state=3)
    full = geodesic_distances(X, 8)
    src = [5, 0, 299, 5]
    np.testing.assert_allclose(geodesic_distances(X, 8, sources=src), full[src])
    np.testing.assert_allclose(
        geodesic_distances(X, 8, sources=np.array(src, dtype=np.int32)), full[src]
    )
    np.testing.assert_allclose(
        geodesic_distances(X, 8, sources=torch.tensor(src)), full[src]
    )


def test_circle_converges_to_the_arc_length():
    """Equally spaced points on a circle with k = 2: the graph path follows the polygon,
    whose length tends to the arc as the spacing shrinks."""
    errs = []
    for n in (50, 200, 800):
        th = 2 * np.pi * np.arange(n) / n
        X = np.c_[np.cos(th), np.sin(th)]
        D = geodesic_distances(X, 2, sources=[0])[0]
        arc = np.minimum(th, 2 * np.pi - th)
        chord = 2 * np.sin(np.pi / n)
        np.testing.assert_allclose(
            D, np.round(arc / (2 * np.pi / n)) * chord, atol=1e-9
        )
        errs.append(np.max(np.abs(D - arc)))
    assert errs[0] > errs[1] > errs[2] and errs[2] < 1e-4


def test_duplicated_points_are_joined_at_distance_zero():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3))
    X2 = np.vstack([X, X[:5]])
    G = knn_graph(X2, 4)
    assert G.diagonal().sum() == 0
    C = G.tocoo()
    zero_edges = set(zip(C.row[C.data == 0].tolist(), C.col[C.data == 0].tolist()))
    assert zero_edges == {(i, 40 + i) for i in range(5)} | {
        (40 + i, i) for i in range(5)
    }
    D = geodesic_distances(X2, 4)
    np.testing.assert_allclose(D[:5, 40:45].diagonal(), 0.0)
    np.testing.assert_allclose(D[40:45, :40], D[:5, :40], atol=1e-12)


def test_deterministic_and_accepts_tensors():
    X, _ = make_swiss_roll(200, random_state=0)
    a = geodesic_distances(X, 7)
    np.testing.assert_array_equal(a, geodesic_distances(X.copy(), 7))
    np.testing.assert_allclose(geodesic_distances(torch.tensor(X), 7), a)
    assert geodesic_distances(X.astype(np.float32), 7).dtype == np.float64


def test_disconnected_graph_raises_naming_k():
    X = np.r_[np.random.default_rng(0).standard_normal((10, 2)), 100 + np.eye(3, 2)]
    with pytest.raises(ValueError, match=r"^k must connect .* 2 connected components"):
        geodesic_distances(X, 2)
    with pytest.raises(ValueError, match=r"^k must connect"):
        geodesic_distances(X, 2, sources=[0])
    assert np.isfinite(geodesic_distances(X, 10)).all()  # large enough k connects


@pytest.mark.parametrize(
    "call, exc, pattern",
    [
        (lambda: knn_graph([[0.0, 1.0], [1.0, 0.0]], 1), TypeError, r"^X must be"),
        (lambda: knn_graph(np.array([["a", "b"]]), 1), TypeError, r"^X must be"),
        (lambda: knn_graph(np.zeros(5), 1), ValueError, r"^X must have shape \(n, d\)"),
        (lambda: knn_graph(np.zeros((1, 2)), 1), ValueError, r"^X must have shape"),
        (
            lambda: knn_graph(np.array([[0.0, np.nan], [1.0, 0.0]]), 1),
            ValueError,
            r"^X must be finite",
        ),
        (lambda: knn_graph(np.eye(4), 2.0), TypeError, r"^k must be an int"),
        (lambda: knn_graph(np.eye(4), True), TypeError, r"^k must be an int"),
        (lambda: knn_graph(np.eye(4), 0), ValueError, r"^k must be an int in \[1, 3\]"),
        (lambda: knn_graph(np.eye(4), 4), ValueError, r"^k must be an int in \[1, 3\]"),
        (lambda: geodesic_distances(np.eye(4), 9), ValueError, r"^k must be an int"),
        (
            lambda: geodesic_distances(np.eye(4), 2, sources=[0.5]),
            TypeError,
            r"^sources must be a sequence of ints",
        ),
        (
            lambda: geodesic_distances(np.eye(4), 2, sources=[True]),
            TypeError,
            r"^sources must be a sequence of ints",
        ),
        (
            lambda: geodesic_distances(np.eye(4), 2, sources=[4]),
            ValueError,
            r"^sources must be row indices in \[0, 3\]",
        ),
        (
            lambda: geodesic_distances(np.eye(4), 2, sources=[-1]),
            ValueError,
            r"^sources must be row indices",
        ),
        (
            lambda: geodesic_distances(np.eye(4), 2, sources=[]),
            ValueError,
            r"^sources must be a non-empty 1-D",
        ),
        (
            lambda: geodesic_distances(np.eye(4), 2, sources=[[0]]),
            ValueError,
            r"^sources must be a non-empty 1-D",
        ),
    ],
)
def test_bad_arguments(call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()
