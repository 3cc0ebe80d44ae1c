"""FastAPI dependencies: settings, engine, store, workflow and the caller's role, as ``Annotated`` aliases."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from evsum.engine import Engine
from evsum.errors import AuthenticationError, IndexNotReadyError, PermissionDeniedError
from evsum.settings import Settings
from service.domain import Principal, Role, role_allows
from service.evidence import EngineEvidence, Evidence
from service.store.sql import SqlStore
from service.workflow import Workflow


def get_settings(request: Request) -> Settings:
    """The settings the app was created with."""
    settings: Settings = request.app.state.settings
    return settings


def get_engine(request: Request) -> Engine:
    """The loaded engine, or 503 (index not ready) with the reason it could not load."""
    engine: Engine | None = request.app.state.engine
    if engine is None:
        raise IndexNotReadyError(request.app.state.load_error or "the index is not loaded")
    return engine


SettingsDep = Annotated[Settings, Depends(get_settings)]
EngineDep = Annotated[Engine, Depends(get_engine)]


def get_store(request: Request) -> SqlStore:
    """The workflow store opened (and migrated) at startup."""
    store: SqlStore = request.app.state.store
    return store


def get_workflow(request: Request) -> Workflow:
    """The workflow rules over the store."""
    workflow: Workflow = request.app.state.workflow
    return workflow


def get_evidence(engine: EngineDep) -> Evidence:
    """The index as the workflow sees it; 503 when no snapshot is loaded."""
    return EngineEvidence(engine)


def get_optional_evidence(request: Request) -> Evidence | None:
    """The index if loaded (releases record document metadata when they can)."""
    engine: Engine | None = request.app.state.engine
    return EngineEvidence(engine) if engine is not None else None


_bearer = HTTPBearer(auto_error=False, description="An evsum API key: `Authorization: Bearer <key>`.")


def get_principal(request: Request,
                  credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Principal:
    """The caller, from the ``Authorization: Bearer`` API key; 401 when missing, unknown or revoked."""
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise AuthenticationError("this endpoint needs an API key: send 'Authorization: Bearer <key>'")
    principal = get_store(request).authenticate(credentials.credentials)
    if principal is None:
        raise AuthenticationError("the API key is unknown or has been revoked")
    return principal


def require_role(*roles: Role) -> Callable[[Principal], Principal]:
    """A dependency that lets through callers whose role may use an endpoint open to ``roles``."""
    allowed = frozenset(roles)

    def dependency(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
        if not role_allows(principal.role, allowed):
            names = " or ".join(sorted(r.value for r in allowed))
            raise PermissionDeniedError(f"this endpoint needs the {names} role; {principal.name} is a "
                                        f"{principal.role.value}")
        return principal

    dependency.__name__ = f"require_{'_or_'.join(sorted(r.value for r in allowed))}"
    return dependency


StoreDep = Annotated[SqlStore, Depends(get_store)]
WorkflowDep = Annotated[Workflow, Depends(get_workflow)]
EvidenceDep = Annotated[Evidence, Depends(get_evidence)]
OptionalEvidenceDep = Annotated[Evidence | None, Depends(get_optional_evidence)]
Clinician = Annotated[Principal, Depends(require_role(Role.CLINICIAN))]
Librarian = Annotated[Principal, Depends(require_role(Role.LIBRARIAN))]
Reviewer = Annotated[Principal, Depends(require_role(Role.REVIEWER))]
Staff = Annotated[Principal, Depends(require_role(Role.LIBRARIAN, Role.REVIEWER))]
Admin = Annotated[Principal, Depends(require_role(Role.ADMIN))]
CLINICIAN_ONLY = [Depends(require_role(Role.CLINICIAN))]
"""Router dependencies for read endpoints open to every role."""
