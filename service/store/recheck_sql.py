"""``SqlRecheckStore``: review flags on releases, retractions and saved questions over SQLAlchemy.

Every change is written in one transaction with its audit event (``AuditRow.of``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from evsum.errors import ConflictError, NotFoundError
from service.domain import (
    AuditAction,
    AuditEntry,
    FlagKind,
    NewFlag,
    Retraction,
    ReviewFlag,
    SavedQuestion,
    utcnow,
)
from service.store.models import AuditRow, RetractionRow, ReviewFlagRow, SavedQuestionRow


class SqlRecheckStore:
    """Review flags, retractions and saved questions (the ``RecheckRepository`` Protocol)."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    # --- review flags -------------------------------------------------------------------------

    def add_flags(self, flags: list[NewFlag], actor: str) -> list[ReviewFlag]:
        """Store the flags not stored yet (same release, document and kind), each with its audit event."""
        added: list[ReviewFlag] = []
        now = utcnow()
        with self._sessions.begin() as session:
            existing = {(r.release_id, r.document_id, r.kind) for r in session.scalars(select(ReviewFlagRow))}
            for flag in flags:
                key = (flag.release_id, flag.document_id, str(flag.kind))
                if key in existing:
                    continue
                existing.add(key)
                row = ReviewFlagRow(release_id=flag.release_id, draft_id=flag.draft_id, document_id=flag.document_id,
                                    kind=str(flag.kind), reason=flag.reason, details=dict(flag.details),
                                    detected_at=now, detected_by=actor)
                session.add(row)
                session.flush()
                session.add(AuditRow.of(AuditEntry(
                    actor=actor, action=AuditAction.NEEDS_REVIEW, draft_id=flag.draft_id, release_id=flag.release_id,
                    after={"flag_id": row.id, "document_id": flag.document_id, "kind": str(flag.kind),
                           "reason": flag.reason}, at=now)))
                added.append(_flag(row))
        return added

    def flags(self, *, release_id: int | None = None, open_only: bool = False) -> list[ReviewFlag]:
        """Flags, oldest first, optionally of one release and only unresolved ones."""
        statement = select(ReviewFlagRow).order_by(ReviewFlagRow.id)
        if release_id is not None:
            statement = statement.where(ReviewFlagRow.release_id == release_id)
        if open_only:
            statement = statement.where(ReviewFlagRow.resolved_at.is_(None))
        with self._sessions() as session:
            return [_flag(row) for row in session.scalars(statement)]

    def resolve_flag(self, flag_id: int, actor: str, resolution: str) -> ReviewFlag:
        """Mark a flag resolved with a note; ``ConflictError`` if it already is."""
        now = utcnow()
        with self._sessions.begin() as session:
            row = session.get(ReviewFlagRow, flag_id)
            if row is None:
                raise NotFoundError(f"no review flag with id {flag_id}")
            if row.resolved_at is not None:
                raise ConflictError(f"review flag {flag_id} was already resolved by {row.resolved_by}")
            row.resolved_at, row.resolved_by, row.resolution = now, actor, resolution
            session.add(AuditRow.of(AuditEntry(actor=actor, action=AuditAction.FLAG_RESOLVED, draft_id=row.draft_id,
                                          release_id=row.release_id, before={"flag_id": flag_id, "resolved": False},
                                          after={"flag_id": flag_id, "resolved": True, "resolution": resolution},
                                          at=now)))
            session.flush()
            return _flag(row)

    # --- retractions --------------------------------------------------------------------------

    def add_retractions(self, items: list[tuple[str, str, str]], source: str, actor: str) -> list[Retraction]:
        """Store ``(kind, identifier, reason)`` retractions not stored yet; returns the new ones."""
        added: list[Retraction] = []
        now = utcnow()
        with self._sessions.begin() as session:
            known = {(r.identifier_kind, r.identifier) for r in session.scalars(select(RetractionRow))}
            for kind, identifier, reason in items:
                if (kind, identifier) in known:
                    continue
                known.add((kind, identifier))
                row = RetractionRow(identifier_kind=kind, identifier=identifier, reason=reason, source=source,
                                    added_at=now, added_by=actor)
                session.add(row)
                session.flush()
                session.add(AuditRow.of(AuditEntry(actor=actor, action=AuditAction.RETRACT, at=now,
                                              after={kind: identifier, "reason": reason, "source": source})))
                added.append(_retraction(row))
        return added

    def retractions(self) -> list[Retraction]:
        """Every retraction, oldest first."""
        with self._sessions() as session:
            return [_retraction(r) for r in session.scalars(select(RetractionRow).order_by(RetractionRow.id))]

    # --- saved questions ----------------------------------------------------------------------

    def save_question(self, question: SavedQuestion) -> SavedQuestion:
        """Store a new saved question (its ``id`` assigned here) with its audit event."""
        with self._sessions.begin() as session:
            row = SavedQuestionRow(question=question.question, pico=question.pico, filters=dict(question.filters),
                                   source_priority=question.source_priority, owner=question.owner,
                                   created_at=question.created_at, last_run_at=question.last_run_at,
                                   last_snapshot_id=question.last_snapshot_id,
                                   cited_document_ids={"ids": list(question.cited_document_ids)},
                                   claim=question.claim, last_claim_scorer=question.last_claim_scorer,
                                   last_sentence_scorer=question.last_sentence_scorer)
            session.add(row)
            session.flush()
            session.add(AuditRow.of(AuditEntry(actor=question.owner, action=AuditAction.SAVE_QUESTION,
                                          at=question.created_at,
                                          after={"saved_question_id": row.id, "question": question.question,
                                                 "filters": dict(question.filters), "pico": question.pico,
                                                 **({"claim": True} if question.claim else {})})))
            return _saved(row)


    def saved_questions(self, owner: str | None = None) -> list[SavedQuestion]:
        """Saved questions, oldest first, optionally one owner's."""
        statement = select(SavedQuestionRow).order_by(SavedQuestionRow.id)
        if owner is not None:
            statement = statement.where(SavedQuestionRow.owner == owner)
        with self._sessions() as session:
            return [_saved(row) for row in session.scalars(statement)]

    def record_run(self, saved_id: int, snapshot_id: str, cited: tuple[str, ...], new: list[str],
                   actor: str, claim_scorer: dict[str, str] | None = None,
                   sentence_scorer: dict[str, str] | None = None) -> SavedQuestion:
        """Remember a rerun's snapshot, cited documents, sentence scorer and (for a claim check) claim scorer;
        the audit event lists the new documents."""
        now = utcnow()
        with self._sessions.begin() as session:
            row = session.get(SavedQuestionRow, saved_id)
            if row is None:
                raise NotFoundError(f"no saved question with id {saved_id}")
            before: dict[str, Any] = {"snapshot_id": row.last_snapshot_id,
                                      "cited_document_ids": list(row.cited_document_ids.get("ids", []))}
            if row.claim:
                before["claim_scorer"] = row.last_claim_scorer
                row.last_claim_scorer = claim_scorer
            if sentence_scorer is not None:
                before["sentence_scorer"] = row.last_sentence_scorer
                row.last_sentence_scorer = sentence_scorer
            row.last_run_at, row.last_snapshot_id, row.cited_document_ids = now, snapshot_id, {"ids": list(cited)}
            session.add(AuditRow.of(AuditEntry(actor=actor, action=AuditAction.RECHECK, at=now, before=before,
                                          after={"saved_question_id": saved_id, "snapshot_id": snapshot_id,
                                                 "cited_document_ids": list(cited), "new_document_ids": new,
                                                 **({"claim_scorer": claim_scorer} if row.claim else {}),
                                                 **({"sentence_scorer": sentence_scorer} if sentence_scorer else {})})))
            session.flush()
            return _saved(row)



def _flag(row: ReviewFlagRow) -> ReviewFlag:
    return ReviewFlag(id=row.id, release_id=row.release_id, draft_id=row.draft_id, document_id=row.document_id,
                      kind=FlagKind(row.kind), reason=row.reason, details=dict(row.details or {}),
                      detected_at=row.detected_at, detected_by=row.detected_by, resolved_at=row.resolved_at,
                      resolved_by=row.resolved_by, resolution=row.resolution)


def _retraction(row: RetractionRow) -> Retraction:
    return Retraction(id=row.id, identifier_kind=row.identifier_kind, identifier=row.identifier, reason=row.reason,
                      source=row.source, added_at=row.added_at, added_by=row.added_by)


def _saved(row: SavedQuestionRow) -> SavedQuestion:
    return SavedQuestion(id=row.id, question=row.question, pico=row.pico, filters=dict(row.filters or {}),
                         source_priority=row.source_priority, owner=row.owner, created_at=row.created_at,
                         last_run_at=row.last_run_at, last_snapshot_id=row.last_snapshot_id,
                         cited_document_ids=tuple((row.cited_document_ids or {}).get("ids", [])),
                         claim=bool(row.claim), last_claim_scorer=row.last_claim_scorer,
                         last_sentence_scorer=row.last_sentence_scorer)
