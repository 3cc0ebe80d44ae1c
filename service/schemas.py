"""HTTP request and response bodies, and their conversion from the typed records."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from evsum.records import Citation, DocType, Document, Pico, SearchFilters, SearchHit, Summary
from service.redaction import RedactsQuestion, describe, redact

DocTypeName = Literal["guideline", "systematic_review", "rct", "cohort", "case_report", "narrative_review", "other"]


class PicoIn(BaseModel):
    """The question broken down as Population, Intervention, Comparison, Outcome (all optional).

    Each given field is added to the retrieval query and shown in the export.
    """

    model_config = ConfigDict(extra="forbid")
    population: str | None = Field(None, max_length=500)
    intervention: str | None = Field(None, max_length=500)
    comparison: str | None = Field(None, max_length=500)
    outcome: str | None = Field(None, max_length=500)

    def to_record(self) -> Pico:
        """The domain record."""
        return Pico(population=self.population or "", intervention=self.intervention or "",
                    comparison=self.comparison or "", outcome=self.outcome or "")


class FiltersIn(BaseModel):
    """Which documents to search or quote from; an omitted field does not restrict."""

    model_config = ConfigDict(extra="forbid")
    year_from: int | None = Field(None, ge=1800, le=2200, description="Earliest publication year (inclusive); "
                                  "documents with no known year are left out when a year bound is set.")
    year_to: int | None = Field(None, ge=1800, le=2200, description="Latest publication year (inclusive).")
    doc_types: list[DocTypeName] = Field(default_factory=list, max_length=7, description="Document types to keep.")
    issuers: list[str] = Field(default_factory=list, max_length=20,
                               description="Journal or issuing body, case-insensitive substring (e.g. 'NICE').")
    languages: list[str] = Field(default_factory=list, max_length=10, description="ISO 639-1 codes, e.g. 'en'.")

    def to_record(self) -> SearchFilters:
        """The domain record."""
        return SearchFilters(year_from=self.year_from, year_to=self.year_to, doc_types=tuple(self.doc_types),
                             issuers=tuple(i.strip() for i in self.issuers if i.strip()),
                             languages=tuple(lang.strip().lower() for lang in self.languages if lang.strip()))


class CitationOut(BaseModel):
    """Where a quoted span comes from: ``page_text[char_start:char_end]`` is the quote."""

    document_id: str
    title: str
    page: int = Field(description="1-based page number, as a PDF viewer prints it.")
    char_start: int
    char_end: int
    section: str | None = None
    source_path: str
    doc_type: str = Field("", description="The cited document's type (guideline, systematic_review, rct ...).")
    doc_type_label: str = Field("", description="The type as shown to people ('Systematic review').")
    year: int | None = None
    issuer: str = Field("", description="Journal or issuing body.")

    @classmethod
    def of(cls, citation: Citation) -> CitationOut:
        """From the record."""
        return cls(document_id=citation.document_id, title=citation.title, page=citation.page,
                   char_start=citation.char_start, char_end=citation.char_end, section=citation.section,
                   source_path=citation.source_path, doc_type=citation.doc_type,
                   doc_type_label=DocType(citation.doc_type).label if citation.doc_type else "",
                   year=citation.year, issuer=citation.issuer)


class SummaryRequestIn(RedactsQuestion):
    """A clinical question to answer with an extractive summary."""

    question: str = Field(min_length=1, max_length=2000, description="The question, in plain words.")
    max_sentences: int | None = Field(None, ge=1, le=20, description="Most sentences to quote (a sentence cut by a "
                                      "page break counts once, though it is quoted as its two parts).")
    max_words: int | None = Field(None, ge=10, le=2000, description="Word budget of the summary.")
    pico: PicoIn | None = Field(None, description="Structured question; its fields are added to the search.")
    filters: FiltersIn | None = Field(None, description="Restrict the documents quoted from.")
    source_priority: bool | None = Field(
        None, description="Rank national guidelines, then systematic reviews, then primary studies first "
        "(a documented prior); default: the service setting.")
    claim: bool = Field(
        False, description="Treat the text as a claim to check (\"Vitamin D reduces fractures\") rather than a "
        "question: the best candidates are re-scored by the claim cross-encoder, which finds the sentences that "
        "report the finding, for or against. 400 when no claim scorer is installed.")


class SummarySentenceOut(BaseModel):
    """One quoted sentence."""

    sentence_id: int
    text: str
    score: float
    citation: CitationOut
    continues: bool = Field(False, description="True for the first part of a sentence that a page break cut in "
                            "two: the next quote is its second part, cited to the next page.")


class SummaryOut(BaseModel):
    """An unreviewed machine draft: verbatim sentences, each with its citation."""

    question: str
    status: Literal["answered", "no_evidence"]
    message: str
    draft: bool = Field(True, description="Always true: machine output not yet reviewed by a librarian.")
    snapshot_id: str
    retrieved_document_ids: list[str]
    sentences: list[SummarySentenceOut]
    query: str = Field("", description="What was searched: the question plus any PICO fields.")
    filters: dict[str, str] = Field(default_factory=dict, description="The filters applied, as label: value.")
    source_priority: bool = Field(False, description="Whether the source-priority prior re-ranked the evidence.")
    claim: bool = Field(False, description="Whether the text was checked as a claim (claim cross-encoder).")
    cross_encoded: bool = Field(False, description="Whether the cross-encoder re-scored the best candidates: every "
                                "claim, and questions when the installed graph was trained on questions too.")
    redactions: list[str] = Field(default_factory=list, description="Kinds of patient detail (nhs_number, date, "
                                  "postcode, phone, email) removed from the question before it was used.")
    redaction_notice: str | None = Field(None, description="What to tell the user when something was redacted.")

    def with_redactions(self, kinds: tuple[str, ...]) -> SummaryOut:
        """This answer, saying which patient details were removed from the question."""
        return self.model_copy(update={"redactions": list(kinds), "redaction_notice": describe(kinds) or None})

    @classmethod
    def of(cls, summary: Summary) -> SummaryOut:
        """From the record."""
        return cls(
            question=summary.question,
            status="answered" if summary.status == "answered" else "no_evidence",
            message=summary.message,
            snapshot_id=summary.snapshot_id,
            retrieved_document_ids=list(summary.retrieved_document_ids),
            query=summary.query or summary.question, filters=dict(summary.filters),
            source_priority=summary.source_priority, claim=summary.claim, cross_encoded=summary.cross_encoded,
            sentences=[SummarySentenceOut(sentence_id=s.sentence_id, text=s.text, score=s.score,
                                          citation=CitationOut.of(s.citation), continues=s.continues)
                       for s in summary.sentences],
        )


class SearchRequestIn(BaseModel):
    """A search over indexed passages."""

    query: str = Field(min_length=1, max_length=2000)
    top_k: int = Field(10, ge=1, le=100)

    @field_validator("query")
    @classmethod
    def _redact_patient_details(cls, query: str) -> str:
        """Patient details are removed from the query before it is used or echoed (``service.redaction``)."""
        return redact(query).text
    filters: FiltersIn | None = Field(None, description="Restrict the documents searched.")
    source_priority: bool | None = Field(None, description="Apply the source-priority prior (default: setting).")


class SearchHitOut(BaseModel):
    """One passage with its citation and the scores that ranked it."""

    passage_id: int
    text: str
    role: str
    score: float = Field(description="Reciprocal rank fusion score.")
    dense_score: float | None = Field(None, description="Cosine similarity, when among the dense candidates.")
    bm25_score: float | None = Field(None, description="BM25 score, when among the lexical candidates.")
    citation: CitationOut

    @classmethod
    def of(cls, hit: SearchHit) -> SearchHitOut:
        """From the record."""
        return cls(passage_id=hit.passage.id, text=hit.passage.text, role=hit.passage.role.value,
                   score=hit.score, dense_score=hit.dense_score, bm25_score=hit.bm25_score,
                   citation=CitationOut.of(hit.citation))


class SearchOut(BaseModel):
    """Search results, best first."""

    query: str
    snapshot_id: str
    hits: list[SearchHitOut]
    filters: dict[str, str] = Field(default_factory=dict, description="The filters applied, as label: value.")


class SourceOut(BaseModel):
    """Bibliographic metadata: from the PDF, overridden by a sidecar; the type may come from the classifier."""

    authors: list[str]
    year: int | None
    issuer: str = Field(description="Journal or issuing body.")
    doi: str
    pmid: str
    doc_type: str
    doc_type_label: str
    doc_type_origin: str = Field(description="'sidecar', 'rules', 'classifier' or '' (unknown).")
    version: str
    published: str = Field(description="Version date of a guideline (ISO, year or year-month).")
    licence: str
    language: str

class DocumentOut(BaseModel):
    """An indexed document and its metadata (title, publisher, DOI, licence ...)."""

    id: str
    title: str
    source_path: str
    sha256: str
    pages: int
    source_kind: str
    indexed_at: str
    metadata: dict[str, str]
    source: SourceOut

    @classmethod
    def of(cls, document: Document) -> DocumentOut:
        """From the record."""
        s = document.source
        return cls(id=document.id, title=document.title, source_path=document.source_path,
                   sha256=document.sha256, pages=document.pages, source_kind=document.source_kind,
                   indexed_at=document.indexed_at, metadata=dict(document.metadata),
                   source=SourceOut(authors=list(s.authors), year=s.year, issuer=s.issuer, doi=s.doi, pmid=s.pmid,
                                    doc_type=s.doc_type.value, doc_type_label=s.doc_type.label,
                                    doc_type_origin=s.doc_type_origin, version=s.version, published=s.published,
                                    licence=s.licence, language=s.language))



class DocumentListOut(BaseModel):
    """Every indexed document."""

    snapshot_id: str
    documents: list[DocumentOut]


class Highlight(BaseModel):
    """A span of the page text."""

    char_start: int
    char_end: int


class PageOut(BaseModel):
    """The extracted text of one page, which every citation's offsets index into."""

    document_id: str
    page: int
    text: str
    highlight: Highlight | None = None


class HealthOut(BaseModel):
    """Liveness or readiness."""

    status: Literal["ok", "unavailable"]
    snapshot_id: str | None = None
    documents: int | None = None
    passages: int | None = None
    detail: str | None = None
