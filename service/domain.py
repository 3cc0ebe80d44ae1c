"""Records and vocabularies of the librarian workflow (no FastAPI, no SQLAlchemy).

A *draft* answers one clinical question with quoted sentences.  Each sentence
keeps its verbatim source span (``source_text`` and its ``Citation``); a
librarian's rewording is kept beside it as ``edited_text`` (a tracked change),
so an edited sentence is never passed off as a verbatim quote.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from evsum.records import Citation


def utcnow() -> datetime:
    """Now, timezone-aware UTC, to the second."""
    return datetime.now(UTC).replace(microsecond=0)


class Role(StrEnum):
    """API-key roles, lowest first; a higher role may do everything a lower one may."""

    CLINICIAN = "clinician"
    LIBRARIAN = "librarian"
    REVIEWER = "reviewer"
    ADMIN = "admin"


def role_allows(role: Role, allowed: frozenset[Role]) -> bool:
    """True when a caller with ``role`` may use an endpoint open to ``allowed``.

    Admin may do everything; an endpoint open to clinicians is open to every role
    (librarians and reviewers read everything a clinician may).
    """
    return role is Role.ADMIN or role in allowed or Role.CLINICIAN in allowed


class DraftState(StrEnum):
    """Where a draft is in its life: draft → in_review → approved → released (returned goes back)."""

    DRAFT = "draft"
    IN_REVIEW = "in_review"
    RETURNED = "returned"
    APPROVED = "approved"
    RELEASED = "released"


EDITABLE_STATES = frozenset({DraftState.DRAFT, DraftState.RETURNED, DraftState.RELEASED})
"""Editing a released draft starts its next version; in review or approved, the text is frozen."""


class SentenceStatus(StrEnum):
    """A librarian's verdict on one sentence checked against its highlighted source."""

    UNVERIFIED = "unverified"
    VERIFIED = "verified"
    REJECTED = "rejected"
    NEEDS_EDIT = "needs_edit"


class AuditAction(StrEnum):
    """Every kind of state change the audit log records."""

    CREATE = "create"
    EDIT = "edit"
    VERIFY = "verify"
    SUBMIT = "submit"
    APPROVE = "approve"
    RETURN = "return"
    RELEASE = "release"
    WITHDRAW = "withdraw"
    COMMENT = "comment"
    USER_ADD = "user_add"
    KEY_REVOKE = "key_revoke"
    NEEDS_REVIEW = "needs_review"  # a release was flagged: a cited document changed, was superseded or retracted
    FLAG_RESOLVED = "flag_resolved"
    RETRACT = "retract"  # a document (DOI, PMID or id) was marked retracted
    SAVE_QUESTION = "save_question"
    RECHECK = "recheck"  # a saved question was rerun after an index update


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller."""

    name: str
    role: Role


@dataclass(frozen=True, slots=True)
class User:
    """A user of the service; keys are stored only as hashes."""

    id: int
    name: str
    role: Role
    created_at: datetime
    active_keys: int = 0


@dataclass(frozen=True, slots=True)
class DraftSentence:
    """One sentence of a draft: the verbatim source span, and the librarian's edit if any."""

    key: int
    citation: Citation
    source_text: str
    status: SentenceStatus = SentenceStatus.UNVERIFIED
    origin: str = "machine"  # "machine" (the summariser's draft) or "added" (from a search)
    sentence_id: int | None = None  # the index sentence id, when known
    edited_text: str | None = None
    note: str | None = None
    # The first part of a sentence cut by a page break, while its end follows it (an edit that removes, moves or
    # separates the end clears the flag: service.editing).
    continues: bool = False

    @property
    def edited(self) -> bool:
        """True when the librarian's wording replaces the verbatim quote."""
        return self.edited_text is not None

    @property
    def text(self) -> str:
        """What the summary shows: the edit if there is one, else the verbatim source text."""
        return self.edited_text if self.edited_text is not None else self.source_text


@dataclass(frozen=True, slots=True)
class Comment:
    """A note on a draft: a reviewer's return reason, an approval remark, or a plain comment."""

    id: int
    author: str
    at: datetime
    kind: str  # "comment", "return" or "approve"
    body: str
    sentence_key: int | None = None


@dataclass(frozen=True, slots=True)
class Draft:
    """A draft summary and everything the workflow needs to decide what may happen next."""

    id: int
    question: str
    pico: dict[str, str] | None
    state: DraftState
    version: int
    author: str
    max_sentences: int
    snapshot_id: str
    search: dict[str, Any]
    sentences: tuple[DraftSentence, ...]
    next_key: int
    created_at: datetime
    updated_at: datetime
    bottom_line: str = ""
    caveats: str = ""
    reviewer: str | None = None
    submitted_at: datetime | None = None
    approved_at: datetime | None = None
    release_count: int = 0
    comments: tuple[Comment, ...] = ()

    @property
    def claim(self) -> bool:
        """Whether the draft checks a claim (its search strategy says so) rather than answers a question."""
        return bool(self.search.get("claim", False))


@dataclass(frozen=True, slots=True)
class NewComment:
    """A comment to store with a state change."""

    author: str
    kind: str
    body: str
    sentence_key: int | None = None


@dataclass(frozen=True, slots=True)
class Withdrawal:
    """Why and by whom a release was withdrawn."""

    at: datetime
    actor: str
    reason: str


@dataclass(frozen=True, slots=True)
class Release:
    """An immutable, numbered version of a draft; ``content`` is its frozen snapshot."""

    id: int
    draft_id: int
    number: int
    draft_version: int
    released_at: datetime
    released_by: str
    content: dict[str, Any]
    withdrawal: Withdrawal | None = None

    @property
    def question(self) -> str:
        """The question the release answers (or the claim it checks)."""
        return str(self.content.get("question", ""))

    @property
    def claim(self) -> bool:
        """Whether the release is a claim check (drafted with ``claim``) rather than a question's summary."""
        return bool(self.content.get("search", {}).get("claim", False))


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """An audit event to append: who did what to which draft or release, with before and after."""

    actor: str
    action: AuditAction
    draft_id: int | None = None
    release_id: int | None = None
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    at: datetime = field(default_factory=utcnow)


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """A stored audit event (entries get an id in append order)."""

    id: int
    at: datetime
    actor: str
    action: str
    draft_id: int | None
    release_id: int | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None


def sentence_snapshot(sentence: DraftSentence) -> dict[str, Any]:
    """A JSON-ready view of one sentence, as snapshots, releases and audit entries store it."""
    c = sentence.citation
    return {
        "id": sentence.key, "text": sentence.text, "source_text": sentence.source_text,
        "edited": sentence.edited, "edited_text": sentence.edited_text, "status": str(sentence.status),
        "origin": sentence.origin, "sentence_id": sentence.sentence_id, "note": sentence.note,
        "continues": sentence.continues,
        "citation": {"document_id": c.document_id, "title": c.title, "page": c.page, "char_start": c.char_start,
                     "char_end": c.char_end, "section": c.section, "source_path": c.source_path,
                     "doc_type": c.doc_type},
    }


def draft_snapshot(draft: Draft) -> dict[str, Any]:
    """A JSON-ready view of a draft's content (what a version or a release freezes)."""
    return {
        "draft_id": draft.id, "version": draft.version, "state": str(draft.state), "question": draft.question,
        "pico": draft.pico, "author": draft.author, "reviewer": draft.reviewer,
        "bottom_line": draft.bottom_line, "caveats": draft.caveats, "snapshot_id": draft.snapshot_id,
        "search": draft.search, "max_sentences": draft.max_sentences,
        "submitted_at": draft.submitted_at.isoformat() if draft.submitted_at else None,
        "approved_at": draft.approved_at.isoformat() if draft.approved_at else None,
        "sentences": [sentence_snapshot(s) for s in draft.sentences],
    }


def normalise_question(text: str) -> str:
    """Lower case, punctuation dropped, whitespace collapsed: the key released answers are found by."""
    kept = "".join(ch if ch.isalnum() else " " for ch in text.lower())
    return " ".join(kept.split())


class FlagKind(StrEnum):
    """Why a released summary needs review."""

    CHANGED = "changed"  # the cited document was re-indexed with different content
    REMOVED = "removed"  # the cited document is no longer in the index
    SUPERSEDED = "superseded"  # a newer version of the cited guideline is indexed
    RETRACTED = "retracted"  # the cited document is on the retraction list


@dataclass(frozen=True, slots=True)
class NewFlag:
    """A reason found by a re-check to review one release because of one cited document."""

    release_id: int
    draft_id: int
    document_id: str
    kind: FlagKind
    reason: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ReviewFlag:
    """A stored "needs review" flag on a release; ``resolved_at`` is set once a reviewer has dealt with it."""

    id: int
    release_id: int
    draft_id: int
    document_id: str
    kind: FlagKind
    reason: str
    details: dict[str, Any]
    detected_at: datetime
    detected_by: str
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    resolution: str | None = None


@dataclass(frozen=True, slots=True)
class Retraction:
    """A document marked retracted, by DOI, PMID or evsum document id."""

    id: int
    identifier_kind: str  # "doi", "pmid" or "document"
    identifier: str
    reason: str
    source: str  # "admin" or the retraction list file it came from
    added_at: datetime
    added_by: str


@dataclass(frozen=True, slots=True)
class SavedQuestion:
    """A librarian's saved question with its filters, rerun after index updates (``evsum recheck``)."""

    id: int
    question: str
    pico: dict[str, str] | None
    filters: dict[str, Any]
    source_priority: bool | None
    owner: str
    created_at: datetime
    last_run_at: datetime | None = None
    last_snapshot_id: str | None = None
    cited_document_ids: tuple[str, ...] = ()
    claim: bool = False  # a claim to check, rerun through the claim cross-encoder
    # the claim scorer (name, graph SHA-256) that made the last run of a claim check; None for questions
    last_claim_scorer: dict[str, str] | None = None
    # the sentence scorer (name, weights SHA-256) that made the last run; None if run before this was recorded
    last_sentence_scorer: dict[str, str] | None = None
