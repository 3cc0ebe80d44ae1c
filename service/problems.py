"""RFC 9457 problem details: every error response is ``application/problem+json``, mapped here once."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as SqlPoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from evsum.errors import (
    AuthenticationError,
    ConflictError,
    EvsumError,
    IndexNotReadyError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    StoreUnavailableError,
)

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://evsum.local/problems/"
RETRY_AFTER = {"index-not-ready": "30", "store-unavailable": "5"}
"""Seconds a client should wait before retrying, per 503 problem type (the ``Retry-After`` header)."""
logger = logging.getLogger("evsum.service")

_STATUS_OF: list[tuple[type[EvsumError], int, str]] = [
    (NotFoundError, 404, "not-found"),
    (IndexNotReadyError, 503, "index-not-ready"),
    (StoreUnavailableError, 503, "store-unavailable"),
    (InvalidRequestError, 400, "invalid-request"),
    (AuthenticationError, 401, "unauthenticated"),
    (PermissionDeniedError, 403, "forbidden"),
    (ConflictError, 409, "conflict"),
]


def problem(status: int, title: str, detail: str, slug: str, instance: str | None = None,
            headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    """A problem+json response."""
    body: dict[str, Any] = {"type": PROBLEM_BASE + slug, "title": title, "status": status, "detail": detail}
    if instance:
        body["instance"] = instance
    body.update(extra)
    return JSONResponse(jsonable_encoder(body), status_code=status, media_type=PROBLEM_JSON, headers=headers)


def install_problem_handlers(app: FastAPI) -> None:
    """Map domain errors, validation errors, HTTP errors and crashes to problem+json."""

    @app.exception_handler(EvsumError)
    async def _domain(request: Request, error: EvsumError) -> JSONResponse:
        for kind, status, slug in _STATUS_OF:
            if isinstance(error, kind):
                headers = {"Retry-After": RETRY_AFTER.get(slug, "30")} if status == 503 else None
                if status == 401:
                    headers = {"WWW-Authenticate": 'Bearer realm="evsum"'}
                extra = {}
                if isinstance(error, ConflictError):
                    extra = {k: v for k, v in (("current_version", error.current_version),
                                               ("state", error.state)) if v is not None}
                    if error.current_version is not None:
                        headers = {"ETag": str(error.current_version)}
                return problem(status, _title(slug), str(error), slug, request.url.path, headers, **extra)
        logger.exception("unmapped evsum error")
        return problem(500, "Internal error", str(error), "internal", request.url.path)

    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    @app.exception_handler(SqlPoolTimeout)
    async def _database_down(request: Request, error: Exception) -> JSONResponse:
        # Connection refused, server restarted, connection dropped mid-query, pool exhausted, or a statement or
        # lock timeout (SQLSTATE 57014 / 55P03, logged so an operator can tell a busy database from a down one):
        # retryable. The pool pings connections before use, so the next request after recovery reconnects by itself.
        summary = str(error).splitlines()[0][:200] if str(error) else error.__class__.__name__
        sqlstate = getattr(getattr(error, "orig", None), "sqlstate", None)
        logger.warning("workflow database unavailable on %s%s: %s", request.url.path,
                       f" (SQLSTATE {sqlstate})" if sqlstate else "", summary)
        return await _domain(request, StoreUnavailableError(
            "the workflow database is unavailable; please retry shortly"))

    @app.exception_handler(OverflowError)
    @app.exception_handler(DataError)
    async def _out_of_range(request: Request, error: Exception) -> JSONResponse:
        # safety net: a value the database cannot hold (an id beyond 64 bits ...) is the caller's error
        logger.warning("value out of range on %s: %s", request.url.path, error.__class__.__name__)
        return problem(422, "Invalid request", "a value in the request cannot be stored (out of range or not allowed)",
                       "validation", request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, error: RequestValidationError) -> JSONResponse:
        errors = [
            {"field": ".".join(str(p) for p in e.get("loc", ()) if p != "body"), "message": e.get("msg", "")}
            for e in error.errors()
        ]
        detail = "; ".join(f"{e['field'] or 'body'}: {e['message']}" for e in errors)
        return problem(422, "Invalid request", detail, "validation", request.url.path, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> JSONResponse:
        return problem(error.status_code, _title_for_status(error.status_code), str(error.detail),
                       f"http-{error.status_code}", request.url.path, headers=getattr(error, "headers", None))

    @app.exception_handler(Exception)
    async def _crash(request: Request, error: Exception) -> JSONResponse:
        logger.exception("unhandled error on %s", request.url.path)
        return problem(500, "Internal error", "the server failed to handle this request", "internal",
                       request.url.path)


def _title(slug: str) -> str:
    return slug.replace("-", " ").capitalize()


def _title_for_status(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
