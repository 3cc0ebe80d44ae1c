"""Alembic environment: migrations run on a connection handed over by ``service.store.database``.

Run from the command line with ``alembic upgrade head`` (``alembic.ini`` at the repository root;
the URL comes from ``EVSUM_DATABASE_URL`` or ``sqlalchemy.url``).
"""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import Connection, create_engine

from service.store.models import Base

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations() -> None:
    """Upgrade on the given connection, or on a new one to the configured URL."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = os.environ.get("EVSUM_DATABASE_URL") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("set EVSUM_DATABASE_URL or sqlalchemy.url")
    engine = create_engine(url)
    with engine.connect() as new_connection:
        _run(new_connection)
    engine.dispose()


run_migrations()
