"""The indexing job: discover sources, parse what changed, embed, write a new snapshot.

Documents are keyed by the SHA-256 of their content (the file bytes of a PDF,
the canonical JSON of an abstract).  A rerun on unchanged input parses and
embeds nothing and writes no snapshot; changed inputs are re-indexed and the
stored vectors of unchanged documents are reused.  The new snapshot is only
made current once it is complete (see ``indexing.snapshot``).
"""

from __future__ import annotations

import csv
import hashlib
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np
from tqdm import tqdm

from evsum.errors import IndexingError, UnreadableDocumentError
from evsum.records import Document, Page, Passage, Sentence
from evsum.settings import IndexSettings
from indexing.abstracts import BadLine, read_abstracts
from indexing.docinfo import source_info
from indexing.isolation import IsolatedParser, ParseLimits, pdf_parser
from indexing.late_chunking import TokenEncoder, late_chunk
from indexing.parsed import ParsedSource
from indexing.segment import SEGMENTATION_VERSION, segment
from indexing.sidecar import Sidecar
from indexing.snapshot import (
    SEARCH_TEXT_VERSION,
    DocumentContent,
    current_snapshot_dir,
    iter_document_content,
    read_info,
    write_snapshot,
)
from models.encoders import Encoder

SOURCE_SUFFIXES = {".pdf": "pdf", ".jsonl": "jsonl"}
MANIFEST_NAME = "manifest.csv"


@dataclass(frozen=True, slots=True)
class SkippedSource:
    """A source that was not indexed, with a one-line reason."""

    path: str
    reason: str


@dataclass(slots=True)
class Candidate:
    """One document found in the inputs, hashed but not yet parsed (PDF) or already parsed (JSONL)."""

    id: str
    sha256: str
    source_path: str
    source_kind: str
    metadata: dict[str, str]
    parsed: ParsedSource | None = None
    replaces_by_id: bool = False  # abstracts: the same record id replaces an older version


@dataclass(slots=True)
class IndexReport:
    """What an indexing run did; ``summary()`` is the final line printed by the CLI."""

    snapshot_id: str | None = None
    up_to_date: bool = False
    files: int = 0
    documents: int = 0
    new_documents: int = 0
    reused_documents: int = 0
    removed_documents: int = 0
    pages: int = 0
    passages: int = 0
    sentences: int = 0
    new_passages: int = 0
    resplit_documents: int = 0  # unchanged files split again by a newer segmenter (counted in new_documents)
    outdated_documents: int = 0  # documents still split by an older segmenter: their files were not given
    skipped: list[SkippedSource] = field(default_factory=list)
    duplicates: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)  # read_s, parse_s, split_s, embed_s, write_s

    def summary(self) -> str:
        """One line: files, documents, pages, passages, sentences, skipped, seconds."""
        state = "up to date, nothing to do" if self.up_to_date else f"snapshot {self.snapshot_id}"
        rate = self.new_passages / self.seconds if self.seconds > 0 else 0.0
        return (
            f"{state}: {self.files} files, {self.documents} documents ({self.new_documents} new, "
            f"{self.reused_documents} unchanged, {self.removed_documents} removed), {self.pages} pages, "
            f"{self.passages} passages, {self.sentences} sentences, {len(self.skipped)} skipped, "
            f"{len(self.duplicates)} duplicates, {self.seconds:.1f} s ({rate:.1f} new passages/s)"
            + (f"; {self.resplit_documents} unchanged documents split again by the current segmenter"
               if self.resplit_documents else "")
            + (f"; {self.outdated_documents} documents still split by an older segmenter (give their files to "
               "split them again)" if self.outdated_documents else "")
        )


@dataclass(frozen=True, slots=True)
class SourceFile:
    """A file to index with the manifest metadata that applies to it."""

    path: Path
    kind: str
    metadata: dict[str, str]


def discover_sources(paths: Iterable[Path]) -> tuple[list[SourceFile], list[SkippedSource]]:
    """Expand files and folders (recursively) into PDF and JSONL sources.

    A ``manifest.csv`` with a ``file`` column in a folder gives metadata (title,
    publisher, doi, licence, kind, ...) to the files it names, relative to it.
    """
    found: dict[Path, SourceFile] = {}
    skipped: list[SkippedSource] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            manifests = _read_manifests(path)
            for file in sorted(path.rglob("*")):
                kind = SOURCE_SUFFIXES.get(file.suffix.lower())
                if kind and file.is_file():
                    found.setdefault(file.resolve(), SourceFile(file, kind, _manifest_for(file, manifests)))
        elif path.is_file():
            kind = SOURCE_SUFFIXES.get(path.suffix.lower())
            if kind is None:
                skipped.append(SkippedSource(str(path), "unsupported file type (expected .pdf or .jsonl)"))
                continue
            found.setdefault(path.resolve(), SourceFile(path, kind, _manifest_for(path, _read_manifests(
                path.parent))))
        else:
            skipped.append(SkippedSource(str(path), "no such file or directory"))
    return list(found.values()), skipped


def _read_manifests(folder: Path) -> dict[Path, dict[str, str]]:
    metadata: dict[Path, dict[str, str]] = {}
    for manifest in sorted(folder.rglob(MANIFEST_NAME)) if folder.is_dir() else []:
        with manifest.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            if not reader.fieldnames or "file" not in reader.fieldnames:
                continue
            for row in reader:
                target = (manifest.parent / row["file"]).resolve()
                metadata[target] = {k: v.strip() for k, v in row.items()
                                    if k and k != "file" and v and v.strip()}
    return metadata


def _manifest_for(file: Path, manifests: dict[Path, dict[str, str]]) -> dict[str, str]:
    return dict(manifests.get(file.resolve(), {}))


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


ParseFunction = Callable[[Path], ParsedSource]


def run_index(
    paths: Sequence[Path],
    settings: IndexSettings,
    encoder: Encoder,
    *,
    prune: bool = False,
    progress: bool = True,
    parse_pdf: ParseFunction | None = None,
    isolate: bool | None = None,
    sidecar: Sidecar | None = None,
) -> IndexReport:
    """Index ``paths`` into ``settings.index_dir``; see the module docstring for the rules.

    PDFs are parsed in a worker process with ``settings.parse_timeout_s`` per file
    (``indexing.isolation``) when ``isolate`` is true; by default (``None``) the
    built-in parser is isolated and a custom ``parse_pdf`` (tests) runs in-process.
    A custom function must be picklable (module level) to be isolated.
    ``sidecar`` (``indexing.sidecar``) gives metadata for new documents; its values win.
    """
    started = time.perf_counter()
    report = IndexReport()
    parse = parse_pdf or pdf_parser(settings.table_detection)
    if isolate is None:
        isolate = parse_pdf is None
    if not isolate or settings.parse_timeout_s is None:
        limits = None
    else:
        limits = ParseLimits(settings.parse_timeout_s, settings.parse_memory_mb)
    sources, report.skipped = discover_sources(paths)
    report.files = len(sources)

    existing = _existing_documents(settings.index_dir, encoder)
    t_read = time.perf_counter()
    candidates = _collect_candidates(sources, report)  # hashes files; reads and parses JSONL abstracts
    report.timings["read_s"] = time.perf_counter() - t_read

    by_sha = {d.sha256: d for d in existing.values()}
    outdated = _outdated_segmentation(settings.index_dir, existing)
    keep_ids: set[str] = set()
    new: list[Candidate] = []
    seen_sha: dict[str, str] = {}
    for candidate in candidates:
        if candidate.sha256 in seen_sha:
            report.duplicates.append((candidate.source_path, seen_sha[candidate.sha256]))
            continue
        seen_sha[candidate.sha256] = candidate.source_path
        known = by_sha.get(candidate.sha256)
        if known is not None and known.id in outdated:
            report.resplit_documents += 1
            new.append(candidate)  # unchanged, but split by an older segmenter: split it again
        elif known is not None and not _sidecar_changes(known, candidate, sidecar):
            keep_ids.add(known.id)
        else:  # new content, or a sidecar that now says something else about it: (re-)index it
            new.append(candidate)

    superseded = {c.source_path for c in new if not c.replaces_by_id}
    replaced_ids = {c.id for c in new}
    for document in existing.values():
        if document.id in keep_ids:
            continue
        if prune or document.source_path in superseded and document.source_kind == "pdf":
            continue
        if document.id in replaced_ids:
            continue
        keep_ids.add(document.id)
    report.removed_documents = len(existing) - len(keep_ids) - report.resplit_documents  # a re-split one is new

    t_parse = time.perf_counter()
    parsed_new = _parse_new(new, parse, report, progress, limits)
    report.timings["parse_s"] = time.perf_counter() - t_parse
    if sidecar is not None:
        _apply_sidecar(parsed_new, sidecar)
    unparsed = {by_sha[c.sha256].id for c in new if c.parsed is None and c.sha256 in by_sha
                and by_sha[c.sha256].id in outdated}
    if unparsed:  # a file to split again that cannot be parsed now: keep the document as it was
        keep_ids |= unparsed
        report.resplit_documents -= len(unparsed)

    if not parsed_new and report.removed_documents == 0 and existing and not _search_text_outdated(settings.index_dir):
        report.up_to_date = True
        _fill_counts(report, settings.index_dir)
        report.reused_documents = len(existing)
        report.seconds = time.perf_counter() - started
        return report
    if not parsed_new and not keep_ids:
        report.seconds = time.perf_counter() - started
        raise IndexingError("nothing could be indexed: " + (
            "; ".join(f"{s.path}: {s.reason}" for s in report.skipped[:5]) or "no PDF or JSONL sources found"))

    contents = _reuse_existing(settings.index_dir, [d for d in existing if d in keep_ids])
    report.reused_documents = len(contents)
    contents.extend(_build_new(parsed_new, contents, settings, encoder, progress, report))  # split_s, embed_s

    t_write = time.perf_counter()
    still_outdated = sorted(outdated & keep_ids)  # kept as they were: their files were not given
    report.outdated_documents = len(still_outdated)
    info = write_snapshot(settings.index_dir, contents, encoder.name, encoder.dim, keep=settings.keep_snapshots,
                          extra={"segmentation_version": SEGMENTATION_VERSION,
                                 "outdated_segmentation": still_outdated})
    report.timings["write_s"] = time.perf_counter() - t_write
    report.snapshot_id = info.id
    report.documents, report.pages = info.documents, info.pages
    report.passages, report.sentences = info.passages, info.sentences
    report.new_documents = len(parsed_new)
    report.seconds = time.perf_counter() - started
    return report


def _existing_documents(index_dir: Path, encoder: Encoder) -> dict[str, Document]:
    snapshot = current_snapshot_dir(index_dir)
    if snapshot is None or not snapshot.is_dir():
        return {}
    try:
        info = read_info(snapshot)
    except (OSError, ValueError, TypeError):
        return {}  # unreadable snapshot: rebuild from scratch, never reuse its vectors
    if info.encoder != encoder.name:
        return {}  # vectors from another model cannot be mixed in
    from indexing.snapshot import connect_readonly, row_to_document

    connection = connect_readonly(snapshot)
    try:
        rows = connection.execute("SELECT * FROM documents ORDER BY idx").fetchall()
    finally:
        connection.close()
    return {row["id"]: row_to_document(row) for row in rows}


def _collect_candidates(sources: list[SourceFile], report: IndexReport) -> list[Candidate]:
    candidates: list[Candidate] = []
    for source in sources:
        if source.kind == "pdf":
            try:
                sha = sha256_file(source.path)
            except OSError as error:
                report.skipped.append(SkippedSource(str(source.path), f"cannot read file: {error.strerror}"))
                continue
            candidates.append(Candidate(sha[:16], sha, str(source.path), "pdf", dict(source.metadata)))
            continue
        try:
            for item in read_abstracts(source.path):
                if isinstance(item, BadLine):
                    report.skipped.append(SkippedSource(f"{source.path}:{item.line_number}", item.reason))
                    continue
                metadata = {**source.metadata, **item.source.metadata}
                candidates.append(Candidate(item.record_id, item.sha256, str(source.path), "abstract",
                                            metadata, item.source, replaces_by_id=True))
        except (OSError, UnicodeDecodeError) as error:
            report.skipped.append(SkippedSource(str(source.path), f"cannot read JSONL file: {error}"))
    return candidates


def _parse_new(new: list[Candidate], parse: ParseFunction, report: IndexReport,
               progress: bool, limits: ParseLimits | None) -> list[Candidate]:
    """Parse the new PDFs; with ``limits``, each in a killable worker (one hung file cannot hang the run)."""
    pdfs = [c for c in new if c.parsed is None]
    if not pdfs:
        return [c for c in new if c.parsed is not None]
    with ExitStack() as stack:
        if limits is not None:
            parse = stack.enter_context(IsolatedParser(parse, limits))
        for candidate in tqdm(pdfs, desc="parse", unit="file", disable=not progress):
            try:
                candidate.parsed = parse(Path(candidate.source_path))
            except UnreadableDocumentError as error:
                report.skipped.append(SkippedSource(candidate.source_path, error.reason))
            except Exception as error:  # a parser bug on one file must not stop the run
                report.skipped.append(SkippedSource(candidate.source_path, f"parser error: {error!r}"[:200]))
    return [c for c in new if c.parsed is not None]


def _reuse_existing(index_dir: Path, document_ids: list[str]) -> list[DocumentContent]:
    snapshot = current_snapshot_dir(index_dir)
    if snapshot is None or not document_ids:
        return []
    contents = list(iter_document_content(snapshot, document_ids))
    return _renumber(contents)


def _renumber(contents: list[DocumentContent]) -> list[DocumentContent]:
    """Give reused documents dense ids again, in their new order."""
    next_sentence, next_passage = 0, 0
    out: list[DocumentContent] = []
    for content in contents:
        s_map = {s.id: next_sentence + i for i, s in enumerate(content.sentences)}
        p_map = {p.id: next_passage + i for i, p in enumerate(content.passages)}
        sentences = [_replace_sentence(s, s_map[s.id], p_map.get(s.passage_id, -1)) for s in content.sentences]
        passages = [_replace_passage(p, p_map[p.id], s_map[p.first_sentence_id], s_map[p.last_sentence_id])
                    for p in content.passages]
        out.append(DocumentContent(content.document, content.pages, sentences, passages,
                                   content.sentence_vectors, content.passage_vectors))
        next_sentence += len(sentences)
        next_passage += len(passages)
    return out


def _replace_sentence(s: Sentence, new_id: int, passage_id: int) -> Sentence:
    return Sentence(new_id, s.document_id, s.page, s.char_start, s.char_end, s.text, s.role, s.section,
                    s.position, passage_id)


def _replace_passage(p: Passage, new_id: int, first: int, last: int) -> Passage:
    return Passage(new_id, p.document_id, p.page, p.char_start, p.char_end, p.text, p.role, p.section,
                   first, last)


def _sidecar_changes(document: Document, candidate: Candidate, sidecar: Sidecar | None) -> bool:
    """Whether the sidecar gives an indexed, unchanged file metadata that differs from what is stored."""
    if sidecar is None:
        return False
    found = sidecar.lookup(Path(candidate.source_path), candidate.sha256,
                           document.source.doi or document.metadata.get("doi", ""))
    stored = {**document.metadata, "title": document.title}
    return any(stored.get(key) != value for key, value in found.items())


def _apply_sidecar(candidates: list[Candidate], sidecar: Sidecar) -> None:
    """Put each candidate's sidecar record (by path, SHA-256, file name or DOI) over its manifest metadata."""
    for candidate in candidates:
        doi = candidate.parsed.metadata.get("doi", "") if candidate.parsed else ""
        found = sidecar.lookup(Path(candidate.source_path), candidate.sha256, doi)
        candidate.metadata.update(found)


def _build_new(new: list[Candidate], reused: list[DocumentContent], settings: IndexSettings,
               encoder: Encoder, progress: bool, report: IndexReport) -> list[DocumentContent]:
    next_sentence = sum(len(c.sentences) for c in reused)
    next_passage = sum(len(c.passages) for c in reused)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    t_split = time.perf_counter()
    built: list[DocumentContent] = []
    for candidate in new:
        assert candidate.parsed is not None
        parsed = candidate.parsed
        sentences, passages = segment(parsed, candidate.id, passage_max_words=settings.passage_max_words,
                                      first_sentence_id=next_sentence, first_passage_id=next_passage)
        next_sentence += len(sentences)
        next_passage += len(passages)
        metadata = {**parsed.metadata, **candidate.metadata}
        title = metadata.pop("title", "") or parsed.title or Path(candidate.source_path).stem
        source = source_info(parsed.metadata, candidate.metadata, title,
                             "\n".join(p.text for p in parsed.pages[:2]))
        document = Document(
            id=candidate.id, sha256=candidate.sha256, title=title, source_path=candidate.source_path,
            source_kind=candidate.source_kind, pages=len(parsed.pages), indexed_at=now, metadata=metadata,
            source=source,
        )
        pages = [Page(candidate.id, p.number, p.text, p.width, p.height, p.lines) for p in parsed.pages]
        empty = np.zeros((0, encoder.dim), dtype=np.float32)
        built.append(DocumentContent(document, pages, sentences, passages, empty, empty))
    report.new_passages = sum(len(c.passages) for c in built)
    t_embed = time.perf_counter()
    report.timings["split_s"] = t_embed - t_split
    if settings.late_chunking and isinstance(encoder, TokenEncoder):
        _assign_vectors(built, *late_chunk(encoder, [p for c in built for p in c.passages],
                                           [s for c in built for s in c.sentences]))
    elif settings.batch_across_documents or encoder.batch_invariant:
        _assign_vectors(built, _encode_sorted(encoder, [p.text for c in built for p in c.passages],
                                              settings.embed_batch_size, "embed passages", progress),
                        _encode_sorted(encoder, [s.text for c in built for s in c.sentences],
                                       settings.embed_batch_size, "embed sentences", progress))
    else:
        _encode_each_document(encoder, built, progress)
    report.timings["embed_s"] = time.perf_counter() - t_embed
    return built


def _assign_vectors(built: list[DocumentContent], passage_vectors: np.ndarray, sentence_vectors: np.ndarray) -> None:
    """Hand each document its rows of vectors computed for all new documents in order."""
    p_cursor = s_cursor = 0
    for content in built:
        content.passage_vectors = passage_vectors[p_cursor:p_cursor + len(content.passages)]
        content.sentence_vectors = sentence_vectors[s_cursor:s_cursor + len(content.sentences)]
        p_cursor += len(content.passages)
        s_cursor += len(content.sentences)


def _encode_each_document(encoder: Encoder, built: list[DocumentContent], progress: bool) -> None:
    """Embed each document's passages and sentences in calls of their own (encoders that are not
    ``batch_invariant``, unless ``batch_across_documents``).

    A batching encoder's vector for a text moves slightly with its batch partners (torch pads each batch).
    Batches drawn from one document only make every vector a function of its own document: a full rebuild
    and an incremental run that adds other documents give the same vectors, and so the same rankings.
    """
    total = sum(len(c.passages) + len(c.sentences) for c in built)
    with tqdm(total=total, desc="embed", unit="text", disable=not progress) as bar:
        for content in built:
            content.passage_vectors = _encode(encoder, [p.text for p in content.passages])
            content.sentence_vectors = _encode(encoder, [s.text for s in content.sentences])
            bar.update(len(content.passages) + len(content.sentences))


def _encode_sorted(encoder: Encoder, texts: list[str], batch_size: int, label: str, progress: bool) -> np.ndarray:
    """Texts of all new documents in one pass, length-sorted so that batching encoders pad little (encoders that
    are ``batch_invariant``, or any with ``batch_across_documents``)."""
    out = np.zeros((len(texts), encoder.dim), dtype=np.float32)
    order = np.argsort([len(t) for t in texts], kind="stable")
    chunk = max(batch_size * 8, 1)
    with tqdm(total=len(texts), desc=label, unit="text", disable=not progress) as bar:
        for start in range(0, len(texts), chunk):
            rows = order[start:start + chunk]
            out[rows] = encoder.encode_passages([texts[i] for i in rows])
            bar.update(len(rows))
    return out


def _encode(encoder: Encoder, texts: list[str]) -> np.ndarray:
    """Vectors of ``texts`` (the encoder batches them, length-sorted); an empty list gives a 0-row array."""
    if not texts:
        return np.zeros((0, encoder.dim), dtype=np.float32)
    return np.asarray(encoder.encode_passages(texts), dtype=np.float32)


def _outdated_segmentation(index_dir: Path, existing: dict[str, Document]) -> set[str]:
    """Ids of the existing documents that an older segmenter split into sentences (all of them in a snapshot
    written before ``SEGMENTATION_VERSION``): ``run_index`` splits each again when its file is given."""
    snapshot = current_snapshot_dir(index_dir)
    if snapshot is None or not existing:
        return set()
    listed = read_info(snapshot).outdated_segmentation(SEGMENTATION_VERSION)
    return set(existing) if listed is None else listed & set(existing)


def _search_text_outdated(index_dir: Path) -> bool:
    """Whether the current snapshot's BM25 text predates ``SEARCH_TEXT_VERSION`` (then it is rewritten)."""
    snapshot = current_snapshot_dir(index_dir)
    return snapshot is not None and read_info(snapshot).search_text_version < SEARCH_TEXT_VERSION


def _fill_counts(report: IndexReport, index_dir: Path) -> None:
    snapshot = current_snapshot_dir(index_dir)
    if snapshot is None:
        return
    info = read_info(snapshot)
    report.snapshot_id = info.id
    report.documents, report.pages = info.documents, info.pages
    report.passages, report.sentences = info.passages, info.sentences
