"""Sentence-selection baselines and the extractive oracle, over one document's indexed sentences.

Every method picks from the same pool as the summariser may quote from: the
document's body sentences of at least ``min_words`` words, as stored in the
index.  Selections are returned in document order, so that ROUGE compares
texts read in the same order for every method.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from math import comb

import numpy as np

from eval.metrics import RougeTokens, rouge_tokens
from evsum.records import Role
from indexing.reader import ROLE_CODES, IndexReader

_BODY = ROLE_CODES[Role.BODY]
#: Above this many candidate subsets the oracle searches greedily instead of exhaustively.
EXACT_ORACLE_MAX_SUBSETS = 2000


@dataclass(frozen=True, slots=True)
class DocumentSentences:
    """One document's quotable sentences: index row ids and texts, in document order."""

    document_id: str
    ids: np.ndarray
    texts: tuple[str, ...]

    def join(self, rows: Sequence[int]) -> str:
        """Texts of the chosen rows, in document order, joined with a space."""
        return " ".join(self.texts[i] for i in sorted(rows))


class SentencePools:
    """Looks up the quotable sentences of any document of a loaded index."""

    def __init__(self, reader: IndexReader, min_words: int) -> None:
        self.reader = reader
        self.min_words = min_words
        self.row_of = {doc_id: row for row, doc_id in enumerate(reader.document_ids)}
        order = np.argsort(reader.sentence_doc, kind="stable")
        bounds = np.searchsorted(reader.sentence_doc[order], np.arange(len(reader.document_ids) + 1))
        self._order = order
        self._bounds = bounds

    def all_ids(self, document_id: str) -> np.ndarray:
        """Every sentence row of a document (headings included), in document order."""
        row = self.row_of[document_id]
        return np.sort(self._order[self._bounds[row]:self._bounds[row + 1]])

    def quotable(self, document_id: str) -> DocumentSentences:
        """The document's body sentences of at least ``min_words`` words."""
        ids = self.all_ids(document_id)
        keep = (self.reader.sentence_role[ids] == _BODY) & (self.reader.sentence_words[ids] >= self.min_words)
        ids = ids[keep]
        texts = tuple(s.text for s in self.reader.sentences(ids.tolist()))
        return DocumentSentences(document_id, ids, texts)


def top_k(scores: np.ndarray, k: int) -> list[int]:
    """Rows of the ``k`` highest scores; ties go to the earlier row."""
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    return [int(i) for i in order[:k]]


def lead(pool: DocumentSentences, k: int) -> list[int]:
    """The first ``k`` quotable sentences."""
    return list(range(min(k, len(pool.ids))))


def bm25_scores(reader: IndexReader, pool: DocumentSentences, question: str) -> np.ndarray:
    """BM25 of each pool sentence against the question, with the index's sentence BM25 (corpus statistics)."""
    return reader.sentence_bm25_scores(question, pool.ids)


def cosine_scores(reader: IndexReader, pool: DocumentSentences, query_vector: np.ndarray) -> np.ndarray:
    """Cosine of each pool sentence's stored embedding with the unit query vector."""
    if not len(pool.ids):
        return np.zeros(0, dtype=np.float32)
    return np.asarray(reader.sentence_vectors[pool.ids], dtype=np.float32) @ query_vector.astype(np.float32)


def oracle(texts: Sequence[str], reference: str, k: int) -> list[int]:
    """The extractive oracle: at most ``k`` sentences maximising ROUGE-L F1 against ``reference``.

    Exhaustive over all subsets of 1..k sentences (joined in document order) when
    there are at most ``EXACT_ORACLE_MAX_SUBSETS`` of them, so it is never below
    any k-sentence selection from the same pool; greedy otherwise (add the sentence
    that most increases ROUGE-L, stop when none does).  Ties are broken by the mean
    of ROUGE-1/2/L, then by the earlier subset.
    """
    if not texts or k <= 0 or not reference.strip():
        return []
    target = RougeTokens.of(reference)
    tokens = [rouge_tokens(t) for t in texts]

    def objective(rows: Sequence[int]) -> tuple[float, float]:
        predicted = [tok for i in sorted(rows) for tok in tokens[i]]
        scores = target.score(predicted)
        return scores["rougeL"], (scores["rouge1"] + scores["rouge2"] + scores["rougeL"]) / 3.0

    n, k = len(texts), min(k, len(texts))
    if sum(comb(n, size) for size in range(1, k + 1)) <= EXACT_ORACLE_MAX_SUBSETS:
        best: tuple[int, ...] = ()
        best_value = (-1.0, -1.0)
        for size in range(1, k + 1):
            for rows in combinations(range(n), size):
                value = objective(rows)
                if value > best_value:
                    best, best_value = rows, value
        return list(best)
    chosen: list[int] = []
    current = (0.0, 0.0)
    while len(chosen) < k:
        options = [(objective(chosen + [i]), i) for i in range(n) if i not in chosen]
        value, row = max(options, key=lambda option: (option[0], -option[1]))
        if value <= current:
            break
        chosen.append(row)
        current = value
    return sorted(chosen)
