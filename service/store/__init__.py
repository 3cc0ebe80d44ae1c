"""The workflow store behind Protocols: drafts and releases, users and keys, the audit log.

``SqlStore`` (``service.store.sql``) implements all three over SQLAlchemy (SQLite or
PostgreSQL).  The workflow rules (``service.workflow``) see only these Protocols.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from service.domain import (
    AuditEntry,
    AuditEvent,
    Draft,
    NewComment,
    NewFlag,
    Principal,
    Release,
    Retraction,
    ReviewFlag,
    Role,
    SavedQuestion,
    User,
    Withdrawal,
)


class AuditLog(Protocol):
    """Append-only: events can be appended and queried, never changed or removed."""

    def append(self, entry: AuditEntry) -> AuditEvent:
        """Store one event (in its own transaction)."""
        ...

    def query(self, *, draft_id: int | None = None, actor: str | None = None) -> list[AuditEvent]:
        """Events matching every given filter, oldest first."""
        ...


class DraftRepository(Protocol):
    """Drafts, their versions and comments, and releases."""

    def create_draft(self, draft: Draft, entry: AuditEntry) -> Draft:
        """Store a new draft (its ``id`` is assigned here) with version 1 and its audit event."""
        ...

    def get_draft(self, draft_id: int) -> Draft:
        """One draft with its sentences and comments; ``NotFoundError`` if unknown."""
        ...

    def list_drafts(self, state: str | None = None) -> list[Draft]:
        """Drafts, most recently changed first, optionally only those in ``state``."""
        ...

    def save_draft(self, draft: Draft, expected_version: int, entry: AuditEntry,
                   comment: NewComment | None = None) -> Draft:
        """Write ``draft`` as version ``expected_version + 1`` if the stored one is still ``expected_version``.

        Otherwise ``ConflictError`` with the current version.  The version snapshot, the
        comment and the audit event are written in the same transaction.
        """
        ...

    def draft_versions(self, draft_id: int) -> list[dict[str, object]]:
        """Every stored version snapshot of a draft, oldest first."""
        ...

    def add_release(self, draft: Draft, expected_version: int, content: dict[str, object],
                    entry: AuditEntry) -> Release:
        """Save ``draft`` (its released state) and insert its next numbered, immutable release."""
        ...

    def get_release(self, release_id: int) -> Release:
        """One release; ``NotFoundError`` if unknown."""
        ...

    def list_releases(self, *, draft_id: int | None = None, question_normalised: str | None = None) -> list[Release]:
        """Releases, newest first, optionally of one draft or one (normalised) question."""
        ...

    def withdraw_release(self, release_id: int, withdrawal: Withdrawal, entry: AuditEntry) -> Release:
        """Record the withdrawal of a release; ``ConflictError`` if it was already withdrawn."""
        ...


class UserRepository(Protocol):
    """Users and their API keys (keys stored as SHA-256 hashes only)."""

    def add_user(self, name: str, role: Role, actor: str) -> tuple[User, str]:
        """Create a user with a new key; returns the user and the key (shown once)."""
        ...

    def new_key(self, name: str, actor: str) -> str:
        """Issue another key for an existing user."""
        ...

    def revoke(self, name: str, actor: str) -> int:
        """Revoke every active key of a user at once; returns how many were revoked."""
        ...

    def authenticate(self, key: str) -> Principal | None:
        """The user an active key belongs to, or ``None``."""
        ...

    def list_users(self) -> Sequence[User]:
        """Every user, by name."""
        ...


class RecheckRepository(Protocol):
    """Review flags on releases, retractions and saved questions."""

    def add_flags(self, flags: list[NewFlag], actor: str) -> list[ReviewFlag]:
        """Store flags not stored yet (same release, document and kind), each with its audit event."""
        ...

    def flags(self, *, release_id: int | None = None, open_only: bool = False) -> list[ReviewFlag]:
        """Flags, oldest first."""
        ...

    def resolve_flag(self, flag_id: int, actor: str, resolution: str) -> ReviewFlag:
        """Mark a flag resolved; ``ConflictError`` if it already is."""
        ...

    def add_retractions(self, items: list[tuple[str, str, str]], source: str, actor: str) -> list[Retraction]:
        """Store ``(kind, identifier, reason)`` retractions not stored yet."""
        ...

    def retractions(self) -> list[Retraction]:
        """Every retraction."""
        ...

    def save_question(self, question: SavedQuestion) -> SavedQuestion:
        """Store a new saved question."""
        ...

    def saved_questions(self, owner: str | None = None) -> list[SavedQuestion]:
        """Saved questions, oldest first."""
        ...

    def record_run(self, saved_id: int, snapshot_id: str, cited: tuple[str, ...], new: list[str],
                   actor: str, claim_scorer: dict[str, str] | None = None,
                   sentence_scorer: dict[str, str] | None = None) -> SavedQuestion:
        """Remember a rerun of a saved question, the sentence scorer that made it (and, for a claim check, the
        claim scorer)."""
        ...


__all__ = ["AuditLog", "DraftRepository", "RecheckRepository", "UserRepository"]
