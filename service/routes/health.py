"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from service.schemas import HealthOut

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=HealthOut, summary="Liveness: the process answers")
def healthz() -> HealthOut:
    """Always ok while the process serves requests."""
    return HealthOut(status="ok")


@router.get("/readyz", response_model=HealthOut, summary="Readiness: an index snapshot is loaded",
            responses={503: {"model": HealthOut}})
def readyz(request: Request) -> HealthOut | JSONResponse:
    """Ok with the snapshot id when the index is loaded, else 503 with the reason."""
    engine = request.app.state.engine
    if engine is None:
        body = HealthOut(status="unavailable", detail=request.app.state.load_error or "index not loaded")
        return JSONResponse(body.model_dump(), status_code=503, headers={"Retry-After": "30"})
    return HealthOut(status="ok", snapshot_id=engine.reader.snapshot_id,
                     documents=len(engine.reader.documents), passages=engine.reader.n_passages)
