"""What the service depends on, opened lazily and checked for readiness, so faults never crash it.

* The index snapshot is loaded at startup; if it is missing or corrupt the service still
  starts, ``/readyz`` answers 503 with the reason and evidence endpoints answer 503
  problem+json.  A later ``/readyz`` retries the load (at most every ``service.index_retry_s``),
  so fixing the index brings the service back without a restart.  A loaded snapshot whose
  directory disappears from disk is reported the same way.
* The workflow database is opened at startup; if it is unreachable the service starts
  anyway and each request that needs it tries again, answering 503 problem+json with
  ``Retry-After`` until it is back.  Dropped connections are replaced by the pool's
  pre-ping; ``/readyz`` runs ``SELECT 1``.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from evsum.engine import Engine
from evsum.errors import EvsumError, IndexNotReadyError, StoreUnavailableError
from indexing.snapshot import META_DB, SNAPSHOT_INFO
from models.encoders import Encoder
from service.store.sql import SqlStore
from service.workflow import Workflow

logger = logging.getLogger("evsum.service")
SNAPSHOT_FILES = (SNAPSHOT_INFO, META_DB)


@dataclass(frozen=True, slots=True)
class Readiness:
    """The outcome of a readiness check: ``detail`` says what is wrong when not ``ready``."""

    ready: bool
    detail: str | None = None
    snapshot_id: str | None = None
    documents: int | None = None
    passages: int | None = None


def init_state(app: FastAPI, encoder: Encoder | None) -> None:
    """Set the attributes the dependencies below rely on (before the lifespan runs)."""
    app.state.engine = None
    app.state.load_error = "starting up"
    app.state.store = None
    app.state.workflow = None
    app.state.store_error = None
    app.state.encoder = encoder
    app.state.lock = threading.Lock()
    app.state.last_load_attempt = 0.0


def load_index(app: FastAPI) -> None:
    """Load the current snapshot; on any failure record the reason instead of raising."""
    app.state.last_load_attempt = time.monotonic()
    try:
        engine = Engine.load(app.state.settings, encoder=app.state.encoder)
    except EvsumError as error:
        app.state.engine, app.state.load_error = None, str(error)
        logger.error("index not loaded: %s", error)
        return
    except Exception as error:  # a corrupt file can fail inside FAISS, bm25s or numpy in many ways
        app.state.engine = None
        app.state.load_error = f"the index snapshot is unusable: {error.__class__.__name__}: {error}"[:500]
        logger.exception("index not loaded")
        return
    app.state.engine, app.state.load_error = engine, None
    logger.info("serving snapshot %s", engine.reader.snapshot_id)


def open_store(app: FastAPI) -> SqlStore:
    """The workflow store, opening (and migrating) it now if it could not be opened before."""
    store: SqlStore | None = app.state.store
    if store is not None:
        return store
    with app.state.lock:
        if app.state.store is None:
            try:
                opened = SqlStore.open(app.state.settings.database_url)
            except EvsumError as error:
                app.state.store_error = str(error)
                raise StoreUnavailableError(f"the workflow database is unavailable: {error}") from error
            app.state.store, app.state.workflow, app.state.store_error = opened, Workflow(opened, opened.audit), None
            logger.info("workflow database opened")
    opened_store: SqlStore = app.state.store
    return opened_store


def current_engine(app: FastAPI) -> Engine:
    """The loaded engine, or ``IndexNotReadyError`` with the reason (also when its files vanished)."""
    engine: Engine | None = app.state.engine
    if engine is None:
        raise IndexNotReadyError(app.state.load_error or "the index is not loaded")
    missing = snapshot_problem(engine)
    if missing:
        with app.state.lock:  # drop it: /readyz loads whatever snapshot is current once there is one
            if app.state.engine is engine:
                app.state.engine, app.state.load_error = None, missing
                app.state.last_load_attempt = time.monotonic()
        logger.error("%s", missing)
        raise IndexNotReadyError(missing)
    return engine


def snapshot_problem(engine: Engine) -> str | None:
    """Why the loaded snapshot can no longer be served (its directory or files were removed), or ``None``."""
    folder = engine.reader.snapshot_dir
    gone = [name for name in SNAPSHOT_FILES if not (folder / name).is_file()]
    if gone:
        return f"index snapshot {folder.name} is missing {', '.join(gone)} on disk: re-run 'evsum index'"
    return None


def check(app: FastAPI) -> Readiness:
    """Index loaded and intact, and the workflow database answering ``SELECT 1``."""
    retry_s = app.state.settings.service.index_retry_s
    if app.state.engine is None and time.monotonic() - app.state.last_load_attempt >= retry_s:
        with app.state.lock:
            if app.state.engine is None:
                load_index(app)
    try:
        engine = current_engine(app)
    except IndexNotReadyError as error:
        return Readiness(False, str(error))
    try:
        with open_store(app).engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except (StoreUnavailableError, SQLAlchemyError) as error:
        reason = str(error).splitlines()[0][:300]
        return Readiness(False, f"the workflow database is unavailable: {reason}")
    return Readiness(True, snapshot_id=engine.reader.snapshot_id, documents=len(engine.reader.documents),
                     passages=engine.reader.n_passages)
