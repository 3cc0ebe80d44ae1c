"""Read side of an index snapshot: what the service and the evaluation search over.

``IndexReader.open(index_dir)`` loads the snapshot named by ``CURRENT`` once:
small per-row arrays (document, role, word count) in memory, vectors memory
mapped, FAISS and bm25s indexes loaded, and the SQLite metadata queried on
demand (one read-only connection per thread).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from evsum.errors import IndexNotReadyError, NotFoundError
from evsum.records import Citation, Document, Page, Passage, Role, Sentence
from evsum.text import bm25_tokenize
from indexing.sentence_traits import (
    TRAIT_NAMES,
    TRAITS_FILE,
    SentenceRows,
    read_traits,
    save_traits,
    sentence_traits,
)
from indexing.snapshot import (
    SnapshotInfo,
    connect_readonly,
    current_snapshot_dir,
    read_info,
    row_to_document,
    row_to_page,
    row_to_passage,
    row_to_sentence,
)
from indexing.vectors import read_index as read_vector_index
from indexing.vectors import search as vector_search

logger = logging.getLogger("evsum.indexing")

ROLE_CODES = {role: code for code, role in enumerate(Role)}

@dataclass(frozen=True, slots=True)
class RankedIds:
    """Row ids with their scores, best first."""

    ids: np.ndarray
    scores: np.ndarray


class IndexReader:
    """A loaded, read-only index snapshot."""

    def __init__(self, snapshot_dir: Path) -> None:
        self.snapshot_dir = snapshot_dir
        try:
            self.info: SnapshotInfo = read_info(snapshot_dir)
            self._local = threading.local()
            connection = self._connection()
            doc_rows = connection.execute("SELECT * FROM documents ORDER BY idx").fetchall()
            self.documents: dict[str, Document] = {r["id"]: row_to_document(r) for r in doc_rows}
            self.document_ids: list[str] = [r["id"] for r in doc_rows]
            doc_index = {doc_id: i for i, doc_id in enumerate(self.document_ids)}
            self._load_rows(connection, doc_index)
            self.passage_vectors = np.load(snapshot_dir / "passage_vectors.npy", mmap_mode="r")
            self.sentence_vectors = np.load(snapshot_dir / "sentence_vectors.npy", mmap_mode="r")
            self._load_search_indexes()
        except (OSError, sqlite3.Error, ValueError, KeyError, json.JSONDecodeError, RuntimeError) as error:
            raise IndexNotReadyError(f"index snapshot {snapshot_dir.name} is unusable: {error}") from error

    @classmethod
    def open(cls, index_dir: Path) -> IndexReader:
        """Load the snapshot ``index_dir/CURRENT`` points at."""
        snapshot = current_snapshot_dir(index_dir)
        if snapshot is None:
            raise IndexNotReadyError(f"no index in {index_dir}: run 'evsum index' first")
        if not snapshot.is_dir():
            raise IndexNotReadyError(f"index snapshot {snapshot.name} is missing from {index_dir}")
        return cls(snapshot)

    def _connection(self) -> sqlite3.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = connect_readonly(self.snapshot_dir)
            self._local.connection = connection
        return connection

    def _load_rows(self, connection: sqlite3.Connection, doc_index: dict[str, int]) -> None:
        passages = connection.execute(
            "SELECT document_id, role, first_sentence_id, last_sentence_id FROM passages ORDER BY id"
        ).fetchall()
        self.passage_doc = np.array([doc_index[r[0]] for r in passages], dtype=np.int32)
        self.passage_role = np.array([ROLE_CODES[Role(r[1])] for r in passages], dtype=np.int8)
        self.passage_first_sentence = np.array([r[2] for r in passages], dtype=np.int64)
        self.passage_last_sentence = np.array([r[3] for r in passages], dtype=np.int64)
        sentences = connection.execute(
            "SELECT document_id, role, passage_id, position FROM sentences ORDER BY id").fetchall()
        self.sentence_doc = np.array([doc_index[r[0]] for r in sentences], dtype=np.int32)
        self.sentence_role = np.array([ROLE_CODES[Role(r[1])] for r in sentences], dtype=np.int8)
        self.sentence_passage = np.array([r[2] for r in sentences], dtype=np.int32)
        self.sentence_position = np.array([r[3] for r in sentences], dtype=np.int32)
        self.document_sentence_counts = np.bincount(self.sentence_doc, minlength=len(doc_index))
        traits = read_traits(self.snapshot_dir / TRAITS_FILE, len(sentences))
        missing = [name for name in TRAIT_NAMES if name not in traits]
        if missing:  # a snapshot written before (some of) the traits were stored
            rows = connection.execute(
                "SELECT text, section, page, role, document_id FROM sentences ORDER BY id").fetchall()
            traits.update(sentence_traits(SentenceRows(
                texts=[r[0] for r in rows], sections=[r[1] for r in rows], pages=[r[2] for r in rows],
                roles=[r[3] for r in rows], documents=[r[4] for r in rows]), missing))
            try:  # once: the next start reads them (a read-only index computes them at each start)
                save_traits(self.snapshot_dir / TRAITS_FILE, traits)
            except OSError as error:
                logger.warning("computed sentence traits but could not store them in %s: %s", self.snapshot_dir, error)
        self.sentence_words = traits["words"]
        self.sentence_section = traits["section"]
        self.sentence_has_number = traits["has_number"]
        self.sentence_finding_cue = traits["finding_cue"]
        self.sentence_complete = traits["complete"]
        self.sentence_quantity = traits["quantity"]
        self.sentence_figure_reference = traits["figure_reference"]
        self.sentence_aim_statement = traits["aim_statement"]
        #: For the first part of a sentence cut by a page break, the id of the part that finishes it, else -1;
        #: ``sentence_continued_from`` is the reverse link.
        self.sentence_continuation = traits["continuation"].astype(np.int64)
        self.sentence_continued_from = np.full(len(sentences), -1, dtype=np.int64)
        heads = np.flatnonzero(self.sentence_continuation >= 0)
        self.sentence_continued_from[self.sentence_continuation[heads]] = heads

    def sentences_of_passages(self, passage_ids: np.ndarray) -> np.ndarray:
        """Ids of every sentence inside the given passages."""
        if not len(passage_ids):
            return np.zeros(0, dtype=np.int64)
        firsts = self.passage_first_sentence[passage_ids]
        lasts = self.passage_last_sentence[passage_ids]
        return np.concatenate([np.arange(a, b + 1) for a, b in zip(firsts.tolist(), lasts.tolist())])

    def _load_search_indexes(self) -> None:
        import bm25s

        self.passage_faiss: Any = read_vector_index(self.snapshot_dir / "passages.faiss", self.info.passages)
        self.sentence_faiss: Any = read_vector_index(self.snapshot_dir / "sentences.faiss", self.info.sentences)
        # Memory-mapped: the score matrices stay in the page cache instead of the process heap.
        self.passage_bm25: Any = bm25s.BM25.load(str(self.snapshot_dir / "bm25_passages"), mmap=True)
        self.sentence_bm25: Any = bm25s.BM25.load(str(self.snapshot_dir / "bm25_sentences"), mmap=True)

    # --- counts -----------------------------------------------------------------------------

    @property
    def snapshot_id(self) -> str:
        """Name of the loaded snapshot."""
        return self.info.id

    @property
    def n_passages(self) -> int:
        """Number of passages."""
        return int(len(self.passage_doc))

    @property
    def n_sentences(self) -> int:
        """Number of sentences."""
        return int(len(self.sentence_doc))

    # --- records ----------------------------------------------------------------------------

    def document(self, document_id: str) -> Document:
        """A document by id; ``NotFoundError`` if unknown."""
        try:
            return self.documents[document_id]
        except KeyError:
            raise NotFoundError(f"no document with id {document_id!r}") from None

    def page(self, document_id: str, number: int) -> Page:
        """One page's text and line boxes; ``NotFoundError`` if the page does not exist."""
        document = self.document(document_id)
        row = self._connection().execute(
            "SELECT * FROM pages WHERE document_id = ? AND number = ?", (document_id, number)).fetchone()
        if row is None:
            raise NotFoundError(f"document {document_id!r} has no page {number} (it has {document.pages})")
        return row_to_page(row)

    def passages(self, ids: Sequence[int]) -> list[Passage]:
        """Passages by id, in the order asked."""
        return self._rows("passages", ids, row_to_passage)

    def sentences(self, ids: Sequence[int]) -> list[Sentence]:
        """Sentences by id, in the order asked."""
        return self._rows("sentences", ids, row_to_sentence)

    def sentence_parts(self, sentence_id: int) -> tuple[int, ...]:
        """The ids of the sentence a row belongs to, in reading order: the row alone, or both parts of a sentence
        that a page break cut in two (``sentence_continuation``)."""
        tail = int(self.sentence_continuation[sentence_id])
        if tail >= 0:
            return (sentence_id, tail)
        head = int(self.sentence_continued_from[sentence_id])
        return (head, sentence_id) if head >= 0 else (sentence_id,)

    def sentences_in_span(self, document_id: str, page: int, char_start: int, char_end: int) -> list[Sentence]:
        """The sentences of a page that overlap ``[char_start, char_end)``, in reading order (a search hit's or an
        added citation's sentences)."""
        rows = self._connection().execute(
            "SELECT * FROM sentences WHERE document_id = ? AND page = ? AND char_start < ? AND char_end > ? "
            "ORDER BY id", (document_id, page, char_end, char_start)).fetchall()
        return [row_to_sentence(row) for row in rows]

    def unit_words(self, ids: np.ndarray) -> np.ndarray:
        """Word counts of the whole sentences the rows belong to (both parts of a sentence cut by a page break)."""
        partner = np.maximum(self.sentence_continuation[ids], self.sentence_continued_from[ids])
        extra = np.where(partner >= 0, self.sentence_words[np.maximum(partner, 0)], 0)
        return (self.sentence_words[ids] + extra).astype(np.int32)

    def unit_texts(self, ids: Sequence[int]) -> list[str]:
        """The text of the whole sentence each row belongs to: both parts joined by a space where a page break
        cut it in two, the row's own text otherwise (what a model reading the sentence should see)."""
        parts = [self.sentence_parts(int(i)) for i in ids]
        texts = {s.id: s.text for s in self.sentences(sorted({p for unit in parts for p in unit}))}
        return [" ".join(texts[p] for p in unit) for unit in parts]

    def _rows(self, table: str, ids: Sequence[int], convert: Any) -> list[Any]:
        wanted = [int(i) for i in ids]
        if not wanted:
            return []
        found: dict[int, Any] = {}
        connection = self._connection()
        for start in range(0, len(wanted), 900):
            chunk = wanted[start:start + 900]
            marks = ",".join("?" * len(chunk))
            for row in connection.execute(f"SELECT * FROM {table} WHERE id IN ({marks})", chunk):
                found[row["id"]] = convert(row)
        return [found[i] for i in wanted if i in found]

    def citation(self, item: Sentence | Passage) -> Citation:
        """The citation of a sentence or passage: document, title, page and offsets."""
        document = self.documents[item.document_id]
        return Citation(
            document_id=item.document_id, title=document.title, page=item.page,
            char_start=item.char_start, char_end=item.char_end, section=item.section,
            source_path=document.source_path, doc_type=document.source.doc_type.value,
            year=document.source.year, issuer=document.source.issuer,
        )

    # --- search primitives ------------------------------------------------------------------

    def dense_passages(self, query_vector: np.ndarray, k: int) -> RankedIds:
        """Top-k passages by inner product with a unit query vector (exact scores; see ``indexing.vectors``)."""
        return RankedIds(*vector_search(self.passage_faiss, self.passage_vectors, query_vector, k))

    def dense_sentences(self, query_vector: np.ndarray, k: int) -> RankedIds:
        """Top-k sentences by inner product with a unit query vector (exact scores; see ``indexing.vectors``)."""
        return RankedIds(*vector_search(self.sentence_faiss, self.sentence_vectors, query_vector, k))

    def bm25_passages(self, query: str, k: int) -> RankedIds:
        """Top-k passages by BM25."""
        return _bm25_search(self.passage_bm25, query, k, self.n_passages)

    def bm25_sentences(self, query: str, k: int) -> RankedIds:
        """Top-k sentences by BM25."""
        return _bm25_search(self.sentence_bm25, query, k, self.n_sentences)

    def sentence_bm25_scores(self, query: str, ids: np.ndarray) -> np.ndarray:
        """BM25 of the given sentences against ``query``, with whole-index statistics (0 when no term matches)."""
        if not len(ids):
            return np.zeros(0, dtype=np.float32)
        return self.sentence_bm25_all(query)[ids]

    def passage_bm25_scores(self, query: str) -> np.ndarray:
        """BM25 of every passage against ``query`` (0 when no term matches), for filtered search."""
        return _bm25_all(self.passage_bm25, query, self.n_passages)

    def sentence_bm25_all(self, query: str) -> np.ndarray:
        """BM25 of every sentence against ``query`` (0 when no term matches), for filtered search."""
        return _bm25_all(self.sentence_bm25, query, self.n_sentences)

    def close(self) -> None:
        """Close this thread's database connection."""
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None


def _known_tokens(retriever: Any, query: str) -> list[str]:
    """The query's BM25 tokens that occur in the index vocabulary (bm25s rejects unknown ones)."""
    vocab = retriever.vocab_dict
    return [t for t in bm25_tokenize([query])[0] if t in vocab]


def _bm25_all(bm25: Any, query: str, n: int) -> np.ndarray:
    """BM25 of all ``n`` rows of one index against ``query`` (zeros when no query term is in its vocabulary)."""
    known = _known_tokens(bm25, query) if n else []
    if not known:
        return np.zeros(n, dtype=np.float32)
    return np.asarray(bm25.get_scores(known), dtype=np.float32)


def _bm25_search(retriever: Any, query: str, k: int, n: int) -> RankedIds:
    known = _known_tokens(retriever, query) if n and k > 0 else []
    if not known:
        return RankedIds(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))
    ids, scores = retriever.retrieve([known], k=min(k, n), show_progress=False, n_threads=1)
    keep = scores[0] > 0
    return RankedIds(ids[0][keep].astype(np.int64), scores[0][keep].astype(np.float32))
