"""Released summaries: list, find by question, read, export and withdraw."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from service.deps import Clinician, DraftIdFilter, RecheckerDep, ReleaseId, Reviewer, WorkflowDep
from service.exports import FORMATS, export
from service.workflow_schemas import ReleaseItem, ReleaseListOut, ReleaseOut, WithdrawIn

router = APIRouter(prefix="/v1/releases", tags=["releases"])


@router.get("", response_model=ReleaseListOut, summary="List releases, or find those answering a question")
def list_releases(
    who: Clinician, workflow: WorkflowDep, rechecker: RecheckerDep,
    question: Annotated[str | None, Query(max_length=2000, description="Current releases answering this "
                                          "question (same words, or similar enough), best first.")] = None,
    draft_id: DraftIdFilter = None,
    include_withdrawn: Annotated[bool, Query()] = True,
    needs_review: Annotated[bool | None, Query(description="Only releases with (true) or without (false) an "
                                               "open 'needs review' flag.")] = None,
    claim: Annotated[bool | None, Query(description="Only claim checks (true) or only question summaries "
                                        "(false).")] = None,
) -> ReleaseListOut:
    """Releases, newest first; with ``question``, only current (not withdrawn) matching ones."""
    found = workflow.releases(draft_id=draft_id, question=question, include_withdrawn=include_withdrawn,
                              claim=claim)
    flagged = {f.release_id for f in rechecker.store.flags(open_only=True)}
    items = [ReleaseItem.of(r, r.id in flagged) for r in found]
    return ReleaseListOut(releases=[i for i in items if needs_review is None or i.needs_review is needs_review])


@router.get("/{release_id}", response_model=ReleaseOut, summary="One release")
def get_release(release_id: ReleaseId, who: Clinician, workflow: WorkflowDep, rechecker: RecheckerDep) -> ReleaseOut:
    """The frozen content of a release, its withdrawal if any, and its review flags."""
    return ReleaseOut.full(workflow.drafts.get_release(release_id), rechecker.store.flags(release_id=release_id))


@router.get("/{release_id}/export", summary="Export a release (Word, Markdown or RIS)", response_class=Response,
            responses={200: {"content": {FORMATS[f][0].split(";")[0]: {} for f in FORMATS}}})
def export_release(release_id: ReleaseId, who: Clinician, workflow: WorkflowDep,
                   format: Annotated[Literal["docx", "md", "ris"], Query()] = "docx") -> Response:
    """The release as a .docx (NHS evidence-summary layout), Markdown, or RIS of its references."""
    release = workflow.drafts.get_release(release_id)
    media_type, extension = FORMATS[format]
    filename = f"evidence-summary-{release.draft_id}-v{release.number}.{extension}"
    return Response(export(release, format), media_type=media_type,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.post("/{release_id}/withdraw", response_model=ReleaseOut, summary="Withdraw a release",
             responses={409: {"description": "Already withdrawn"}})
def withdraw(release_id: ReleaseId, body: WithdrawIn, who: Reviewer, workflow: WorkflowDep,
             rechecker: RecheckerDep) -> ReleaseOut:
    """Mark a release withdrawn with a reason; its content stays as released."""
    withdrawn = workflow.withdraw(who, release_id, body.reason)
    return ReleaseOut.full(withdrawn, rechecker.store.flags(release_id=release_id))
