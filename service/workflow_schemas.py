"""HTTP bodies of the librarian workflow: drafts, reviews, releases, audit events and users."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from service.domain import AuditEvent, Draft, DraftSentence, Release, ReviewFlag, Role, User, sentence_snapshot
from service.editing import DraftChange, SentenceAddition, SentenceChange
from service.recheck_schemas import ReviewFlagOut
from service.redaction import RedactsQuestion, describe
from service.schemas import FiltersIn, PicoIn
from service.workflow import readiness_problems

Verdict = Literal["unverified", "verified", "rejected", "needs_edit"]


class DraftCreateIn(RedactsQuestion):
    """A question to draft a summary for (or, with ``claim``, a claim to check)."""

    model_config = ConfigDict(extra="forbid")
    question: str = Field(min_length=1, max_length=2000)
    max_sentences: int | None = Field(None, ge=1, le=20, description="Sentences in the machine draft (a sentence "
                                      "cut by a page break counts once, though it is quoted as its two parts).")
    pico: PicoIn | None = Field(None, description="Structured question; its fields are added to the search.")
    filters: FiltersIn | None = Field(None, description="Restrict the documents the machine draft quotes from.")
    source_priority: bool | None = Field(None, description="Apply the source-priority prior (default: setting).")
    claim: bool = Field(False, description="Draft a claim check (\"Vitamin D reduces fractures\") instead of "
                        "a question: the machine draft quotes the sentences that report the finding, for or "
                        "against, as ranked by the claim cross-encoder. 400 when no claim scorer is installed.")


class SentenceChangeIn(BaseModel):
    """A verdict, new wording or note for one sentence (``id`` as in the draft)."""

    model_config = ConfigDict(extra="forbid")
    id: int
    status: Verdict | None = None
    text: str | None = Field(None, max_length=4000, description="New wording, kept beside the verbatim source.")
    note: str | None = Field(None, max_length=2000)


class SpanIn(BaseModel):
    """A span of a page (a search hit's citation); the verbatim text is read from the index."""

    model_config = ConfigDict(extra="ignore")  # a whole search-hit citation may be sent back as it came
    document_id: str
    page: int = Field(ge=1)
    char_start: int = Field(ge=0)
    char_end: int = Field(ge=1)


class SentenceAddIn(BaseModel):
    """A sentence to add: ``sentence_id`` of an indexed sentence, or a ``citation`` span."""

    model_config = ConfigDict(extra="forbid")
    sentence_id: int | None = Field(None, ge=0)
    citation: SpanIn | None = None
    position: int | None = Field(None, ge=0, description="0-based place in the list; default: the end.")
    query: str | None = Field(None, max_length=2000, description="The search that found it (search strategy).")


class DraftPatchIn(BaseModel):
    """Changes to a draft, applied in order: sentence edits, removals, additions, then the new order."""

    model_config = ConfigDict(extra="forbid")
    sentences: list[SentenceChangeIn] = Field(default_factory=list)
    remove: list[int] = Field(default_factory=list, description="Ids of sentences to remove.")
    add: list[SentenceAddIn] = Field(default_factory=list)
    order: list[int] | None = Field(None, description="Every remaining sentence id, in the new order.")
    bottom_line: str | None = Field(None, max_length=4000)
    caveats: str | None = Field(None, max_length=4000)
    version: int | None = Field(None, description="Alternative to the If-Match header.")

    def to_change(self) -> DraftChange:
        """The domain change."""
        return DraftChange(
            sentences=tuple(SentenceChange(key=s.id, status=s.status, text=s.text, note=s.note)  # type: ignore[arg-type]
                            for s in self.sentences),
            remove=tuple(self.remove),
            add=tuple(SentenceAddition(sentence_id=a.sentence_id, position=a.position, query=a.query,
                                       **(a.citation.model_dump() if a.citation else {})) for a in self.add),
            order=tuple(self.order) if self.order is not None else None,
            bottom_line=self.bottom_line, caveats=self.caveats)


class CommentIn(BaseModel):
    """A comment on a draft, optionally on one sentence."""

    model_config = ConfigDict(extra="forbid")
    body: str = Field(min_length=1, max_length=4000)
    sentence_id: int | None = None


class ReviewIn(BaseModel):
    """An approval (comment optional) or a return (comment required)."""

    model_config = ConfigDict(extra="forbid")
    comment: str | None = Field(None, max_length=4000)


class ReturnIn(BaseModel):
    """A return to the author, saying what to change."""

    model_config = ConfigDict(extra="forbid")
    comment: str = Field(min_length=1, max_length=4000)


class WithdrawIn(BaseModel):
    """Why a release is withdrawn."""

    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=4000)


class CitationOut(BaseModel):
    """Where a sentence's verbatim source text is: ``page_text[char_start:char_end] == source_text``."""

    document_id: str
    title: str
    page: int
    char_start: int
    char_end: int
    section: str | None = None
    source_path: str = ""
    doc_type: str = Field("", description="The cited document's type (guideline, systematic_review, rct ...).")


class SentenceOut(BaseModel):
    """A draft sentence: ``text`` is the edit when ``edited``, else the verbatim ``source_text``."""

    id: int
    text: str
    source_text: str
    edited: bool
    edited_text: str | None
    status: Verdict
    origin: str
    sentence_id: int | None
    note: str | None
    citation: CitationOut
    continues: bool = Field(False, description="True for the first part of a sentence that a page break cut in "
                            "two: the next sentence of the draft is its end, cited to the next page.")

    @classmethod
    def of(cls, sentence: DraftSentence) -> SentenceOut:
        """From the domain record."""
        return cls.model_validate(sentence_snapshot(sentence))


class CommentOut(BaseModel):
    """A comment."""

    id: int
    author: str
    at: datetime
    kind: str
    body: str
    sentence_id: int | None = None


class DraftOut(BaseModel):
    """A draft with its sentences, comments and what still blocks submission."""

    id: int
    version: int
    state: str
    question: str
    pico: dict[str, Any] | None
    author: str
    reviewer: str | None
    bottom_line: str
    caveats: str
    max_sentences: int
    snapshot_id: str
    search: dict[str, Any]
    claim: bool = Field(False, description="Whether the draft checks a claim rather than answers a question.")
    created_at: datetime
    updated_at: datetime
    submitted_at: datetime | None
    approved_at: datetime | None
    release_count: int
    sentences: list[SentenceOut]
    comments: list[CommentOut]
    not_ready: list[str] = Field(description="Why the draft cannot be submitted yet (empty when it can).")
    redactions: list[str] = Field(default_factory=list, description="Patient details removed from the question "
                                  "when this draft was created (nhs_number, date, postcode, phone, email).")
    redaction_notice: str | None = Field(None, description="What to tell the user when something was redacted.")

    def with_redactions(self, kinds: tuple[str, ...]) -> DraftOut:
        """This draft, saying which patient details were removed from its question."""
        return self.model_copy(update={"redactions": list(kinds), "redaction_notice": describe(kinds) or None})

    @classmethod
    def of(cls, d: Draft) -> DraftOut:
        """From the domain record."""
        return cls(id=d.id, version=d.version, state=str(d.state), question=d.question, pico=d.pico,
                   author=d.author, reviewer=d.reviewer, bottom_line=d.bottom_line, caveats=d.caveats,
                   max_sentences=d.max_sentences, snapshot_id=d.snapshot_id, search=d.search,
                   claim=d.claim,
                   created_at=d.created_at, updated_at=d.updated_at, submitted_at=d.submitted_at,
                   approved_at=d.approved_at, release_count=d.release_count,
                   sentences=[SentenceOut.of(s) for s in d.sentences],
                   comments=[CommentOut(id=c.id, author=c.author, at=c.at, kind=c.kind, body=c.body,
                                        sentence_id=c.sentence_key) for c in d.comments],
                   not_ready=readiness_problems(d))


class DraftListItem(BaseModel):
    """A draft in a list."""

    id: int
    version: int
    state: str
    question: str
    author: str
    reviewer: str | None
    updated_at: datetime
    sentences: int
    release_count: int
    claim: bool = Field(False, description="A claim check rather than a question's summary.")


class DraftListOut(BaseModel):
    """Drafts, most recently changed first."""

    drafts: list[DraftListItem]

    @classmethod
    def of(cls, drafts: list[Draft]) -> DraftListOut:
        """From domain records."""
        return cls(drafts=[DraftListItem(id=d.id, version=d.version, state=str(d.state), question=d.question,
                                         author=d.author, reviewer=d.reviewer, updated_at=d.updated_at,
                                         sentences=len(d.sentences), release_count=d.release_count,
                                         claim=d.claim)
                           for d in drafts])


class DraftVersionOut(BaseModel):
    """One stored version of a draft."""

    version: int
    state: str
    actor: str
    created_at: datetime
    snapshot: dict[str, Any]


class ReleaseCreatedOut(BaseModel):
    """A new release."""

    release_id: int
    number: int
    draft_id: int
    draft_version: int
    released_at: datetime


class WithdrawalOut(BaseModel):
    """Why and by whom a release was withdrawn."""

    at: datetime
    actor: str
    reason: str


class ReleaseItem(BaseModel):
    """A release in a list."""

    release_id: int
    draft_id: int
    number: int
    question: str
    released_at: datetime
    released_by: str
    withdrawn: bool
    needs_review: bool = Field(False, description="A cited document changed, was superseded or retracted "
                               "(see review_flags / GET /v1/review-flags).")
    claim: bool = Field(False, description="A claim check rather than a question's summary.")

    @classmethod
    def of(cls, r: Release, needs_review: bool = False) -> ReleaseItem:
        """From the domain record."""
        return cls(release_id=r.id, draft_id=r.draft_id, number=r.number, question=r.question,
                   released_at=r.released_at, released_by=r.released_by, withdrawn=r.withdrawal is not None,
                   needs_review=needs_review, claim=r.claim)


class ReleaseListOut(BaseModel):
    """Releases, newest first (best match first when filtered by question)."""

    releases: list[ReleaseItem]


class ReleaseOut(ReleaseItem):
    """A release: its frozen content, and its withdrawal if any."""

    draft_version: int
    pico: dict[str, Any] | None
    author: str
    reviewer: str | None
    approved_at: str | None
    submitted_at: str | None
    bottom_line: str
    caveats: str
    snapshot_id: str
    search: dict[str, Any]
    sentences: list[SentenceOut]
    documents: dict[str, dict[str, str]]
    withdrawal: WithdrawalOut | None
    review_flags: list[ReviewFlagOut] = Field(default_factory=list, description="Every flag, open or resolved.")

    @classmethod
    def full(cls, r: Release, flags: Sequence[ReviewFlag] = ()) -> ReleaseOut:
        """From the domain record and its review flags."""
        c = r.content
        needs_review = any(f.resolved_at is None for f in flags)
        return cls(**ReleaseItem.of(r, needs_review).model_dump(), draft_version=r.draft_version, pico=c.get("pico"),
                   review_flags=[ReviewFlagOut.of(f) for f in flags],
                   author=c.get("author", ""), reviewer=c.get("reviewer"), approved_at=c.get("approved_at"),
                   submitted_at=c.get("submitted_at"), bottom_line=c.get("bottom_line", ""),
                   caveats=c.get("caveats", ""), snapshot_id=c.get("snapshot_id", ""), search=c.get("search", {}),
                   sentences=[SentenceOut.model_validate(s) for s in c.get("sentences", [])],
                   documents=c.get("documents", {}),
                   withdrawal=WithdrawalOut(at=r.withdrawal.at, actor=r.withdrawal.actor, reason=r.withdrawal.reason)
                   if r.withdrawal else None)


class AuditEventOut(BaseModel):
    """One audit event: who did what, when, to which draft or release, with before and after."""

    id: int
    at: datetime
    actor: str
    action: str
    draft_id: int | None
    release_id: int | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None

    @classmethod
    def of(cls, e: AuditEvent) -> AuditEventOut:
        """From the domain record."""
        return cls(id=e.id, at=e.at, actor=e.actor, action=e.action, draft_id=e.draft_id,
                   release_id=e.release_id, before=e.before, after=e.after)


class AuditListOut(BaseModel):
    """Audit events, oldest first."""

    events: list[AuditEventOut]


class UserIn(BaseModel):
    """A new user."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    role: Role


class UserOut(BaseModel):
    """A user (keys are never shown again after creation)."""

    name: str
    role: str
    created_at: datetime
    active_keys: int

    @classmethod
    def of(cls, u: User) -> UserOut:
        """From the domain record."""
        return cls(name=u.name, role=str(u.role), created_at=u.created_at, active_keys=u.active_keys)


class UserListOut(BaseModel):
    """Every user."""

    users: list[UserOut]


class KeyOut(BaseModel):
    """A new API key: shown once, stored only as a hash."""

    name: str
    role: str
    api_key: str


class RevokedOut(BaseModel):
    """How many keys were revoked."""

    name: str
    revoked: int
