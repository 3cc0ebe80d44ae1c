"""Re-checking released summaries and saved questions, end to end over the API, the start-up job and the CLI.

Timeline on a private copy of sample PDFs: a summary citing the CDC outpatient guide is released
and a question about free sugars is saved; then the index changes (the guide is re-indexed with
changed content, a newer version of it is added, the WHO diet guideline is added).  The next
service start flags the release (changed, superseded) and reports the WHO guideline as newly
cited by the saved question; a retraction list flags it again; every flag is in the audit log.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from contextlib import redirect_stdout
from dataclasses import replace
from io import StringIO
from pathlib import Path
from typing import Any

import httpx
import pymupdf
import pytest
from conftest import CDC_OUTPATIENT, DIABETES_PAPER, WHO_DIET, add_keys, bearer, make_settings
from fake_claim_scorer import PreferWord
from fastapi.testclient import TestClient

from evsum.records import DocType, Document, SourceInfo
from indexing.pipeline import run_index
from indexing.sidecar import read_sidecars
from models.encoders import HashEncoder
from service.app import create_app
from service.domain import FlagKind, Release, Retraction, Withdrawal, utcnow
from service.recheck import edition_key, find_flags

USERS = {"doc": "clinician", "lib": "librarian", "rev": "reviewer", "boss": "admin"}
CDC_TITLE = "Guide to Infection Prevention for Outpatient Settings (Version {v}, {when})"
ISSUER = "Centers for Disease Control and Prevention"
Api = Callable[..., httpx.Response]


def _sidecar(folder: Path, entries: list[dict[str, str]]) -> Path:
    path = folder / "sidecar.json"
    path.write_text(json.dumps(entries), encoding="utf-8")
    return path


def _client(client: TestClient, keys: dict[str, str]) -> Api:
    def call(user: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {**bearer(keys[user]), **kwargs.pop("headers", {})}
        return client.request(method, path, headers=headers, **kwargs)
    return call


def _release(api: Api, question: str, filters: dict[str, Any]) -> dict[str, Any]:
    draft = api("lib", "POST", "/v1/drafts", json={"question": question, "max_sentences": 2, "filters": filters})
    assert draft.status_code == 201, draft.text
    body = draft.json()
    api("lib", "PATCH", f"/v1/drafts/{body['id']}", headers={"If-Match": "1"}, json={
        "sentences": [{"id": s["id"], "status": "verified"} for s in body["sentences"]], "bottom_line": "Yes."})
    api("lib", "POST", f"/v1/drafts/{body['id']}/submit")
    api("rev", "POST", f"/v1/drafts/{body['id']}/approve")
    created = api("rev", "POST", f"/v1/drafts/{body['id']}/release")
    assert created.status_code == 201, created.text
    release: dict[str, Any] = api("doc", "GET", f"/v1/releases/{created.json()['release_id']}").json()
    return release


def test_index_changes_flag_releases_and_saved_questions_report_new_documents(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(CDC_OUTPATIENT, corpus / "cdc.pdf")
    shutil.copy(DIABETES_PAPER, corpus / "paper.pdf")
    guide = {"file": "cdc.pdf", "title": CDC_TITLE.format(v="2.3", when="September 2016"), "issuer": ISSUER,
             "doc_type": "guideline", "published": "2016-09", "version": "2.3"}
    settings = make_settings(tmp_path / "index")
    run_index([corpus], settings.index, HashEncoder(), progress=False, sidecar=read_sidecars([_sidecar(corpus,
                                                                                                        [guide])]))
    keys = add_keys(settings.database_url, USERS)

    with TestClient(create_app(settings, encoder=HashEncoder())) as client:
        api = _client(client, keys)
        release = _release(api, "hand hygiene before patient contact", {"doc_types": ["guideline"]})
        cited = {s["citation"]["document_id"] for s in release["sentences"]}
        assert len(cited) == 1 and not release["needs_review"] and release["review_flags"] == []
        frozen = release["documents"][next(iter(cited))]
        assert frozen["sha256"] and frozen["issuer"] == ISSUER and frozen["published"] == "2016-09"
        saved = api("lib", "POST", "/v1/saved-questions", json={
            "question": "How much free sugar should adults eat a day?", "filters": {"doc_types": ["guideline"]}})
        assert saved.status_code == 201, saved.text
        assert saved.json()["last_snapshot_id"] and saved.json()["filters"]["doc_types"] == ["guideline"]
        before = set(saved.json()["cited_document_ids"])
        nothing = api("lib", "POST", "/v1/recheck").json()
        assert nothing["new_flags"] == [] and nothing["saved_questions"][0]["new_document_ids"] == []

    # The index changes: the guide is re-indexed with other content, a newer version and the WHO guideline arrive.
    with pymupdf.open(corpus / "cdc.pdf") as pdf:
        pdf.delete_page(pdf.page_count - 1)
        pdf.save(tmp_path / "cdc-changed.pdf")
    shutil.move(tmp_path / "cdc-changed.pdf", corpus / "cdc.pdf")
    with pymupdf.open(CDC_OUTPATIENT) as pdf:
        pdf.delete_page(0)
        pdf.save(corpus / "cdc-v3.pdf")
    shutil.copy(WHO_DIET, corpus / "who.pdf")
    newer = {**guide, "file": "cdc-v3.pdf", "title": CDC_TITLE.format(v="3.0", when="January 2024"),
             "published": "2024-01", "version": "3.0"}
    who = {"file": "who.pdf", "issuer": "World Health Organization", "doc_type": "guideline", "year": "2019"}
    run_index([corpus], settings.index, HashEncoder(), progress=False,
              sidecar=read_sidecars([_sidecar(corpus, [guide, newer, who])]))

    with TestClient(create_app(settings, encoder=HashEncoder())) as client:  # the start-up job re-checks
        api = _client(client, keys)
        flags = api("rev", "GET", "/v1/review-flags", params={"open": True}).json()["flags"]
        assert {f["kind"] for f in flags} == {"changed", "superseded"}
        assert {f["release_id"] for f in flags} == {release["release_id"]} and {f["detected_by"] for f in flags} == {
            "system"}
        superseded = next(f for f in flags if f["kind"] == "superseded")
        assert "superseded by a newer version (2024-01" in superseded["reason"]
        shown = api("doc", "GET", f"/v1/releases/{release['release_id']}").json()
        assert shown["needs_review"] and len(shown["review_flags"]) == 2
        listed = api("doc", "GET", "/v1/releases", params={"needs_review": True}).json()["releases"]
        assert [r["release_id"] for r in listed] == [release["release_id"]] and listed[0]["needs_review"]

        runs = api("lib", "GET", "/v1/saved-questions").json()["saved_questions"]
        now_cited = set(runs[0]["cited_document_ids"])
        who_id = next(d["id"] for d in api("doc", "GET", "/v1/documents").json()["documents"]
                      if d["source_path"].endswith("who.pdf"))
        assert who_id in now_cited - before
        audit = api("rev", "GET", "/v1/audit").json()["events"]
        rerun = [e for e in audit if e["action"] == "recheck"][-1]
        assert who_id in rerun["after"]["new_document_ids"]
        assert sum(e["action"] == "needs_review" for e in audit) == 2

        again = api("lib", "POST", "/v1/recheck").json()  # idempotent: the same reasons are not flagged twice
        assert again["new_flags"] == [] and again["open_flags"] == 2

        resolved = api("rev", "POST", f"/v1/review-flags/{superseded['id']}/resolve",
                       json={"resolution": "checked against version 3.0: unchanged advice"})
        assert resolved.status_code == 200 and resolved.json()["resolved_by"] == "rev"
        assert api("rev", "POST", f"/v1/review-flags/{superseded['id']}/resolve",
                   json={"resolution": "again"}).status_code == 409
        assert api("lib", "POST", f"/v1/review-flags/{superseded['id']}/resolve",
                   json={"resolution": "x"}).status_code == 403
        assert any(e["action"] == "flag_resolved" for e in api("rev", "GET", "/v1/audit").json()["events"])

    # A retraction list, through the CLI: the release is flagged again, for the retraction.
    retractions = tmp_path / "retracted.csv"
    retractions.write_text(f"document_id,reason\n{next(iter(cited))},fabricated data\n", encoding="utf-8")
    from evsum.cli import main

    env = {"EVSUM_DATABASE_URL": settings.database_url, "EVSUM_INDEX__INDEX_DIR": str(settings.index.index_dir)}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        out = StringIO()
        with redirect_stdout(out):
            assert main(["recheck", "--encoder", "hash", "--retractions", str(retractions)]) == 0
    printed = out.getvalue()
    assert "1 new retractions" in printed and "is retracted (document" in printed and "fabricated data" in printed


def test_admin_retraction_flags_every_release_citing_it(sample_index: Path) -> None:
    settings = make_settings(sample_index)
    keys = add_keys(settings.database_url, USERS)
    with TestClient(create_app(settings, encoder=HashEncoder())) as client:
        api = _client(client, keys)
        release = _release(api, "hand hygiene before patient contact", {"doc_types": ["guideline"]})
        document_id = release["sentences"][0]["citation"]["document_id"]
        assert api("lib", "POST", "/v1/retractions", json={"document_id": document_id}).status_code == 403
        bad = api("boss", "POST", "/v1/retractions", json={"reason": "no identifier"})
        assert bad.status_code == 422
        created = api("boss", "POST", "/v1/retractions", json={"document_id": document_id,
                                                                "reason": "publisher notice"})
        assert created.status_code == 201, created.text
        body = created.json()
        assert body["retractions"][0]["identifier"] == document_id
        assert [f["kind"] for f in body["new_flags"]] == ["retracted"]
        assert "publisher notice" in body["new_flags"][0]["reason"]
        listed = api("boss", "POST", "/v1/retractions/import", content="doi,reason\n10.1000/none,x\n",
                     headers={"Content-Type": "text/csv"})
        assert listed.status_code == 201 and listed.json()["new_flags"] == []
        huge_id = 2**70  # beyond SQLite's 64-bit integers: a 422, never a driver overflow (500)
        assert api("rev", "GET", f"/v1/review-flags?release_id={huge_id}").status_code == 422
        assert api("rev", "POST", f"/v1/review-flags/{huge_id}/resolve",
                   json={"resolution": "x"}).status_code == 422
        bare_cr = api("boss", "POST", "/v1/retractions/import", content="doi\r\n10.1000/a\r10.1000/b\n",
                      headers={"Content-Type": "text/csv"})  # old Mac line ends: found by schemathesis
        assert bare_cr.status_code == 201, bare_cr.text
        huge = api("boss", "POST", "/v1/retractions/import", content="doi\n" + "1" * 200_000 + "\n",
                   headers={"Content-Type": "text/csv"})  # beyond the csv module's field limit
        assert huge.status_code == 400 and huge.headers["content-type"].startswith("application/problem+json")
        assert api("doc", "GET", f"/v1/releases/{release['release_id']}").json()["needs_review"]
        events = api("rev", "GET", "/v1/audit").json()["events"]
        assert [e["after"]["kind"] for e in events if e["action"] == "needs_review"] == ["retracted"]
        assert sum(e["action"] == "retract" for e in events) == 4  # one admin, one + two imported


def _document(doc_id: str, title: str, published: str, sha: str, path: str, issuer: str = ISSUER) -> Document:
    return Document(id=doc_id, sha256=sha, title=title, source_path=path, source_kind="pdf", pages=1,
                    indexed_at="2026-01-01", source=SourceInfo(issuer=issuer, doc_type=DocType.GUIDELINE,
                                                               published=published))


def _released(document: Document, **frozen: str) -> Release:
    citation = {"document_id": document.id, "title": document.title, "page": 1, "char_start": 0, "char_end": 4,
                "source_path": document.source_path}
    return Release(id=7, draft_id=3, number=1, draft_version=4, released_at=utcnow(), released_by="rev",
                   content={"sentences": [{"citation": citation}],
                            "documents": {document.id: {"sha256": document.sha256, "issuer": document.source.issuer,
                                                        "published": document.source.published,
                                                        "doc_type": "guideline", **frozen}}})


def test_find_flags_rules() -> None:
    old = _document("a", "Sepsis: recognition (2016)", "2016-07", "s1", "sepsis.pdf")
    release = _released(old, doi="10.1/X")
    assert find_flags([release], {"a": old}, []) == []
    other_issuer = _document("b", "Sepsis: recognition (2024 update)", "2024-01", "s2", "b.pdf", "Someone else")
    newer = _document("c", "Sepsis: recognition (2024 update)", "2024-01", "s3", "c.pdf")
    older = _document("d", "Sepsis: recognition", "2012", "s4", "d.pdf")
    flags = find_flags([release], {"a": old, "b": other_issuer, "c": newer, "d": older}, [])
    assert [(f.kind, f.details["new_document_id"]) for f in flags] == [(FlagKind.SUPERSEDED, "c")]
    assert edition_key(old.title) == edition_key(newer.title)
    assert [f.kind for f in find_flags([release], {}, [])] == [FlagKind.REMOVED]
    retraction = Retraction(1, "doi", "10.1/x", "", "list.csv", utcnow(), "boss")
    assert [f.kind for f in find_flags([release], None, [retraction])] == [FlagKind.RETRACTED]
    assert find_flags([release], None, [retraction])[0].release_id == 7
    withdrawn = replace(release, withdrawal=Withdrawal(at=utcnow(), actor="rev", reason="old"))
    assert find_flags([withdrawn], {}, [retraction]) == []


def test_a_saved_claim_check_reruns_as_a_claim_and_waits_for_a_claim_scorer(sample_index: Path,
                                                                           tmp_path: Path) -> None:
    settings = make_settings(sample_index, database_url=f"sqlite:///{tmp_path / 'evsum.sqlite'}")
    keys = add_keys(settings.database_url, USERS)
    claim = "Alcohol-based hand rub is preferred for hand hygiene."
    with TestClient(create_app(settings, encoder=HashEncoder())) as client:
        api = _client(client, keys)
        summariser = client.app.state.engine.summariser  # type: ignore[attr-defined]
        fake = PreferWord("alcohol")
        summariser.claim_scorer = fake
        saved = api("lib", "POST", "/v1/saved-questions", json={"question": claim, "claim": True})
        assert saved.status_code == 201, saved.text
        assert saved.json()["claim"] is True and saved.json()["cited_document_ids"]
        assert saved.json()["last_claim_scorer"] == {"name": "prefer-word", "graph_sha256": ""}
        assert [c[0] for c in fake.calls] == [claim]
        report = api("lib", "POST", "/v1/recheck").json()
        assert [c[0] for c in fake.calls] == [claim, claim]  # the rerun went through the claim scorer again
        assert report["saved_questions"][0]["status"] == "answered"
        first = {"name": "prefer-word", "graph_sha256": ""}
        assert report["saved_questions"][0]["saved_question"]["last_claim_scorer"] == first
        assert report["saved_questions"][0]["claim_scorer_changed_from"] is None
        retrained = PreferWord("hand")  # a retrained claim scorer, as its description tells
        retrained.describe = lambda: {"name": "prefer-word", "graph_sha256": "9" * 64}  # type: ignore[method-assign]
        summariser.claim_scorer = retrained
        (run,) = api("lib", "POST", "/v1/recheck").json()["saved_questions"]
        assert run["claim_scorer_changed_from"] == first
        assert run["saved_question"]["last_claim_scorer"] == {"name": "prefer-word", "graph_sha256": "9" * 64}
        summariser.claim_scorer = None
        report = api("lib", "POST", "/v1/recheck").json()
        assert report["saved_questions"][0]["status"] == "claim_scorer_unavailable"
        assert report["saved_questions"][0]["saved_question"]["last_claim_scorer"]["graph_sha256"] == "9" * 64
        assert api("lib", "GET", "/v1/saved-questions").json()["saved_questions"][0]["claim"] is True
        refused = api("lib", "POST", "/v1/saved-questions", json={"question": claim, "claim": True})
        assert refused.status_code == 400 and "claim scorer" in refused.json()["detail"]


def test_new_scorer_weights_rerun_a_saved_question_and_say_so(sample_index: Path, tmp_path: Path) -> None:
    from models.scorer import PRIOR_WEIGHTS, LinearScorer, prior_name

    settings = make_settings(sample_index, database_url=f"sqlite:///{tmp_path / 'evsum.sqlite'}")
    keys = add_keys(settings.database_url, USERS)
    with TestClient(create_app(settings, encoder=HashEncoder())) as client:
        api = _client(client, keys)
        summariser = client.app.state.engine.summariser  # type: ignore[attr-defined]
        saved = api("lib", "POST", "/v1/saved-questions", json={"question": "When should hands be cleaned?"})
        assert saved.status_code == 201, saved.text
        first = saved.json()["last_sentence_scorer"]
        # What ranks questions: the prior with the shipped cross-encoder, which was trained on questions too.
        assert summariser.reranks_questions and first == summariser.describe_ranking()
        assert first["name"] == f"{prior_name()} + cross-encoder" and len(first["weights_sha256"]) == 64
        (run,) = api("lib", "POST", "/v1/recheck").json()["saved_questions"]
        assert run["sentence_scorer_changed_from"] is None
        summariser.scorer = LinearScorer({**PRIOR_WEIGHTS, "sentence_bm25": 0.4}, name="reweighted")
        (run,) = api("lib", "POST", "/v1/recheck").json()["saved_questions"]
        assert run["sentence_scorer_changed_from"] == first
        assert run["saved_question"]["last_sentence_scorer"] == summariser.describe_ranking()
        assert run["saved_question"]["last_sentence_scorer"]["weights_sha256"] != first["weights_sha256"]
        listed = api("lib", "GET", "/v1/saved-questions").json()["saved_questions"][0]
        assert listed["last_sentence_scorer"]["name"].startswith("reweighted")
        # A retrained cross-encoder for questions changes the ranking too, and the saved question is rerun.
        before = listed["last_sentence_scorer"]
        summariser.claim_scorer = PreferWord("hand", questions=True)
        (run,) = api("lib", "POST", "/v1/recheck").json()["saved_questions"]
        assert run["sentence_scorer_changed_from"] == before
        assert run["saved_question"]["last_sentence_scorer"] == {
            "name": "reweighted + cross-encoder", "weights_sha256": summariser.describe_ranking()["weights_sha256"]}
