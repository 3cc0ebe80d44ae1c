"""Open the workflow database and bring its schema up to date with the Alembic migrations."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url

from evsum.errors import EvsumError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

#: libpq socket settings for PostgreSQL connections. An unreachable server fails in 5 s; TCP keepalives and
#: ``tcp_user_timeout`` make the kernel give up on a half-open connection (a network partition, a server that
#: vanished without closing its sockets) within about a minute instead of the default 15 or more.
POSTGRES_SOCKET_SETTINGS: dict[str, int] = {
    "connect_timeout": 5, "keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10, "keepalives_count": 3,
    "tcp_user_timeout": 30_000,
}
_OPTION_NAME = re.compile(r"(?:-c\s*|--)([A-Za-z_.]+)=")
#: PostgreSQL session settings: no statement of the service's (its queries take milliseconds) may run longer
#: than 30 s or wait more than 10 s for a lock, and no session may sit idle inside a transaction for a minute.
#: A request blocked by another session's lock then fails as retryable (503) instead of holding a worker.
POSTGRES_SESSION_SETTINGS: dict[str, str] = {
    "statement_timeout": "30s", "lock_timeout": "10s", "idle_in_transaction_session_timeout": "60s",
}


def open_engine(url: str) -> Engine:
    """A SQLAlchemy engine for ``url``; a SQLite file's folder is created, with WAL and foreign keys on."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")  # psycopg 3 is the installed driver
    kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if parsed.get_backend_name() == "postgresql":
        # an unreachable or stuck server must fail fast (503 + Retry-After), not hold a request thread for minutes
        kwargs["connect_args"] = postgres_connect_args(parsed)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    engine = create_engine(parsed, **kwargs)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    if parsed.get_backend_name() == "postgresql" and (session := postgres_session_settings(parsed)):
        event.listen(engine, "connect", _postgres_session(session))
    return engine


def postgres_connect_args(url: URL) -> dict[str, Any]:
    """libpq socket arguments for ``url``: ``POSTGRES_SOCKET_SETTINGS`` wherever the URL does not set them itself."""
    return {name: value for name, value in POSTGRES_SOCKET_SETTINGS.items() if name not in url.query}


def postgres_session_settings(url: URL) -> dict[str, str]:
    """``POSTGRES_SESSION_SETTINGS`` less those the URL's ``options`` or the ``PGOPTIONS`` environment variable
    already set (``-c name=value`` or ``--name=value``), which take precedence."""
    given = url.query.get("options", "")
    options = " ".join(given) if isinstance(given, tuple) else given
    named = set(_OPTION_NAME.findall(f"{options} {os.environ.get('PGOPTIONS', '')}"))
    return {name: value for name, value in POSTGRES_SESSION_SETTINGS.items() if name not in named}


def _postgres_session(settings: dict[str, str]) -> Callable[[Any, Any], None]:
    """A connect hook that applies ``settings`` to each new connection with one ``set_config`` round trip.

    Plain SQL rather than the ``options`` startup parameter, so the URL's and ``PGOPTIONS``'s own options are
    left alone and a PgBouncer in front of PostgreSQL (which refuses unknown startup parameters) works too.
    """
    calls = ", ".join(f"set_config('{name}', '{value}', false)" for name, value in settings.items())

    def apply(dbapi_connection: Any, _record: Any) -> None:
        with dbapi_connection.cursor() as cursor:
            cursor.execute(f"SELECT {calls}")
        dbapi_connection.commit()

    return apply


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def alembic_config() -> Any:
    """The Alembic configuration pointing at this package's migration scripts (the connection is passed in)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def migrate(engine: Engine) -> None:
    """Apply every pending migration (idempotent); a failure is an ``EvsumError`` naming the database."""
    from alembic import command
    from sqlalchemy.exc import SQLAlchemyError

    config = alembic_config()
    try:
        with engine.begin() as connection:
            if engine.dialect.name == "postgresql":  # a long data migration must not hit the serving statement limit
                connection.exec_driver_sql("SET LOCAL statement_timeout = 0")
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except SQLAlchemyError as error:
        where = engine.url.render_as_string(hide_password=True)
        raise EvsumError(f"cannot open the workflow database {where}: {error.__class__.__name__}: "
                         f"{str(error).splitlines()[0]}") from error


def current_revision(engine: Engine) -> str | None:
    """The schema revision the database is at (``None`` before the first migration)."""
    from alembic.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
