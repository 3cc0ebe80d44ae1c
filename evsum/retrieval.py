"""Hybrid retrieval: dense (FAISS) and lexical (bm25s) rankings fused by reciprocal rank.

Reciprocal rank fusion (Cormack et al., 2009) scores an item by the sum over
rankings of ``1 / (k + rank)``; it needs no score calibration between the two
retrievers, which is why it is the default hybrid method in most search stacks.
"""

from __future__ import annotations

import re
import weakref
from dataclasses import dataclass

import numpy as np

from evsum.records import DocType, Document, SearchFilters, SearchHit
from evsum.settings import RetrievalSettings, SourcePrioritySettings
from indexing.reader import IndexReader, RankedIds
from models.encoders import Encoder

NATIONAL_GUIDELINE = "national_guideline"


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

    def search(self, query: str, top_k: int | None = None, *, filters: SearchFilters | None = None,
               priority: SourcePriority | None = None) -> list[SearchHit]:
        """The top-k passages for ``query`` with citations and scores.

        ``filters`` restrict the documents searched (exactly: every allowed passage competes);
        ``priority`` re-ranks by ``score * (1 + weight * prior)`` (see ``SourcePriority``).
        """
        k = top_k or self.settings.default_top_k
        retriever = self.restricted(filters)
        ranking = retriever.fused_passages(query, self.embed_query(query))
        ids, scores = ranking.ids, ranking.scores
        if priority is not None and len(ids):
            boosted = scores * (1.0 + priority.weight * priority.passage_prior(self.reader)[ids])
            order = np.lexsort((ids, -boosted))
            ids, scores = ids[order], boosted[order]
        passages = self.reader.passages(ids[:k].tolist())
        return [
            SearchHit(
                passage=passage,
                citation=self.reader.citation(passage),
                score=float(score),
                dense_score=ranking.dense.get(passage.id),
                bm25_score=ranking.bm25.get(passage.id),
            )
            for passage, score in zip(passages, scores[:k].tolist())
        ]

    def restricted(self, filters: SearchFilters | None) -> HybridRetriever:
        """This retriever, or a view of it that only sees the documents ``filters`` allow."""
        if filters is None or not filters.active:
            return self
        allowed = np.array([filters.allows(self.reader.documents[d]) for d in self.reader.document_ids], dtype=bool)
        return FilteredRetriever(self.reader, self.encoder, self.settings, allowed)


class FilteredRetriever(HybridRetriever):
    """Hybrid retrieval over the documents of a mask only.

    Exact rather than over-fetched: dense scores are the dot products with every allowed row
    (memory-mapped vectors), BM25 the scores of every allowed row, so a filter never leaves a
    search short of candidates whatever the FAISS index type.
    """

    def __init__(self, reader: IndexReader, encoder: Encoder, settings: RetrievalSettings,
                 allowed_documents: np.ndarray) -> None:
        super().__init__(reader, encoder, settings)
        self.allowed_documents = allowed_documents
        self._passages = np.flatnonzero(allowed_documents[reader.passage_doc]) if len(reader.passage_doc) else \
            np.zeros(0, dtype=np.int64)
        self._sentences = np.flatnonzero(allowed_documents[reader.sentence_doc]) if len(reader.sentence_doc) else \
            np.zeros(0, dtype=np.int64)

    def fused_passages(self, query: str, query_vector: np.ndarray) -> FusedRanking:
        """Allowed passages ranked by RRF of dense and BM25."""
        dense = _top(self._passages, np.asarray(self.reader.passage_vectors[self._passages]) @ query_vector,
                     self.settings.dense_candidates)
        bm25 = self.reader.passage_bm25_scores(query)[self._passages] if len(self._passages) else np.zeros(0)
        return self._fuse(dense, _top(self._passages, bm25, self.settings.bm25_candidates, positive=True))

    def fused_sentences(self, query: str, query_vector: np.ndarray) -> FusedRanking:
        """Allowed sentences ranked by RRF of dense and BM25."""
        dense = _top(self._sentences, np.asarray(self.reader.sentence_vectors[self._sentences]) @ query_vector,
                     self.settings.dense_candidates)
        bm25 = self.reader.sentence_bm25_all(query)[self._sentences] if len(self._sentences) else np.zeros(0)
        return self._fuse(dense, _top(self._sentences, bm25, self.settings.bm25_candidates, positive=True))


def _top(ids: np.ndarray, scores: np.ndarray, k: int, *, positive: bool = False) -> RankedIds:
    """The ``k`` best of ``ids`` by ``scores`` (ties by id), optionally only those scoring above 0."""
    if positive:
        keep = scores > 0
        ids, scores = ids[keep], scores[keep]
    order = np.lexsort((ids, -scores))[:k]
    return RankedIds(ids[order].astype(np.int64), scores[order].astype(np.float32))


#: Document priors per open snapshot reader and prior settings (``SourcePriority.document_prior``).
_DOCUMENT_PRIORS: weakref.WeakKeyDictionary[IndexReader, dict[SourcePriority, np.ndarray]] = (
    weakref.WeakKeyDictionary()
)


@dataclass(frozen=True, slots=True)
class SourcePriority:
    """The documented source-priority prior (``SourcePrioritySettings``): 1 for the best tier, 0 for the last."""

    weight: float
    tiers: tuple[str, ...]
    national_issuers: tuple[str, ...]

    @classmethod
    def of(cls, settings: SourcePrioritySettings) -> SourcePriority:
        """From the settings."""
        return cls(settings.weight, tuple(settings.tiers), tuple(settings.national_issuers))

    def tier(self, document: Document) -> str:
        """The tier name of a document: ``national_guideline`` or its ``DocType`` value."""
        doc_type = document.source.doc_type
        if doc_type is DocType.GUIDELINE and NATIONAL_GUIDELINE in self.tiers and any(
                re.search(rf"\b{re.escape(name)}\b", document.source.issuer, re.I) for name in self.national_issuers):
            return NATIONAL_GUIDELINE
        return doc_type.value

    def prior(self, document: Document) -> float:
        """``1 - rank / (tiers - 1)`` of the document's tier (unlisted types rank last)."""
        last = max(len(self.tiers) - 1, 1)
        tier = self.tier(document)
        rank = self.tiers.index(tier) if tier in self.tiers else last
        return 1.0 - min(rank, last) / last

    def document_prior(self, reader: IndexReader) -> np.ndarray:
        """The prior of every document of a snapshot, by document row (read-only).

        Computed once per open snapshot and prior settings, not on every request:
        it visits every document, which at 100k documents costs a noticeable part of
        a query. The cache lets go of a reader when the service drops it.
        """
        by_priority = _DOCUMENT_PRIORS.setdefault(reader, {})
        cached = by_priority.get(self)
        if cached is None:
            cached = np.array([self.prior(reader.documents[d]) for d in reader.document_ids], dtype=np.float64)
            cached.setflags(write=False)
            by_priority[self] = cached
        return cached

    def passage_prior(self, reader: IndexReader) -> np.ndarray:
        """The prior of every passage's document."""
        return self.document_prior(reader)[reader.passage_doc]

    def sentence_prior(self, reader: IndexReader) -> np.ndarray:
        """The prior of every sentence's document."""
        return self.document_prior(reader)[reader.sentence_doc]


def priority_for(settings: SourcePrioritySettings, requested: bool | None) -> SourcePriority | None:
    """The prior to apply: as the request asks, else as configured (``None`` when off or of weight 0)."""
    wanted = settings.enabled if requested is None else requested
    return SourcePriority.of(settings) if wanted and settings.weight > 0 else None
