"""The one module through which the Streamlit front end talks to the evsum API.

Pages never build URLs or read JSON: they call an ``ApiClient`` and get small,
frozen records back.  ``EvsumClient`` is the real implementation over HTTP
(``httpx``); ``ui.fakes.FakeApiClient`` is an in-memory one for tests, and a
shared contract test keeps the two in step.

Errors reach pages as one of two exceptions, both ``ClientError``:

* ``ApiError``: the service answered with an error (RFC 9457 problem details,
  or anything else that is not a usable answer);
* ``ApiUnavailable``: the service could not be reached or did not answer in time.

The record field names are the JSON field names of the API, so a record and
its JSON object map one to one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, runtime_checkable
from urllib.parse import quote

import httpx
from pydantic import TypeAdapter, ValidationError

from ui.recheck_client import AskOptions, RecheckHttpMixin, UIRecheck, UIReviewFlag, UISavedQuestion
from ui.records import (
    DraftList,
    ReleaseList,
    UICitation,
    UIComment,
    UIDraft,
    UIDraftItem,
    UIDraftSentence,
    UIRelease,
    UIReleaseCreated,
    UIReleaseItem,
    UIWithdrawal,
)

__all__ = [
    "ApiClient",
    "ApiError",
    "ApiUnavailable",
    "ClientError",
    "DocumentList",
    "EvsumClient",
    "PageView",
    "Span",
    "UICitation",
    "UIComment",
    "UIDraft",
    "UIDraftItem",
    "UIDraftSentence",
    "UIRelease",
    "UIReleaseCreated",
    "UIReleaseItem",
    "UIWithdrawal",
    "UIDocument",
    "UISearchHit",
    "UISearchResult",
    "UISentence",
    "UISummary",
]

DEFAULT_TIMEOUT = 60.0
"""Seconds to wait for an answer; a summary on a CPU-only server can take a few seconds."""

READY_TIMEOUT = 3.0
"""Seconds to wait for ``/readyz``: a probe must not hold up a page."""

PAGE_IMAGE_ZOOM = 1.5
"""Default zoom of rendered page images (1.0 is 72 dpi)."""


# --------------------------------------------------------------------------- records


@dataclass(frozen=True, slots=True)
class UISentence:
    """One summary sentence, quoted verbatim, with its citation; ``continues`` marks the first part of a sentence
    that a page break cut in two (the next sentence is its second part)."""

    sentence_id: int
    text: str
    score: float
    citation: UICitation
    continues: bool = False


@dataclass(frozen=True, slots=True)
class UISummary:
    """The service's extractive answer to a question.

    ``status`` is ``"answered"`` or ``"no_evidence"`` (then ``sentences`` is empty
    and ``message`` says why).  ``draft`` is true unless a librarian released it;
    a response without the field is treated as a draft.
    """

    question: str
    status: str
    message: str = ""
    draft: bool = True
    snapshot_id: str = ""
    retrieved_document_ids: tuple[str, ...] = ()
    sentences: tuple[UISentence, ...] = ()
    query: str = ""
    filters: Mapping[str, str] = field(default_factory=dict)
    source_priority: bool = False
    claim: bool = False
    redactions: tuple[str, ...] = ()
    redaction_notice: str | None = None

    @property
    def answered(self) -> bool:
        """True when the summary quotes at least one sentence."""
        return self.status == "answered" and bool(self.sentences)


@dataclass(frozen=True, slots=True)
class UISearchHit:
    """One retrieved passage with the scores that ranked it."""

    passage_id: int
    text: str
    score: float
    citation: UICitation
    dense_score: float | None = None
    bm25_score: float | None = None


@dataclass(frozen=True, slots=True)
class UISearchResult:
    """Passages retrieved for a query, best first."""

    query: str
    hits: tuple[UISearchHit, ...] = ()


@dataclass(frozen=True, slots=True)
class UIDocument:
    """An indexed source document as the library lists it."""

    id: str
    title: str
    source_path: str
    sha256: str
    pages: int
    source_kind: str
    indexed_at: str
    metadata: Mapping[str, str] = field(default_factory=dict)
    source: Mapping[str, Any] = field(default_factory=dict)  # authors, year, issuer, doi, pmid, doc_type ...


@dataclass(frozen=True, slots=True)
class DocumentList:
    """The ``GET /v1/documents`` answer (a wrapper so the JSON maps one to one)."""

    documents: tuple[UIDocument, ...] = ()


@dataclass(frozen=True, slots=True)
class Span:
    """A half-open character range ``[char_start, char_end)`` of a page's text."""

    char_start: int
    char_end: int


@dataclass(frozen=True, slots=True)
class PageView:
    """The extracted text of one page, and the highlighted span if the request named a valid one."""

    document_id: str
    page: int
    text: str
    highlight: Span | None = None


# --------------------------------------------------------------------------- errors


class ClientError(Exception):
    """Base of every error the client raises; pages catch this one type."""


class ApiError(ClientError):
    """The service answered, but not with a usable result (problem details when it sent them)."""

    def __init__(self, status: int, title: str, detail: str = "", type: str = "about:blank") -> None:
        self.status = status
        self.title = title
        self.detail = detail
        self.type = type
        super().__init__(str(self))

    def __str__(self) -> str:
        text = f"{self.title} (HTTP {self.status})"
        return f"{text}: {self.detail}" if self.detail else text

    def __repr__(self) -> str:
        return f"ApiError(status={self.status!r}, title={self.title!r}, detail={self.detail!r})"


class ApiUnavailable(ClientError):  # noqa: N818 (the name the project uses)
    """The service could not be reached, or did not answer in time."""

    def __init__(self, base_url: str, reason: str) -> None:
        self.base_url = base_url
        self.reason = reason
        super().__init__(f"The evidence service at {base_url} cannot be reached: {reason}")


# --------------------------------------------------------------------------- protocol


@runtime_checkable
class ApiClient(Protocol):
    """What the pages need from the evsum API; ``EvsumClient`` and ``FakeApiClient`` provide it."""

    @property
    def base_url(self) -> str:
        """Where the service is, for display."""
        ...

    def summarise(self, question: str, max_sentences: int, options: AskOptions | None = None, *,
                  claim: bool = False) -> UISummary:
        """Ask for an extractive, cited summary of the evidence for ``question`` (PICO, filters, priority);
        with ``claim``, check it as a claim (the sentences that report the finding, for or against)."""
        ...

    def save_question(self, question: str, options: AskOptions | None = None, *,
                      claim: bool = False) -> UISavedQuestion:
        """Save a question (or, with ``claim``, a claim to check) with its filters, to be rerun after index
        updates."""
        ...

    def saved_questions(self) -> tuple[UISavedQuestion, ...]:
        """Every saved question."""
        ...

    def recheck(self) -> UIRecheck:
        """Flag releases that need review and rerun the saved questions."""
        ...

    def resolve_flag(self, flag_id: int, resolution: str) -> UIReviewFlag:
        """Record how a reviewer dealt with a "needs review" flag."""
        ...

    def search(self, query: str, top_k: int) -> UISearchResult:
        """Retrieve the ``top_k`` best passages for ``query``."""
        ...

    def documents(self) -> tuple[UIDocument, ...]:
        """List every indexed document."""
        ...

    def document(self, document_id: str) -> UIDocument:
        """Fetch one document; ``ApiError`` with status 404 when it does not exist."""
        ...

    def page(
        self, document_id: str, page: int, char_start: int | None = None, char_end: int | None = None
    ) -> PageView:
        """Fetch the text of one page (1-based), with the span echoed as ``highlight`` when valid."""
        ...

    def page_image(
        self, document_id: str, page: int, char_start: int | None = None, char_end: int | None = None
    ) -> bytes | None:
        """Fetch the page rendered as PNG with the span highlighted; ``None`` when there is no image."""
        ...

    def ready(self) -> bool:
        """True when the service is up and has an index loaded."""
        ...

    # -- librarian workflow (each call needs a key with the right role: 401/403 ApiError otherwise)

    def drafts(self, state: str | None = None) -> tuple[UIDraftItem, ...]:
        """Drafts, most recently changed first, optionally in one state."""
        ...

    def draft(self, draft_id: int) -> UIDraft:
        """One draft with its sentences and comments."""
        ...

    def create_draft(self, question: str, max_sentences: int, options: AskOptions | None = None, *,
                     claim: bool = False) -> UIDraft:
        """A machine draft for ``question``: every sentence unverified (PICO, filters and priority as asked);
        with ``claim``, a claim check (the sentences that report the finding, for or against)."""
        ...

    def update_draft(self, draft_id: int, version: int, changes: Mapping[str, Any]) -> UIDraft:
        """Apply ``changes`` (the PATCH body) to version ``version``; ``ApiError`` 409 when it is stale."""
        ...

    def comment_draft(self, draft_id: int, body: str) -> UIDraft:
        """Add a comment."""
        ...

    def transition(self, draft_id: int, action: str, version: int, comment: str | None = None) -> UIDraft:
        """``submit``, ``approve`` or ``return`` (with ``comment``) the draft at ``version``."""
        ...

    def release_draft(self, draft_id: int, version: int) -> UIReleaseCreated:
        """Release an approved draft as its next numbered version."""
        ...

    def releases(self, draft_id: int | None = None) -> tuple[UIReleaseItem, ...]:
        """Releases, newest first."""
        ...

    def release(self, release_id: int) -> UIRelease:
        """One release."""
        ...

    def find_release(self, question: str, *, claim: bool = False) -> UIRelease | None:
        """The current release that answers ``question`` (with ``claim``, the current claim check of that
        claim), if there is one."""
        ...

    def withdraw_release(self, release_id: int, reason: str) -> UIRelease:
        """Withdraw a release with a reason."""
        ...

    def export_release(self, release_id: int, fmt: str) -> bytes:
        """The release as ``docx``, ``md`` or ``ris``."""
        ...


# --------------------------------------------------------------------------- parsing

_T = TypeVar("_T")

_ADAPTERS: dict[type[Any], TypeAdapter[Any]] = {}


def _adapter(record: type[_T]) -> TypeAdapter[_T]:
    adapter = _ADAPTERS.get(record)
    if adapter is None:
        adapter = _ADAPTERS[record] = TypeAdapter(record)
    return adapter


def _parse(record: type[_T], response: httpx.Response) -> _T:
    """Validate a JSON response body into ``record``; a malformed body is an ``ApiError``."""
    try:
        return _adapter(record).validate_json(response.content)
    except ValidationError as exc:
        first = exc.errors()[0] if exc.error_count() else {"loc": (), "msg": str(exc)}
        where = ".".join(str(part) for part in first.get("loc", ())) or "body"
        raise ApiError(
            status=response.status_code,
            title="Unexpected response from the evidence service",
            detail=f"{response.request.method} {response.request.url.path}: {where}: {first.get('msg')}",
        ) from exc


def _problem(response: httpx.Response) -> ApiError:
    """Turn an error response into an ``ApiError``, reading RFC 9457 problem details when present."""
    title = response.reason_phrase or "Error"
    detail = ""
    problem_type = "about:blank"
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        if isinstance(body.get("title"), str) and body["title"]:
            title = body["title"]
        if isinstance(body.get("type"), str) and body["type"]:
            problem_type = body["type"]
        raw_detail = body.get("detail")
        if isinstance(raw_detail, str):
            detail = raw_detail
        elif isinstance(raw_detail, list):  # FastAPI's default validation error shape
            detail = "; ".join(_describe_validation_item(item) for item in raw_detail)
        elif raw_detail is not None:
            detail = str(raw_detail)
    elif response.text.strip():
        detail = response.text.strip().splitlines()[0][:300]
    return ApiError(status=response.status_code, title=title, detail=detail, type=problem_type)


def _describe_validation_item(item: object) -> str:
    if not isinstance(item, dict):
        return str(item)
    location = [str(part) for part in item.get("loc", ()) if part != "body"]
    message = str(item.get("msg", "invalid"))
    return f"{'.'.join(location)}: {message}" if location else message


# --------------------------------------------------------------------------- client


class EvsumClient(RecheckHttpMixin):
    """The evsum HTTP API as Python calls (see the module docstring for the error contract).

    ``transport`` replaces httpx's network transport, e.g. with ``httpx.MockTransport``
    in tests.  The client is thread-safe and may be shared between Streamlit sessions.
    """

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        headers = {"Accept": "application/json", "User-Agent": "evsum-ui"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._http = httpx.Client(
            base_url=self._base_url,
            transport=transport,
            timeout=timeout,
            headers=headers,
            follow_redirects=False,
            trust_env=False,  # on-premises: never route through a proxy from the environment
        )

    @property
    def base_url(self) -> str:
        """The service's base URL, without a trailing slash."""
        return self._base_url

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> EvsumClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- API calls

    def summarise(self, question: str, max_sentences: int, options: AskOptions | None = None, *,
                  claim: bool = False) -> UISummary:
        """``POST /v1/summaries``: an extractive, cited summary of the evidence for ``question`` (or a claim)."""
        body = {"question": question, "max_sentences": max_sentences, **(options.body() if options else {})}
        if claim:
            body["claim"] = True
        response = self._request("POST", "/v1/summaries", json=body)
        return _parse(UISummary, response)

    def search(self, query: str, top_k: int) -> UISearchResult:
        """``POST /v1/search``: the ``top_k`` best passages for ``query``."""
        response = self._request("POST", "/v1/search", json={"query": query, "top_k": top_k})
        return _parse(UISearchResult, response)

    def documents(self) -> tuple[UIDocument, ...]:
        """``GET /v1/documents``: every indexed document."""
        return _parse(DocumentList, self._request("GET", "/v1/documents")).documents

    def document(self, document_id: str) -> UIDocument:
        """``GET /v1/documents/{id}``; ``ApiError`` (404) when it does not exist."""
        return _parse(UIDocument, self._request("GET", f"/v1/documents/{_segment(document_id)}"))

    def page(
        self, document_id: str, page: int, char_start: int | None = None, char_end: int | None = None
    ) -> PageView:
        """``GET /v1/documents/{id}/pages/{n}``: page text, with the span echoed when valid."""
        response = self._request(
            "GET",
            f"/v1/documents/{_segment(document_id)}/pages/{int(page)}",
            params=_span_params(char_start, char_end),
        )
        return _parse(PageView, response)

    def page_image(
        self,
        document_id: str,
        page: int,
        char_start: int | None = None,
        char_end: int | None = None,
        *,
        zoom: float = PAGE_IMAGE_ZOOM,
    ) -> bytes | None:
        """``GET .../pages/{n}/image``: a PNG with the span highlighted; ``None`` if there is none (404)."""
        params: dict[str, str | int | float] = {**_span_params(char_start, char_end), "zoom": zoom}
        try:
            response = self._request(
                "GET",
                f"/v1/documents/{_segment(document_id)}/pages/{int(page)}/image",
                params=params,
                headers={"Accept": "image/png, application/problem+json"},
            )
        except ApiError as error:
            if error.status == 404:
                return None
            raise
        if not response.headers.get("content-type", "").startswith("image/"):
            raise ApiError(
                status=response.status_code,
                title="Unexpected response from the evidence service",
                detail=f"page image came as {response.headers.get('content-type', 'no content type')}",
            )
        return response.content

    def ready(self) -> bool:
        """``GET /readyz``: true when the service answers 200 with status ``ok``; never raises."""
        try:
            response = self._http.get("/readyz", timeout=READY_TIMEOUT)
            body = response.json()
        except (httpx.HTTPError, ValueError):
            return False
        return response.status_code == 200 and isinstance(body, dict) and body.get("status") == "ok"

    # -- librarian workflow

    def drafts(self, state: str | None = None) -> tuple[UIDraftItem, ...]:
        """``GET /v1/drafts``."""
        params = {"state": state} if state else None
        return _parse(DraftList, self._request("GET", "/v1/drafts", params=params)).drafts

    def draft(self, draft_id: int) -> UIDraft:
        """``GET /v1/drafts/{id}``."""
        return _parse(UIDraft, self._request("GET", f"/v1/drafts/{int(draft_id)}"))

    def create_draft(self, question: str, max_sentences: int, options: AskOptions | None = None, *,
                     claim: bool = False) -> UIDraft:
        """``POST /v1/drafts`` (``claim: true`` for a claim check)."""
        body = {"question": question, "max_sentences": max_sentences, **(options.body() if options else {})}
        if claim:
            body["claim"] = True
        return _parse(UIDraft, self._request("POST", "/v1/drafts", json=body))

    def update_draft(self, draft_id: int, version: int, changes: Mapping[str, Any]) -> UIDraft:
        """``PATCH /v1/drafts/{id}`` with ``If-Match: version``."""
        response = self._request("PATCH", f"/v1/drafts/{int(draft_id)}", json=dict(changes),
                                 headers={"If-Match": str(version)})
        return _parse(UIDraft, response)

    def comment_draft(self, draft_id: int, body: str) -> UIDraft:
        """``POST /v1/drafts/{id}/comments``."""
        return _parse(UIDraft, self._request("POST", f"/v1/drafts/{int(draft_id)}/comments", json={"body": body}))

    def transition(self, draft_id: int, action: str, version: int, comment: str | None = None) -> UIDraft:
        """``POST /v1/drafts/{id}/{submit|approve|return}`` with ``If-Match: version``."""
        if action not in ("submit", "approve", "return"):
            raise ValueError(f"unknown action {action!r}")
        body = {"comment": comment} if comment is not None and action != "submit" else None
        response = self._request("POST", f"/v1/drafts/{int(draft_id)}/{action}", json=body,
                                 headers={"If-Match": str(version)})
        return _parse(UIDraft, response)

    def release_draft(self, draft_id: int, version: int) -> UIReleaseCreated:
        """``POST /v1/drafts/{id}/release``."""
        response = self._request("POST", f"/v1/drafts/{int(draft_id)}/release", headers={"If-Match": str(version)})
        return _parse(UIReleaseCreated, response)

    def releases(self, draft_id: int | None = None) -> tuple[UIReleaseItem, ...]:
        """``GET /v1/releases``."""
        params = {"draft_id": draft_id} if draft_id is not None else None
        return _parse(ReleaseList, self._request("GET", "/v1/releases", params=params)).releases

    def release(self, release_id: int) -> UIRelease:
        """``GET /v1/releases/{id}``."""
        return _parse(UIRelease, self._request("GET", f"/v1/releases/{int(release_id)}"))

    def find_release(self, question: str, *, claim: bool = False) -> UIRelease | None:
        """``GET /v1/releases?question=&claim=``, then the best match in full."""
        params = {"question": question, "claim": "true" if claim else "false"}
        found = _parse(ReleaseList, self._request("GET", "/v1/releases", params=params)).releases
        return self.release(found[0].release_id) if found else None

    def withdraw_release(self, release_id: int, reason: str) -> UIRelease:
        """``POST /v1/releases/{id}/withdraw``."""
        response = self._request("POST", f"/v1/releases/{int(release_id)}/withdraw", json={"reason": reason})
        return _parse(UIRelease, response)

    def export_release(self, release_id: int, fmt: str) -> bytes:
        """``GET /v1/releases/{id}/export?format=``."""
        response = self._request("GET", f"/v1/releases/{int(release_id)}/export", params={"format": fmt},
                                 headers={"Accept": "*/*"})
        return response.content

    # -- plumbing

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            raise ApiUnavailable(self._base_url, f"no answer within the time limit ({exc})") from exc
        except httpx.TransportError as exc:
            raise ApiUnavailable(self._base_url, str(exc) or type(exc).__name__) from exc
        if response.is_success:
            return response
        raise _problem(response)


def _segment(value: str) -> str:
    """Quote a value for use as one URL path segment."""
    return quote(value, safe="")


def _span_params(char_start: int | None, char_end: int | None) -> dict[str, str | int | float]:
    params: dict[str, str | int | float] = {}
    if char_start is not None:
        params["char_start"] = int(char_start)
    if char_end is not None:
        params["char_end"] = int(char_end)
    return params
