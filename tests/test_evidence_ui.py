"""The evidence features in the Streamlit UI against the real API (uvicorn): PICO and filters on the Ask page,
each quote's source type, saving a question, the Saved questions re-check, and a release flagged "needs review"."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from conftest import add_keys, bearer
from servers import LiveServer
from streamlit.testing.v1 import AppTest

from ui.client import EvsumClient
from ui.recheck_client import AskOptions
from ui.state import CLIENT_KEY

APP = Path(__file__).resolve().parent.parent / "ui" / "app.py"
USERS = {"lib": "librarian", "rev": "reviewer", "rev2": "reviewer", "boss": "admin"}
QUESTION = "What is recommended for adults?"


def _texts(at: AppTest) -> str:
    return "\n".join(str(e.value) for e in (*at.markdown, *at.caption, *at.success, *at.warning, *at.info,
                                           *at.error))


def _released_and_retracted(url: str, keys: dict[str, str]) -> int:
    def call(user: str, method: str, path: str, **kwargs: Any) -> Any:
        headers = {**bearer(keys[user]), **kwargs.pop("headers", {})}
        response = httpx.request(method, url + path, headers=headers, timeout=60, **kwargs)
        assert response.is_success, response.text
        return response.json()

    draft = call("lib", "POST", "/v1/drafts", json={"question": "hand hygiene before patient contact",
                                                     "max_sentences": 1, "filters": {"doc_types": ["guideline"]}})
    call("lib", "PATCH", f"/v1/drafts/{draft['id']}", headers={"If-Match": "1"},
         json={"sentences": [{"id": s["id"], "status": "verified"} for s in draft["sentences"]], "bottom_line": "Yes."})
    call("lib", "POST", f"/v1/drafts/{draft['id']}/submit")
    call("rev", "POST", f"/v1/drafts/{draft['id']}/approve")
    release = call("rev2", "POST", f"/v1/drafts/{draft['id']}/release")
    call("boss", "POST", "/v1/retractions", json={"document_id": draft["sentences"][0]["citation"]["document_id"],
                                                  "reason": "test notice"})
    return int(release["release_id"])


def test_ask_with_pico_and_filters_save_recheck_and_flagged_release(sample_index: Path, tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'evsum.sqlite'}"
    keys = add_keys(database_url, USERS)
    with LiveServer(sample_index, database_url, tmp_path / "server.log") as server:
        client = EvsumClient(server.url, api_key=keys["lib"])
        at = AppTest.from_file(str(APP), default_timeout=30)
        at.session_state[CLIENT_KEY] = client
        at.run()
        at.text_area(key="ask_question").input(QUESTION)
        at.toggle(key="ask_refine").set_value(True).run()
        at.text_input(key="ask_pico_intervention").input("sulfonylurea")
        at.text_input(key="ask_pico_outcome").input("insulin secretion")
        at.multiselect(key="ask_doc_types").set_value(["case_report", "guideline"])
        at.button(key="ask_button").click().run()
        assert not at.exception, at.exception
        shown = _texts(at)
        assert "Source type: Case report · Diabetologia · 2024" in shown
        assert f"searched for: {QUESTION} sulfonylurea insulin secretion" in shown
        assert "filters: document types Case report, Guideline" in shown

        at.button(key="save_question_button").click().run()
        assert not at.exception, at.exception
        assert any("Saved as question 1" in str(s.value) for s in at.success)
        saved = client.saved_questions()
        assert saved[0].pico == {"intervention": "sulfonylurea", "outcome": "insulin secretion"}
        assert saved[0].filters["doc_types"] == ["case_report", "guideline"]

        at.switch_page("views/saved.py").run()
        assert QUESTION in _texts(at)
        at.button(key="recheck_button").click().run()
        assert not at.exception, at.exception
        assert any("Re-checked against index snapshot" in str(i.value) for i in at.info)

        release_id = _released_and_retracted(server.url, keys)
        review = AppTest.from_file(str(APP), default_timeout=30)
        review.session_state[CLIENT_KEY] = EvsumClient(server.url, api_key=keys["rev"])
        review.run()
        review.switch_page("views/releases.py").run()
        assert not review.exception, review.exception
        errors = " ".join(str(e.value) for e in review.error)
        assert "Needs review" in errors and "is retracted" in errors and "test notice" in errors
        review.text_input(key="resolution_1").input("withdrawn, new summary drafted")
        submit = next(b for b in review.button if b.label == "Mark resolved")
        submit.click().run()
        assert not review.exception, review.exception
        flags = httpx.get(f"{server.url}/v1/review-flags", params={"release_id": release_id},
                          headers=bearer(keys["rev"]), timeout=30).json()["flags"]
        assert flags[0]["resolution"] == "withdrawn, new summary drafted" and flags[0]["resolved_by"] == "rev"


def test_ask_options_become_request_fields() -> None:
    options = AskOptions(population=" adults ", year_from=2015, doc_types=("rct",), issuers=("NICE", " "),
                         source_priority=True)
    assert options.body() == {"pico": {"population": "adults"},
                              "filters": {"year_from": 2015, "doc_types": ["rct"], "issuers": ["NICE"]},
                              "source_priority": True}
    assert AskOptions().body() == {}


def test_drafts_page_sends_pico_and_filters_with_a_new_draft() -> None:
    from ui.fakes import SAMPLE_QUESTION, FakeApiClient

    fake = FakeApiClient.sample()
    at = AppTest.from_file(str(APP), default_timeout=20)
    at.session_state[CLIENT_KEY] = fake
    at.run()
    at.switch_page("views/drafts.py").run()
    at.toggle(key="new_draft_refine").set_value(True).run()
    at.text_input(key="new_draft_pico_population").input("adults in outpatient care")
    at.multiselect(key="new_draft_doc_types").set_value(["guideline"])
    at.text_area(key="new_draft_question").input(SAMPLE_QUESTION)
    next(b for b in at.button if b.label == "Create draft").click().run()
    assert not at.exception, at.exception
    options = next(args[2] for name, args in fake.calls if name == "summarise" and len(args) == 3)
    assert isinstance(options, AskOptions)
    assert options.body() == {"pico": {"population": "adults in outpatient care"},
                              "filters": {"doc_types": ["guideline"]}}
