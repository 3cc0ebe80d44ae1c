"""The FastAPI application factory."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from typing import AsyncIterator

from fastapi import FastAPI

from evsum.errors import StoreUnavailableError
from evsum.settings import Settings
from models.encoders import Encoder
from service import readiness
from service.deps import CLINICIAN_ONLY
from service.limits import install_limits
from service.problems import install_problem_handlers
from service.routes import audit, documents, drafts, health, recheck, releases, search, users
from service.store.sql import SqlStore
from service.workflow import Workflow

logger = logging.getLogger("evsum.service")


def create_app(settings: Settings, *, encoder: Encoder | None = None, store: SqlStore | None = None) -> FastAPI:
    """Build the app; its lifespan opens (and migrates) the workflow store, loads the index and encoder once.

    If the snapshot cannot be loaded, or the database is unreachable, the app still starts:
    ``/readyz`` answers 503 with the reason, affected endpoints answer 503 problem+json with
    ``Retry-After``, and both recover without a restart (``service.readiness``).
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        import faiss

        faiss.omp_set_num_threads(1)  # one thread per request; uvicorn serves requests concurrently
        if store is not None:
            app.state.store, app.state.workflow = store, Workflow(store, store.audit)
        try:
            readiness.open_store(app)  # applies pending Alembic migrations
        except StoreUnavailableError as error:  # keep serving; requests retry, /readyz says why
            logger.error("%s", error)
        readiness.load_index(app)
        _recheck_on_start(app, settings)
        yield
        if app.state.engine is not None:
            app.state.engine.reader.close()
        if store is None and app.state.store is not None:
            app.state.store.close()

    app = FastAPI(
        title="evsum",
        version="0.1.0",
        summary="Cited extractive evidence summaries from locally indexed papers and guidelines.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    readiness.init_state(app, encoder)
    install_problem_handlers(app)
    install_limits(app, settings.service)
    app.include_router(health.router)
    app.include_router(search.router, dependencies=CLINICIAN_ONLY)
    app.include_router(documents.router, dependencies=CLINICIAN_ONLY)
    app.include_router(drafts.router)
    app.include_router(releases.router)
    app.include_router(audit.router)
    app.include_router(users.router)
    app.include_router(recheck.router)
    return app


def _recheck_on_start(app: FastAPI, settings: Settings) -> None:
    """The start-up job (``service.recheck``): flag releases citing documents the loaded snapshot changed,
    superseded or dropped, and rerun saved questions last run against another snapshot or by another sentence
    scorer, or never by a recorded one (and saved claim checks last run by another claim scorer). Logged, and
    each run is in the audit log; never fatal."""
    from service.evidence import EngineEvidence
    from service.recheck import Rechecker

    engine, store = app.state.engine, app.state.store
    if engine is None or store is None:
        return
    try:
        report = Rechecker(store, store.recheck).recheck(EngineEvidence(engine), engine.reader.documents, "system",
                                                         settings.priority, only_stale=True)
    except Exception:  # a background job: report it, keep serving
        logger.exception("re-check on start failed")
        return
    for line in report.lines():
        logger.info("%s", line)
