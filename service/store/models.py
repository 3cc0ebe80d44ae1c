"""SQLAlchemy 2 table models of the workflow store (typed ``Mapped`` columns).

The schema is created and changed only by the Alembic migrations in
``service/store/migrations``; these models must match them (a test compares).
``releases``, ``release_withdrawals`` and ``audit_events`` are insert-only: the
code has no update or delete path for them, and database triggers refuse both.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, MetaData, String, Text, UniqueConstraint, false
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from service.domain import AuditEntry

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as UTC and always read back timezone-aware (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Store in UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored: use timezone-aware UTC")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Read as timezone-aware UTC."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base with a constraint naming convention (stable names for migrations)."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON()}


class UserRow(Base):
    """A user and their role."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime]


class ApiKeyRow(Base):
    """An API key, stored as the SHA-256 of the key; the key itself is shown once."""

    __tablename__ = "api_keys"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class QuestionRow(Base):
    """A clinical question, with its PICO breakdown when given."""

    __tablename__ = "questions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    normalised: Mapped[str] = mapped_column(Text, index=True)
    pico: Mapped[dict[str, Any] | None]
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]


class DraftRow(Base):
    """The current state of a draft summary; ``version`` is its optimistic-lock version."""

    __tablename__ = "drafts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("questions.id"), index=True)
    state: Mapped[str] = mapped_column(String(20), index=True)
    version: Mapped[int] = mapped_column(Integer)
    author: Mapped[str] = mapped_column(String(100), index=True)
    reviewer: Mapped[str | None] = mapped_column(String(100))
    bottom_line: Mapped[str] = mapped_column(Text, default="")
    caveats: Mapped[str] = mapped_column(Text, default="")
    max_sentences: Mapped[int] = mapped_column(Integer)
    snapshot_id: Mapped[str] = mapped_column(String(200))
    search: Mapped[dict[str, Any]]
    next_key: Mapped[int] = mapped_column(Integer)
    release_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    submitted_at: Mapped[datetime | None]
    approved_at: Mapped[datetime | None]


class SentenceRow(Base):
    """A sentence of a draft: citation, verbatim source text, verification state and edit."""

    __tablename__ = "draft_sentences"
    __table_args__ = (UniqueConstraint("draft_id", "key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    draft_id: Mapped[int] = mapped_column(ForeignKey("drafts.id"), index=True)
    key: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))
    origin: Mapped[str] = mapped_column(String(20))
    sentence_id: Mapped[int | None] = mapped_column(Integer)
    document_id: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(Text)
    page: Mapped[int] = mapped_column(Integer)
    char_start: Mapped[int] = mapped_column(Integer)
    char_end: Mapped[int] = mapped_column(Integer)
    section: Mapped[str | None] = mapped_column(Text)
    source_path: Mapped[str] = mapped_column(Text, default="")
    doc_type: Mapped[str] = mapped_column(String(40), default="", server_default="")  # added in revision 0002
    source_text: Mapped[str] = mapped_column(Text)
    edited_text: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    # The first part of a sentence cut by a page break (added in revision 0006).
    continues: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class DraftVersionRow(Base):
    """The content of a draft at one version (written on every change, never rewritten)."""

    __tablename__ = "draft_versions"
    __table_args__ = (UniqueConstraint("draft_id", "version"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    draft_id: Mapped[int] = mapped_column(ForeignKey("drafts.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]
    snapshot: Mapped[dict[str, Any]]


class CommentRow(Base):
    """A comment on a draft (a return reason, an approval remark, or a note)."""

    __tablename__ = "comments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    draft_id: Mapped[int] = mapped_column(ForeignKey("drafts.id"), index=True)
    author: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(20))
    body: Mapped[str] = mapped_column(Text)
    sentence_key: Mapped[int | None] = mapped_column(Integer)


class ReleaseRow(Base):
    """An immutable, numbered release of a draft with its frozen content."""

    __tablename__ = "releases"
    __table_args__ = (UniqueConstraint("draft_id", "number"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    draft_id: Mapped[int] = mapped_column(ForeignKey("drafts.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    draft_version: Mapped[int] = mapped_column(Integer)
    question_normalised: Mapped[str] = mapped_column(Text, index=True)
    released_at: Mapped[datetime]
    released_by: Mapped[str] = mapped_column(String(100))
    content: Mapped[dict[str, Any]]


class WithdrawalRow(Base):
    """The withdrawal of a release (a separate row: the release itself is never changed)."""

    __tablename__ = "release_withdrawals"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id"), unique=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text)


class AuditRow(Base):
    """One append-only audit event."""

    __tablename__ = "audit_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(100), index=True)
    action: Mapped[str] = mapped_column(String(20))
    draft_id: Mapped[int | None] = mapped_column(Integer, index=True)
    release_id: Mapped[int | None] = mapped_column(Integer)
    before: Mapped[dict[str, Any] | None]
    after: Mapped[dict[str, Any] | None]

    @classmethod
    def of(cls, entry: AuditEntry) -> AuditRow:
        """The row recording one audit entry."""
        return cls(at=entry.at, actor=entry.actor, action=str(entry.action), draft_id=entry.draft_id,
                   release_id=entry.release_id, before=entry.before, after=entry.after)


class ReviewFlagRow(Base):
    """A "needs review" flag on a release: which cited document, why, and when it was resolved."""

    __tablename__ = "review_flags"
    __table_args__ = (UniqueConstraint("release_id", "document_id", "kind"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id"), index=True)
    draft_id: Mapped[int] = mapped_column(Integer, index=True)
    document_id: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]]
    detected_at: Mapped[datetime]
    detected_by: Mapped[str] = mapped_column(String(100))
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(100))
    resolution: Mapped[str | None] = mapped_column(Text)


class RetractionRow(Base):
    """A document marked retracted (by an admin, or from a retraction list file)."""

    __tablename__ = "retractions"
    __table_args__ = (UniqueConstraint("identifier_kind", "identifier"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    identifier_kind: Mapped[str] = mapped_column(String(10))
    identifier: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(200))
    added_at: Mapped[datetime]
    added_by: Mapped[str] = mapped_column(String(100))


class SavedQuestionRow(Base):
    """A saved question with its filters and the documents its last run cited."""

    __tablename__ = "saved_questions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    question: Mapped[str] = mapped_column(Text)
    pico: Mapped[dict[str, Any] | None]
    filters: Mapped[dict[str, Any]]
    source_priority: Mapped[bool | None] = mapped_column(Boolean)
    owner: Mapped[str] = mapped_column(String(100), index=True)
    created_at: Mapped[datetime]
    last_run_at: Mapped[datetime | None]
    last_snapshot_id: Mapped[str | None] = mapped_column(String(200))
    cited_document_ids: Mapped[dict[str, Any]]  # {"ids": [...]}: a JSON object, like every other JSON column
    claim: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())  # a claim check (0003)
    # {name, graph_sha256} of a claim check's last run (0004); SQL NULL, not JSON null, when none
    last_claim_scorer: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    # {name, weights_sha256} of the sentence scorer of the last run (0005); NULL for runs before it was recorded
    last_sentence_scorer: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
