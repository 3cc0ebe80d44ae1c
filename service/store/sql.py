"""``SqlStore``: the workflow repositories over SQLAlchemy 2 (SQLite by default, PostgreSQL by URL)."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from sqlalchemy import Engine, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from evsum.errors import ConflictError, InvalidRequestError, NotFoundError
from evsum.records import Citation
from service.domain import (
    AuditAction,
    AuditEntry,
    AuditEvent,
    Comment,
    Draft,
    DraftSentence,
    DraftState,
    NewComment,
    Principal,
    Release,
    Role,
    SentenceStatus,
    User,
    Withdrawal,
    draft_snapshot,
    normalise_question,
    utcnow,
)
from service.store.database import migrate, open_engine
from service.store.models import (
    ApiKeyRow,
    AuditRow,
    CommentRow,
    DraftRow,
    DraftVersionRow,
    QuestionRow,
    ReleaseRow,
    SentenceRow,
    UserRow,
    WithdrawalRow,
)
from service.store.recheck_sql import SqlRecheckStore

KEY_PREFIX = "evsum_"


def hash_key(key: str) -> str:
    """SHA-256 hex digest of an API key (keys are high-entropy random strings, so no salt is needed)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def generate_key() -> str:
    """A new random API key (256 bits)."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


class SqlAuditLog:
    """The append-only audit log: ``append`` and ``query`` are its whole interface."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def append(self, entry: AuditEntry) -> AuditEvent:
        """Store one event in its own transaction."""
        with self._sessions.begin() as session:
            row = AuditRow.of(entry)
            session.add(row)
            session.flush()
            return _audit_event(row)

    def query(self, *, draft_id: int | None = None, actor: str | None = None) -> list[AuditEvent]:
        """Events matching every given filter, oldest first."""
        statement = select(AuditRow).order_by(AuditRow.id)
        if draft_id is not None:
            statement = statement.where(AuditRow.draft_id == draft_id)
        if actor is not None:
            statement = statement.where(AuditRow.actor == actor)
        with self._sessions() as session:
            return [_audit_event(row) for row in session.scalars(statement)]


class SqlStore:
    """Drafts, releases, users and keys in one SQL database; ``audit`` is its append-only log."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self.audit = SqlAuditLog(self._sessions)
        self.recheck = SqlRecheckStore(self._sessions)

    @classmethod
    def open(cls, url: str) -> SqlStore:
        """Open the database at ``url`` and apply pending migrations."""
        engine = open_engine(url)
        migrate(engine)
        return cls(engine)

    def close(self) -> None:
        """Release pooled connections."""
        self.engine.dispose()

    @contextmanager
    def _tx(self) -> Iterator[Session]:
        with self._sessions.begin() as session:
            yield session

    # --- users and keys -----------------------------------------------------------------------

    def add_user(self, name: str, role: Role, actor: str) -> tuple[User, str]:
        """Create a user with a new key; ``ConflictError`` if the name is taken."""
        now = utcnow()
        key = generate_key()
        try:
            with self._tx() as session:
                user = UserRow(name=name, role=str(role), created_at=now)
                session.add(user)
                session.flush()
                session.add(ApiKeyRow(user_id=user.id, key_hash=hash_key(key), prefix=key[:12], created_at=now))
                session.add(AuditRow.of(AuditEntry(actor=actor, action=AuditAction.USER_ADD,
                                                  after={"user": name, "role": str(role)}, at=now)))
        except IntegrityError:
            raise ConflictError(f"a user named {name!r} already exists") from None
        return User(id=user.id, name=name, role=role, created_at=now, active_keys=1), key

    def new_key(self, name: str, actor: str) -> str:
        """Issue another key for an existing user."""
        key = generate_key()
        with self._tx() as session:
            user = self._user(session, name)
            session.add(ApiKeyRow(user_id=user.id, key_hash=hash_key(key), prefix=key[:12], created_at=utcnow()))
        return key

    def revoke(self, name: str, actor: str) -> int:
        """Revoke every active key of ``name``; they stop working on the next request."""
        now = utcnow()
        with self._tx() as session:
            user = self._user(session, name)
            result = session.execute(update(ApiKeyRow).where(ApiKeyRow.user_id == user.id,
                                                             ApiKeyRow.revoked_at.is_(None)).values(revoked_at=now))
            count = int(getattr(result, "rowcount", 0) or 0)
            session.add(AuditRow.of(AuditEntry(actor=actor, action=AuditAction.KEY_REVOKE,
                                              before={"user": name, "active_keys": count},
                                              after={"user": name, "active_keys": 0}, at=now)))
        return count

    def authenticate(self, key: str) -> Principal | None:
        """The user an active key belongs to, or ``None``."""
        statement = (select(UserRow.name, UserRow.role).join(ApiKeyRow, ApiKeyRow.user_id == UserRow.id)
                     .where(ApiKeyRow.key_hash == hash_key(key), ApiKeyRow.revoked_at.is_(None)))
        with self._sessions() as session:
            row = session.execute(statement).first()
        return Principal(name=row[0], role=Role(row[1])) if row else None

    def list_users(self) -> Sequence[User]:
        """Every user with their number of active keys, by name."""
        active = (select(ApiKeyRow.user_id, func.count().label("n")).where(ApiKeyRow.revoked_at.is_(None))
                  .group_by(ApiKeyRow.user_id).subquery())
        statement = (select(UserRow, func.coalesce(active.c.n, 0))
                     .outerjoin(active, active.c.user_id == UserRow.id).order_by(UserRow.name))
        with self._sessions() as session:
            return [User(id=u.id, name=u.name, role=Role(u.role), created_at=u.created_at, active_keys=int(n))
                    for u, n in session.execute(statement)]

    @staticmethod
    def _user(session: Session, name: str) -> UserRow:
        user = session.scalars(select(UserRow).where(UserRow.name == name)).first()
        if user is None:
            raise NotFoundError(f"no user named {name!r}")
        return user

    # --- drafts -------------------------------------------------------------------------------

    def create_draft(self, draft: Draft, entry: AuditEntry) -> Draft:
        """Store a new draft as version 1, with its question, sentences, snapshot and audit event."""
        with self._tx() as session:
            question = QuestionRow(text=draft.question, normalised=normalise_question(draft.question),
                                   pico=draft.pico, created_by=draft.author, created_at=draft.created_at)
            session.add(question)
            session.flush()
            row = DraftRow(question_id=question.id, version=1)
            _fill_draft_row(row, draft)
            session.add(row)
            session.flush()
            stored = replace(draft, id=row.id, version=1)
            self._write_children(session, stored, entry, None)
        return self.get_draft(stored.id)

    def get_draft(self, draft_id: int) -> Draft:
        """One draft with its sentences and comments."""
        with self._sessions() as session:
            row = session.get(DraftRow, draft_id)
            if row is None:
                raise NotFoundError(f"no draft with id {draft_id}")
            return self._to_draft(session, row)

    def list_drafts(self, state: str | None = None) -> list[Draft]:
        """Drafts, most recently changed first."""
        statement = select(DraftRow).order_by(DraftRow.updated_at.desc(), DraftRow.id.desc())
        if state:
            statement = statement.where(DraftRow.state == state)
        with self._sessions() as session:
            return [self._to_draft(session, row) for row in session.scalars(statement).all()]

    def save_draft(self, draft: Draft, expected_version: int, entry: AuditEntry,
                   comment: NewComment | None = None) -> Draft:
        """Compare-and-set on ``version``: a stale ``expected_version`` raises ``ConflictError``."""
        with self._tx() as session:
            self._compare_and_set(session, draft, expected_version)
            self._write_children(session, replace(draft, version=expected_version + 1), entry, comment)
        return self.get_draft(draft.id)

    def draft_versions(self, draft_id: int) -> list[dict[str, object]]:
        """Every version snapshot of a draft, oldest first."""
        self.get_draft(draft_id)
        statement = select(DraftVersionRow).where(DraftVersionRow.draft_id == draft_id).order_by(
            DraftVersionRow.version)
        with self._sessions() as session:
            return [{"version": v.version, "state": v.state, "actor": v.actor, "created_at": v.created_at,
                     "snapshot": v.snapshot} for v in session.scalars(statement)]

    def _compare_and_set(self, session: Session, draft: Draft, expected_version: int) -> None:
        values = {"version": expected_version + 1}
        row = DraftRow()
        _fill_draft_row(row, draft)
        values.update({column: getattr(row, column) for column in _DRAFT_COLUMNS})
        result = session.execute(update(DraftRow).where(DraftRow.id == draft.id,
                                                        DraftRow.version == expected_version).values(**values))
        if int(getattr(result, "rowcount", 0) or 0) != 1:
            current = session.get(DraftRow, draft.id)
            if current is None:
                raise NotFoundError(f"no draft with id {draft.id}")
            raise ConflictError(
                f"draft {draft.id} is at version {current.version}, not {expected_version}: "
                "someone else changed it; reload and apply your change again",
                current_version=current.version, state=current.state)

    def _write_children(self, session: Session, draft: Draft, entry: AuditEntry,
                        comment: NewComment | None) -> None:
        session.execute(delete(SentenceRow).where(SentenceRow.draft_id == draft.id))
        for position, sentence in enumerate(draft.sentences):
            session.add(_sentence_row(draft.id, position, sentence))
        session.add(DraftVersionRow(draft_id=draft.id, version=draft.version, state=str(draft.state),
                                    actor=entry.actor, created_at=entry.at, snapshot=draft_snapshot(draft)))
        if comment is not None:
            session.add(CommentRow(draft_id=draft.id, author=comment.author, at=entry.at, kind=comment.kind,
                                   body=comment.body, sentence_key=comment.sentence_key))
        after = dict(entry.after or {})
        after.setdefault("version", draft.version)
        session.add(AuditRow.of(replace(entry, draft_id=draft.id, after=after)))

    def _to_draft(self, session: Session, row: DraftRow) -> Draft:
        question = session.get(QuestionRow, row.question_id)
        sentences = session.scalars(select(SentenceRow).where(SentenceRow.draft_id == row.id)
                                    .order_by(SentenceRow.position)).all()
        comments = session.scalars(select(CommentRow).where(CommentRow.draft_id == row.id)
                                   .order_by(CommentRow.id)).all()
        return Draft(
            id=row.id, question=question.text if question else "", pico=question.pico if question else None,
            state=DraftState(row.state), version=row.version, author=row.author, reviewer=row.reviewer,
            bottom_line=row.bottom_line, caveats=row.caveats, max_sentences=row.max_sentences,
            snapshot_id=row.snapshot_id, search=dict(row.search or {}), next_key=row.next_key,
            release_count=row.release_count, created_at=row.created_at, updated_at=row.updated_at,
            submitted_at=row.submitted_at, approved_at=row.approved_at,
            sentences=tuple(_to_sentence(s) for s in sentences),
            comments=tuple(Comment(id=c.id, author=c.author, at=c.at, kind=c.kind, body=c.body,
                                   sentence_key=c.sentence_key) for c in comments),
        )

    # --- releases -----------------------------------------------------------------------------

    def add_release(self, draft: Draft, expected_version: int, content: dict[str, Any],
                    entry: AuditEntry) -> Release:
        """Save the released draft and insert release number ``draft.release_count``."""
        with self._tx() as session:
            self._compare_and_set(session, draft, expected_version)
            saved = replace(draft, version=expected_version + 1)
            release = ReleaseRow(draft_id=draft.id, number=draft.release_count, draft_version=saved.version,
                                 question_normalised=normalise_question(draft.question), released_at=entry.at,
                                 released_by=entry.actor, content={**content, "draft_version": saved.version})
            session.add(release)
            session.flush()
            after = {**(entry.after or {}), "release_id": release.id}
            self._write_children(session, saved, replace(entry, release_id=release.id, after=after), None)
            return _to_release(release, None)

    def get_release(self, release_id: int) -> Release:
        """One release with its withdrawal, if any."""
        with self._sessions() as session:
            row = session.get(ReleaseRow, release_id)
            if row is None:
                raise NotFoundError(f"no release with id {release_id}")
            return _to_release(row, self._withdrawal(session, row.id))

    def list_releases(self, *, draft_id: int | None = None,
                      question_normalised: str | None = None) -> list[Release]:
        """Releases, newest first."""
        statement = select(ReleaseRow).order_by(ReleaseRow.id.desc())
        if draft_id is not None:
            statement = statement.where(ReleaseRow.draft_id == draft_id)
        if question_normalised is not None:
            statement = statement.where(ReleaseRow.question_normalised == question_normalised)
        with self._sessions() as session:
            rows = session.scalars(statement).all()
            withdrawals = {w.release_id: w for w in session.scalars(select(WithdrawalRow))}
            return [_to_release(row, withdrawals.get(row.id)) for row in rows]

    def withdraw_release(self, release_id: int, withdrawal: Withdrawal, entry: AuditEntry) -> Release:
        """Insert the withdrawal row; a second withdrawal is a ``ConflictError``."""
        try:
            with self._tx() as session:
                row = session.get(ReleaseRow, release_id)
                if row is None:
                    raise NotFoundError(f"no release with id {release_id}")
                if self._withdrawal(session, release_id) is not None:
                    raise ConflictError(f"release {release_id} is already withdrawn")
                session.add(WithdrawalRow(release_id=release_id, at=withdrawal.at, actor=withdrawal.actor,
                                          reason=withdrawal.reason))
                session.add(AuditRow.of(replace(entry, draft_id=row.draft_id, release_id=release_id)))
        except IntegrityError:
            raise ConflictError(f"release {release_id} is already withdrawn") from None
        return self.get_release(release_id)

    @staticmethod
    def _withdrawal(session: Session, release_id: int) -> WithdrawalRow | None:
        return session.scalars(select(WithdrawalRow).where(WithdrawalRow.release_id == release_id)).first()


_DRAFT_COLUMNS = ("state", "author", "reviewer", "bottom_line", "caveats", "max_sentences", "snapshot_id",
                  "search", "next_key", "release_count", "created_at", "updated_at", "submitted_at", "approved_at")


def _fill_draft_row(row: DraftRow, draft: Draft) -> None:
    for column in _DRAFT_COLUMNS:
        value = getattr(draft, column)
        setattr(row, column, str(value) if column == "state" else value)


def _sentence_row(draft_id: int, position: int, s: DraftSentence) -> SentenceRow:
    c = s.citation
    return SentenceRow(draft_id=draft_id, key=s.key, position=position, status=str(s.status), origin=s.origin,
                       sentence_id=s.sentence_id, document_id=c.document_id, title=c.title, page=c.page,
                       char_start=c.char_start, char_end=c.char_end, section=c.section,
                       source_path=c.source_path, doc_type=c.doc_type, source_text=s.source_text,
                       edited_text=s.edited_text, note=s.note, continues=s.continues)


def _to_sentence(row: SentenceRow) -> DraftSentence:
    citation = Citation(document_id=row.document_id, title=row.title, page=row.page, char_start=row.char_start,
                        char_end=row.char_end, section=row.section, source_path=row.source_path,
                        doc_type=row.doc_type)
    return DraftSentence(key=row.key, citation=citation, source_text=row.source_text,
                         status=SentenceStatus(row.status), origin=row.origin, sentence_id=row.sentence_id,
                         edited_text=row.edited_text, note=row.note, continues=bool(row.continues))


def _to_release(row: ReleaseRow, withdrawal: WithdrawalRow | None) -> Release:
    return Release(id=row.id, draft_id=row.draft_id, number=row.number, draft_version=row.draft_version,
                   released_at=row.released_at, released_by=row.released_by, content=dict(row.content),
                   withdrawal=Withdrawal(at=withdrawal.at, actor=withdrawal.actor, reason=withdrawal.reason)
                   if withdrawal else None)



def _audit_event(row: AuditRow) -> AuditEvent:
    return AuditEvent(id=row.id, at=row.at, actor=row.actor, action=row.action, draft_id=row.draft_id,
                      release_id=row.release_id, before=row.before, after=row.after)


def validate_user_name(name: str) -> str:
    """A user name: 1 to 100 printable characters without spaces at either end."""
    cleaned = name.strip()
    if not cleaned or len(cleaned) > 100 or not cleaned.isprintable():
        raise InvalidRequestError("a user name must be 1 to 100 printable characters")
    return cleaned
