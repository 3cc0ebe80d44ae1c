"""The FastAPI application factory."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from typing import AsyncIterator

from fastapi import FastAPI

from evsum.engine import Engine
from evsum.errors import EvsumError
from evsum.settings import Settings
from models.encoders import Encoder
from service.deps import CLINICIAN_ONLY
from service.problems import install_problem_handlers
from service.routes import audit, documents, drafts, health, releases, search, users
from service.store.sql import SqlStore
from service.workflow import Workflow

logger = logging.getLogger("evsum.service")


def create_app(settings: Settings, *, encoder: Encoder | None = None, store: SqlStore | None = None) -> FastAPI:
    """Build the app; its lifespan opens (and migrates) the workflow store, loads the index and encoder once.

    If the snapshot cannot be loaded the app still starts: ``/readyz`` answers
    503 with the reason and evidence endpoints answer 503 problem+json.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        import faiss

        faiss.omp_set_num_threads(1)  # one thread per request; uvicorn serves requests concurrently
        opened = store or SqlStore.open(settings.database_url)  # applies pending Alembic migrations
        app.state.store = opened
        app.state.workflow = Workflow(opened, opened.audit)
        try:
            app.state.engine = Engine.load(settings, encoder=encoder)
            app.state.load_error = None
            logger.info("serving snapshot %s", app.state.engine.reader.snapshot_id)
        except EvsumError as error:
            app.state.engine = None
            app.state.load_error = str(error)
            logger.error("index not loaded: %s", error)
        yield
        if app.state.engine is not None:
            app.state.engine.reader.close()
        if store is None:
            opened.close()

    app = FastAPI(
        title="evsum",
        version="0.1.0",
        summary="Cited extractive evidence summaries from locally indexed papers and guidelines.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = None
    app.state.load_error = "starting up"
    install_problem_handlers(app)
    app.include_router(health.router)
    app.include_router(search.router, dependencies=CLINICIAN_ONLY)
    app.include_router(documents.router, dependencies=CLINICIAN_ONLY)
    app.include_router(drafts.router)
    app.include_router(releases.router)
    app.include_router(audit.router)
    app.include_router(users.router)
    return app
