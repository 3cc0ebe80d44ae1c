"""Drafts: create from the machine summary, edit with optimistic locking, submit, review and release."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response, status

from evsum.errors import InvalidRequestError
from evsum.retrieval import priority_for
from service.deps import (
    DraftId,
    EvidenceDep,
    Librarian,
    OptionalEvidenceDep,
    Reviewer,
    SettingsDep,
    Staff,
    WorkflowDep,
)
from service.domain import Draft
from service.workflow_schemas import (
    CommentIn,
    DraftCreateIn,
    DraftListOut,
    DraftOut,
    DraftPatchIn,
    DraftVersionOut,
    ReleaseCreatedOut,
    ReturnIn,
    ReviewIn,
)

router = APIRouter(prefix="/v1/drafts", tags=["drafts"])

IfMatch = Annotated[str | None, Header(description="The draft version you edited (its ETag).")]
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"description": "Stale version or illegal transition (problem+json with current_version)"}}


def parse_if_match(value: str | None) -> int | None:
    """The version in an ``If-Match`` header (``3``, ``"3"`` or ``W/"3"``); ``None`` when absent or ``*``."""
    if value is None or value.strip() in ("", "*"):
        return None
    text = value.strip().removeprefix("W/").strip('"')
    if not text.isdigit():
        raise InvalidRequestError(f"If-Match must carry a draft version (the ETag), not {value!r}")
    return int(text)


def _out(response: Response, draft: Draft) -> DraftOut:
    response.headers["ETag"] = str(draft.version)
    return DraftOut.of(draft)


@router.post("", response_model=DraftOut, status_code=status.HTTP_201_CREATED, summary="Draft a summary")
def create_draft(body: DraftCreateIn, who: Librarian, workflow: WorkflowDep, evidence: EvidenceDep,
                 settings: SettingsDep, response: Response) -> DraftOut:
    """The summariser's machine draft for the question, stored as version 1 with every sentence unverified."""
    pico = {k: v for k, v in body.pico.model_dump().items() if v} if body.pico else None
    draft = workflow.create_draft(who, body.question, body.max_sentences or settings.summary.max_sentences,
                                  evidence, pico, filters=body.filters.to_record() if body.filters else None,
                                  priority=priority_for(settings.priority, body.source_priority),
                                  claim=body.claim)
    response.headers["Location"] = f"/v1/drafts/{draft.id}"
    return _out(response, draft).with_redactions(body.redactions)


@router.get("", response_model=DraftListOut, summary="List drafts")
def list_drafts(who: Staff, workflow: WorkflowDep,
                state: Annotated[str | None, Query(description="draft, in_review, returned, approved or released")]
                = None) -> DraftListOut:
    """Drafts, most recently changed first, optionally in one state."""
    return DraftListOut.of(workflow.list_drafts(who, state))


@router.get("/{draft_id}", response_model=DraftOut, summary="One draft")
def get_draft(draft_id: DraftId, who: Staff, workflow: WorkflowDep, response: Response) -> DraftOut:
    """The draft with its sentences and comments; the ``ETag`` header is its version."""
    return _out(response, workflow.get_draft(who, draft_id))


@router.get("/{draft_id}/versions", response_model=list[DraftVersionOut], summary="Every version of a draft")
def draft_versions(draft_id: DraftId, who: Staff, workflow: WorkflowDep) -> list[DraftVersionOut]:
    """Stored snapshots, oldest first, for history and diffs."""
    return [DraftVersionOut.model_validate(v) for v in workflow.versions(who, draft_id)]


@router.patch("/{draft_id}", response_model=DraftOut, responses=CONFLICT, summary="Edit a draft")
def edit_draft(draft_id: DraftId, body: DraftPatchIn, who: Librarian, workflow: WorkflowDep,
               evidence: OptionalEvidenceDep, response: Response, if_match: IfMatch = None) -> DraftOut:
    """Verify, reject, reword, remove, add and reorder sentences; set the bottom line and caveats.

    Needs ``If-Match: <version>`` (or ``version`` in the body); a stale version gets 409.
    """
    version = parse_if_match(if_match)
    if version is None:
        version = body.version
    if version is None:
        raise InvalidRequestError("send the version you edited as 'If-Match: <version>' (or 'version' in the body)")
    return _out(response, workflow.edit(who, draft_id, version, body.to_change(), evidence))


@router.post("/{draft_id}/comments", response_model=DraftOut, status_code=201, summary="Comment on a draft")
def comment(draft_id: DraftId, body: CommentIn, who: Staff, workflow: WorkflowDep, response: Response) -> DraftOut:
    """A comment from a librarian or reviewer, optionally on one sentence."""
    return _out(response, workflow.comment(who, draft_id, body.body, body.sentence_id))


@router.post("/{draft_id}/submit", response_model=DraftOut, responses=CONFLICT, summary="Submit for review")
def submit(draft_id: DraftId, who: Librarian, workflow: WorkflowDep, response: Response,
           if_match: IfMatch = None) -> DraftOut:
    """The author submits a fully verified draft with a bottom line."""
    return _out(response, workflow.submit(who, draft_id, parse_if_match(if_match)))


@router.post("/{draft_id}/approve", response_model=DraftOut, responses=CONFLICT, summary="Approve a draft")
def approve(draft_id: DraftId, who: Reviewer, workflow: WorkflowDep, response: Response,
            body: ReviewIn | None = None, if_match: IfMatch = None) -> DraftOut:
    """A reviewer who is not the author approves a draft in review."""
    return _out(response, workflow.approve(who, draft_id, parse_if_match(if_match), body.comment if body else None))


@router.post("/{draft_id}/return", response_model=DraftOut, responses=CONFLICT, summary="Return to the author")
def return_draft(draft_id: DraftId, body: ReturnIn, who: Reviewer, workflow: WorkflowDep, response: Response,
                 if_match: IfMatch = None) -> DraftOut:
    """A reviewer who is not the author returns the draft with a comment."""
    return _out(response, workflow.return_draft(who, draft_id, body.comment, parse_if_match(if_match)))


@router.post("/{draft_id}/release", response_model=ReleaseCreatedOut, status_code=201, responses=CONFLICT,
             summary="Release an approved draft")
def release(draft_id: DraftId, who: Reviewer, workflow: WorkflowDep, evidence: OptionalEvidenceDep,
            response: Response, if_match: IfMatch = None) -> ReleaseCreatedOut:
    """An immutable, numbered release; later edits of the draft start its next version."""
    created = workflow.release(who, draft_id, parse_if_match(if_match), evidence)
    response.headers["Location"] = f"/v1/releases/{created.id}"
    return ReleaseCreatedOut(release_id=created.id, number=created.number, draft_id=created.draft_id,
                             draft_version=created.draft_version, released_at=created.released_at)



