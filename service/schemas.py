"""HTTP request and response bodies, and their conversion from the typed records."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from evsum.records import Citation, Document, SearchHit, Summary


class CitationOut(BaseModel):
    """Where a quoted span comes from: ``page_text[char_start:char_end]`` is the quote."""

    document_id: str
    title: str
    page: int = Field(description="1-based page number, as a PDF viewer prints it.")
    char_start: int
    char_end: int
    section: str | None = None
    source_path: str

    @classmethod
    def of(cls, citation: Citation) -> CitationOut:
        """From the record."""
        return cls(document_id=citation.document_id, title=citation.title, page=citation.page,
                   char_start=citation.char_start, char_end=citation.char_end, section=citation.section,
                   source_path=citation.source_path)


class SummaryRequestIn(BaseModel):
    """A clinical question to answer with an extractive summary."""

    question: str = Field(min_length=1, max_length=2000, description="The question, in plain words.")
    max_sentences: int | None = Field(None, ge=1, le=20, description="Most sentences to quote.")
    max_words: int | None = Field(None, ge=10, le=2000, description="Word budget of the summary.")


class SummarySentenceOut(BaseModel):
    """One quoted sentence."""

    sentence_id: int
    text: str
    score: float
    citation: CitationOut


class SummaryOut(BaseModel):
    """An unreviewed machine draft: verbatim sentences, each with its citation."""

    question: str
    status: Literal["answered", "no_evidence"]
    message: str
    draft: bool = Field(True, description="Always true: machine output not yet reviewed by a librarian.")
    snapshot_id: str
    retrieved_document_ids: list[str]
    sentences: list[SummarySentenceOut]

    @classmethod
    def of(cls, summary: Summary) -> SummaryOut:
        """From the record."""
        return cls(
            question=summary.question,
            status="answered" if summary.status == "answered" else "no_evidence",
            message=summary.message,
            snapshot_id=summary.snapshot_id,
            retrieved_document_ids=list(summary.retrieved_document_ids),
            sentences=[SummarySentenceOut(sentence_id=s.sentence_id, text=s.text, score=s.score,
                                          citation=CitationOut.of(s.citation)) for s in summary.sentences],
        )


class SearchRequestIn(BaseModel):
    """A search over indexed passages."""

    query: str = Field(min_length=1, max_length=2000)
    top_k: int = Field(10, ge=1, le=100)


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

    @classmethod
    def of(cls, document: Document) -> DocumentOut:
        """From the record."""
        return cls(id=document.id, title=document.title, source_path=document.source_path,
                   sha256=document.sha256, pages=document.pages, source_kind=document.source_kind,
                   indexed_at=document.indexed_at, metadata=dict(document.metadata))


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
