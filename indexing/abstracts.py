"""Read abstracts from JSONL files: one document per line.

Accepted line shapes (unknown keys are kept as metadata when they are scalars):

- generic: ``{"id", "title", "text"}``, optionally ``"sections": [{"label", "text"}]``
  instead of ``text``, and ``"year"``, ``"source"``, ``"type"``, ``"metadata": {...}``;
- SciFact corpus: ``{"doc_id", "title", "abstract": [sentence, ...], "structured"}``
  (each given sentence stays a sentence of its own, so rationale indices map 1:1);
- PubMedQA-style: ``{"id", "contexts": [...], "labels": [...]}``.

Each abstract becomes one page of text: section labels as headings, section texts
as body paragraphs.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from evsum.records import Role
from indexing.parsed import ParsedPage, ParsedSource, Region

_RESERVED = {"id", "doc_id", "_id", "title", "text", "abstract", "sections", "contexts", "labels",
             "metadata", "structured"}


@dataclass(frozen=True, slots=True)
class AbstractRecord:
    """One parsed JSONL line: its stable id, content hash and parsed text."""

    line_number: int
    record_id: str
    sha256: str
    source: ParsedSource


@dataclass(frozen=True, slots=True)
class BadLine:
    """A JSONL line that could not be read, with a one-line reason."""

    line_number: int
    reason: str


def read_abstracts(path: Path) -> Iterator[AbstractRecord | BadLine]:
    """Yield one ``AbstractRecord`` per good line of ``path`` and a ``BadLine`` per bad one."""
    with path.open("r", encoding="utf-8", errors="strict") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except json.JSONDecodeError as error:
                yield BadLine(number, f"invalid JSON ({error.msg})")
                continue
            if not isinstance(record, dict):
                yield BadLine(number, "not a JSON object")
                continue
            try:
                yield parse_abstract(record, number)
            except ValueError as error:
                yield BadLine(number, str(error))


def parse_abstract(record: dict[str, Any], line_number: int = 0) -> AbstractRecord:
    """Turn one abstract record into a one-page ``ParsedSource``; ``ValueError`` if unusable."""
    sections = _sections(record)
    if not any(text.strip() for _, texts in sections for text in texts):
        raise ValueError("no abstract text (expected 'text', 'abstract', 'sections' or 'contexts')")
    text_parts: list[str] = []
    regions: list[Region] = []
    cursor = 0

    def add(piece: str, role: Role, section: str | None, separator: str) -> None:
        nonlocal cursor
        if text_parts:
            text_parts.append(separator)
            cursor += len(separator)
        regions.append(Region(1, cursor, cursor + len(piece), role, section))
        text_parts.append(piece)
        cursor += len(piece)

    for label, texts in sections:
        if label:
            add(label, Role.HEADING, label, "\n\n")
        for index, piece in enumerate(t.strip() for t in texts):
            if piece:
                add(piece, Role.BODY, label, " " if index else "\n\n")
    page_text = "".join(text_parts)
    canonical = json.dumps(record, sort_keys=True, ensure_ascii=False).encode("utf-8")
    sha = hashlib.sha256(canonical).hexdigest()
    record_id = str(record.get("id", record.get("doc_id", record.get("_id", "")))).strip() or sha[:16]
    title = str(record.get("title") or "").strip() or f"Abstract {record_id}"
    metadata = {k: str(v) for k, v in record.items() if k not in _RESERVED and _is_scalar(v)}
    extra = record.get("metadata")
    if isinstance(extra, dict):
        metadata.update({str(k): str(v) for k, v in extra.items() if _is_scalar(v)})
    source = ParsedSource(title=title, pages=[ParsedPage(1, page_text)], regions=regions, metadata=metadata)
    return AbstractRecord(line_number, record_id, sha, source)


def _is_scalar(value: object) -> bool:
    return isinstance(value, (str, int, float, bool)) and value != ""


def _sections(record: dict[str, Any]) -> list[tuple[str | None, list[str]]]:
    if isinstance(record.get("sections"), list):
        out: list[tuple[str | None, list[str]]] = []
        for item in record["sections"]:
            if isinstance(item, dict):
                label = str(item.get("label") or "").strip() or None
                out.append((_title_case(label), [str(item.get("text") or "")]))
        return out
    contexts = record.get("contexts", record.get("CONTEXTS"))
    if isinstance(contexts, list):
        labels = record.get("labels", record.get("LABELS")) or []
        return [
            (_title_case(str(labels[i])) if i < len(labels) else None, [str(c)])
            for i, c in enumerate(contexts)
        ]
    abstract = record.get("abstract")
    if isinstance(abstract, list):
        return [(None, [str(s) for s in abstract])]
    if isinstance(abstract, str):
        return [(None, [abstract])]
    text = record.get("text")
    if text is not None and not isinstance(text, str):
        raise ValueError(f"'text' must be a string, not {type(text).__name__}")
    return [(None, [text or ""])]


def _title_case(label: str | None) -> str | None:
    if not label:
        return None
    return label if not label.isupper() else label.capitalize()
