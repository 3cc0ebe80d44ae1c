"""Released summaries: list, find by question, read, export and withdraw."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from service.deps import Clinician, Reviewer, WorkflowDep
from service.exports import FORMATS, export
from service.workflow_schemas import ReleaseItem, ReleaseListOut, ReleaseOut, WithdrawIn

router = APIRouter(prefix="/v1/releases", tags=["releases"])


@router.get("", response_model=ReleaseListOut, summary="List releases, or find those answering a question")
def list_releases(
    who: Clinician, workflow: WorkflowDep,
    question: Annotated[str | None, Query(max_length=2000, description="Current releases answering this "
                                          "question (same words, or similar enough), best first.")] = None,
    draft_id: Annotated[int | None, Query()] = None,
    include_withdrawn: Annotated[bool, Query()] = True,
) -> ReleaseListOut:
    """Releases, newest first; with ``question``, only current (not withdrawn) matching ones."""
    found = workflow.releases(draft_id=draft_id, question=question, include_withdrawn=include_withdrawn)
    return ReleaseListOut(releases=[ReleaseItem.of(r) for r in found])


@router.get("/{release_id}", response_model=ReleaseOut, summary="One release")
def get_release(release_id: int, who: Clinician, workflow: WorkflowDep) -> ReleaseOut:
    """The frozen content of a release, and its withdrawal if any."""
    return ReleaseOut.full(workflow.drafts.get_release(release_id))


@router.get("/{release_id}/export", summary="Export a release (Word, Markdown or RIS)", response_class=Response,
            responses={200: {"content": {FORMATS[f][0].split(";")[0]: {} for f in FORMATS}}})
def export_release(release_id: int, who: Clinician, workflow: WorkflowDep,
                   format: Annotated[Literal["docx", "md", "ris"], Query()] = "docx") -> Response:
    """The release as a .docx (NHS evidence-summary layout), Markdown, or RIS of its references."""
    release = workflow.drafts.get_release(release_id)
    media_type, extension = FORMATS[format]
    filename = f"evidence-summary-{release.draft_id}-v{release.number}.{extension}"
    return Response(export(release, format), media_type=media_type,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.post("/{release_id}/withdraw", response_model=ReleaseOut, summary="Withdraw a release",
             responses={409: {"description": "Already withdrawn"}})
def withdraw(release_id: int, body: WithdrawIn, who: Reviewer, workflow: WorkflowDep) -> ReleaseOut:
    """Mark a release withdrawn with a reason; its content stays as released."""
    return ReleaseOut.full(workflow.withdraw(who, release_id, body.reason))
