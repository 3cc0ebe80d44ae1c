"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from service import readiness
from service.schemas import HealthOut

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=HealthOut, summary="Liveness: the process answers")
def healthz() -> HealthOut:
    """Always ok while the process serves requests."""
    return HealthOut(status="ok")


@router.get("/readyz", response_model=HealthOut, summary="Readiness: an index snapshot is loaded",
            responses={503: {"model": HealthOut}})
def readyz(request: Request) -> HealthOut | JSONResponse:
    """Ok with the snapshot id when the index is loaded and the database answers, else 503 with the reason."""
    state = readiness.check(request.app)
    if not state.ready:
        body = HealthOut(status="unavailable", detail=state.detail)
        return JSONResponse(body.model_dump(), status_code=503, headers={"Retry-After": "10"})
    return HealthOut(status="ok", snapshot_id=state.snapshot_id, documents=state.documents, passages=state.passages)
