"""Typed provenance records shared by every part of evsum.

This module deliberately imports nothing heavy (no FastAPI, Streamlit, FAISS or
torch) so that the indexer, the service, the UI client and the evaluation code
can all share the same records.  Provenance is carried as typed fields from the
parser to the HTTP response; nothing is ever recovered by parsing strings.

Offsets are character offsets into the *extracted page text* of a page
(``Page.text``), half-open, so that ``page.text[start:end] == sentence.text``.
Page numbers are 1-based, as printed by a PDF viewer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Mapping


class Role(StrEnum):
    """What a region of page text is; only ``BODY`` sentences are summarisable."""

    BODY = "body"
    HEADING = "heading"
    TABLE = "table"
    CAPTION = "caption"
    REFERENCE = "reference"


@dataclass(frozen=True, slots=True)
class LineBox:
    """One extracted line: its span in the page text and its box on the PDF page (points)."""

    char_start: int
    char_end: int
    x0: float
    y0: float
    x1: float
    y1: float


@dataclass(frozen=True, slots=True)
class Document:
    """An indexed source document, keyed by the SHA-256 of its content."""

    id: str
    sha256: str
    title: str
    source_path: str
    source_kind: str  # "pdf" or "abstract"
    pages: int
    indexed_at: str  # ISO 8601 UTC
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Page:
    """The extracted text of one page, with the boxes of its lines."""

    document_id: str
    number: int
    text: str
    width: float = 0.0
    height: float = 0.0
    lines: tuple[LineBox, ...] = ()


@dataclass(frozen=True, slots=True)
class Sentence:
    """A sentence: a verbatim span ``page.text[char_start:char_end]``."""

    id: int
    document_id: str
    page: int
    char_start: int
    char_end: int
    text: str
    role: Role
    section: str | None
    position: int  # order of the sentence within its document
    passage_id: int


@dataclass(frozen=True, slots=True)
class Passage:
    """Consecutive sentences of one page and section: ``page.text[char_start:char_end]``."""

    id: int
    document_id: str
    page: int
    char_start: int
    char_end: int
    text: str
    role: Role
    section: str | None
    first_sentence_id: int
    last_sentence_id: int


@dataclass(frozen=True, slots=True)
class Citation:
    """Where a quoted span comes from: enough to open the page and highlight it."""

    document_id: str
    title: str
    page: int
    char_start: int
    char_end: int
    section: str | None = None
    source_path: str = ""


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One retrieved passage with its citation and the scores that ranked it."""

    passage: Passage
    citation: Citation
    score: float
    dense_score: float | None
    bm25_score: float | None


@dataclass(frozen=True, slots=True)
class SummarySentence:
    """One sentence of an extractive summary, quoted verbatim with its citation."""

    sentence_id: int
    text: str
    citation: Citation
    score: float


@dataclass(frozen=True, slots=True)
class Summary:
    """An extractive summary of the evidence for a question.

    ``status`` is ``"answered"`` or ``"no_evidence"``; in the latter case
    ``sentences`` is empty and ``message`` says why.
    """

    question: str
    sentences: tuple[SummarySentence, ...]
    status: str
    message: str
    snapshot_id: str
    retrieved_document_ids: tuple[str, ...] = ()

    @property
    def has_evidence(self) -> bool:
        """True when the summary quotes at least one sentence."""
        return self.status == "answered"
