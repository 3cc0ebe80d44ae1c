"""The workbench pages (Drafts, Draft editor, Review, Releases) and the Ask page's released answer, via AppTest."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from ui.fakes import SAMPLE_QUESTION, FakeApiClient
from ui.state import API_KEY_KEY, CLIENT_KEY, DRAFT_KEY

APP = Path(__file__).resolve().parent.parent / "ui" / "app.py"


def start(fake: FakeApiClient, page: str | None = None, draft_id: int | None = None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=20)
    at.session_state[CLIENT_KEY] = fake
    if draft_id is not None:
        at.session_state[DRAFT_KEY] = draft_id
    at.run()
    if page:
        at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def click(at: AppTest, key: str) -> AppTest:
    at.button(key=key).click().run()
    assert not at.exception, at.exception
    return at


def texts(at: AppTest) -> str:
    return "\n".join(str(e.value) for e in (*at.markdown, *at.caption, *at.success, *at.warning, *at.info,
                                           *at.error))


@pytest.fixture
def fake() -> FakeApiClient:
    return FakeApiClient.sample()


def ready_for_review(fake: FakeApiClient) -> int:
    draft = fake.create_draft(SAMPLE_QUESTION, 2)
    draft = fake.update_draft(draft.id, 1, {"sentences": [{"id": s.id, "status": "verified"} for s in draft.sentences],
                                            "bottom_line": "Clean hands."})
    fake.transition(draft.id, "submit", draft.version)
    return draft.id


def test_drafts_page_creates_a_draft_and_opens_the_editor(fake: FakeApiClient) -> None:
    at = start(fake, "views/drafts.py")
    assert at.title[0].value == "Drafts" and "No drafts" in texts(at)
    at.text_area(key="new_draft_question").input(SAMPLE_QUESTION)
    at.slider(key="new_draft_max").set_value(3)
    at.button[0].click().run()  # the form's submit button
    assert not at.exception, at.exception
    assert list(fake.drafts_by_id) == [1] and len(fake.drafts_by_id[1].sentences) == 3
    assert at.title[0].value == "Draft editor" and "Draft #1 created" in texts(at)


def test_drafts_page_drafts_a_claim_check_and_the_editor_says_so(fake: FakeApiClient) -> None:
    at = start(fake, "views/drafts.py")
    at.text_area(key="new_draft_question").input("Alcohol-based hand rub prevents infections.")
    at.checkbox(key="new_draft_claim").check()
    at.button[0].click().run()
    assert not at.exception, at.exception
    assert ("create_draft", ("Alcohol-based hand rub prevents infections.", 4, "claim")) in fake.calls
    assert fake.drafts_by_id[1].claim is True
    assert at.title[0].value == "Draft editor" and "**Claim checked:**" in texts(at)


def test_drafts_page_filters_by_state(fake: FakeApiClient) -> None:
    fake.create_draft(SAMPLE_QUESTION, 2)
    ready_for_review(fake)
    at = start(fake, "views/drafts.py")
    assert [b.key for b in at.button if b.key and b.key.startswith("open_")] == ["open_2", "open_1"]
    at.selectbox(key="drafts_state").set_value("in_review").run()
    assert [b.key for b in at.button if b.key and b.key.startswith("open_")] == ["open_2"]


def test_editor_verifies_edits_reorders_and_submits(fake: FakeApiClient) -> None:
    draft = fake.create_draft(SAMPLE_QUESTION, 3)
    at = start(fake, "views/editor.py", draft.id)
    assert "⬜" in texts(at) and at.button(key="submit_draft").disabled
    for sentence in draft.sentences:
        click(at, f"verified_{sentence.id}")
    assert all(s.status == "verified" for s in fake.drafts_by_id[draft.id].sentences)
    click(at, "down_1")
    assert [s.id for s in fake.drafts_by_id[draft.id].sentences] == [2, 1, 3]
    version = fake.drafts_by_id[draft.id].version
    at.text_area(key=f"text_2_{version}").input("Clean hands before every patient.")
    click(at, "save_text_2")
    edited = fake.drafts_by_id[draft.id].sentences[0]
    assert edited.edited and edited.status == "unverified" and "edited — not verbatim" in texts(at)
    click(at, "remove_3")
    click(at, "verified_2")
    version = fake.drafts_by_id[draft.id].version
    at.text_area(key=f"bottom_{draft.id}_{version}").input("Clean hands.")
    click(at, "save_summary")
    assert fake.drafts_by_id[draft.id].bottom_line == "Clean hands."
    click(at, "submit_draft")
    assert fake.drafts_by_id[draft.id].state == "in_review" and "Submitted for review." in texts(at)


def test_editor_shows_the_cited_page_and_adds_from_search(fake: FakeApiClient) -> None:
    draft = fake.create_draft(SAMPLE_QUESTION, 1)
    at = start(fake, "views/editor.py", draft.id)
    at.session_state["src_1"] = True
    at.run()
    assert len(at.image) == 1 and ("page_image" in [c[0] for c in fake.calls])
    at.text_input(key="editor_query").input("hand rub infections")
    click(at, "editor_search")
    add = next(b.key for b in at.button if b.key and b.key.startswith("add_"))
    click(at, add)
    added = fake.drafts_by_id[draft.id].sentences[-1]
    assert added.origin == "added" and added.source_text == added.text


def test_editor_stale_version_shows_a_warning_not_a_lost_update(fake: FakeApiClient) -> None:
    draft = fake.create_draft(SAMPLE_QUESTION, 2)
    at = start(fake, "views/editor.py", draft.id)
    fake.drafts_by_id[draft.id] = replace(fake.drafts_by_id[draft.id], version=5, bottom_line="someone else")
    click(at, "verified_1")
    assert "Not saved" in texts(at)
    assert fake.drafts_by_id[draft.id].bottom_line == "someone else"


def test_review_page_approves_and_releases_but_not_ones_own(fake: FakeApiClient) -> None:
    draft_id = ready_for_review(fake)
    at = start(fake, "views/review.py", draft_id)
    click(at, "approve")  # the fake is signed in as the author
    assert fake.drafts_by_id[draft_id].state == "in_review" and "may not approve" in texts(at)
    fake.user = "reviewer"
    click(at, "return")
    assert "Say what the author should change" in texts(at)
    click(at, "approve")
    assert fake.drafts_by_id[draft_id].state == "approved"
    click(at, "release")
    assert fake.drafts_by_id[draft_id].state == "released" and "Released as version 1." in texts(at)


def test_releases_page_downloads_diffs_and_withdraws(fake: FakeApiClient) -> None:
    draft_id = ready_for_review(fake)
    fake.user = "reviewer"
    fake.transition(draft_id, "approve", fake.drafts_by_id[draft_id].version)
    fake.release_draft(draft_id, fake.drafts_by_id[draft_id].version)
    fake.user = "librarian"
    draft = fake.update_draft(draft_id, fake.drafts_by_id[draft_id].version, {"caveats": "Small trials."})
    fake.transition(draft_id, "submit", draft.version)
    fake.user = "reviewer"
    fake.transition(draft_id, "approve", fake.drafts_by_id[draft_id].version)
    fake.release_draft(draft_id, fake.drafts_by_id[draft_id].version)
    at = start(fake, "views/releases.py")
    assert at.title[0].value == "Releases" and "Version 2 of draft" in texts(at)
    assert [d.key for d in at.get("download_button")] == ["download_docx", "download_md", "download_ris"]
    diff = at.code[0].value
    assert "+Caveats: Small trials." in diff and "-Caveats: " in diff
    at.text_input(key="withdraw_reason_2").input("superseded")
    click(at, "withdraw")
    assert fake.releases_by_id[2].withdrawn and "Withdrawn" in texts(at)


def test_ask_shows_a_matching_release_first(fake: FakeApiClient) -> None:
    draft_id = ready_for_review(fake)
    fake.user = "reviewer"
    fake.transition(draft_id, "approve", fake.drafts_by_id[draft_id].version)
    fake.release_draft(draft_id, fake.drafts_by_id[draft_id].version)
    at = start(fake)
    at.text_area(key="ask_question").input(SAMPLE_QUESTION.upper())
    click(at, "ask_button")
    assert "Reviewed evidence summary" in at.success[0].value
    assert "Clean hands" in texts(at) and not at.warning
    assert not [c for c in fake.calls if c[0] == "summarise" and c[1][0] == SAMPLE_QUESTION.upper()]


def test_a_released_claim_check_answers_the_claim_but_not_a_question(fake: FakeApiClient) -> None:
    claim = "Alcohol-based hand rub prevents infections."
    draft = fake.create_draft(claim, 2, claim=True)
    draft = fake.update_draft(draft.id, 1, {"sentences": [{"id": s.id, "status": "verified"} for s in draft.sentences],
                                            "bottom_line": "Supported."})
    fake.transition(draft.id, "submit", draft.version)
    fake.user = "reviewer"
    fake.transition(draft.id, "approve", fake.drafts_by_id[draft.id].version)
    fake.release_draft(draft.id, fake.drafts_by_id[draft.id].version)
    assert fake.releases_by_id[1].claim and fake.releases()[0].claim
    at = start(fake)
    at.text_area(key="ask_question").input(claim)
    click(at, "ask_button")  # asked as a question: the machine summary, not the released claim check
    assert not [s for s in at.success if "Reviewed evidence summary" in str(s.value)]
    at.checkbox(key="ask_claim").check()
    click(at, "ask_button")
    assert "Reviewed evidence summary" in at.success[0].value
    assert "**Claim checked:** Alcohol\\-based hand rub prevents infections" in texts(at)  # markdown-escaped


def test_sidebar_api_key_is_prefilled_from_the_environment(fake: FakeApiClient,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVSUM_UI__API_KEY", "evsum_demo-key")
    at = start(fake)
    assert at.sidebar.text_input(key=API_KEY_KEY).value == "evsum_demo-key"
