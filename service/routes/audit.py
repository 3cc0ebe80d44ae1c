"""The append-only audit log: query by draft or user, export as CSV."""

from __future__ import annotations

import csv
import io
import json
from typing import Annotated

from fastapi import APIRouter, Query, Response

from service.deps import MAX_ID, Staff, StoreDep
from service.workflow_schemas import AuditEventOut, AuditListOut

router = APIRouter(prefix="/v1", tags=["audit"])

DraftFilter = Annotated[int | None, Query(ge=1, le=MAX_ID, description="Only events of this draft.")]
ActorFilter = Annotated[str | None, Query(max_length=100, description="Only events by this user.")]
CSV_COLUMNS = ("id", "at", "actor", "action", "draft_id", "release_id", "before", "after")


@router.get("/audit", response_model=AuditListOut, summary="Audit events, oldest first")
def audit(who: Staff, store: StoreDep, draft_id: DraftFilter = None, actor: ActorFilter = None) -> AuditListOut:
    """Who did what and when, with the state before and after."""
    return AuditListOut(events=[AuditEventOut.of(e) for e in store.audit.query(draft_id=draft_id, actor=actor)])


@router.get("/audit.csv", summary="Audit events as CSV", response_class=Response,
            responses={200: {"content": {"text/csv": {}}}})
def audit_csv(who: Staff, store: StoreDep, draft_id: DraftFilter = None, actor: ActorFilter = None) -> Response:
    """The same events as CSV (before and after as JSON)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for e in store.audit.query(draft_id=draft_id, actor=actor):
        writer.writerow([e.id, e.at.isoformat(), e.actor, e.action, e.draft_id or "", e.release_id or "",
                         json.dumps(e.before, sort_keys=True) if e.before is not None else "",
                         json.dumps(e.after, sort_keys=True) if e.after is not None else ""])
    return Response(buffer.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="evsum-audit.csv"'})
