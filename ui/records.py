"""Records the UI client returns for citations and the librarian workflow (field names = the API's JSON).

``ui.client`` re-exports every name here; pages import them from ``ui.client``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from evsum.records import Citation
from ui.recheck_client import UIReviewFlag

#: Citations are the project's shared typed record: the same fields as the API's JSON.
UICitation = Citation


@dataclass(frozen=True, slots=True)
class UIDraftSentence:
    """A draft sentence: ``text`` is the librarian's edit when ``edited``, else the verbatim ``source_text``."""

    id: int
    text: str
    source_text: str
    status: str
    citation: UICitation
    edited: bool = False
    origin: str = "machine"
    sentence_id: int | None = None
    note: str | None = None
    continues: bool = False  # the first part of a sentence cut by a page break: the next sentence is its end


@dataclass(frozen=True, slots=True)
class UIComment:
    """A comment on a draft."""

    id: int
    author: str
    at: str
    kind: str
    body: str


@dataclass(frozen=True, slots=True)
class UIDraft:
    """A draft summary with its sentences, comments and what blocks submission."""

    id: int
    version: int
    state: str
    question: str
    author: str
    reviewer: str | None = None
    bottom_line: str = ""
    caveats: str = ""
    snapshot_id: str = ""
    release_count: int = 0
    pico: dict[str, Any] | None = None
    sentences: tuple[UIDraftSentence, ...] = ()
    comments: tuple[UIComment, ...] = ()
    not_ready: tuple[str, ...] = ()
    redaction_notice: str | None = None
    claim: bool = False  # drafted as a claim check (the claim cross-encoder chose the quotes)


@dataclass(frozen=True, slots=True)
class UIDraftItem:
    """A draft in a list."""

    id: int
    version: int
    state: str
    question: str
    author: str
    updated_at: str
    sentences: int = 0
    reviewer: str | None = None
    release_count: int = 0
    claim: bool = False  # a claim check


@dataclass(frozen=True, slots=True)
class DraftList:
    """The ``GET /v1/drafts`` answer."""

    drafts: tuple[UIDraftItem, ...] = ()


@dataclass(frozen=True, slots=True)
class UIWithdrawal:
    """Why a release was withdrawn."""

    at: str
    actor: str
    reason: str


@dataclass(frozen=True, slots=True)
class UIReleaseItem:
    """A release in a list."""

    release_id: int
    draft_id: int
    number: int
    question: str
    released_at: str
    released_by: str
    withdrawn: bool = False
    needs_review: bool = False
    claim: bool = False  # a claim check


@dataclass(frozen=True, slots=True)
class ReleaseList:
    """The ``GET /v1/releases`` answer."""

    releases: tuple[UIReleaseItem, ...] = ()


@dataclass(frozen=True, slots=True)
class UIRelease:
    """A released, signed-off summary (immutable)."""

    release_id: int
    draft_id: int
    number: int
    question: str
    released_at: str
    released_by: str
    author: str
    reviewer: str | None = None
    approved_at: str | None = None
    bottom_line: str = ""
    caveats: str = ""
    snapshot_id: str = ""
    withdrawn: bool = False
    withdrawal: UIWithdrawal | None = None
    sentences: tuple[UIDraftSentence, ...] = field(default_factory=tuple)
    needs_review: bool = False
    review_flags: tuple[UIReviewFlag, ...] = ()
    documents: dict[str, dict[str, str]] = field(default_factory=dict)
    claim: bool = False  # a claim check: its text is the claim checked, not a question


@dataclass(frozen=True, slots=True)
class UIReleaseCreated:
    """The answer to a release request."""

    release_id: int
    number: int
    draft_id: int
