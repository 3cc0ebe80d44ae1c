"""HTTP bodies of re-checks: review flags, retractions, saved questions and re-check reports."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from service.domain import Retraction, ReviewFlag, SavedQuestion
from service.recheck import RecheckReport, SavedQuestionRun
from service.redaction import RedactsQuestion
from service.schemas import FiltersIn, PicoIn


class ReviewFlagOut(BaseModel):
    """A "needs review" flag on a release: which cited document, why, and whether it was resolved."""

    id: int
    release_id: int
    draft_id: int
    document_id: str
    kind: str = Field(description="changed, removed, superseded or retracted")
    reason: str
    details: dict[str, Any]
    detected_at: datetime
    detected_by: str
    resolved_at: datetime | None
    resolved_by: str | None
    resolution: str | None

    @classmethod
    def of(cls, f: ReviewFlag) -> ReviewFlagOut:
        """From the domain record."""
        return cls(id=f.id, release_id=f.release_id, draft_id=f.draft_id, document_id=f.document_id,
                   kind=str(f.kind), reason=f.reason, details=f.details, detected_at=f.detected_at,
                   detected_by=f.detected_by, resolved_at=f.resolved_at, resolved_by=f.resolved_by,
                   resolution=f.resolution)


class ReviewFlagListOut(BaseModel):
    """Review flags, oldest first."""

    flags: list[ReviewFlagOut]


class ResolveIn(BaseModel):
    """How a reviewer dealt with a flag (e.g. "checked: the new version says the same")."""

    model_config = ConfigDict(extra="forbid")
    resolution: str = Field(min_length=1, max_length=2000)


class RetractionIn(BaseModel):
    """Mark a document retracted by DOI, PMID or evsum document id (at least one)."""

    model_config = ConfigDict(extra="forbid")
    doi: str | None = Field(None, max_length=200)
    pmid: str | None = Field(None, max_length=20, pattern=r"^\d+$")
    document_id: str | None = Field(None, max_length=100)
    reason: str = Field("", max_length=2000)

    @model_validator(mode="after")
    def _needs_an_identifier(self) -> RetractionIn:
        if not (self.doi or self.pmid or self.document_id):
            raise ValueError("give a doi, pmid or document_id")
        return self

    def rows(self) -> list[dict[str, str]]:
        """As retraction-list rows."""
        return [{"doi": self.doi or "", "pmid": self.pmid or "", "document_id": self.document_id or "",
                 "reason": self.reason}]


class RetractionOut(BaseModel):
    """A retraction."""

    id: int
    identifier_kind: str
    identifier: str
    reason: str
    source: str
    added_at: datetime
    added_by: str

    @classmethod
    def of(cls, r: Retraction) -> RetractionOut:
        """From the domain record."""
        return cls(id=r.id, identifier_kind=r.identifier_kind, identifier=r.identifier, reason=r.reason,
                   source=r.source, added_at=r.added_at, added_by=r.added_by)


class RetractionsOut(BaseModel):
    """Retractions added (or every one) and the releases newly flagged because of them."""

    retractions: list[RetractionOut]
    new_flags: list[ReviewFlagOut] = Field(default_factory=list)


class SavedQuestionIn(RedactsQuestion):  # patient details removed before the question is stored
    """A question to save with its filters, rerun after index updates."""

    model_config = ConfigDict(extra="forbid")
    question: str = Field(min_length=1, max_length=2000)
    pico: PicoIn | None = None
    filters: FiltersIn | None = None
    source_priority: bool | None = None
    claim: bool = Field(False, description="Save a claim to check rather than a question: each rerun quotes the "
                        "sentences that report the finding, through the claim cross-encoder (400 without one).")


class SavedQuestionOut(BaseModel):
    """A saved question and what its last run cited."""

    id: int
    question: str
    pico: dict[str, str] | None
    filters: dict[str, Any]
    source_priority: bool | None
    owner: str
    created_at: datetime
    last_run_at: datetime | None
    last_snapshot_id: str | None
    cited_document_ids: list[str]
    claim: bool = False
    last_claim_scorer: dict[str, str] | None = Field(
        None, description="For a claim check: the claim scorer (name, graph_sha256) that made its last run; "
        "null for a question, or for a claim check last run before this was recorded.")
    last_sentence_scorer: dict[str, str] | None = Field(
        None, description="The sentence scorer (name, weights_sha256) that made its last run; null when last "
        "run before this was recorded.")

    @classmethod
    def of(cls, q: SavedQuestion) -> SavedQuestionOut:
        """From the domain record."""
        return cls(id=q.id, question=q.question, pico=q.pico, filters=q.filters, source_priority=q.source_priority,
                   owner=q.owner, created_at=q.created_at, last_run_at=q.last_run_at,
                   last_snapshot_id=q.last_snapshot_id, cited_document_ids=list(q.cited_document_ids),
                   claim=q.claim, last_claim_scorer=q.last_claim_scorer, last_sentence_scorer=q.last_sentence_scorer)


class SavedQuestionListOut(BaseModel):
    """Saved questions, oldest first."""

    saved_questions: list[SavedQuestionOut]


class SavedQuestionRunOut(BaseModel):
    """One rerun: the documents now cited, and those newly cited."""

    saved_question: SavedQuestionOut
    status: str
    cited_document_ids: list[str]
    new_document_ids: list[str]
    new_titles: list[str]
    claim_scorer_changed_from: dict[str, str] | None = Field(
        None, description="For a claim check whose claim scorer changed since its last run: the scorer of that "
        "run (the new one is saved_question.last_claim_scorer). What it cites may then differ because of the "
        "model rather than the evidence.")
    sentence_scorer_changed_from: dict[str, str] | None = Field(
        None, description="When the sentence scorer changed since its last run (new weights): the scorer of that "
        "run (the new one is saved_question.last_sentence_scorer). What it cites may then differ because of the "
        "model rather than the evidence.")

    @classmethod
    def of(cls, run: SavedQuestionRun) -> SavedQuestionRunOut:
        """From the domain record."""
        change, sentence_change = run.claim_scorer_change, run.sentence_scorer_change
        return cls(saved_question=SavedQuestionOut.of(run.saved), status=run.status,
                   cited_document_ids=list(run.cited_document_ids), new_document_ids=list(run.new_document_ids),
                   new_titles=list(run.new_titles), claim_scorer_changed_from=change[0] if change else None,
                   sentence_scorer_changed_from=sentence_change[0] if sentence_change else None)


class RecheckOut(BaseModel):
    """What a re-check found."""

    snapshot_id: str | None
    new_flags: list[ReviewFlagOut]
    open_flags: int
    saved_questions: list[SavedQuestionRunOut]

    @classmethod
    def of(cls, report: RecheckReport) -> RecheckOut:
        """From the domain record."""
        return cls(snapshot_id=report.snapshot_id, new_flags=[ReviewFlagOut.of(f) for f in report.new_flags],
                   open_flags=report.open_flags, saved_questions=[SavedQuestionRunOut.of(r) for r in report.runs])
