"""The HTTP API over a real small index (hash encoder: the model is not the point here)."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest
from conftest import add_keys, bearer, make_settings
from fastapi.testclient import TestClient

from models.encoders import HashEncoder
from service.app import create_app


@pytest.fixture(scope="module")
def client(sample_index: Path) -> Iterator[TestClient]:
    settings = make_settings(sample_index)
    keys = add_keys(settings.database_url, {"dr-clinician": "clinician"})
    app = create_app(settings, encoder=HashEncoder())
    with TestClient(app, headers=bearer(keys["dr-clinician"])) as test_client:
        yield test_client


def _assert_problem(response, status: int) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"] and body["type"].startswith("https://")
    return body


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "snapshot_id": None, "documents": None,
                                             "passages": None, "detail": None}
    ready = client.get("/readyz").json()
    assert ready["status"] == "ok" and ready["documents"] == 4 and ready["passages"] > 100


def test_search_returns_cited_passages(client: TestClient) -> None:
    body = client.post("/v1/search", json={"query": "hand hygiene alcohol-based hand rub", "top_k": 5}).json()
    assert len(body["hits"]) == 5
    scores = [h["score"] for h in body["hits"]]
    assert scores == sorted(scores, reverse=True)
    for hit in body["hits"]:
        citation = hit["citation"]
        page = client.get(f"/v1/documents/{citation['document_id']}/pages/{citation['page']}").json()
        assert page["text"][citation["char_start"] : citation["char_end"]] == hit["text"]
    assert any("hand" in h["text"].lower() for h in body["hits"])


def test_summary_sentences_are_verbatim_and_cited(client: TestClient) -> None:
    response = client.post("/v1/summaries", json={"question": "hand hygiene before patient contact",
                                                   "max_sentences": 4})
    assert response.status_code == 200
    body = response.json()
    assert body["draft"] is True and body["status"] == "answered"
    # Both parts of a sentence cut by a page break count once against the budget.
    assert 1 <= sum(not s["continues"] for s in body["sentences"]) <= 4
    for sentence in body["sentences"]:
        c = sentence["citation"]
        assert c["title"] and c["source_path"].endswith(".pdf") and c["page"] >= 1
        page = client.get(f"/v1/documents/{c['document_id']}/pages/{c['page']}",
                          params={"char_start": c["char_start"], "char_end": c["char_end"]}).json()
        assert page["text"][c["char_start"] : c["char_end"]] == sentence["text"]
        assert page["highlight"] == {"char_start": c["char_start"], "char_end": c["char_end"]}


def test_no_evidence_answer_instead_of_filler(client: TestClient) -> None:
    body = client.post("/v1/summaries", json={"question": "zzqx wvvt kkpl"}).json()
    assert body["status"] == "no_evidence" and body["sentences"] == []
    assert body["message"].startswith("No sufficient evidence")


def test_documents_listing_and_detail(client: TestClient) -> None:
    documents = client.get("/v1/documents").json()["documents"]
    assert len(documents) == 4
    detail = client.get(f"/v1/documents/{documents[0]['id']}").json()
    assert {"title", "source_path", "sha256", "pages", "metadata"} <= detail.keys()
    assert detail["metadata"]["licence"]


def test_page_image_is_a_png(client: TestClient) -> None:
    document = client.get("/v1/documents").json()["documents"][0]
    page = client.get(f"/v1/documents/{document['id']}/pages/1").json()
    response = client.get(f"/v1/documents/{document['id']}/pages/1/image",
                          params={"char_start": 0, "char_end": min(40, len(page["text"]))})
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    assert response.content[:8] == b"\x89PNG\r\n\x1a\n"


def test_errors_are_problem_json(client: TestClient) -> None:
    _assert_problem(client.get("/v1/documents/nope"), 404)
    document = client.get("/v1/documents").json()["documents"][0]
    _assert_problem(client.get(f"/v1/documents/{document['id']}/pages/9999"), 404)
    _assert_problem(client.get(f"/v1/documents/{document['id']}/pages/1",
                               params={"char_start": 5, "char_end": 10**7}), 400)
    body = _assert_problem(client.post("/v1/summaries", json={"question": ""}), 422)
    assert body["errors"][0]["field"] == "question"
    body = _assert_problem(client.post("/v1/summaries", json={"question": "x", "max_sentences": 0}), 422)
    assert body["errors"][0]["field"] == "max_sentences"
    _assert_problem(client.post("/v1/summaries", content=b"{not json", headers={"content-type":
                                                                                  "application/json"}), 422)


def test_missing_index_gives_503_not_a_crash(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "empty-index")
    keys = add_keys(settings.database_url, {"dr-clinician": "clinician"})
    app = create_app(settings, encoder=HashEncoder())
    with TestClient(app, headers=bearer(keys["dr-clinician"])) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 503 and "evsum index" in ready.json()["detail"]
        body = _assert_problem(client.post("/v1/summaries", json={"question": "anything"}), 503)
        assert "no index" in body["detail"]
        assert client.get("/healthz").status_code == 200


def test_openapi_documents_the_versioned_endpoints(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/v1/search", "/v1/summaries", "/v1/documents", "/v1/documents/{document_id}",
            "/v1/documents/{document_id}/pages/{page}", "/healthz", "/readyz"} <= paths.keys()
