"""Candidate sentences for a question, and their features, computed with vectorised numpy.

Shared by the summariser (query time) and the scorer training command, so the
model is trained on exactly the features it is served with.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from evsum.answer_type import asks_for_quantity
from evsum.records import Role
from evsum.retrieval import HybridRetriever
from indexing.reader import ROLE_CODES

FEATURE_NAMES: tuple[str, ...] = (
    "sentence_cosine",
    "sentence_bm25",
    "passage_cosine",
    "passage_rrf",
    "sentence_rrf",
    "relative_position",
    "log_words",
    "section_background",
    "section_methods",
    "section_results",
    "section_conclusions",
    "has_number",
    "finding_cue",
    "answer_type",
    "figure_reference",
)

_BODY = ROLE_CODES[Role.BODY]


@dataclass(frozen=True, slots=True)
class Candidates:
    """Candidate sentence ids for a question with their feature matrix."""

    ids: np.ndarray
    features: np.ndarray
    cosine: np.ndarray
    passage_ids: np.ndarray
    retrieved_document_ids: tuple[str, ...]


def collect_candidates(
    retriever: HybridRetriever,
    question: str,
    query_vector: np.ndarray,
    *,
    candidate_passages: int,
    candidate_sentences: int,
    min_words: int,
    document_ids: set[int] | None = None,
) -> Candidates:
    """Sentences of the top fused passages plus the top fused sentences, with features.

    Only complete body sentences of at least ``min_words`` words are candidates; the first part of a sentence
    cut by a page break counts as complete, and both parts are counted for its words.  When
    ``document_ids`` (document row indices) is given, candidates are limited to them.
    """
    reader = retriever.reader
    passages = retriever.fused_passages(question, query_vector)
    sentences = retriever.fused_sentences(question, query_vector)
    top_passages = passages.ids[:candidate_passages]

    retrieved: list[str] = []
    for doc in reader.passage_doc[passages.ids[:50]].tolist() if len(passages.ids) else []:
        doc_id = reader.document_ids[doc]
        if doc_id not in retrieved:
            retrieved.append(doc_id)

    pool = set(reader.sentences_of_passages(top_passages).tolist())
    pool.update(sentences.ids[:candidate_sentences].tolist())
    ids = np.array(sorted(pool), dtype=np.int64)
    if len(ids):
        keep = (reader.sentence_role[ids] == _BODY) & (reader.unit_words(ids) >= min_words)
        keep &= reader.sentence_complete[ids] | (reader.sentence_continuation[ids] >= 0)
        if document_ids is not None:
            keep &= np.isin(reader.sentence_doc[ids], list(document_ids))
        ids = ids[keep]
    return _features(retriever, question, query_vector, ids, passages.ids, sentences.ids,
                     tuple(retrieved))


def _rank_score(ranked: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """1 / (1 + rank / 10) for ids in ``ranked``, 0 for the rest."""
    position = {item: rank for rank, item in enumerate(ranked.tolist())}
    return np.array([1.0 / (1.0 + position[i] / 10.0) if i in position else 0.0 for i in ids.tolist()],
                    dtype=np.float32)


def _features(retriever: HybridRetriever, question: str, query_vector: np.ndarray, ids: np.ndarray,
              passage_ranking: np.ndarray, sentence_ranking: np.ndarray,
              retrieved: tuple[str, ...]) -> Candidates:
    reader = retriever.reader
    n = len(ids)
    if n == 0:
        empty = np.zeros((0, len(FEATURE_NAMES)), dtype=np.float32)
        return Candidates(ids, empty, np.zeros(0, dtype=np.float32), ids, retrieved)
    q = query_vector.astype(np.float32)
    cosine = np.asarray(reader.sentence_vectors[ids], dtype=np.float32) @ q
    passage_ids = reader.sentence_passage[ids].astype(np.int64)
    passage_cosine = np.asarray(reader.passage_vectors[passage_ids], dtype=np.float32) @ q
    bm25 = reader.sentence_bm25_scores(question, ids)
    top = float(bm25.max())
    if top > 0:
        bm25 = bm25 / top
    doc_rows = reader.sentence_doc[ids]
    wants_quantity = asks_for_quantity(question)
    positions = reader.sentence_position[ids].astype(np.float32)
    doc_lengths = reader.document_sentence_counts[doc_rows].astype(np.float32)
    features = np.column_stack([
        cosine,
        bm25,
        passage_cosine,
        _rank_score(passage_ranking, passage_ids),
        _rank_score(sentence_ranking, ids),
        positions / np.maximum(doc_lengths, 1.0),
        np.log1p(reader.sentence_words[ids].astype(np.float32)) / 4.0,
        *(reader.sentence_section[ids] == code for code in range(1, 5)),
        reader.sentence_has_number[ids],
        reader.sentence_finding_cue[ids],
        reader.sentence_quantity[ids] & wants_quantity,
        reader.sentence_figure_reference[ids],
    ]).astype(np.float32)
    return Candidates(ids, features, cosine, passage_ids, retrieved)

