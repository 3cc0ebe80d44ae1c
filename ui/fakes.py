"""An in-memory ``ApiClient`` for tests and demos: same behaviour as the service, no HTTP.

``FakeApiClient.sample()`` holds two small sources (a guideline PDF and a
journal abstract) and one question it can answer; every quoted sentence is a
verbatim span of its page text, as the real service guarantees.  The contract
tests in ``tests/test_ui_client.py`` run the same checks against this fake and
against ``EvsumClient``, so the two cannot drift apart.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field, replace

from ui.client import (
    ApiError,
    ClientError,
    PageView,
    Span,
    UICitation,
    UIDocument,
    UIDraft,
    UIRelease,
    UISearchHit,
    UISearchResult,
    UISentence,
    UISummary,
)
from ui.fake_workflow import FakeWorkflowMixin
from ui.recheck_client import AskOptions, FakeRecheckMixin, UIReviewFlag, UISavedQuestion

NO_EVIDENCE_MESSAGE = "No sufficient evidence was found in the indexed sources to answer this question."
MAX_SENTENCES_LIMIT = 20


def tiny_png(width: int = 4, height: int = 6, rgb: tuple[int, int, int] = (255, 224, 102)) -> bytes:
    """A valid PNG of one colour, standing in for a rendered page."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" + bytes(rgb) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


@dataclass
class FakeApiClient(FakeWorkflowMixin, FakeRecheckMixin):
    """An ``ApiClient`` over in-memory documents, pages and canned answers.

    ``fail_with`` makes every call raise that error (as an unreachable or
    failing service would); ``calls`` records each call for assertions.
    """

    documents_by_id: dict[str, UIDocument]
    page_texts: dict[tuple[str, int], str]
    page_images: dict[tuple[str, int], bytes] = field(default_factory=dict)
    answers: dict[str, tuple[UISentence, ...]] = field(default_factory=dict)
    snapshot_id: str = "fake-snapshot"
    fail_with: ClientError | None = None
    is_ready: bool = True
    calls: list[tuple[str, tuple[object, ...]]] = field(default_factory=list)
    drafts_by_id: dict[int, UIDraft] = field(default_factory=dict)
    releases_by_id: dict[int, UIRelease] = field(default_factory=dict)
    user: str = "librarian"
    saved: dict[int, UISavedQuestion] = field(default_factory=dict)
    flags: dict[int, UIReviewFlag] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        """A pseudo URL, for display."""
        return "fake://evsum"

    # -- ApiClient

    def summarise(self, question: str, max_sentences: int, options: AskOptions | None = None, *,
                  claim: bool = False) -> UISummary:
        """The canned answer for ``question`` (at most ``max_sentences`` sentences), else no evidence.

        ``options`` (and ``claim``, when set) are recorded; a ``doc_types`` filter keeps only sentences whose
        source has that type.
        """
        self._record("summarise", question, max_sentences, *((options,) if options and options.body() else ()),
                     *(("claim",) if claim else ()))
        if not question.strip():
            raise ApiError(422, "Invalid request", "question: must not be empty")
        if not 1 <= max_sentences <= MAX_SENTENCES_LIMIT:
            raise ApiError(422, "Invalid request", f"max_sentences: must be 1 to {MAX_SENTENCES_LIMIT}")
        sentences = self.answers.get(_normalise(question), ())
        if options is not None and options.doc_types:
            sentences = tuple(s for s in sentences if s.citation.doc_type in options.doc_types)
        sentences = sentences[:max_sentences]
        if not sentences:
            return UISummary(
                question=question,
                status="no_evidence",
                message=NO_EVIDENCE_MESSAGE,
                snapshot_id=self.snapshot_id,
                retrieved_document_ids=tuple(self.documents_by_id),
                claim=claim,
            )
        sources = {sentence.citation.document_id for sentence in sentences}
        return UISummary(
            question=question,
            status="answered",
            message=f"{len(sentences)} sentences quoted from {len(sources)} sources.",
            draft=True,
            snapshot_id=self.snapshot_id,
            retrieved_document_ids=tuple(dict.fromkeys(s.citation.document_id for s in sentences)),
            sentences=sentences,
            claim=claim,
        )

    def search(self, query: str, top_k: int) -> UISearchResult:
        """Pages ranked by how many words of ``query`` they contain (a page stands in for a passage)."""
        self._record("search", query, top_k)
        if not query.strip():
            raise ApiError(422, "Invalid request", "query: must not be empty")
        words = set(query.lower().split())
        scored = []
        for passage_id, ((document_id, page), text) in enumerate(sorted(self.page_texts.items())):
            overlap = len(words & set(text.lower().split()))
            if overlap:
                scored.append((overlap / len(words), passage_id, document_id, page, text))
        scored.sort(key=lambda item: (-item[0], item[1]))
        hits = tuple(
            UISearchHit(
                passage_id=passage_id,
                text=text,
                score=score,
                dense_score=None,
                bm25_score=score,
                citation=self._citation(document_id, page, 0, len(text), None),
            )
            for score, passage_id, document_id, page, text in scored[:top_k]
        )
        return UISearchResult(query=query, hits=hits)

    def documents(self) -> tuple[UIDocument, ...]:
        """Every document, ordered by title."""
        self._record("documents")
        return tuple(sorted(self.documents_by_id.values(), key=lambda document: document.title))

    def document(self, document_id: str) -> UIDocument:
        """One document; ``ApiError`` 404 when unknown."""
        self._record("document", document_id)
        return self._document(document_id)

    def page(
        self, document_id: str, page: int, char_start: int | None = None, char_end: int | None = None
    ) -> PageView:
        """A page's text, echoing the span as ``highlight`` when it lies inside the text."""
        self._record("page", document_id, page, char_start, char_end)
        text = self._page_text(document_id, page)
        highlight = None
        if char_start is not None and char_end is not None and 0 <= char_start < char_end <= len(text):
            highlight = Span(char_start, char_end)
        return PageView(document_id=document_id, page=page, text=text, highlight=highlight)

    def page_image(
        self, document_id: str, page: int, char_start: int | None = None, char_end: int | None = None
    ) -> bytes | None:
        """The page's PNG, or ``None`` when there is none (no PDF, or no such page: the service's 404)."""
        self._record("page_image", document_id, page, char_start, char_end)
        return self.page_images.get((document_id, page))

    def ready(self) -> bool:
        """``is_ready`` (never raises, like the real client)."""
        self.calls.append(("ready", ()))
        return self.is_ready and self.fail_with is None

    # -- helpers

    def _record(self, name: str, *args: object) -> None:
        self.calls.append((name, args))
        if self.fail_with is not None:
            raise self.fail_with

    def _document(self, document_id: str) -> UIDocument:
        try:
            return self.documents_by_id[document_id]
        except KeyError:
            raise ApiError(404, "Document not found", f"no document with id {document_id!r}") from None

    def _page_text(self, document_id: str, page: int) -> str:
        document = self._document(document_id)
        try:
            return self.page_texts[(document_id, page)]
        except KeyError:
            raise ApiError(
                404, "Page not found", f"document {document_id!r} has pages 1 to {document.pages}"
            ) from None

    def _citation(
        self, document_id: str, page: int, char_start: int, char_end: int, section: str | None
    ) -> UICitation:
        document = self.documents_by_id[document_id]
        return UICitation(
            document_id=document_id,
            title=document.title,
            page=page,
            char_start=char_start,
            char_end=char_end,
            section=section,
            source_path=document.source_path,
        )

    def quote(
        self, document_id: str, page: int, text: str, section: str | None, sentence_id: int
    ) -> UISentence:
        """A summary sentence quoting ``text`` verbatim from a page (``ValueError`` if it is not there)."""
        page_text = self.page_texts[(document_id, page)]
        start = page_text.index(text)
        return UISentence(
            sentence_id=sentence_id,
            text=text,
            score=round(1.0 - sentence_id / 100, 3),
            citation=self._citation(document_id, page, start, start + len(text), section),
        )

    def add_answer(self, question: str, sentences: tuple[UISentence, ...]) -> None:
        """Make ``question`` answerable with ``sentences``."""
        self.answers[_normalise(question)] = sentences

    def with_error(self, error: ClientError) -> FakeApiClient:
        """A copy whose every call raises ``error``."""
        return replace(self, fail_with=error, calls=[])

    # -- sample data

    @classmethod
    def sample(cls) -> FakeApiClient:
        """Two sources and one answerable question (``SAMPLE_QUESTION``)."""
        guideline = UIDocument(
            id=GUIDELINE_ID,
            title="Guide to Infection Prevention for Outpatient Settings",
            source_path="guidelines/cdc_outpatient_infection_prevention.pdf",
            sha256=GUIDELINE_ID,
            pages=2,
            source_kind="pdf",
            indexed_at="2025-11-20T09:30:00Z",
            metadata={"publisher": "Centers for Disease Control and Prevention", "licence": "public domain"},
        )
        abstract = UIDocument(
            id=ABSTRACT_ID,
            title="Alcohol-based hand rub and infection rates in primary care: a cluster trial",
            source_path="abstracts/pubmed.jsonl#3",
            sha256=ABSTRACT_ID,
            pages=1,
            source_kind="abstract",
            indexed_at="2025-11-20T09:31:00Z",
            metadata={"publisher": "BMJ Open", "licence": "CC BY 4.0", "doi": "10.1136/bmjopen-2020-000000"},
        )
        fake = cls(
            documents_by_id={guideline.id: guideline, abstract.id: abstract},
            page_texts={
                (GUIDELINE_ID, 1): GUIDELINE_PAGE_1,
                (GUIDELINE_ID, 2): GUIDELINE_PAGE_2,
                (ABSTRACT_ID, 1): ABSTRACT_PAGE_1,
            },
            page_images={(GUIDELINE_ID, 1): tiny_png(), (GUIDELINE_ID, 2): tiny_png()},
        )
        fake.add_answer(
            SAMPLE_QUESTION,
            (
                fake.quote(GUIDELINE_ID, 2, SAMPLE_SENTENCES[0], "Hand Hygiene", 1),
                fake.quote(ABSTRACT_ID, 1, SAMPLE_SENTENCES[1], "Results", 2),
                fake.quote(GUIDELINE_ID, 2, SAMPLE_SENTENCES[2], "Hand Hygiene", 3),
                fake.quote(ABSTRACT_ID, 1, SAMPLE_SENTENCES[3], "Conclusions", 4),
            ),
        )
        return fake


def _normalise(question: str) -> str:
    return " ".join(question.lower().split())


GUIDELINE_ID = "9a37f4c924f89496a472dfbdde89132652a14ce70ad73c9bf78243dac32bf4a5"
ABSTRACT_ID = "5b1c0d2e4f6a8b0c2d4e6f8a0b2c4d6e8f0a2b4c6d8e0f2a4b6c8d0e2f4a6b8c"

SAMPLE_QUESTION = "Does hand hygiene reduce infections in outpatient care?"

GUIDELINE_PAGE_1 = (
    "Guide to Infection Prevention for Outpatient Settings\n"
    "Minimum Expectations for Safe Care\n\n"
    "Introduction\n"
    "Outpatient care is delivered in a wide range of settings, from hospital-based clinics to "
    "physician offices and ambulatory surgical centres. Outbreaks in these settings show that "
    "lapses in basic infection prevention practice put patients at risk.\n"
)

GUIDELINE_PAGE_2 = (
    "Standard Precautions\n"
    "Standard precautions are the minimum infection prevention practices that apply to all patient "
    "care, regardless of suspected or confirmed infection status of the patient.\n\n"
    "Hand Hygiene\n"
    "Good hand hygiene, including use of alcohol-based hand rubs (ABHR) and handwashing with soap "
    "and water, is critical to reduce the risk of spreading infections in ambulatory care settings. "
    "Use of ABHR as the primary mode of hand hygiene in healthcare settings is recommended by the "
    "CDC and the World Health Organization because of its activity against a broad spectrum of "
    "epidemiologically important pathogens. Healthcare personnel should perform hand hygiene "
    "before touching a patient, even if gloves will be worn.\n"
)

ABSTRACT_PAGE_1 = (
    "Alcohol-based hand rub and infection rates in primary care: a cluster trial\n\n"
    "Methods: 48 practices (n = 12 400 patients) were randomised to a hand-rub programme or usual care.\n"
    "Results: Healthcare-associated infections fell from 3.1% to 1.9% with the programme "
    "(rate ratio 0.61, 95% CI 0.45 to 0.83; p < 0.01). Adherence to hand hygiene rose from 41% to 73%.\n"
    "Conclusions: A hand-rub programme cut infections in primary care by about a third.\n"
)

SAMPLE_SENTENCES = (
    "Good hand hygiene, including use of alcohol-based hand rubs (ABHR) and handwashing with soap "
    "and water, is critical to reduce the risk of spreading infections in ambulatory care settings.",
    "Results: Healthcare-associated infections fell from 3.1% to 1.9% with the programme "
    "(rate ratio 0.61, 95% CI 0.45 to 0.83; p < 0.01).",
    "Healthcare personnel should perform hand hygiene before touching a patient, "
    "even if gloves will be worn.",
    "Conclusions: A hand-rub programme cut infections in primary care by about a third.",
)
