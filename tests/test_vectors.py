"""Vector index chosen by size: exact below the threshold, IVF-SQ8 with exact re-rank above it."""

from __future__ import annotations

import numpy as np

from indexing import vectors


def clustered_unit_vectors(n: int, *, dim: int = 384, centers: int = 500, noise: float = 0.35,
                           seed: int = 0) -> np.ndarray:
    """Unit vectors around random topic centres: neighbours at cosine ~0.9, like near-duplicate passages."""
    rng = np.random.default_rng(seed)
    centre = rng.standard_normal((centers, dim)).astype(np.float32)
    points = centre[rng.integers(0, centers, n)] + noise * rng.standard_normal((n, dim)).astype(np.float32)
    return points / np.linalg.norm(points, axis=1, keepdims=True)


def exact_top_k(data: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    return np.argsort(-(queries @ data.T), axis=1)[:, :k]


def test_small_collections_get_exact_search() -> None:
    data, queries = np.split(clustered_unit_vectors(2_020), [2_000])
    index = vectors.build_index(data, flat_max=10_000)
    assert vectors.index_kind(2_000, 10_000) == "flat" and vectors.vector_dtype(2_000, 10_000) == np.float32
    found = np.stack([vectors.search(index, data, q, 10)[0] for q in queries])
    assert vectors.recall_at_k(found, exact_top_k(data, queries, 10)) == 1.0


def test_large_collections_get_ivf_sq8_with_recall_at_10_of_at_least_098() -> None:
    n, flat_max = 40_000, 10_000
    data, queries = np.split(clustered_unit_vectors(n + 100), [n])  # queries: same topics, unseen points
    stored = data.astype(vectors.vector_dtype(n, flat_max))  # float16 on disk above the threshold
    index = vectors.build_index(stored, flat_max=flat_max)
    assert vectors.index_kind(n, flat_max) == "ivf-sq8" and type(index).__name__ == "IndexIVFScalarQuantizer"
    results = [vectors.search(index, stored, q, 10) for q in queries]
    found = np.stack([ids for ids, _ in results])
    assert vectors.recall_at_k(found, exact_top_k(data, queries, 10)) >= 0.98
    for (ids, scores), q in zip(results, queries):  # scores are exact (re-ranked), best first
        assert np.all(np.diff(scores) <= 1e-6)
        assert np.allclose(scores, data[ids] @ q, atol=2e-3)


def test_empty_index_returns_nothing() -> None:
    index = vectors.build_index(np.zeros((0, 8), dtype=np.float32))
    ids, scores = vectors.search(index, np.zeros((0, 8), dtype=np.float32), np.ones(8, dtype=np.float32), 5)
    assert len(ids) == 0 and len(scores) == 0
