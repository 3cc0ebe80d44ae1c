"""Index snapshots on disk: written once into a new directory, swapped in atomically.

Layout of ``index_dir``::

    CURRENT                     name of the snapshot being served (replaced atomically)
    snapshots/<name>/
        meta.sqlite             documents, pages (text + line boxes), passages, sentences
        passage_vectors.npy     (n_passages, dim), row i = passage id i; float32, float16 above 200k rows
        sentence_vectors.npy    (n_sentences, dim), row i = sentence id i; likewise
        passages.faiss          FAISS inner-product index over passage vectors (flat, IVF-SQ8 above 200k)
        sentences.faiss         FAISS inner-product index over sentence vectors (likewise)
        bm25_passages/          bm25s index over passage text led by its document title, abbreviations spelled out
        bm25_sentences/         bm25s index over sentence text, abbreviations spelled out (no title)
        sentence_traits.npz     per-sentence scorer traits (words, section, number, cue, complete, quantity)
        snapshot.json           id, creation time, encoder, counts

A snapshot directory is complete before ``CURRENT`` names it, so a crash at any
point leaves the previous snapshot serving (invariant 4).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import sqlite3
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np

from evsum.records import DocType, Document, LineBox, Page, Passage, Role, Sentence, SourceInfo
from indexing.abbreviations import document_definitions, search_texts
from indexing.durable import fsync_dir, replace_atomically
from indexing.sentence_traits import TRAITS_FILE, SentenceRows, write_traits
from indexing.vectors import build_index, vector_dtype

CURRENT_FILE = "CURRENT"
SNAPSHOTS_DIR = "snapshots"
META_DB = "meta.sqlite"
SNAPSHOT_INFO = "snapshot.json"
SCHEMA_VERSION = 1
#: How the BM25 search text is derived from passages and sentences. 1: the text as quoted;
#: 2: with the document's abbreviations spelled out; 3: each passage also carries its document's
#: title (``PASSAGE_TITLE_REPEATS`` times). An index of an older version is rewritten by the next
#: ``evsum index`` even when no source changed.
SEARCH_TEXT_VERSION = 3
#: How many times a document's title is put in front of each of its passages' BM25 text: a
#: title field weighted like this many body occurrences, as BM25F does. Sentence texts get no title,
#: so a sentence's own BM25 feature still says whether that sentence matches. Chosen on SciFact
#: train claims (abstract retrieval, BEIR nDCG@10 of the served document ranking: no title 0.703,
#: 1: 0.712, 2: 0.716, 3: 0.718, 4: 0.716); see docs/quality.md, "Tenth session".
PASSAGE_TITLE_REPEATS = 3

_SCHEMA = """
CREATE TABLE documents (
    idx INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, sha256 TEXT NOT NULL, title TEXT NOT NULL,
    source_path TEXT NOT NULL, source_kind TEXT NOT NULL, pages INTEGER NOT NULL,
    indexed_at TEXT NOT NULL, metadata TEXT NOT NULL,
    doc_type TEXT NOT NULL DEFAULT 'other', doc_type_origin TEXT NOT NULL DEFAULT '', year INTEGER,
    issuer TEXT NOT NULL DEFAULT '', authors TEXT NOT NULL DEFAULT '[]', doi TEXT NOT NULL DEFAULT '',
    pmid TEXT NOT NULL DEFAULT '', version TEXT NOT NULL DEFAULT '', published TEXT NOT NULL DEFAULT '',
    licence TEXT NOT NULL DEFAULT '', language TEXT NOT NULL DEFAULT ''
);
CREATE TABLE pages (
    document_id TEXT NOT NULL, number INTEGER NOT NULL, text TEXT NOT NULL,
    width REAL NOT NULL, height REAL NOT NULL, lines TEXT NOT NULL,
    PRIMARY KEY (document_id, number)
);
CREATE TABLE passages (
    id INTEGER PRIMARY KEY, document_id TEXT NOT NULL, page INTEGER NOT NULL,
    char_start INTEGER NOT NULL, char_end INTEGER NOT NULL, text TEXT NOT NULL, role TEXT NOT NULL,
    section TEXT, first_sentence_id INTEGER NOT NULL, last_sentence_id INTEGER NOT NULL
);
CREATE TABLE sentences (
    id INTEGER PRIMARY KEY, document_id TEXT NOT NULL, page INTEGER NOT NULL,
    char_start INTEGER NOT NULL, char_end INTEGER NOT NULL, text TEXT NOT NULL, role TEXT NOT NULL,
    section TEXT, position INTEGER NOT NULL, passage_id INTEGER NOT NULL
);
CREATE INDEX sentences_by_document ON sentences (document_id, id);
CREATE INDEX passages_by_document ON passages (document_id, id);
"""


@dataclass(slots=True)
class DocumentContent:
    """Everything stored for one document, with snapshot-wide ids already assigned."""

    document: Document
    pages: list[Page]
    sentences: list[Sentence]
    passages: list[Passage]
    sentence_vectors: np.ndarray
    passage_vectors: np.ndarray


@dataclass(slots=True)
class SnapshotInfo:
    """Facts about a snapshot, kept in ``snapshot.json``."""

    id: str
    created_at: str
    encoder: str
    dim: int
    documents: int
    pages: int
    passages: int
    sentences: int
    schema_version: int = SCHEMA_VERSION
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def search_text_version(self) -> int:
        """``SEARCH_TEXT_VERSION`` of the snapshot's BM25 text (1 for snapshots written before it existed).

        Kept in ``extra`` rather than as a field, so that code from before the change can still read
        snapshots written after it (a rolled-back service keeps serving).
        """
        value = self.extra.get("search_text_version", 1)
        return value if isinstance(value, int) else 1

    def outdated_segmentation(self, current_version: int) -> set[str] | None:
        """Ids of the documents that an older segmenter split into sentences (``indexing.segment``); ``None`` when
        the whole snapshot predates ``current_version`` (every document). Kept in ``extra``, like
        ``search_text_version``."""
        version = self.extra.get("segmentation_version", 1)
        if not isinstance(version, int) or version < current_version:
            return None
        listed = self.extra.get("outdated_segmentation", [])
        return {str(d) for d in listed} if isinstance(listed, list) else set()


def snapshots_root(index_dir: Path) -> Path:
    """Directory that holds every snapshot of ``index_dir``."""
    return index_dir / SNAPSHOTS_DIR


def current_snapshot_dir(index_dir: Path) -> Path | None:
    """The directory ``CURRENT`` points at, or None when nothing was ever indexed."""
    pointer = index_dir / CURRENT_FILE
    if not pointer.is_file():
        return None
    name = pointer.read_text(encoding="utf-8").strip()
    if not name or "/" in name or name.startswith("."):
        return None
    return snapshots_root(index_dir) / name


def new_snapshot_id() -> str:
    """Sortable unique snapshot name: UTC time plus a random suffix."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ") + "-" + uuid.uuid4().hex[:6]


def _lines_json(lines: Iterable[LineBox]) -> str:
    return json.dumps(
        [[ln.char_start, ln.char_end, round(ln.x0, 2), round(ln.y0, 2), round(ln.x1, 2), round(ln.y1, 2)]
         for ln in lines],
        separators=(",", ":"),
    )


def parse_lines_json(raw: str) -> tuple[LineBox, ...]:
    """Line boxes stored by ``write_snapshot``."""
    return tuple(LineBox(int(a), int(b), x0, y0, x1, y1) for a, b, x0, y0, x1, y1 in json.loads(raw))


def write_snapshot(index_dir: Path, contents: list[DocumentContent], encoder: str, dim: int,
                   *, keep: int = 2, extra: dict[str, object] | None = None,
                   vectors: tuple[np.ndarray, np.ndarray] | None = None) -> SnapshotInfo:
    """Write a complete snapshot next to the current one, then point ``CURRENT`` at it.

    ``contents`` must have ids that are dense and increasing across documents
    (sentence ids 0..n-1, passage ids 0..m-1).  Old snapshots beyond ``keep``
    are removed after the swap.  ``vectors`` (passage rows, sentence rows) may be
    given whole instead of per document (large synthetic benchmark snapshots).
    """
    root = snapshots_root(index_dir)
    root.mkdir(parents=True, exist_ok=True)
    info = SnapshotInfo(
        id=new_snapshot_id(),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        encoder=encoder,
        dim=dim,
        documents=len(contents),
        pages=sum(len(c.pages) for c in contents),
        passages=sum(len(c.passages) for c in contents),
        sentences=sum(len(c.sentences) for c in contents),
        extra={**(extra or {}), "search_text_version": SEARCH_TEXT_VERSION},
    )
    staging = root / f".staging-{info.id}"
    staging.mkdir()
    try:
        _write_meta(staging / META_DB, contents)
        if vectors is None:
            passage_vectors = _stack([c.passage_vectors for c in contents], dim)
            sentence_vectors = _stack([c.sentence_vectors for c in contents], dim)
        else:
            passage_vectors, sentence_vectors = vectors
        _check_dense_ids(contents, len(passage_vectors), len(sentence_vectors))
        np.save(staging / "passage_vectors.npy",
                np.asarray(passage_vectors, dtype=vector_dtype(len(passage_vectors))))
        np.save(staging / "sentence_vectors.npy",
                np.asarray(sentence_vectors, dtype=vector_dtype(len(sentence_vectors))))
        _write_faiss(staging / "passages.faiss", passage_vectors)
        _write_faiss(staging / "sentences.faiss", sentence_vectors)
        passage_texts, sentence_texts = _bm25_texts(contents)
        _write_bm25(staging / "bm25_passages", passage_texts)
        _write_bm25(staging / "bm25_sentences", sentence_texts)
        every = [s for c in contents for s in c.sentences]
        write_traits(staging / TRAITS_FILE, SentenceRows(
            texts=[s.text for s in every], sections=[s.section for s in every], pages=[s.page for s in every],
            roles=[str(s.role) for s in every], documents=[s.document_id for s in every]))
        (staging / SNAPSHOT_INFO).write_text(json.dumps(dataclasses.asdict(info), indent=2), encoding="utf-8")
        for path in staging.rglob("*"):
            if path.is_file():
                with path.open("rb+") as handle:
                    os.fsync(handle.fileno())
        final = root / info.id
        os.replace(staging, final)
        fsync_dir(root)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _point_current(index_dir, info.id)
    remove_old_snapshots(index_dir, keep)
    return info


def _point_current(index_dir: Path, name: str) -> None:
    replace_atomically(index_dir / CURRENT_FILE, lambda handle: handle.write((name + "\n").encode("utf-8")))


def remove_old_snapshots(index_dir: Path, keep: int) -> None:
    """Delete staging leftovers and all but the newest ``keep`` snapshots (never the current one)."""
    root = snapshots_root(index_dir)
    current = current_snapshot_dir(index_dir)
    for leftover in root.glob(".staging-*"):
        shutil.rmtree(leftover, ignore_errors=True)
    snapshots = sorted((p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")),
                       key=lambda p: p.name, reverse=True)
    for old in snapshots[keep:]:
        if current is None or old.resolve() != current.resolve():
            shutil.rmtree(old, ignore_errors=True)


def _stack(arrays: list[np.ndarray], dim: int) -> np.ndarray:
    arrays = [a for a in arrays if len(a)]
    if not arrays:
        return np.zeros((0, dim), dtype=np.float32)
    return np.ascontiguousarray(np.concatenate(arrays), dtype=np.float32)


def _check_dense_ids(contents: list[DocumentContent], n_passages: int, n_sentences: int) -> None:
    passage_ids = [p.id for c in contents for p in c.passages]
    sentence_ids = [s.id for c in contents for s in c.sentences]
    if passage_ids != list(range(n_passages)) or sentence_ids != list(range(n_sentences)):
        raise ValueError("snapshot ids must be dense and match the vector rows")


def _write_meta(path: Path, contents: list[DocumentContent]) -> None:
    connection = sqlite3.connect(path)
    try:
        connection.executescript(_SCHEMA)
        with connection:
            for idx, content in enumerate(contents):
                d = content.document
                connection.execute(
                    f"INSERT INTO documents ({','.join(_DOCUMENT_COLUMNS)}) "
                    f"VALUES ({','.join('?' * len(_DOCUMENT_COLUMNS))})",
                    (idx, d.id, d.sha256, d.title, d.source_path, d.source_kind, d.pages, d.indexed_at,
                     json.dumps(dict(d.metadata), ensure_ascii=False), *_source_values(d.source)),
                )
                connection.executemany(
                    "INSERT INTO pages VALUES (?,?,?,?,?,?)",
                    [(p.document_id, p.number, p.text, p.width, p.height, _lines_json(p.lines))
                     for p in content.pages],
                )
                connection.executemany(
                    "INSERT INTO passages VALUES (?,?,?,?,?,?,?,?,?,?)",
                    [(p.id, p.document_id, p.page, p.char_start, p.char_end, p.text, p.role.value,
                      p.section, p.first_sentence_id, p.last_sentence_id) for p in content.passages],
                )
                connection.executemany(
                    "INSERT INTO sentences VALUES (?,?,?,?,?,?,?,?,?,?)",
                    [(s.id, s.document_id, s.page, s.char_start, s.char_end, s.text, s.role.value,
                      s.section, s.position, s.passage_id) for s in content.sentences],
                )
    finally:
        connection.close()


_DOCUMENT_COLUMNS = ("idx", "id", "sha256", "title", "source_path", "source_kind", "pages", "indexed_at",
                     "metadata", "doc_type", "doc_type_origin", "year", "issuer", "authors", "doi", "pmid",
                     "version", "published", "licence", "language")


def _source_values(source: SourceInfo) -> tuple[object, ...]:
    return (source.doc_type.value, source.doc_type_origin, source.year, source.issuer,
            json.dumps(list(source.authors), ensure_ascii=False), source.doi, source.pmid, source.version,
            source.published, source.licence, source.language)


def row_to_source(row: sqlite3.Row) -> SourceInfo:
    """The source metadata columns of a ``documents`` row (a snapshot written before them gives defaults)."""
    keys = set(row.keys())
    if "doc_type" not in keys:
        return SourceInfo()
    return SourceInfo(
        authors=tuple(json.loads(row["authors"] or "[]")), year=row["year"], issuer=row["issuer"], doi=row["doi"],
        pmid=row["pmid"], doc_type=DocType(row["doc_type"]), doc_type_origin=row["doc_type_origin"],
        version=row["version"], published=row["published"], licence=row["licence"], language=row["language"],
    )


def _write_faiss(path: Path, vectors: np.ndarray) -> None:
    """Exact index up to ``indexing.vectors.FLAT_MAX`` vectors, IVF-SQ8 above (see that module)."""
    import faiss

    faiss.write_index(build_index(vectors), str(path))


def search_title(document: Document) -> str:
    """The title that BM25 searches: empty for a stand-in the indexer made up when the source gave none (the
    file's stem, or a name ending in the document's own id such as ``Abstract 12345``)."""
    title = document.title.strip()
    if not title or title == Path(document.source_path).stem or title.split()[-1] == document.id:
        return ""
    return title


def _bm25_texts(contents: Sequence[DocumentContent]) -> tuple[list[str], list[str]]:
    """Passage and sentence search texts: each with its document's abbreviations spelled out, and
    each passage's led by its document's title (``PASSAGE_TITLE_REPEATS`` times)."""
    passages: list[str] = []
    sentences: list[str] = []
    for content in contents:
        title = search_title(content.document)
        definitions = document_definitions([title, *(p.text for p in content.passages)])
        lead = (search_texts([title], definitions)[0] + " . ") * PASSAGE_TITLE_REPEATS if title else ""
        passages += [lead + text for text in search_texts([p.text for p in content.passages], definitions)]
        sentences += search_texts([s.text for s in content.sentences], definitions)
    return passages, sentences


def _write_bm25(path: Path, texts: list[str]) -> None:
    import bm25s

    from evsum.text import bm25_tokenize

    retriever = bm25s.BM25()
    tokens = bm25_tokenize(texts) if texts else []
    # bm25s cannot index an empty corpus or empty documents; a placeholder token keeps rows aligned.
    retriever.index([t or ["\u2205"] for t in tokens] or [["\u2205"]], show_progress=False)
    retriever.save(str(path))


# --- reading back -------------------------------------------------------------------------


def row_to_document(row: sqlite3.Row) -> Document:
    """A ``documents`` row as a record."""
    return Document(
        id=row["id"], sha256=row["sha256"], title=row["title"], source_path=row["source_path"],
        source_kind=row["source_kind"], pages=row["pages"], indexed_at=row["indexed_at"],
        metadata=json.loads(row["metadata"]), source=row_to_source(row),
    )


def row_to_sentence(row: sqlite3.Row) -> Sentence:
    """A ``sentences`` row as a record."""
    return Sentence(
        id=row["id"], document_id=row["document_id"], page=row["page"], char_start=row["char_start"],
        char_end=row["char_end"], text=row["text"], role=Role(row["role"]), section=row["section"],
        position=row["position"], passage_id=row["passage_id"],
    )


def row_to_passage(row: sqlite3.Row) -> Passage:
    """A ``passages`` row as a record."""
    return Passage(
        id=row["id"], document_id=row["document_id"], page=row["page"], char_start=row["char_start"],
        char_end=row["char_end"], text=row["text"], role=Role(row["role"]), section=row["section"],
        first_sentence_id=row["first_sentence_id"], last_sentence_id=row["last_sentence_id"],
    )


def row_to_page(row: sqlite3.Row) -> Page:
    """A ``pages`` row as a record."""
    return Page(document_id=row["document_id"], number=row["number"], text=row["text"],
                width=row["width"], height=row["height"], lines=parse_lines_json(row["lines"]))


def connect_readonly(snapshot_dir: Path) -> sqlite3.Connection:
    """A read-only connection to a snapshot's metadata database."""
    connection = sqlite3.connect(f"file:{snapshot_dir / META_DB}?mode=ro", uri=True, check_same_thread=False)
    connection.row_factory = sqlite3.Row
    return connection


def iter_document_content(snapshot_dir: Path, document_ids: Iterable[str]) -> Iterator[DocumentContent]:
    """Read back stored documents with their vectors, for reuse in the next snapshot."""
    connection = connect_readonly(snapshot_dir)
    passage_vectors = np.load(snapshot_dir / "passage_vectors.npy", mmap_mode="r")
    sentence_vectors = np.load(snapshot_dir / "sentence_vectors.npy", mmap_mode="r")
    try:
        for document_id in document_ids:
            row = connection.execute("SELECT * FROM documents WHERE id = ?", (document_id,)).fetchone()
            if row is None:
                continue
            pages = [row_to_page(r) for r in connection.execute(
                "SELECT * FROM pages WHERE document_id = ? ORDER BY number", (document_id,))]
            sentences = [row_to_sentence(r) for r in connection.execute(
                "SELECT * FROM sentences WHERE document_id = ? ORDER BY id", (document_id,))]
            passages = [row_to_passage(r) for r in connection.execute(
                "SELECT * FROM passages WHERE document_id = ? ORDER BY id", (document_id,))]
            yield DocumentContent(
                document=row_to_document(row),
                pages=pages,
                sentences=sentences,
                passages=passages,
                sentence_vectors=np.array(sentence_vectors[[s.id for s in sentences]], dtype=np.float32),
                passage_vectors=np.array(passage_vectors[[p.id for p in passages]], dtype=np.float32),
            )
    finally:
        connection.close()


def read_info(snapshot_dir: Path) -> SnapshotInfo:
    """The ``snapshot.json`` of a snapshot directory."""
    raw = json.loads((snapshot_dir / SNAPSHOT_INFO).read_text(encoding="utf-8"))
    known = {f.name for f in dataclasses.fields(SnapshotInfo)}
    return SnapshotInfo(**{k: v for k, v in raw.items() if k in known})  # keys of newer versions are ignored
