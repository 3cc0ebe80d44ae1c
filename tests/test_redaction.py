"""Privacy: NHS numbers (modulus 11), dates of birth, UK postcodes, phone numbers and emails are removed from
questions before they are used, stored, logged or audited, and the user is told (API field and UI notice)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from conftest import add_keys, bearer, make_settings
from fastapi.testclient import TestClient
from servers import LiveServer
from streamlit.testing.v1 import AppTest

from models.encoders import HashEncoder
from service.app import create_app
from service.redaction import RedactingFilter, describe, nhs_number_is_valid, redact, redact_secrets
from ui.client import EvsumClient
from ui.state import CLIENT_KEY

APP = Path(__file__).resolve().parent.parent / "ui" / "app.py"

POSITIVE = [
    ("NHS number 943 476 5919 please", "NHS number [NHS NUMBER] please", ("nhs_number",)),
    ("nhs no. 943-476-5919", "nhs no. [NHS NUMBER]", ("nhs_number",)),
    ("id 9434765919.", "id [NHS NUMBER].", ("nhs_number",)),
    ("born 14/03/1962", "born [DATE]", ("date",)),
    ("DOB 1.2.1999 and 01/02/62", "DOB [DATE] and [DATE]", ("date",)),
    ("dob 1962-03-14", "dob [DATE]", ("date",)),
    ("born 14 March 1962, or 3rd of May '62, or March 14th, 1962", "born [DATE], or [DATE], or [DATE]", ("date",)),
    ("lives at SW1A 1AA", "lives at [POSTCODE]", ("postcode",)),
    ("postcode m1 1ae and EC1A1BB", "postcode [POSTCODE] and [POSTCODE]", ("postcode",)),
    ("call 07700 900123", "call [PHONE]", ("phone",)),
    ("ring +44 20 7946 0958 or (0161) 496 0000", "ring [PHONE] or [PHONE]", ("phone",)),
    ("email jo.bloggs@example.nhs.uk", "email [EMAIL]", ("email",)),
]
NEGATIVE = [
    "Above what daily dose (90 MME/day) should clinicians reassess opioid benefits and risks?",
    "Is metformin 500 mg twice daily safe in CKD stage 3b (eGFR 30-44) over 12 weeks?",
    "HbA1c 48 mmol/mol, 5-10-20 mg, in 2019, 3 may 12 patients, 2019-2023, grades 1/2/3",
    "Vitamin B12 deficiency, CD4 count 200, type 2 diabetes, 1,000,000 people, 0.5 mg/kg, 100 000 patients",
    "the invalid NHS-like number 943 476 5918 stays",  # fails the modulus-11 check
]


@pytest.mark.parametrize(("text", "expected", "kinds"), POSITIVE, ids=[p[0] for p in POSITIVE])
def test_patient_details_are_redacted(text: str, expected: str, kinds: tuple[str, ...]) -> None:
    result = redact(text)
    assert result.text == expected and result.kinds == kinds and result.changed


@pytest.mark.parametrize("text", NEGATIVE)
def test_clinical_numbers_are_left_alone(text: str) -> None:
    assert redact(text).text == text and not redact(text).changed


def test_nhs_number_modulus_11() -> None:
    assert nhs_number_is_valid("9434765919") and nhs_number_is_valid("4010232137")
    assert not nhs_number_is_valid("9434765918") and not nhs_number_is_valid("943476591")
    assert not nhs_number_is_valid("1234567890")  # check digit would be 10: never issued
    assert redact(redact("NHS 943 476 5919").text).text == "NHS [NHS NUMBER]"  # idempotent


def test_secrets_and_log_records_are_cleaned() -> None:
    key = "evsum_" + "A1b2C3d4" * 5
    assert key not in redact_secrets(f"Authorization: Bearer {key}") and "[REDACTED KEY]" in redact_secrets(key)
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:1", "GET", "/v1/releases?question=NHS+943+476+5919&k=" + key, "1.1", 200),
                               None)
    RedactingFilter().filter(record)
    message = record.getMessage()
    assert "943 476 5919" not in message and "943+476+5919" not in message and key not in message
    assert "[NHS NUMBER]" in message and "[REDACTED KEY]" in message
    assert describe(("nhs_number", "date")) == ("Patient details were removed from your question before it was used "
                                                "or stored: an NHS number and a date.")


QUESTION = "Patient 943 476 5919 born 14/03/1962 (SW1A 1AA): alcohol-based hand rub before patient contact?"
RAW = ("943 476 5919", "14/03/1962", "SW1A 1AA")


def test_questions_are_redacted_before_use_storage_and_audit(sample_index: Path) -> None:
    settings = make_settings(sample_index)
    keys = add_keys(settings.database_url)
    with TestClient(create_app(settings, encoder=HashEncoder())) as client:
        answer = client.post("/v1/summaries", json={"question": QUESTION}, headers=bearer(keys["clinician"])).json()
        assert answer["redactions"] == ["nhs_number", "date", "postcode"]
        assert "NHS number" in answer["redaction_notice"]
        assert answer["question"].startswith("Patient [NHS NUMBER] born [DATE] ([POSTCODE])")
        search = client.post("/v1/search", json={"query": QUESTION}, headers=bearer(keys["clinician"])).json()
        assert all(raw not in search["query"] for raw in RAW)
        created = client.post("/v1/drafts", json={"question": QUESTION, "pico": {"population": "born 1.2.1950"}},
                              headers=bearer(keys["librarian"]))
        assert created.status_code == 201
        draft = created.json()
        assert draft["redactions"] == ["nhs_number", "date", "postcode"] and draft["redaction_notice"]
        assert draft["pico"]["population"] == "born [DATE]"
        saved = client.post("/v1/saved-questions", json={"question": QUESTION}, headers=bearer(keys["librarian"]))
        assert saved.status_code == 201 and "[NHS NUMBER]" in saved.json()["question"]
        found = client.get("/v1/releases", params={"question": QUESTION}, headers=bearer(keys["clinician"]))
        assert found.status_code == 200
        audit = client.get("/v1/audit", headers=bearer(keys["librarian"])).json()["events"]
        stored = client.get(f"/v1/drafts/{draft['id']}", headers=bearer(keys["librarian"])).json()
    assert stored["question"] == answer["question"]
    assert any(e["action"] == "create" and e["after"]["question"] == stored["question"] for e in audit)
    database = Path(settings.database_url.removeprefix("sqlite:///"))
    on_disk = b"".join(p.read_bytes() for p in database.parent.glob(database.name + "*"))
    for raw in (*RAW, "1.2.1950"):
        assert raw.encode() not in on_disk, raw


def test_the_ask_page_tells_the_user_what_was_redacted(sample_index: Path, tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'evsum.sqlite'}"
    keys = add_keys(database_url)
    with LiveServer(sample_index, database_url, tmp_path / "server.log") as server:
        at = AppTest.from_file(str(APP), default_timeout=30)
        at.session_state[CLIENT_KEY] = EvsumClient(server.url, api_key=keys["clinician"])
        at.run()
        at.text_area(key="ask_question").input(QUESTION)
        at.button(key="ask_button").click().run()
        assert not at.exception, at.exception
        notices = [element.value for element in at.info]
        assert any("Patient details were removed" in str(n) and "NHS number" in str(n) for n in notices), notices
        shown = " ".join(str(m.value) for m in at.markdown)
        assert "\\[NHS NUMBER\\]" in shown and "943 476 5919" not in shown  # markdown-escaped brackets
        librarian = EvsumClient(server.url, api_key=keys["librarian"])
        draft = librarian.create_draft(QUESTION, 3)  # what the Drafts page shows after "Create draft"
        assert draft.redaction_notice and "NHS number" in draft.redaction_notice
        assert "943 476 5919" not in draft.question
