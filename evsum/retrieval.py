"""Hybrid retrieval: dense (FAISS) and lexical (bm25s) rankings fused by reciprocal rank.

Reciprocal rank fusion (Cormack et al., 2009) scores an item by the sum over
rankings of ``1 / (k + rank)``; it needs no score calibration between the two
retrievers, which is why it is the default hybrid method in most search stacks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from evsum.records import SearchHit
from evsum.settings import RetrievalSettings
from indexing.reader import IndexReader, RankedIds
from models.encoders import Encoder


@dataclass(frozen=True, slots=True)
class FusedRanking:
    """Fused ids (best first) with the fused score and each retriever's own score."""

    ids: np.ndarray
    scores: np.ndarray
    dense: dict[int, float]
    bm25: dict[int, float]


def reciprocal_rank_fusion(rankings: list[RankedIds], k: int) -> tuple[np.ndarray, np.ndarray]:
    """Fuse rankings: ids sorted by the sum of ``1 / (k + rank)`` (rank starting at 1)."""
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking.ids.tolist(), start=1):
            fused[item] = fused.get(item, 0.0) + 1.0 / (k + rank)
    if not fused:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
    items = sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))
    return (np.array([i for i, _ in items], dtype=np.int64), np.array([s for _, s in items], dtype=np.float64))


class HybridRetriever:
    """Search passages and sentences of one loaded snapshot."""

    def __init__(self, reader: IndexReader, encoder: Encoder, settings: RetrievalSettings) -> None:
        self.reader = reader
        self.encoder = encoder
        self.settings = settings

    def embed_query(self, text: str) -> np.ndarray:
        """The unit query vector (one encoder call)."""
        return self.encoder.encode_queries([text])[0]

    def fused_passages(self, query: str, query_vector: np.ndarray) -> FusedRanking:
        """Passages ranked by RRF of dense and BM25 candidates."""
        dense = self.reader.dense_passages(query_vector, self.settings.dense_candidates)
        lexical = self.reader.bm25_passages(query, self.settings.bm25_candidates)
        return self._fuse(dense, lexical)

    def fused_sentences(self, query: str, query_vector: np.ndarray) -> FusedRanking:
        """Sentences ranked by RRF of dense and BM25 candidates."""
        dense = self.reader.dense_sentences(query_vector, self.settings.dense_candidates)
        lexical = self.reader.bm25_sentences(query, self.settings.bm25_candidates)
        return self._fuse(dense, lexical)

    def _fuse(self, dense: RankedIds, lexical: RankedIds) -> FusedRanking:
        ids, scores = reciprocal_rank_fusion([dense, lexical], self.settings.rrf_k)
        return FusedRanking(
            ids=ids,
            scores=scores,
            dense=dict(zip(dense.ids.tolist(), dense.scores.tolist())),
            bm25=dict(zip(lexical.ids.tolist(), lexical.scores.tolist())),
        )

    def search(self, query: str, top_k: int | None = None) -> list[SearchHit]:
        """The top-k passages for ``query`` with citations and scores."""
        k = top_k or self.settings.default_top_k
        ranking = self.fused_passages(query, self.embed_query(query))
        ids = ranking.ids[:k].tolist()
        passages = self.reader.passages(ids)
        return [
            SearchHit(
                passage=passage,
                citation=self.reader.citation(passage),
                score=float(score),
                dense_score=ranking.dense.get(passage.id),
                bm25_score=ranking.bm25.get(passage.id),
            )
            for passage, score in zip(passages, ranking.scores[:k].tolist())
        ]
