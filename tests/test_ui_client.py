"""The UI's API client: parsing of recorded API answers, error mapping, and a contract shared with the fake.

``EvsumClient`` is exercised through ``httpx.MockTransport`` only: no sockets.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import unquote

import httpx
import pytest

from ui.client import (
    ApiClient,
    ApiError,
    ApiUnavailable,
    ClientError,
    EvsumClient,
    PageView,
    Span,
    UICitation,
    UIDocument,
    UISummary,
)
from ui.fakes import (
    ABSTRACT_ID,
    GUIDELINE_ID,
    GUIDELINE_PAGE_2,
    NO_EVIDENCE_MESSAGE,
    SAMPLE_QUESTION,
    FakeApiClient,
)

BASE = "http://evsum.test:8000"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# --------------------------------------------------------------------------- recorded answers
# Shapes as the service sends them, including fields the UI does not use (they must be ignored).

CITATION_JSON: dict[str, Any] = {
    "document_id": "9a37f4c9",
    "title": "Guide to Infection Prevention for Outpatient Settings",
    "page": 7,
    "char_start": 120,
    "char_end": 231,
    "section": "Hand Hygiene",
    "source_path": "guidelines/cdc.pdf",
}

SUMMARY_JSON: dict[str, Any] = {
    "question": "Does hand hygiene reduce infections?",
    "status": "answered",
    "message": "2 sentences quoted from 2 sources.",
    "draft": True,
    "snapshot_id": "2025-11-20T09-30-00Z-4f1c",
    "retrieved_document_ids": ["9a37f4c9", "5b1c0d2e"],
    "sentences": [
        {
            "sentence_id": 812,
            "text": "Good hand hygiene is critical.",
            "score": 0.83,
            "citation": CITATION_JSON,
        },
        {
            "sentence_id": 90211,
            "text": "Infections fell from 3.1% to 1.9%.",
            "score": 0.71,
            "citation": {**CITATION_JSON, "document_id": "5b1c0d2e", "page": 1, "section": None},
        },
    ],
    "elapsed_ms": 412,  # not part of the UI's records
}

NO_EVIDENCE_JSON: dict[str, Any] = {
    "question": "What is the airspeed velocity of an unladen swallow?",
    "status": "no_evidence",
    "message": "No sufficient evidence was found.",
    "draft": True,
    "snapshot_id": "2025-11-20T09-30-00Z-4f1c",
    "retrieved_document_ids": [],
    "sentences": [],
}

SEARCH_JSON: dict[str, Any] = {
    "query": "hand hygiene",
    "hits": [
        {
            "passage_id": 41,
            "text": "Good hand hygiene is critical. Use ABHR.",
            "score": 0.032,
            "dense_score": 0.61,
            "bm25_score": None,
            "citation": CITATION_JSON,
        }
    ],
}

DOCUMENT_JSON: dict[str, Any] = {
    "id": "9a37f4c9",
    "title": "Guide to Infection Prevention for Outpatient Settings",
    "source_path": "guidelines/cdc.pdf",
    "sha256": "9a37f4c9",
    "pages": 44,
    "source_kind": "pdf",
    "indexed_at": "2025-11-20T09:30:00Z",
    "metadata": {"publisher": "CDC", "licence": "public domain (US federal work)"},
}

PAGE_JSON: dict[str, Any] = {
    "document_id": "9a37f4c9",
    "page": 7,
    "text": "Hand Hygiene\nGood hand hygiene is critical.",
    "highlight": {"char_start": 13, "char_end": 43},
}

PROBLEM_404: dict[str, Any] = {
    "type": "https://evsum.nhs.example/problems/not-found",
    "title": "Document not found",
    "status": 404,
    "detail": "No document with id 'nope' in snapshot 2025-11-20.",
    "instance": "/v1/documents/nope",
}


Handler = Callable[[httpx.Request], httpx.Response]


class Recorder:
    """A MockTransport handler that answers every request with one response and keeps the requests."""

    def __init__(self, respond: Handler) -> None:
        self.respond = respond
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.respond(request)


def client_answering(respond: Handler, base_url: str = BASE) -> tuple[EvsumClient, Recorder]:
    """A real client whose every request is answered by ``respond``."""
    recorder = Recorder(respond)
    return EvsumClient(base_url, transport=httpx.MockTransport(recorder)), recorder


def json_answer(body: object, status: int = 200) -> Handler:
    return lambda request: httpx.Response(status, json=body)


def problem_answer(problem: dict[str, Any]) -> Handler:
    return lambda request: httpx.Response(
        problem["status"],
        content=json.dumps(problem).encode(),
        headers={"content-type": "application/problem+json"},
    )


# --------------------------------------------------------------------------- parsing


def test_summarise_posts_the_question_and_parses_every_field() -> None:
    client, recorder = client_answering(json_answer(SUMMARY_JSON))

    summary = client.summarise("Does hand hygiene reduce infections?", 2)

    (request,) = recorder.requests
    assert (request.method, request.url.path) == ("POST", "/v1/summaries")
    assert json.loads(request.content) == {
        "question": "Does hand hygiene reduce infections?",
        "max_sentences": 2,
    }
    assert summary.answered
    assert summary.draft
    assert summary.snapshot_id == "2025-11-20T09-30-00Z-4f1c"
    assert summary.retrieved_document_ids == ("9a37f4c9", "5b1c0d2e")
    assert [s.sentence_id for s in summary.sentences] == [812, 90211]
    assert summary.sentences[0].citation == UICitation(
        document_id="9a37f4c9",
        title="Guide to Infection Prevention for Outpatient Settings",
        page=7,
        char_start=120,
        char_end=231,
        section="Hand Hygiene",
        source_path="guidelines/cdc.pdf",
    )
    assert summary.sentences[1].citation.section is None
    assert summary.sentences[1].score == pytest.approx(0.71)


def test_a_claim_check_posts_claim_true_and_reads_it_back() -> None:
    client, recorder = client_answering(json_answer({**SUMMARY_JSON, "claim": True}))

    summary = client.summarise("Hand hygiene reduces infections.", 2, claim=True)

    (request,) = recorder.requests
    assert json.loads(request.content) == {"question": "Hand hygiene reduces infections.", "max_sentences": 2,
                                           "claim": True}
    assert summary.claim is True and summary.answered


def test_no_evidence_summary_has_a_message_and_no_sentences() -> None:
    client, _ = client_answering(json_answer(NO_EVIDENCE_JSON))

    summary = client.summarise("What is the airspeed velocity of an unladen swallow?", 3)

    assert summary.status == "no_evidence"
    assert not summary.answered
    assert summary.sentences == ()
    assert summary.message == "No sufficient evidence was found."


def test_a_summary_without_a_draft_flag_counts_as_a_draft() -> None:
    body = {key: value for key, value in SUMMARY_JSON.items() if key != "draft"}
    client, _ = client_answering(json_answer(body))

    assert client.summarise("q", 3).draft is True


def test_search_sends_top_k_and_keeps_missing_scores_as_none() -> None:
    client, recorder = client_answering(json_answer(SEARCH_JSON))

    result = client.search("hand hygiene", 5)

    assert json.loads(recorder.requests[0].content) == {"query": "hand hygiene", "top_k": 5}
    (hit,) = result.hits
    assert hit.passage_id == 41
    assert hit.dense_score == pytest.approx(0.61)
    assert hit.bm25_score is None
    assert hit.citation.page == 7


def test_documents_and_document_parse_metadata() -> None:
    client, recorder = client_answering(
        lambda request: httpx.Response(
            200, json={"documents": [DOCUMENT_JSON]} if request.url.path == "/v1/documents" else DOCUMENT_JSON
        )
    )

    (listed,) = client.documents()
    one = client.document("9a37f4c9")

    assert listed == one
    assert one.metadata["licence"] == "public domain (US federal work)"
    assert one.pages == 44
    assert [r.url.path for r in recorder.requests] == ["/v1/documents", "/v1/documents/9a37f4c9"]


def test_document_ids_are_quoted_as_one_path_segment() -> None:
    client, recorder = client_answering(json_answer(DOCUMENT_JSON))

    client.document("abstracts/pubmed.jsonl#3")

    assert recorder.requests[0].url.raw_path == b"/v1/documents/abstracts%2Fpubmed.jsonl%233"


def test_page_sends_the_span_and_parses_the_highlight() -> None:
    client, recorder = client_answering(json_answer(PAGE_JSON))

    view = client.page("9a37f4c9", 7, 13, 43)

    request = recorder.requests[0]
    assert request.url.path == "/v1/documents/9a37f4c9/pages/7"
    assert dict(request.url.params) == {"char_start": "13", "char_end": "43"}
    assert view == PageView("9a37f4c9", 7, PAGE_JSON["text"], Span(13, 43))
    assert view.text[13:43] == "Good hand hygiene is critical."


def test_page_without_a_span_sends_no_span_and_gets_no_highlight() -> None:
    client, recorder = client_answering(json_answer({**PAGE_JSON, "highlight": None}))

    view = client.page("9a37f4c9", 7)

    assert dict(recorder.requests[0].url.params) == {}
    assert view.highlight is None


def test_page_image_returns_png_bytes_and_sends_zoom() -> None:
    png = PNG_SIGNATURE + b"rest-of-image"
    client, recorder = client_answering(
        lambda request: httpx.Response(200, content=png, headers={"content-type": "image/png"})
    )

    assert client.page_image("9a37f4c9", 7, 13, 43) == png
    request = recorder.requests[0]
    assert request.url.path == "/v1/documents/9a37f4c9/pages/7/image"
    assert dict(request.url.params) == {"char_start": "13", "char_end": "43", "zoom": "1.5"}


def test_page_image_is_none_when_the_source_has_no_pdf() -> None:
    client, _ = client_answering(problem_answer({**PROBLEM_404, "title": "No page image"}))

    assert client.page_image("5b1c0d2e", 1, 0, 10) is None


def test_page_image_raises_on_server_errors_and_non_images() -> None:
    failing, _ = client_answering(problem_answer({**PROBLEM_404, "status": 500, "title": "Render failed"}))
    with pytest.raises(ApiError, match="Render failed"):
        failing.page_image("9a37f4c9", 7, 13, 43)

    not_image, _ = client_answering(json_answer({"status": "ok"}))
    with pytest.raises(ApiError, match="application/json"):
        not_image.page_image("9a37f4c9", 7, 13, 43)


def test_base_url_path_and_trailing_slash_are_kept_correctly() -> None:
    client, recorder = client_answering(json_answer({"documents": []}), base_url="http://proxy.test/evsum/")

    assert client.base_url == "http://proxy.test/evsum"
    assert client.documents() == ()
    assert str(recorder.requests[0].url) == "http://proxy.test/evsum/v1/documents"


# --------------------------------------------------------------------------- errors


def test_problem_json_becomes_api_error_with_status_title_detail_and_type() -> None:
    client, _ = client_answering(problem_answer(PROBLEM_404))

    with pytest.raises(ApiError) as caught:
        client.document("nope")

    error = caught.value
    assert (error.status, error.title) == (404, "Document not found")
    assert error.detail == "No document with id 'nope' in snapshot 2025-11-20."
    assert error.type == "https://evsum.nhs.example/problems/not-found"
    assert "No document with id 'nope'" in str(error)


def test_fastapi_validation_errors_are_summarised_in_the_detail() -> None:
    body = {
        "detail": [
            {"loc": ["body", "max_sentences"], "msg": "Input should be less than or equal to 20"},
            {"loc": ["body", "question"], "msg": "Field required"},
        ]
    }
    client, _ = client_answering(json_answer(body, status=422))

    with pytest.raises(ApiError) as caught:
        client.summarise("", 99)

    assert caught.value.status == 422
    assert caught.value.title == "Unprocessable Entity"
    assert caught.value.detail == (
        "max_sentences: Input should be less than or equal to 20; question: Field required"
    )


def test_a_non_json_error_uses_the_reason_phrase_and_first_line() -> None:
    client, _ = client_answering(lambda request: httpx.Response(502, text="upstream down\nmore lines"))

    with pytest.raises(ApiError) as caught:
        client.documents()

    assert (caught.value.status, caught.value.title, caught.value.detail) == (
        502,
        "Bad Gateway",
        "upstream down",
    )


def test_a_malformed_success_body_is_an_api_error_naming_the_field() -> None:
    broken = {**SUMMARY_JSON, "sentences": [{"sentence_id": 1, "text": "x", "score": 0.1}]}
    client, _ = client_answering(json_answer(broken))

    with pytest.raises(ApiError, match=r"sentences\.0\.citation"):
        client.summarise("q", 3)


@pytest.mark.parametrize(
    "failure",
    [httpx.ConnectError("[Errno 111] Connection refused"), httpx.ReadTimeout("timed out")],
    ids=["refused", "timeout"],
)
def test_transport_failures_become_api_unavailable(failure: httpx.TransportError) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise failure

    client, _ = client_answering(fail)

    with pytest.raises(ApiUnavailable) as caught:
        client.summarise("q", 3)

    assert isinstance(caught.value, ClientError)
    assert caught.value.base_url == BASE
    assert BASE in str(caught.value)


@pytest.mark.parametrize(
    ("respond", "expected"),
    [
        (json_answer({"status": "ok", "snapshot_id": "s"}), True),
        (json_answer({"status": "loading"}, status=503), False),
        (lambda request: httpx.Response(200, text="<html>proxy login</html>"), False),
        (lambda request: (_ for _ in ()).throw(httpx.ConnectError("refused")), False),
    ],
    ids=["ok", "503", "not-json", "unreachable"],
)
def test_ready_is_true_only_for_an_ok_answer(respond: Handler, expected: bool) -> None:
    client, recorder = client_answering(respond)

    assert client.ready() is expected
    assert recorder.requests[0].url.path == "/readyz"


# --------------------------------------------------------------------------- contract
# The same checks against the fake and against the real client talking to the fake over HTTP.
# The HTTP side is strict about the API (paths, parameter and body names), so the real client's
# requests are checked too; the records coming back must equal what the fake returns directly.


def api_over_http(fake: FakeApiClient) -> httpx.MockTransport:
    """Serve ``fake`` with the evsum HTTP API's paths, parameters and JSON shapes."""

    def problem(status: int, title: str, detail: str) -> httpx.Response:
        body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
        return httpx.Response(status, json=body, headers={"content-type": "application/problem+json"})

    def body_of(request: httpx.Request, keys: set[str]) -> dict[str, Any]:
        body = json.loads(request.content)
        if set(body) != keys:
            raise ApiError(422, "Invalid request", f"expected fields {sorted(keys)}, got {sorted(body)}")
        return dict(body)

    def span(request: httpx.Request, allowed: set[str]) -> dict[str, int | None]:
        unknown = set(request.url.params) - allowed
        if unknown:
            raise ApiError(422, "Invalid request", f"unknown parameters {sorted(unknown)}")
        params = request.url.params
        return {name: int(params[name]) if name in params else None for name in ("char_start", "char_end")}

    def route(request: httpx.Request) -> httpx.Response:
        path = unquote_segments(request.url.raw_path.decode().split("?")[0])
        method = request.method
        if (method, path) == ("GET", ["readyz"]):
            return httpx.Response(
                200 if fake.ready() else 503, json={"status": "ok" if fake.ready() else "x"}
            )
        if (method, path) == ("POST", ["v1", "summaries"]):
            body = body_of(request, {"question", "max_sentences"})
            return httpx.Response(200, json=dataclasses.asdict(fake.summarise(**body)))
        if (method, path) == ("POST", ["v1", "search"]):
            body = body_of(request, {"query", "top_k"})
            return httpx.Response(200, json=dataclasses.asdict(fake.search(**body)))
        if (method, path) == ("GET", ["v1", "documents"]):
            return httpx.Response(200, json={"documents": [dataclasses.asdict(d) for d in fake.documents()]})
        if method == "GET" and len(path) == 3 and path[:2] == ["v1", "documents"]:
            return httpx.Response(200, json=dataclasses.asdict(fake.document(path[2])))
        if method == "GET" and len(path) == 5 and path[:2] == ["v1", "documents"] and path[3] == "pages":
            view = fake.page(path[2], int(path[4]), **span(request, {"char_start", "char_end"}))
            return httpx.Response(200, json=dataclasses.asdict(view))
        if method == "GET" and len(path) == 6 and path[:2] == ["v1", "documents"] and path[5] == "image":
            float(request.url.params["zoom"])
            image = fake.page_image(
                path[2], int(path[4]), **span(request, {"char_start", "char_end", "zoom"})
            )
            if image is None:
                return problem(404, "No page image", "this source has no PDF")
            return httpx.Response(200, content=image, headers={"content-type": "image/png"})
        return problem(404, "Not Found", f"{method} {request.url.path}")

    def handler(request: httpx.Request) -> httpx.Response:
        try:
            return route(request)
        except ApiError as error:
            return problem(error.status, error.title, error.detail)

    return httpx.MockTransport(handler)


def unquote_segments(raw_path: str) -> list[str]:
    return [unquote(segment) for segment in raw_path.strip("/").split("/")]


@pytest.fixture(params=["fake", "http"])
def api(request: pytest.FixtureRequest) -> Iterator[ApiClient]:
    """The contract's subject: the fake itself, or the real client talking HTTP to the fake."""
    fake = FakeApiClient.sample()
    if request.param == "fake":
        yield fake
    else:
        with EvsumClient(BASE, transport=api_over_http(fake)) as client:
            yield client


def test_contract_both_clients_satisfy_the_protocol(api: ApiClient) -> None:
    assert isinstance(api, ApiClient)
    assert api.ready() is True


def test_contract_every_quoted_sentence_is_the_cited_span_of_its_page(api: ApiClient) -> None:
    summary = api.summarise(SAMPLE_QUESTION, 10)

    assert summary.answered
    assert summary.draft
    assert len(summary.sentences) == 4
    for sentence in summary.sentences:
        c = sentence.citation
        view = api.page(c.document_id, c.page, c.char_start, c.char_end)
        assert view.highlight == Span(c.char_start, c.char_end)
        assert view.text[c.char_start : c.char_end] == sentence.text
    assert set(summary.retrieved_document_ids) == {GUIDELINE_ID, ABSTRACT_ID}


def test_contract_max_sentences_caps_the_answer(api: ApiClient) -> None:
    assert len(api.summarise(SAMPLE_QUESTION, 2).sentences) == 2


def test_contract_unanswerable_question_is_no_evidence(api: ApiClient) -> None:
    summary = api.summarise("Is homeopathy effective for sepsis?", 3)

    assert (summary.status, summary.sentences, summary.message) == ("no_evidence", (), NO_EVIDENCE_MESSAGE)


@pytest.mark.parametrize(("question", "max_sentences"), [("   ", 3), (SAMPLE_QUESTION, 0)])
def test_contract_invalid_requests_are_422(api: ApiClient, question: str, max_sentences: int) -> None:
    with pytest.raises(ApiError) as caught:
        api.summarise(question, max_sentences)
    assert caught.value.status == 422


def test_contract_documents_list_matches_single_lookups(api: ApiClient) -> None:
    documents = api.documents()

    assert {d.id for d in documents} == {GUIDELINE_ID, ABSTRACT_ID}
    assert all(isinstance(d, UIDocument) for d in documents)
    for document in documents:
        assert api.document(document.id) == document


def test_contract_unknown_document_and_page_are_404(api: ApiClient) -> None:
    for call in (lambda: api.document("no-such-document"), lambda: api.page(GUIDELINE_ID, 99)):
        with pytest.raises(ApiError) as caught:
            call()
        assert caught.value.status == 404
    # The image endpoint's 404 cannot tell "no PDF" from "no such page": both mean "no image".
    assert api.page_image(GUIDELINE_ID, 99, 0, 5) is None


@pytest.mark.parametrize(("start", "end"), [(None, None), (50, 40), (0, len(GUIDELINE_PAGE_2) + 1)])
def test_contract_invalid_or_missing_span_gets_no_highlight(
    api: ApiClient, start: int | None, end: int | None
) -> None:
    view = api.page(GUIDELINE_ID, 2, start, end)

    assert view.highlight is None
    assert view.text == GUIDELINE_PAGE_2


def test_contract_page_images_exist_for_pdfs_only(api: ApiClient) -> None:
    image = api.page_image(GUIDELINE_ID, 2, 0, 20)

    assert image is not None
    assert image.startswith(PNG_SIGNATURE)
    assert api.page_image(ABSTRACT_ID, 1, 0, 20) is None


def test_contract_search_ranks_and_caps_hits(api: ApiClient) -> None:
    result = api.search("hand hygiene gloves", 1)

    (hit,) = result.hits
    assert hit.citation.document_id == GUIDELINE_ID
    assert "gloves" in hit.text


def test_contract_fake_and_http_give_identical_records() -> None:
    fake = FakeApiClient.sample()
    real = EvsumClient(BASE, transport=api_over_http(FakeApiClient.sample()))

    assert real.summarise(SAMPLE_QUESTION, 3) == fake.summarise(SAMPLE_QUESTION, 3)
    assert real.documents() == fake.documents()
    assert real.page(ABSTRACT_ID, 1, 3, 9) == fake.page(ABSTRACT_ID, 1, 3, 9)
    assert real.search("infections", 5) == fake.search("infections", 5)


def test_summary_records_are_immutable() -> None:
    summary = FakeApiClient.sample().summarise(SAMPLE_QUESTION, 1)

    with pytest.raises(dataclasses.FrozenInstanceError):
        summary.status = "no_evidence"  # type: ignore[misc]
    assert isinstance(summary, UISummary)
