"""The evsum exception hierarchy.

Every error raised on purpose by evsum derives from ``EvsumError``.  The HTTP
layer maps each subclass to one RFC 9457 problem type in a single place
(``service.problems``); the CLI prints ``str(error)`` on one line and exits
non-zero.

    EvsumError
    ├── UnreadableDocumentError   a source file cannot be parsed (reason given)
    ├── IndexingError             an indexing run failed as a whole
    ├── IndexNotReadyError        no usable index snapshot is loaded
    ├── StoreUnavailableError     the workflow database cannot be reached (HTTP 503, retry later)
    ├── NotFoundError             a document or page does not exist
    ├── InvalidRequestError       a request is well-formed but not acceptable
    │   └── ClaimScorerUnavailableError  a claim check was asked for, but no claim scorer is installed
    ├── AuthenticationError       no, unknown or revoked API key (HTTP 401)
    ├── PermissionDeniedError     the caller's role or relation forbids the action (HTTP 403)
    └── ConflictError             a stale version or an illegal workflow transition (HTTP 409)
"""

from __future__ import annotations


class EvsumError(Exception):
    """Base class of every deliberate evsum error."""


class UnreadableDocumentError(EvsumError):
    """A source document cannot be indexed; ``reason`` is one line for the user."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class IndexingError(EvsumError):
    """An indexing run could not produce a snapshot."""


class IndexNotReadyError(EvsumError):
    """No index snapshot is loaded, or the snapshot on disk is unusable."""


class StoreUnavailableError(EvsumError):
    """The workflow database (drafts, users, audit) is down or unreachable; the request may be retried.

    Raised when the store cannot be opened, and mapped from driver connection errors at the HTTP
    boundary; the service keeps running and recovers by itself once the database is back.
    """


class NotFoundError(EvsumError):
    """A requested document or page does not exist in the loaded snapshot."""


class InvalidRequestError(EvsumError):
    """A request is syntactically valid but cannot be served as asked."""


class ClaimScorerUnavailableError(InvalidRequestError):
    """A claim check was requested, but the claim cross-encoder's weights are not installed."""


class AuthenticationError(EvsumError):
    """The request carries no API key, or an unknown or revoked one."""


class PermissionDeniedError(EvsumError):
    """The caller is authenticated but may not do this (wrong role, or approving their own draft)."""


class ConflictError(EvsumError):
    """The resource changed since the caller read it, or the action is illegal in its current state.

    ``current_version`` is set for stale writes (optimistic locking) so the client can reload.
    """

    def __init__(self, message: str, *, current_version: int | None = None, state: str | None = None) -> None:
        super().__init__(message)
        self.current_version = current_version
        self.state = state
