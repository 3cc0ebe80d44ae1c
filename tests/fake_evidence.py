"""A small in-memory ``Evidence`` (the index as the workflow sees it) for store and workflow tests."""

from __future__ import annotations

from evsum.errors import InvalidRequestError, NotFoundError
from evsum.records import Citation, Pico, SearchFilters, Summary, SummarySentence
from evsum.retrieval import SourcePriority
from service.evidence import CutSentenceParts

PAGE = ("Hand hygiene reduces infections. Alcohol-based hand rub is preferred. "
        "Gloves do not replace hand hygiene. Soap and water are needed for visible soil.")
DOC = "doc-1"


class FakeEvidence:
    """One document of one page; every sentence of the page is an indexed sentence (id = order)."""

    snapshot_id = "fake-snapshot"

    def __init__(self) -> None:
        self.claims: list[bool] = []  # the ``claim`` argument of each summarise call
        self.scorer: dict[str, str] | None = {"name": "fake-claim-scorer", "graph_sha256": ""}
        self.sentence_scorer_id: dict[str, str] = {"name": "fake-sentence-scorer", "weights_sha256": ""}
        self.sentences: list[tuple[int, int]] = []
        start = 0
        for part in PAGE.split(". "):
            end = start + len(part) + (1 if not part.endswith(".") else 0)
            self.sentences.append((start, end))
            start = end + 1

    def _citation(self, start: int, end: int) -> Citation:
        return Citation(document_id=DOC, title="Hand hygiene guideline", page=1, char_start=start, char_end=end,
                        section="Hand Hygiene", source_path="guideline.pdf")

    def summarise(self, question: str, max_sentences: int, *, pico: Pico | None = None,
                  filters: SearchFilters | None = None, priority: SourcePriority | None = None,
                  claim: bool = False) -> Summary:
        """The first ``max_sentences`` sentences of the page (PICO, filters, priority and claim are ignored,
        except that the summary says whether it checked a claim)."""
        self.claims.append(claim)
        chosen = tuple(SummarySentence(sentence_id=i, text=PAGE[a:b], citation=self._citation(a, b), score=1.0)
                       for i, (a, b) in enumerate(self.sentences[:max_sentences]))
        return Summary(question=question, sentences=chosen, status="answered", message="",
                       snapshot_id=self.snapshot_id, retrieved_document_ids=(DOC,), claim=claim)

    def sentence_scorer(self, cross_encoded: bool | None = None) -> dict[str, str]:
        """A named fake sentence scorer (``self.sentence_scorer_id``: a test may swap it, as new weights would)."""
        return self.sentence_scorer_id

    def claim_scorer(self) -> dict[str, str] | None:
        """A named fake claim scorer (``self.scorer``: a test may swap it, as a retrained model would)."""
        return self.scorer

    def sentence(self, sentence_id: int) -> tuple[Citation, str]:
        """An indexed sentence."""
        if not 0 <= sentence_id < len(self.sentences):
            raise NotFoundError(f"no indexed sentence with id {sentence_id}")
        a, b = self.sentences[sentence_id]
        return self._citation(a, b), PAGE[a:b]

    def span(self, document_id: str, page: int, char_start: int, char_end: int) -> tuple[Citation, str]:
        """A span of the one page."""
        if document_id != DOC or page != 1:
            raise NotFoundError("no such page")
        if not 0 <= char_start < char_end <= len(PAGE):
            raise InvalidRequestError("offsets out of range")
        return self._citation(char_start, char_end), PAGE[char_start:char_end]

    def cut_sentence_parts(self, citation: Citation) -> CutSentenceParts:
        """Nothing is cut: the fake has one page."""
        return CutSentenceParts()

    def metadata(self, document_id: str) -> dict[str, str]:
        """Publisher, DOI and licence."""
        return {"title": "Hand hygiene guideline", "publisher": "NHS Example Trust", "doi": "10.1000/example",
                "licence": "CC BY 4.0", "kind": "guideline", "source_path": "guideline.pdf"}
