"""The workflow store and rules on SQLite and on the real PostgreSQL server (fresh schema per run)."""

from __future__ import annotations

import inspect
import re
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from fake_evidence import PAGE, FakeEvidence
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from evsum.errors import ConflictError, PermissionDeniedError
from evsum.records import Summary
from service.domain import AuditAction, AuditEntry, Principal, Role, SentenceStatus, draft_snapshot
from service.editing import DraftChange, SentenceAddition, SentenceChange
from service.store.database import current_revision, migrate
from service.store.sql import SqlAuditLog, SqlStore, hash_key
from service.workflow import Workflow

REPO = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = "postgresql+psycopg://{user}@127.0.0.1:5432/test"
LIB, REV, REV2 = (Principal("lib", Role.LIBRARIAN), Principal("rev", Role.REVIEWER), Principal("rev2", Role.REVIEWER))


def _postgres_admin_url() -> str | None:
    for user in ("postgres", "root"):
        url = PG_ADMIN_URL.format(user=user)
        try:
            engine = create_engine(url, connect_args={"connect_timeout": 3})
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            engine.dispose()
            return url
        except DBAPIError:
            continue
    return None


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A fresh schema in database ``test`` on 127.0.0.1:5432, dropped afterwards."""
    admin_url = _postgres_admin_url()
    if admin_url is None:
        pytest.skip("PostgreSQL at 127.0.0.1:5432 (database 'test', user postgres or root) is unreachable")
    schema = f"evsum_test_{uuid.uuid4().hex[:12]}"
    engine = create_engine(admin_url)
    with engine.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield f"{admin_url}?options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    """An empty, migrated store on each backend (PostgreSQL: tables emptied between tests)."""
    if request.param == "sqlite":
        opened = SqlStore.open(f"sqlite:///{tmp_path / 'evsum.sqlite'}")
    else:
        opened = SqlStore.open(request.getfixturevalue("postgres_url"))
        with opened.engine.begin() as connection:
            connection.execute(text("TRUNCATE users, api_keys, questions, drafts, draft_sentences, draft_versions, "
                                    "comments, releases, release_withdrawals, audit_events, review_flags, retractions, "
                                    "saved_questions RESTART IDENTITY CASCADE"))
    yield opened
    opened.close()


@pytest.fixture
def workflow(store: SqlStore) -> Workflow:
    return Workflow(store, store.audit)


def _ready(workflow: Workflow, draft_id: int, version: int) -> int:
    draft = workflow.drafts.get_draft(draft_id)
    verdicts = tuple(SentenceChange(key=s.key, status=SentenceStatus.VERIFIED) for s in draft.sentences)
    return workflow.edit(LIB, draft_id, version, DraftChange(sentences=verdicts, bottom_line="Clean hands."),
                         None).version


def test_migrations_are_idempotent_and_match_the_models(store: SqlStore) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from service.store.models import Base

    migrate(store.engine)
    assert current_revision(store.engine) == "0006"
    with store.engine.connect() as connection:
        diffs = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert [d for d in diffs if d[0] != "remove_table"] == []


def test_upgrading_to_0003_keeps_saved_questions_as_questions(store: SqlStore) -> None:
    from alembic import command

    from service.store.database import alembic_config

    config = alembic_config()
    with store.engine.begin() as connection:  # back to the schema of the last release, with a saved question
        config.attributes["connection"] = connection
        command.downgrade(config, "0002")
        connection.execute(text(
            "INSERT INTO saved_questions (question, filters, owner, created_at, cited_document_ids) "
            "VALUES ('hand rub or soap?', '{}', 'lib', '2026-11-25 10:00:00', '{\"ids\": []}')"))
    assert current_revision(store.engine) == "0002"
    migrate(store.engine)
    assert current_revision(store.engine) == "0006"
    (saved,) = store.recheck.saved_questions()
    assert saved.question == "hand rub or soap?" and saved.claim is False and saved.last_claim_scorer is None


def test_upgrading_to_0004_keeps_saved_claim_checks_without_a_recorded_scorer(store: SqlStore) -> None:
    from alembic import command

    from service.store.database import alembic_config

    config = alembic_config()
    with store.engine.begin() as connection:  # a claim check saved under 0003, before scorers were recorded
        config.attributes["connection"] = connection
        command.downgrade(config, "0003")
        connection.execute(text(
            "INSERT INTO saved_questions (question, filters, owner, created_at, cited_document_ids, claim) "
            "VALUES ('Rub beats soap.', '{}', 'lib', '2026-11-26 10:00:00', '{\"ids\": [\"doc-1\"]}', true)"))
    migrate(store.engine)
    assert current_revision(store.engine) == "0006"
    (saved,) = store.recheck.saved_questions()
    assert saved.claim is True and saved.cited_document_ids == ("doc-1",) and saved.last_claim_scorer is None
    assert saved.last_sentence_scorer is None  # unknown: the first rerun records it and is not called a change
    stored = store.recheck.record_run(saved.id, "snap-2", ("doc-1",), [], "system",
                                      {"name": "claim-ce", "graph_sha256": "ab" * 32})
    assert stored.last_claim_scorer == {"name": "claim-ce", "graph_sha256": "ab" * 32}


class _PageBreakEvidence(FakeEvidence):
    """Its first quote is the first part of a sentence cut by a page break (the summariser's ``continues``)."""

    def summarise(self, *args: object, **kwargs: object) -> Summary:  # type: ignore[override]
        summary = super().summarise(*args, **kwargs)  # type: ignore[arg-type]
        first, *rest = summary.sentences
        return replace(summary, sentences=(replace(first, continues=True), *rest))


def test_a_sentence_cut_by_a_page_break_stays_tied_to_its_end_in_the_store(workflow: Workflow,
                                                                          store: SqlStore) -> None:
    draft = workflow.create_draft(LIB, "Does hand hygiene prevent infection?", 2, _PageBreakEvidence())
    assert [s.continues for s in draft.sentences] == [True, False]
    stored = store.get_draft(draft.id)
    assert [s.continues for s in stored.sentences] == [True, False]
    assert [s["continues"] for s in draft_snapshot(stored)["sentences"]] == [True, False]


def test_an_edit_that_separates_the_two_parts_of_a_cut_sentence_unties_them(workflow: Workflow) -> None:
    evidence = _PageBreakEvidence()
    draft = workflow.create_draft(LIB, "Does hand hygiene prevent infection?", 3, evidence)
    assert [s.continues for s in draft.sentences] == [True, False, False]
    edited = workflow.edit(LIB, draft.id, 1, DraftChange(sentences=(SentenceChange(key=1, text="Rub hands."),)),
                           evidence)
    assert [s.continues for s in edited.sentences] == [True, False, False], "a new wording keeps the parts tied"
    for change in (DraftChange(remove=(2,)), DraftChange(order=(2, 1, 3)), DraftChange(order=(1, 3, 2)),
                   DraftChange(add=(SentenceAddition(sentence_id=3, position=1),))):
        fresh = workflow.create_draft(LIB, "Does hand hygiene prevent infection?", 3, _PageBreakEvidence())
        changed = workflow.edit(LIB, fresh.id, 1, change, evidence)
        assert not any(s.continues for s in changed.sentences), change


def test_whole_sentence_groups_join_quotes_that_run_on() -> None:
    from evsum.records import whole_sentence_groups

    assert whole_sentence_groups([True, False, False, True]) == [[0, 1], [2], [3]]
    assert whole_sentence_groups([True, True, False]) == [[0, 1, 2]]  # an added span tied at both ends
    assert whole_sentence_groups([False, True]) == [[0], [1]]  # a last quote that continues stands alone


def test_upgrading_to_0006_keeps_draft_sentences_as_whole_sentences(store: SqlStore, workflow: Workflow) -> None:
    from alembic import command

    from service.store.database import alembic_config

    draft = workflow.create_draft(LIB, "q", 2, FakeEvidence())
    config = alembic_config()
    with store.engine.begin() as connection:  # back to 0005, which had no flag
        config.attributes["connection"] = connection
        command.downgrade(config, "0005")
    assert current_revision(store.engine) == "0005"
    migrate(store.engine)
    assert current_revision(store.engine) == "0006"
    assert [s.continues for s in store.get_draft(draft.id).sentences] == [False, False]


def test_full_workflow_with_versions_and_releases(workflow: Workflow) -> None:
    evidence = FakeEvidence()
    draft = workflow.create_draft(LIB, "Does hand hygiene prevent infection?", 3, evidence,
                                  {"population": "outpatients"})
    assert (draft.version, draft.state, len(draft.sentences)) == (1, "draft", 3)
    assert all(s.status is SentenceStatus.UNVERIFIED and PAGE[s.citation.char_start:s.citation.char_end]
               == s.source_text for s in draft.sentences)
    change = DraftChange(sentences=(SentenceChange(key=2, text="ABHR is the preferred method."),),
                         remove=(3,), add=(SentenceAddition(sentence_id=3, position=0, query="soap"),))
    draft = workflow.edit(LIB, draft.id, 1, change, evidence)
    assert [s.key for s in draft.sentences] == [4, 1, 2] and draft.version == 2
    edited = draft.sentences[2]
    assert edited.edited and edited.text == "ABHR is the preferred method." and edited.source_text == PAGE[
        edited.citation.char_start:edited.citation.char_end]
    assert "soap" in draft.search["queries"]
    with pytest.raises(ConflictError) as stale:
        workflow.edit(LIB, draft.id, 1, DraftChange(bottom_line="lost update"), None)
    assert stale.value.current_version == 2
    version = _ready(workflow, draft.id, 2)
    submitted = workflow.submit(LIB, draft.id, version)
    with pytest.raises(PermissionDeniedError):
        workflow.approve(Principal("lib", Role.ADMIN), draft.id)  # the author, even as admin
    approved = workflow.approve(REV, draft.id, submitted.version, "fine")
    first = workflow.release(REV2, draft.id, approved.version, evidence)
    assert first.number == 1 and first.content["documents"]["doc-1"]["doi"] == "10.1000/example"
    # a later edit starts the next version; the first release does not change
    again = workflow.edit(LIB, draft.id, None, DraftChange(caveats="Small trials."), None)
    assert again.state == "draft" and again.reviewer is None
    workflow.approve(REV, workflow.submit(LIB, draft.id).id)
    second = workflow.release(REV, draft.id)
    assert second.number == 2 and workflow.drafts.get_release(first.id).content == first.content
    assert workflow.drafts.get_release(first.id).content.get("caveats") == ""
    withdrawn = workflow.withdraw(REV, first.id, "superseded")
    assert withdrawn.withdrawal is not None and withdrawn.withdrawal.reason == "superseded"
    with pytest.raises(ConflictError):
        workflow.withdraw(REV, first.id, "again")
    found = workflow.releases(question="does hand hygiene prevent infection")
    assert [r.id for r in found] == [second.id]
    assert len(workflow.versions(LIB, draft.id)) == again.version + 3  # every change stored; three since
    actions = [e.action for e in workflow.audit.query(draft_id=draft.id)]
    assert actions == ["create", "edit", "edit", "submit", "approve", "release", "edit", "submit", "approve",
                       "release", "withdraw"]
    assert {e.actor for e in workflow.audit.query(actor="rev2")} == {"rev2"}


def test_verdict_only_changes_are_audited_as_verify(workflow: Workflow) -> None:
    draft = workflow.create_draft(LIB, "q", 2, FakeEvidence())
    workflow.edit(LIB, draft.id, 1, DraftChange(sentences=(SentenceChange(1, SentenceStatus.REJECTED),)), None)
    events = workflow.audit.query(draft_id=draft.id)
    assert events[-1].action == AuditAction.VERIFY
    assert events[-1].before and events[-1].before["sentences"][0]["status"] == "unverified"
    assert events[-1].after and events[-1].after["sentences"][0]["status"] == "rejected"


def test_concurrent_writers_one_wins_one_gets_a_conflict(workflow: Workflow) -> None:
    draft = workflow.create_draft(LIB, "q", 2, FakeEvidence())
    workflow.edit(LIB, draft.id, 1, DraftChange(bottom_line="first"), None)
    with pytest.raises(ConflictError) as conflict:  # a writer that read version 1 before the edit above
        workflow.drafts.save_draft(replace(draft, bottom_line="second"), 1,
                                   AuditEntry(actor="lib", action=AuditAction.EDIT))
    assert conflict.value.current_version == 2
    assert workflow.drafts.get_draft(draft.id).bottom_line == "first"


def test_keys_are_hashed_at_rest_and_revocation_is_immediate(store: SqlStore) -> None:
    user, key = store.add_user("ann", Role.LIBRARIAN, actor="test")
    assert store.authenticate(key) == Principal("ann", Role.LIBRARIAN)
    with store.engine.connect() as connection:
        stored = connection.execute(text("SELECT key_hash FROM api_keys")).scalars().all()
    assert stored == [hash_key(key)] and key not in stored
    second = store.new_key("ann", actor="test")
    assert store.revoke("ann", actor="test") == 2
    assert store.authenticate(key) is None and store.authenticate(second) is None
    with pytest.raises(ConflictError):
        store.add_user("ann", Role.ADMIN, actor="test")


def test_audit_log_is_append_only(store: SqlStore) -> None:
    public = {name for name, _ in inspect.getmembers(SqlAuditLog, inspect.isfunction) if not name.startswith("_")}
    assert public == {"append", "query"}
    workflow = Workflow(store, store.audit)
    draft = workflow.create_draft(LIB, "q", 1, FakeEvidence())
    workflow.approve(REV, workflow.submit(LIB, draft.id, _ready(workflow, draft.id, 1)).id)
    workflow.release(REV, draft.id)
    for statement in ("UPDATE audit_events SET actor = 'mallory'", "DELETE FROM audit_events",
                      "DELETE FROM releases", "UPDATE draft_versions SET actor = 'mallory'"):
        with pytest.raises(DBAPIError), store.engine.begin() as connection:
            connection.execute(text(statement))
    assert [e.actor for e in store.audit.query()] == ["lib", "lib", "lib", "rev", "rev"]
    # and no code path writes an update or a delete to an append-only table
    source = "\n".join(p.read_text() for p in (REPO / "service").rglob("*.py") if "migrations" not in p.parts)
    assert not re.search(r"(update|delete)\((AuditRow|ReleaseRow|WithdrawalRow|DraftVersionRow)", source)


def test_review_flags_retractions_and_saved_questions(workflow: Workflow, store: SqlStore) -> None:
    from evsum.records import SearchFilters
    from evsum.settings import SourcePrioritySettings
    from service.recheck import Rechecker, RecheckReport

    evidence = FakeEvidence()
    draft = workflow.create_draft(LIB, "Does hand hygiene prevent infection?", 2, evidence)
    workflow.approve(REV, workflow.submit(LIB, draft.id, _ready(workflow, draft.id, 1)).id)
    release = workflow.release(REV2, draft.id, None, evidence)
    rechecker = Rechecker(store, store.recheck)
    added, flags = rechecker.retract([("doi", "10.1000/example", "retracted by the journal")], "list.csv", "boss",
                                     None)
    assert [r.identifier for r in added] == ["10.1000/example"]
    assert [(f.release_id, f.kind, f.document_id) for f in flags] == [(release.id, "retracted", "doc-1")]
    assert rechecker.retract([("doi", "10.1000/example", "")], "again", "boss", None) == ([], [])  # no duplicates
    resolved = store.recheck.resolve_flag(flags[0].id, "rev", "withdrawn and redone")
    assert resolved.resolved_by == "rev" and store.recheck.flags(open_only=True) == []
    with pytest.raises(ConflictError):
        store.recheck.resolve_flag(flags[0].id, "rev", "twice")
    saved = rechecker.save_question("lib", "hand rub or soap?", {"intervention": "alcohol rub"},
                                    SearchFilters(doc_types=("guideline",), year_from=2010), None, evidence, None)
    assert saved.id and saved.cited_document_ids == ("doc-1",) and saved.filters["year_from"] == 2010
    runs = rechecker.rerun_saved(evidence, {"doc-1": "Hand hygiene guideline"}, "lib", SourcePrioritySettings())
    assert [(r.saved.id, r.new_document_ids) for r in runs] == [(saved.id, ())]
    assert store.recheck.saved_questions("lib")[0].last_snapshot_id == "fake-snapshot"
    actions = [e.action for e in store.audit.query()]
    assert actions[-6:] == ["release", "retract", "needs_review", "flag_resolved", "save_question", "recheck"]
    claim_check = rechecker.save_question("lib", "Alcohol rub prevents infection.", None, SearchFilters(), None,
                                          evidence, None, claim=True)
    assert claim_check.claim and evidence.claims[-1] is True
    assert [q.claim for q in store.recheck.saved_questions("lib")] == [False, True]  # the column round-trips
    assert store.audit.query()[-1].after["claim"] is True
    assert claim_check.last_claim_scorer == {"name": "fake-claim-scorer", "graph_sha256": ""}
    assert saved.last_claim_scorer is None  # questions record no claim scorer
    evidence.claims.clear()
    runs = rechecker.rerun_saved(evidence, {}, "lib", SourcePrioritySettings())
    assert evidence.claims == [False, True]  # each reruns as it was saved: a question, then a claim
    assert [r.claim_scorer_change for r in runs] == [None, None]
    question_run, claim_run = [e for e in store.audit.query() if e.action == "recheck"][-2:]
    assert "claim_scorer" not in question_run.after and claim_run.after["claim_scorer"] == evidence.scorer

    # a retrained claim scorer: the start-up job reruns the claim check alone, though the snapshot is the same
    old, evidence.scorer = evidence.scorer, {"name": "fake-claim-scorer", "graph_sha256": "c" * 64}
    evidence.claims.clear()
    runs = rechecker.rerun_saved(evidence, {}, "system", SourcePrioritySettings(), only_stale=True)
    assert evidence.claims == [True] and [r.saved.id for r in runs] == [claim_check.id]
    assert runs[0].claim_scorer_change == (old, evidence.scorer)
    assert runs[0].saved.last_claim_scorer == evidence.scorer
    assert store.recheck.saved_questions("lib")[1].last_claim_scorer == evidence.scorer  # stored on both backends
    event = store.audit.query()[-1]
    assert event.before["claim_scorer"] == old and event.after["claim_scorer"] == evidence.scorer
    lines = RecheckReport("fake-snapshot", (), 0, tuple(runs)).lines()
    assert "the claim scorer changed since its last run (fake-claim-scorer -> fake-claim-scorer (graph SHA-256 " \
           "cccccccccccc))" in lines[-1]
    assert rechecker.rerun_saved(evidence, {}, "system", SourcePrioritySettings(), only_stale=True) == []

    # new sentence-scorer weights: the start-up job reruns every saved question, though the snapshot is the same
    assert store.recheck.saved_questions("lib")[0].last_sentence_scorer == evidence.sentence_scorer_id
    before_weights = evidence.sentence_scorer_id
    evidence.sentence_scorer_id = {"name": "linear-prior-1234abcd", "weights_sha256": "d" * 64}
    runs = rechecker.rerun_saved(evidence, {}, "system", SourcePrioritySettings(), only_stale=True)
    assert [r.saved.id for r in runs] == [saved.id, claim_check.id]
    assert [r.sentence_scorer_change for r in runs] == [(before_weights, evidence.sentence_scorer_id)] * 2
    assert [r.claim_scorer_change for r in runs] == [None, None]
    assert [q.last_sentence_scorer for q in store.recheck.saved_questions("lib")] == [evidence.sentence_scorer_id] * 2
    event = store.audit.query()[-1]
    assert event.before["sentence_scorer"] == before_weights
    assert event.after["sentence_scorer"] == evidence.sentence_scorer_id
    lines = RecheckReport("fake-snapshot", (), 0, tuple(runs)).lines()
    assert lines[-1].strip() == ("the sentence scorer changed since its last run (fake-sentence-scorer -> "
                                 "linear-prior-1234abcd (weights SHA-256 dddddddddddd)): what it cites may differ "
                                 "because of the model, not the evidence")
    assert rechecker.rerun_saved(evidence, {}, "system", SourcePrioritySettings(), only_stale=True) == []
    evidence.sentence_scorer_id = {"name": "renamed", "weights_sha256": "d" * 64}  # same weights, new name
    assert rechecker.rerun_saved(evidence, {}, "system", SourcePrioritySettings(), only_stale=True) == []
    with store.engine.begin() as connection:  # as saved before 0005: no scorer recorded
        connection.execute(text("UPDATE saved_questions SET last_sentence_scorer = NULL WHERE id = :id"),
                           {"id": saved.id})
    runs = rechecker.rerun_saved(evidence, {}, "system", SourcePrioritySettings(), only_stale=True)
    assert [(r.saved.id, r.sentence_scorer_change) for r in runs] == [(saved.id, None)]  # rerun once, no "change"
    assert runs[0].saved.last_sentence_scorer == evidence.sentence_scorer_id
    assert rechecker.rerun_saved(evidence, {}, "system", SourcePrioritySettings(), only_stale=True) == []
