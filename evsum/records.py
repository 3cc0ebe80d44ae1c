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
from typing import Mapping, Sequence


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


class DocType(StrEnum):
    """What kind of evidence a document is (its study design, or guideline)."""

    GUIDELINE = "guideline"
    SYSTEMATIC_REVIEW = "systematic_review"
    RCT = "rct"
    COHORT = "cohort"
    CASE_REPORT = "case_report"
    NARRATIVE_REVIEW = "narrative_review"
    OTHER = "other"

    @property
    def label(self) -> str:
        """How the type is shown to people ("Systematic review", "RCT" ...)."""
        return _DOC_TYPE_LABELS[self]


_DOC_TYPE_LABELS = {
    DocType.GUIDELINE: "Guideline", DocType.SYSTEMATIC_REVIEW: "Systematic review", DocType.RCT: "RCT",
    DocType.COHORT: "Cohort study", DocType.CASE_REPORT: "Case report",
    DocType.NARRATIVE_REVIEW: "Narrative review", DocType.OTHER: "Other",
}


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """Bibliographic facts about a document, from the PDF, a sidecar manifest or RIS file, or a classifier.

    ``doc_type_origin`` says where ``doc_type`` came from: ``"sidecar"``, ``"rules"``,
    ``"classifier"`` or ``""`` (unknown, then ``doc_type`` is ``OTHER``).  ``published`` is an
    ISO date (``2019`` or ``2019-05`` or ``2019-05-01``), the version date of a guideline.
    """

    authors: tuple[str, ...] = ()
    year: int | None = None
    issuer: str = ""  # journal, or the body that issued a guideline
    doi: str = ""
    pmid: str = ""
    doc_type: DocType = DocType.OTHER
    doc_type_origin: str = ""
    version: str = ""
    published: str = ""
    licence: str = ""
    language: str = ""


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
    source: SourceInfo = field(default_factory=SourceInfo)


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
    doc_type: str = ""  # the cited document's DocType value, so every quote shows its kind of source
    year: int | None = None
    issuer: str = ""


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
    """One sentence of an extractive summary, quoted verbatim with its citation.

    ``continues`` marks the first part of a sentence that a page break cut in two: the next quote of the summary
    is its second part, cited to the next page.
    """

    sentence_id: int
    text: str
    citation: Citation
    score: float
    continues: bool = False


def whole_sentence_groups(continues: Sequence[bool]) -> list[list[int]]:
    """Indices of a summary's quotes grouped into whole sentences, given each quote's ``continues`` flag: a quote
    alone, or quotes each of which runs on into the next, shown together. The summariser's parts of a sentence
    that a page break cut in two come in pairs; a librarian's added span can run on at both ends (it opens with
    the end of one cut sentence and closes with the first part of another), which makes three."""
    groups: list[list[int]] = []
    joined = False
    for index, flag in enumerate(continues):
        if joined:
            groups[-1].append(index)
        else:
            groups.append([index])
        joined = bool(flag)
    return groups


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
    query: str = ""  # what retrieval searched for: the question, plus the PICO fields when given
    filters: dict[str, str] = field(default_factory=dict)  # SearchFilters.describe() of the filters applied
    source_priority: bool = False  # whether the source-priority prior re-ranked the evidence
    claim: bool = False  # whether the input was checked as a claim (re-scored by the claim cross-encoder)
    cross_encoded: bool = False  # whether the cross-encoder re-scored the best candidates (every claim; questions too
    # when the installed graph was trained on them)

    @property
    def has_evidence(self) -> bool:
        """True when the summary quotes at least one sentence."""
        return self.status == "answered"


@dataclass(frozen=True, slots=True)
class SearchFilters:
    """Which documents a search or summary may draw on; an empty field does not restrict.

    ``year_from``/``year_to`` are inclusive; a document with no known year is left out whenever a
    year bound is set.  ``doc_types`` are ``DocType`` values.  ``issuers`` match case-insensitively
    as a substring of the document's issuer (journal or issuing body).  ``languages`` are ISO 639-1
    codes; a document of unknown language is left out when languages are given.
    """

    year_from: int | None = None
    year_to: int | None = None
    doc_types: tuple[str, ...] = ()
    issuers: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()

    @property
    def active(self) -> bool:
        """True when at least one filter restricts the documents."""
        return bool(self.year_from or self.year_to or self.doc_types or self.issuers or self.languages)

    def allows(self, document: Document) -> bool:
        """Whether ``document`` passes every filter."""
        source = document.source
        if (self.year_from or self.year_to) and source.year is None:
            return False
        if self.year_from and source.year is not None and source.year < self.year_from:
            return False
        if self.year_to and source.year is not None and source.year > self.year_to:
            return False
        if self.doc_types and source.doc_type.value not in self.doc_types:
            return False
        if self.issuers and not any(i.lower() in source.issuer.lower() for i in self.issuers if i.strip()):
            return False
        return not self.languages or source.language in self.languages

    def describe(self) -> dict[str, str]:
        """The filters as label -> value, for the search strategy (empty when none is set)."""
        out: dict[str, str] = {}
        if self.year_from or self.year_to:
            out["years"] = f"{self.year_from or '…'}–{self.year_to or '…'}"
        if self.doc_types:
            out["document types"] = ", ".join(DocType(t).label for t in self.doc_types)
        if self.issuers:
            out["source/issuer"] = ", ".join(self.issuers)
        if self.languages:
            out["languages"] = ", ".join(self.languages)
        return out


@dataclass(frozen=True, slots=True)
class Pico:
    """A structured question: Population, Intervention, Comparison, Outcome (each optional)."""

    population: str = ""
    intervention: str = ""
    comparison: str = ""
    outcome: str = ""

    def fields(self) -> dict[str, str]:
        """The non-empty fields, by name."""
        values = {"population": self.population, "intervention": self.intervention,
                  "comparison": self.comparison, "outcome": self.outcome}
        return {k: v.strip() for k, v in values.items() if v and v.strip()}

    def query(self, question: str) -> str:
        """The retrieval query: the question followed by every PICO field not already in it."""
        extra = [v for v in self.fields().values() if v.lower() not in question.lower()]
        return " ".join([question.strip(), *extra]).strip()


def scorer_label(scorer: Mapping[str, str] | None) -> str:
    """A scorer's provenance as recorded with a run, for people: its name and the start of its SHA-256, or
    "none" (exports, re-check reports and the UI). A claim scorer is recorded as {name, graph_sha256}, the
    sentence scorer as {name, weights_sha256}."""
    if not scorer:
        return "none"
    for key, what in (("graph_sha256", "graph"), ("weights_sha256", "weights")):
        sha = str(scorer.get(key, ""))
        if sha:
            return f"{scorer.get('name', 'scorer')} ({what} SHA-256 {sha[:12]})"
    return str(scorer.get("name", "scorer"))
