"""Where summaries come from: the engine in this process, or a running service over HTTP.

Both backends run exactly the ``/v1/summaries`` code path (``Summariser.summarise``)
and answer page-text look-ups from the index itself (``IndexReader.page`` or
``GET /v1/documents/{id}/pages/{n}``), so citation checks never trust the summary.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote

from eval.metrics import CitedSpan
from evsum.errors import EvsumError, NotFoundError
from evsum.records import Summary


@dataclass(frozen=True, slots=True)
class QuotedSentence:
    """One summary sentence with its citation (as returned by the system)."""

    text: str
    document_id: str
    page: int
    char_start: int
    char_end: int
    score: float
    source_path: str = ""

    def span(self) -> CitedSpan:
        """The citation to check."""
        return CitedSpan(self.text, self.document_id, self.page, self.char_start, self.char_end)


@dataclass(frozen=True, slots=True)
class EvalSummary:
    """A system answer as evaluation sees it, with the time it took."""

    status: str
    sentences: tuple[QuotedSentence, ...]
    retrieved_document_ids: tuple[str, ...]
    latency_ms: float

    @property
    def text(self) -> str:
        """The summary sentences joined with a space, in the system's order."""
        return " ".join(s.text for s in self.sentences)


class SummaryBackend(Protocol):
    """Answers questions and serves page text for citation checks."""

    name: str

    def summarise(self, question: str, max_sentences: int) -> EvalSummary:
        """The system's summary for ``question`` with at most ``max_sentences`` sentences."""
        ...

    def page_text(self, document_id: str, page: int) -> str | None:
        """The indexed text of a page, or None when it does not exist."""
        ...


def _from_summary(summary: Summary, latency_ms: float) -> EvalSummary:
    return EvalSummary(
        status=summary.status,
        sentences=tuple(
            QuotedSentence(s.text, s.citation.document_id, s.citation.page, s.citation.char_start,
                           s.citation.char_end, s.score, s.citation.source_path)
            for s in summary.sentences
        ),
        retrieved_document_ids=tuple(summary.retrieved_document_ids),
        latency_ms=latency_ms,
    )


class InProcessBackend:
    """The loaded engine's summariser; latency is the wall time of one ``summarise`` call."""

    name = "in-process"

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self._pages: dict[tuple[str, int], str | None] = {}

    def summarise(self, question: str, max_sentences: int) -> EvalSummary:
        """Run the summariser in this process."""
        started = time.perf_counter()
        summary = self.engine.summariser.summarise(question, max_sentences)
        return _from_summary(summary, (time.perf_counter() - started) * 1000.0)

    def page_text(self, document_id: str, page: int) -> str | None:
        """Page text from the index reader (cached)."""
        key = (document_id, page)
        if key not in self._pages:
            try:
                self._pages[key] = self.engine.reader.page(document_id, page).text
            except NotFoundError:
                self._pages[key] = None
        return self._pages[key]


class HttpBackend:
    """A running evsum service; latency is the wall time of one ``POST /v1/summaries``."""

    name = "http"

    def __init__(self, url: str, *, client: Any = None, timeout: float = 120.0, api_key: str | None = None) -> None:
        import httpx

        self.url = url.rstrip("/")
        self.client = client if client is not None else httpx.Client(base_url=self.url, timeout=timeout)
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._pages: dict[tuple[str, int], str | None] = {}

    def summarise(self, question: str, max_sentences: int) -> EvalSummary:
        """POST the question and convert the JSON answer."""
        started = time.perf_counter()
        response = self._call("post", "/v1/summaries", json={"question": question, "max_sentences": max_sentences})
        latency_ms = (time.perf_counter() - started) * 1000.0
        if response.status_code != 200:
            raise EvsumError(f"{self.url}/v1/summaries answered {response.status_code}: {response.text[:200]}")
        body = response.json()
        sentences = tuple(
            QuotedSentence(s["text"], str(s["citation"]["document_id"]), int(s["citation"]["page"]),
                           int(s["citation"]["char_start"]), int(s["citation"]["char_end"]),
                           float(s.get("score", 0.0)), str(s["citation"].get("source_path") or ""))
            for s in body.get("sentences", [])
        )
        return EvalSummary(str(body.get("status", "")), sentences,
                           tuple(str(d) for d in body.get("retrieved_document_ids", [])), latency_ms)

    def page_text(self, document_id: str, page: int) -> str | None:
        """GET the page text from the service (cached); None on 404."""
        key = (document_id, page)
        if key not in self._pages:
            response = self._call("get", f"/v1/documents/{quote(document_id, safe='')}/pages/{page}")
            if response.status_code == 404:
                self._pages[key] = None
            elif response.status_code != 200:
                raise EvsumError(f"{self.url} page {document_id}/{page} answered {response.status_code}")
            else:
                self._pages[key] = str(response.json()["text"])
        return self._pages[key]

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        import httpx

        try:
            return getattr(self.client, method)(path, headers=self._headers, **kwargs)
        except httpx.HTTPError as error:
            raise EvsumError(f"cannot reach the evsum service at {self.url}: {error}") from error

    def close(self) -> None:
        """Close the HTTP client."""
        self.client.close()
