"""Dense vector indexes chosen by size: exact below ~200k vectors, IVF with compressed codes above.

* Up to ``FLAT_MAX`` vectors: ``IndexFlatIP``, exact search (≈5 ms at 100k on one thread).
* Above it: ``IndexIVFScalarQuantizer`` (inverted file over ``nlist`` ≈ 2·√n centroids, 8-bit
  scalar-quantised codes, ``NPROBE`` lists probed), then the ``RERANK``·k best candidates are
  re-scored exactly against the stored vectors, which the reader memory-maps.  At 1M vectors
  the codes take 384 MB instead of 1.5 GB of flat float32, and the re-rank makes the scores
  exact, so the recall lost is only the IVF probing's (``tests/test_vectors.py``,
  docs/performance.md).  Product quantisation (48 bytes) was tried and rejected: 3 minutes to
  train at 250k and recall@10 0.83 even after re-ranking 100 candidates.

Large snapshots also store their vectors as float16 (``vector_dtype``): half the disk and page
cache, and cosines change by less than 1e-3.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

FLAT_MAX = 200_000
NPROBE = 64
RERANK = 10
_TRAIN_PER_LIST = 40
_ADD_CHUNK = 65_536


def index_kind(n: int, flat_max: int | None = None) -> str:
    """``"flat"`` for up to ``flat_max`` (default ``FLAT_MAX``) vectors, ``"ivf-sq8"`` above."""
    return "flat" if n <= (FLAT_MAX if flat_max is None else flat_max) else "ivf-sq8"


def vector_dtype(n: int, flat_max: int | None = None) -> type[np.floating[Any]]:
    """float32 for exact-search snapshots, float16 for large ones (only read for the exact re-rank)."""
    return np.float32 if index_kind(n, flat_max) == "flat" else np.float16


def build_index(vectors: np.ndarray, *, flat_max: int | None = None, seed: int = 0) -> Any:
    """A FAISS inner-product index over unit ``vectors`` (float32 or float16 rows), chosen by size."""
    import faiss

    n, dim = (int(vectors.shape[0]), int(vectors.shape[1])) if vectors.ndim == 2 else (0, 0)
    if index_kind(n, flat_max) == "flat":
        flat = faiss.IndexFlatIP(dim or 1)
        if n:
            flat.add(np.ascontiguousarray(vectors, dtype=np.float32))
        return flat
    nlist = int(min(max(2 * math.sqrt(n), 64), 8_192))
    quantizer = faiss.IndexFlatIP(dim)
    index = faiss.IndexIVFScalarQuantizer(quantizer, dim, nlist, faiss.ScalarQuantizer.QT_8bit,
                                          faiss.METRIC_INNER_PRODUCT)
    rng = np.random.default_rng(seed)
    sample = np.sort(rng.choice(n, size=min(n, nlist * _TRAIN_PER_LIST), replace=False))
    index.train(np.ascontiguousarray(vectors[sample], dtype=np.float32))
    for start in range(0, n, _ADD_CHUNK):
        index.add(np.ascontiguousarray(vectors[start:start + _ADD_CHUNK], dtype=np.float32))
    index.nprobe = NPROBE
    return index


def read_index(path: Path, n: int) -> Any:
    """Load a stored index; IVF inverted lists are memory-mapped (page cache, not heap), flat ones read.

    A truncated IVF file raises ``RuntimeError`` here, like a truncated flat one.
    """
    import faiss

    flags = faiss.IO_FLAG_MMAP if index_kind(n) != "flat" else 0
    return faiss.read_index(str(path), flags)


def search(index: Any, vectors: np.ndarray, query_vector: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-k (ids, scores) by inner product; approximate indexes are re-ranked exactly with ``vectors``."""
    n = int(index.ntotal)
    if n == 0 or k <= 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    query = np.ascontiguousarray(query_vector.reshape(1, -1), dtype=np.float32)
    exact = index.__class__.__name__.startswith("IndexFlat")
    scores, ids = index.search(query, min(k if exact else k * RERANK, n))
    found = ids[0][ids[0] >= 0].astype(np.int64)
    if exact:
        return found, scores[0][: len(found)].astype(np.float32)
    rows = np.sort(found)  # ascending row order reads the memory map sequentially
    exact_scores = np.asarray(vectors[rows], dtype=np.float32) @ query[0]
    best = np.argsort(-exact_scores, kind="stable")[:k]
    return rows[best], exact_scores[best].astype(np.float32)


def recall_at_k(approximate: np.ndarray, exact: np.ndarray) -> float:
    """Mean fraction of each exact top-k row found in the approximate top-k row (same shapes)."""
    hits = [len(set(a.tolist()) & set(e.tolist())) / max(len(e), 1) for a, e in zip(approximate, exact)]
    return float(np.mean(hits)) if hits else 1.0
