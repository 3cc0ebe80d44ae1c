"""The librarian workflow over HTTP: each transition, each illegal one, locking, audit and exports."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import add_keys, bearer, make_settings
from fake_claim_scorer import PreferWord
from fastapi.testclient import TestClient

from models.encoders import HashEncoder
from models.scorer import prior_name
from service.app import create_app

QUESTION = "hand hygiene before patient contact"
USERS = {"dr-c": "clinician", "lib": "librarian", "lib2": "librarian", "rev": "reviewer", "rev2": "reviewer",
         "boss": "admin"}


class Api:
    """The test client with one key per user."""

    def __init__(self, client: TestClient, keys: dict[str, str]) -> None:
        self.client = client
        self.keys = keys

    def __call__(self, user: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {**bearer(self.keys[user]), **kwargs.pop("headers", {})}
        return self.client.request(method, path, headers=headers, **kwargs)


@pytest.fixture(scope="module")
def api(sample_index: Path) -> Iterator[Api]:
    settings = make_settings(sample_index)
    keys = add_keys(settings.database_url, USERS)
    with TestClient(create_app(settings, encoder=HashEncoder())) as client:
        yield Api(client, keys)


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["detail"]
    return body


def new_draft(api: Api, user: str = "lib", k: int = 3) -> dict[str, Any]:
    response = api(user, "POST", "/v1/drafts", json={"question": QUESTION, "max_sentences": k,
                                                      "pico": {"population": "outpatients",
                                                               "intervention": "hand hygiene"}})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    assert response.headers["etag"] == str(body["version"]) == "1"
    return body


def verify_all(api: Api, draft: dict[str, Any], user: str = "lib") -> dict[str, Any]:
    response = api(user, "PATCH", f"/v1/drafts/{draft['id']}", headers={"If-Match": str(draft["version"])},
                   json={"sentences": [{"id": s["id"], "status": "verified"} for s in draft["sentences"]],
                         "bottom_line": "Clean hands before every patient contact.",
                         "caveats": "Guidance, not trial evidence."})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def approved(api: Api, author: str = "lib") -> dict[str, Any]:
    draft = verify_all(api, new_draft(api, author), author)
    assert api(author, "POST", f"/v1/drafts/{draft['id']}/submit").json()["state"] == "in_review"
    body: dict[str, Any] = api("rev", "POST", f"/v1/drafts/{draft['id']}/approve", json={"comment": "ok"}).json()
    assert body["state"] == "approved" and body["reviewer"] == "rev"
    return body


def test_create_draft_quotes_verbatim_unverified_sentences(api: Api) -> None:
    draft = new_draft(api)
    # Both parts of a sentence cut by a page break count once against the budget.
    assert draft["state"] == "draft" and 1 <= sum(not s["continues"] for s in draft["sentences"]) <= 3
    assert draft["pico"] == {"population": "outpatients", "intervention": "hand hygiene"}
    for sentence in draft["sentences"]:
        c = sentence["citation"]
        assert sentence["status"] == "unverified" and not sentence["edited"]
        page = api("dr-c", "GET", f"/v1/documents/{c['document_id']}/pages/{c['page']}").json()
        assert page["text"][c["char_start"]:c["char_end"]] == sentence["text"] == sentence["source_text"]
    assert api("lib", "GET", f"/v1/drafts/{draft['id']}").headers["etag"] == "1"
    assert draft["id"] in [d["id"] for d in api("rev", "GET", "/v1/drafts", params={"state": "draft"}).json()["drafts"]]


def test_a_question_draft_says_when_the_cross_encoder_re_scored_it(api: Api) -> None:
    summariser = api.client.app.state.engine.summariser  # type: ignore[attr-defined]
    installed = summariser.claim_scorer
    try:
        summariser.claim_scorer = PreferWord("alcohol", questions=True)  # a graph trained on questions too
        draft = api("lib", "POST", "/v1/drafts", json={"question": "How should hands be cleaned?",
                                                        "max_sentences": 2}).json()
        answer = api("lib", "POST", "/v1/summaries", json={"question": "How should hands be cleaned?"}).json()
        claim = api("lib", "POST", "/v1/drafts", json={"question": "Alcohol hand rub is preferred.", "claim": True,
                                                        "max_sentences": 2}).json()
        summariser.claim_scorer = PreferWord("alcohol")  # trained on claims only: it leaves questions alone
        plain = new_draft(api)
    finally:
        summariser.claim_scorer = installed
    assert draft["claim"] is False and "re-scored by the cross-encoder trained on claims and questions" in (
        draft["search"]["method"])
    assert draft["search"]["sentence_scorer"]["name"] == f"{prior_name()} + cross-encoder"
    assert answer["cross_encoded"] is True and answer["claim"] is False
    # A claim check records the cross-encoder as its claim scorer, and the prior as its sentence scorer.
    assert claim["search"]["claim_scorer"]["graph_sha256"] == "1" * 64
    assert claim["search"]["sentence_scorer"]["name"] == prior_name()
    assert "cross-encoder" not in plain["search"]["method"]
    assert plain["search"]["sentence_scorer"]["name"] == prior_name()


def test_a_claim_check_is_drafted_reviewed_released_and_exported_as_a_claim(api: Api) -> None:
    claim = "Alcohol-based hand rub is preferred for hand hygiene."
    summariser = api.client.app.state.engine.summariser  # type: ignore[attr-defined]
    installed = summariser.claim_scorer
    try:
        summariser.claim_scorer = PreferWord("alcohol")
        response = api("lib", "POST", "/v1/drafts", json={"question": claim, "max_sentences": 2, "claim": True})
        summariser.claim_scorer = None
        refused = problem(api("lib", "POST", "/v1/drafts", json={"question": claim, "claim": True}), 400)
    finally:
        summariser.claim_scorer = installed
    assert "claim scorer" in refused["detail"]
    assert response.status_code == 201, response.text
    draft = response.json()
    assert draft["claim"] is True and draft["search"]["claim"] is True
    assert "checked as a claim" in draft["search"]["method"]
    assert draft["search"]["claim_scorer"] == {"name": "prefer-word", "graph_sha256": ""}  # which model chose
    assert "alcohol" in draft["sentences"][0]["text"].lower()  # the fake cross-encoder's choice is quoted first
    assert new_draft(api)["claim"] is False  # a question stays a question
    draft = verify_all(api, draft)
    api("lib", "POST", f"/v1/drafts/{draft['id']}/submit")
    api("rev", "POST", f"/v1/drafts/{draft['id']}/approve", json={"comment": "ok"})
    release = api("rev", "POST", f"/v1/drafts/{draft['id']}/release").json()
    markdown = api("dr-c", "GET", f"/v1/releases/{release['release_id']}/export", params={"format": "md"}).text
    assert f"## Claim checked\n\n{claim}" in markdown and "checked as a claim" in markdown
    assert "**Claim scorer:** prefer-word" in markdown
    assert draft["search"]["sentence_scorer"]["name"] == prior_name()  # which weights ranked the draft
    assert f"**Sentence scorer:** {prior_name()}" in markdown
    listed = api("lib", "GET", "/v1/drafts").json()["drafts"]
    assert [d["claim"] for d in listed if d["id"] == draft["id"]] == [True]
    as_claim = api("dr-c", "GET", "/v1/releases", params={"question": claim, "claim": True}).json()["releases"]
    assert [r["release_id"] for r in as_claim][:1] == [release["release_id"]] and as_claim[0]["claim"] is True
    # a reader asking a question with the claim's words gets no claim check for an answer
    as_question = api("dr-c", "GET", "/v1/releases", params={"question": claim, "claim": False}).json()["releases"]
    assert release["release_id"] not in [r["release_id"] for r in as_question]
    assert api("dr-c", "GET", f"/v1/releases/{release['release_id']}").json()["claim"] is True


def test_edits_are_tracked_changes_and_stale_writes_conflict(api: Api) -> None:
    draft = new_draft(api)
    first = draft["sentences"][0]
    response = api("lib", "PATCH", f"/v1/drafts/{draft['id']}", headers={"If-Match": "1"},
                   json={"sentences": [{"id": first["id"], "text": "Clean hands before touching a patient."}]})
    assert response.status_code == 200 and response.headers["etag"] == "2"
    edited = response.json()["sentences"][0]
    assert edited["edited"] and edited["text"] == "Clean hands before touching a patient."
    assert edited["source_text"] == first["source_text"] and edited["citation"] == first["citation"]
    stale = problem(api("lib2", "PATCH", f"/v1/drafts/{draft['id']}", headers={"If-Match": "1"},
                        json={"bottom_line": "overwrites?"}), 409)
    assert stale["current_version"] == 2
    assert api("lib", "GET", f"/v1/drafts/{draft['id']}").json()["bottom_line"] == ""
    problem(api("lib", "PATCH", f"/v1/drafts/{draft['id']}", json={"bottom_line": "no version"}), 400)


def test_add_from_search_reorder_and_remove(api: Api) -> None:
    draft = new_draft(api, k=2)
    hit = api("lib", "POST", "/v1/search", json={"query": "alcohol-based hand rub", "top_k": 3}).json()["hits"][0]
    other = api("lib", "POST", "/v1/summaries", json={"question": "alcohol-based hand rub", "max_sentences": 5})
    taken = {s["sentence_id"] for s in draft["sentences"]}
    sentence_id = next(s["sentence_id"] for s in other.json()["sentences"]
                       if s["sentence_id"] not in taken and s["citation"] != hit["citation"])
    body = api("lib", "PATCH", f"/v1/drafts/{draft['id']}", headers={"If-Match": "1"},
               json={"add": [{"citation": hit["citation"], "query": "alcohol-based hand rub"},
                             {"sentence_id": sentence_id, "position": 0}]}).json()
    added = [s for s in body["sentences"] if s["origin"] == "added"]
    assert len(added) == 2 and body["sentences"][0]["sentence_id"] == sentence_id
    assert any(s["source_text"] == hit["text"] and s["citation"]["page"] == hit["citation"]["page"] for s in added)
    assert "alcohol-based hand rub" in body["search"]["queries"]
    ids = [s["id"] for s in body["sentences"]]
    body = api("lib", "PATCH", f"/v1/drafts/{draft['id']}", headers={"If-Match": "2"},
               json={"remove": [ids[1]], "order": list(reversed([i for i in ids if i != ids[1]]))}).json()
    assert [s["id"] for s in body["sentences"]] == list(reversed([i for i in ids if i != ids[1]]))
    problem(api("lib", "PATCH", f"/v1/drafts/{draft['id']}", headers={"If-Match": "3"},
                json={"order": [ids[0]]}), 400)


def test_submit_approve_release_and_export(api: Api) -> None:
    draft = approved(api)
    created = api("rev2", "POST", f"/v1/drafts/{draft['id']}/release")
    assert created.status_code == 201
    release = created.json()
    assert release["number"] == 1 and release["release_id"]
    full = api("dr-c", "GET", f"/v1/releases/{release['release_id']}").json()
    assert full["author"] == "lib" and full["reviewer"] == "rev" and full["bottom_line"] and not full["withdrawn"]
    found = api("dr-c", "GET", "/v1/releases", params={"question": QUESTION.upper()}).json()["releases"]
    assert release["release_id"] in [r["release_id"] for r in found]

    docx_response = api("dr-c", "GET", f"/v1/releases/{release['release_id']}/export", params={"format": "docx"})
    assert docx_response.status_code == 200 and "attachment" in docx_response.headers["content-disposition"]
    from docx import Document

    document = Document(io.BytesIO(docx_response.content))
    paragraphs = [p.text for p in document.paragraphs]
    cells = [cell.text for table in document.tables for row in table.rows for cell in row.cells]
    assert QUESTION in paragraphs and "Clinical bottom line" in paragraphs and "Caveats" in paragraphs
    assert "Clean hands before every patient contact." in paragraphs
    # The first bullet ends with its citation, [1], or [1][2] when it is a sentence cut by a page break.
    assert any(p.startswith(full["sentences"][0]["text"]) and p.endswith(("[1]", "[1][2]")) for p in paragraphs)
    assert any(p.startswith("[1] ") and f"page {full['sentences'][0]['citation']['page']}" in p for p in paragraphs)
    assert {"Population", "outpatients", "Index snapshot", full["snapshot_id"], "Reviewer"} <= set(cells)
    assert any(c.startswith("rev — approved ") for c in cells) and any(c.startswith("1 (draft") for c in cells)

    markdown = api("dr-c", "GET", f"/v1/releases/{release['release_id']}/export", params={"format": "md"}).text
    assert markdown.startswith("# Evidence summary (version 1)") and "## Sources and search strategy" in markdown
    ris = api("dr-c", "GET", f"/v1/releases/{release['release_id']}/export", params={"format": "ris"}).text
    assert ris.startswith("TY  - ") and "\r\nTI  - " in ris and "\r\nPB  - " in ris and "ER  - " in ris


def test_edit_after_release_starts_a_new_version_and_withdraw(api: Api) -> None:
    draft = approved(api)
    first = api("rev", "POST", f"/v1/drafts/{draft['id']}/release").json()
    released = api("lib", "GET", f"/v1/drafts/{draft['id']}").json()
    body = api("lib", "PATCH", f"/v1/drafts/{draft['id']}", headers={"If-Match": str(released["version"])},
               json={"caveats": "Updated caveat."}).json()
    assert body["state"] == "draft"
    api("lib", "POST", f"/v1/drafts/{draft['id']}/submit")
    api("rev2", "POST", f"/v1/drafts/{draft['id']}/approve")
    second = api("rev2", "POST", f"/v1/drafts/{draft['id']}/release").json()
    assert second["number"] == 2
    first_release = api("dr-c", "GET", f"/v1/releases/{first['release_id']}").json()
    assert first_release["caveats"] == "Guidance, not trial evidence."
    withdrawn = api("rev", "POST", f"/v1/releases/{first['release_id']}/withdraw", json={"reason": "superseded"})
    assert withdrawn.status_code == 200 and withdrawn.json()["withdrawal"]["reason"] == "superseded"
    problem(api("rev", "POST", f"/v1/releases/{first['release_id']}/withdraw", json={"reason": "again"}), 409)
    problem(api("rev", "POST", f"/v1/releases/{first['release_id']}/withdraw", json={"reason": ""}), 422)


def test_return_with_comment_then_resubmit(api: Api) -> None:
    draft = verify_all(api, new_draft(api))
    api("lib", "POST", f"/v1/drafts/{draft['id']}/submit")
    problem(api("rev", "POST", f"/v1/drafts/{draft['id']}/return", json={}), 422)
    returned = api("rev", "POST", f"/v1/drafts/{draft['id']}/return", json={"comment": "Add the WHO source."}).json()
    assert returned["state"] == "returned" and returned["comments"][-1]["body"] == "Add the WHO source."
    assert api("lib", "POST", f"/v1/drafts/{draft['id']}/submit").json()["state"] == "in_review"


def test_illegal_transitions_are_409_and_wrong_people_403(api: Api) -> None:
    draft = new_draft(api)
    body = problem(api("lib", "POST", f"/v1/drafts/{draft['id']}/submit"), 409)  # nothing verified yet
    assert "not verified" in body["detail"] and "bottom line" in body["detail"]
    draft = verify_all(api, draft)
    problem(api("rev", "POST", f"/v1/drafts/{draft['id']}/approve"), 409)  # not submitted
    problem(api("rev", "POST", f"/v1/drafts/{draft['id']}/release"), 409)  # not approved
    problem(api("lib2", "POST", f"/v1/drafts/{draft['id']}/submit"), 403)  # not the author
    api("lib", "POST", f"/v1/drafts/{draft['id']}/submit")
    problem(api("lib", "POST", f"/v1/drafts/{draft['id']}/submit"), 409)  # already in review
    problem(api("lib", "PATCH", f"/v1/drafts/{draft['id']}", headers={"If-Match": "3"},
                json={"caveats": "frozen"}), 409)  # in review: frozen
    problem(api("rev", "POST", f"/v1/drafts/{draft['id']}/release"), 409)  # in review, not approved
    problem(api("lib", "POST", f"/v1/drafts/{draft['id']}/approve"), 403)  # a librarian cannot approve

    own = verify_all(api, new_draft(api, "boss"), "boss")
    api("boss", "POST", f"/v1/drafts/{own['id']}/submit")
    body = problem(api("boss", "POST", f"/v1/drafts/{own['id']}/approve"), 403)  # approving one's own draft
    assert "may not approve" in body["detail"]
    problem(api("lib", "GET", "/v1/drafts/999999"), 404)
    problem(api("lib", "GET", "/v1/drafts", params={"state": "bogus"}), 400)


def test_audit_by_draft_and_user_and_csv(api: Api) -> None:
    draft = approved(api, "lib2")
    api("rev2", "POST", f"/v1/drafts/{draft['id']}/release")
    events = api("rev", "GET", "/v1/audit", params={"draft_id": draft["id"]}).json()["events"]
    assert [e["action"] for e in events] == ["create", "edit", "submit", "approve", "release"]
    assert [e["actor"] for e in events] == ["lib2", "lib2", "lib2", "rev", "rev2"]
    assert all(e["at"] for e in events) and events[3]["before"] == {"state": "in_review"}
    by_user = api("lib", "GET", "/v1/audit", params={"actor": "rev2"}).json()["events"]
    assert by_user and {e["actor"] for e in by_user} == {"rev2"}
    response = api("rev", "GET", "/v1/audit.csv", params={"draft_id": draft["id"]})
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["action"] for r in rows] == ["create", "edit", "submit", "approve", "release"]


def test_users_admin_endpoints(api: Api) -> None:
    created = api("boss", "POST", "/v1/users", json={"name": "newbie", "role": "clinician"})
    assert created.status_code == 201
    key = created.json()["api_key"]
    assert api.client.get("/v1/documents", headers=bearer(key)).status_code == 200
    assert api("boss", "POST", "/v1/users/newbie/revoke").json()["revoked"] == 1
    problem(api.client.get("/v1/documents", headers=bearer(key)), 401)
    problem(api("boss", "POST", "/v1/users", json={"name": "newbie", "role": "clinician"}), 409)
