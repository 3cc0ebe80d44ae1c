"""What the workflow needs from the index: the machine draft, sentences, page text and document metadata.

``Evidence`` is the Protocol; ``EngineEvidence`` adapts the loaded ``Engine``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from evsum.engine import Engine
from evsum.errors import NotFoundError
from evsum.records import Citation, Document, Pico, SearchFilters, Summary
from evsum.retrieval import SourcePriority


@dataclass(frozen=True, slots=True)
class SentencePart:
    """One part of a sentence that a page break cut in two: its sentence id, citation and verbatim text."""

    sentence_id: int
    citation: Citation
    text: str


@dataclass(frozen=True, slots=True)
class CutSentenceParts:
    """What a cited span leaves out of sentences cut by a page break: ``head`` is the first part (on the page
    before) of the sentence whose end the span starts with, ``tail`` the end (on the next page) of the sentence
    whose first part the span ends with; ``None`` where the span starts or ends with a whole sentence."""

    head: SentencePart | None = None
    tail: SentencePart | None = None


class Evidence(Protocol):
    """The index as the workflow sees it."""

    @property
    def snapshot_id(self) -> str:
        """Id of the loaded index snapshot."""
        ...

    def summarise(self, question: str, max_sentences: int, *, pico: Pico | None = None,
                  filters: SearchFilters | None = None, priority: SourcePriority | None = None,
                  claim: bool = False) -> Summary:
        """The machine draft: verbatim sentences with citations (PICO, filters, prior and ``claim`` as the
        summariser's; ``ClaimScorerUnavailableError`` for a claim when no claim scorer is installed)."""
        ...

    def claim_scorer(self) -> dict[str, str] | None:
        """The installed claim scorer's name and graph SHA-256 (provenance of a claim check), or ``None``."""
        ...

    def sentence_scorer(self, cross_encoded: bool | None = None) -> dict[str, str]:
        """The sentence scorer's name and weights SHA-256 (provenance of every summary): with the question
        cross-encoder when ``cross_encoded`` (one summary's ``Summary.cross_encoded``), or, with ``None``, when the
        service re-scores questions (what a saved question's rerun compares)."""
        ...

    def sentence(self, sentence_id: int) -> tuple[Citation, str]:
        """An indexed sentence's citation and verbatim text; ``NotFoundError`` if unknown."""
        ...

    def span(self, document_id: str, page: int, char_start: int, char_end: int) -> tuple[Citation, str]:
        """The citation and verbatim text of a span of a page; ``InvalidRequestError`` if out of range."""
        ...

    def cut_sentence_parts(self, citation: Citation) -> CutSentenceParts:
        """The parts of sentences cut by a page break that a cited span leaves out (``CutSentenceParts``)."""
        ...

    def metadata(self, document_id: str) -> dict[str, str]:
        """A document's metadata (title, publisher, doi, licence ...); empty if unknown."""
        ...


class EngineEvidence:
    """``Evidence`` over a loaded ``Engine``."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @property
    def snapshot_id(self) -> str:
        """Id of the loaded snapshot."""
        return self._engine.reader.snapshot_id

    def summarise(self, question: str, max_sentences: int, *, pico: Pico | None = None,
                  filters: SearchFilters | None = None, priority: SourcePriority | None = None,
                  claim: bool = False) -> Summary:
        """The summariser's draft."""
        return self._engine.summariser.summarise(question, max_sentences, pico=pico, filters=filters,
                                                 priority=priority, claim=claim)

    def sentence_scorer(self, cross_encoded: bool | None = None) -> dict[str, str]:
        """What ranks a question's sentences (``Summariser.describe_ranking``)."""
        return self._engine.summariser.describe_ranking(cross_encoded)

    def claim_scorer(self) -> dict[str, str] | None:
        """The summariser's claim scorer, as its ``describe()`` names it."""
        scorer = self._engine.summariser.claim_scorer
        if scorer is None:
            return None
        described = scorer.describe()
        return {"name": str(described.get("name", type(scorer).__name__)),
                "graph_sha256": str(described.get("graph_sha256", ""))}

    def sentence(self, sentence_id: int) -> tuple[Citation, str]:
        """An indexed sentence by id."""
        found = self._engine.reader.sentences([sentence_id])
        if not found:
            raise NotFoundError(f"no indexed sentence with id {sentence_id}")
        return self._engine.reader.citation(found[0]), found[0].text

    def span(self, document_id: str, page: int, char_start: int, char_end: int) -> tuple[Citation, str]:
        """A span of a page, checked against the page text."""
        from evsum.errors import InvalidRequestError

        reader = self._engine.reader
        document = reader.document(document_id)
        text = reader.page(document_id, page).text
        if not 0 <= char_start < char_end <= len(text):
            raise InvalidRequestError(
                f"citation offsets must satisfy 0 <= char_start < char_end <= {len(text)} (page text length)")
        citation = Citation(document_id=document_id, title=document.title, page=page, char_start=char_start,
                            char_end=char_end, section=None, source_path=document.source_path,
                            doc_type=document.source.doc_type.value, year=document.source.year,
                            issuer=document.source.issuer)
        return citation, text[char_start:char_end]

    def cut_sentence_parts(self, citation: Citation) -> CutSentenceParts:
        """The first part of a cut sentence whose end opens the span, and the end of one whose first part closes
        it (``IndexReader.sentence_continuation``); a span that starts or stops inside a sentence is not extended."""
        reader = self._engine.reader
        inside = reader.sentences_in_span(citation.document_id, citation.page, citation.char_start,
                                          citation.char_end)
        if not inside:
            return CutSentenceParts()
        first, last = inside[0], inside[-1]
        head = int(reader.sentence_continued_from[first.id]) if citation.char_start <= first.char_start else -1
        tail = int(reader.sentence_continuation[last.id]) if citation.char_end >= last.char_end else -1

        def part(sentence_id: int) -> SentencePart | None:
            if sentence_id < 0:
                return None
            (sentence,) = reader.sentences([sentence_id])
            return SentencePart(sentence_id, reader.citation(sentence), sentence.text)

        return CutSentenceParts(head=part(head), tail=part(tail))

    def metadata(self, document_id: str) -> dict[str, str]:
        """Document metadata with the title and source kind added."""
        document = self._engine.reader.documents.get(document_id)
        if document is None:
            return {}
        return {**dict(document.metadata), "title": document.title, "source_kind": document.source_kind,
                "source_path": document.source_path,
                "pages": str(document.pages), **source_metadata(document)}


def source_metadata(document: Document) -> dict[str, str]:
    """The typed source fields as strings, as releases freeze them (empty values left out).

    ``sha256`` lets a re-check tell a changed file from the same one; ``doc_type_label`` is what
    exports show beside each reference.
    """
    s = document.source
    values = {"sha256": document.sha256, "doc_type": s.doc_type.value, "doc_type_label": s.doc_type.label,
              "doc_type_origin": s.doc_type_origin, "year": str(s.year) if s.year else "", "issuer": s.issuer,
              "authors": "; ".join(s.authors), "doi": s.doi, "pmid": s.pmid, "version": s.version,
              "published": s.published, "licence": s.licence, "language": s.language}
    return {k: v for k, v in values.items() if v}
