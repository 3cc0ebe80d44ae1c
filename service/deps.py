"""FastAPI dependencies: settings, engine, store, workflow and the caller's role, as ``Annotated`` aliases."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated

from fastapi import Depends, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from evsum.engine import Engine
from evsum.errors import AuthenticationError, PermissionDeniedError
from evsum.records import Document
from evsum.settings import Settings
from service import readiness
from service.domain import Principal, Role, role_allows
from service.evidence import EngineEvidence, Evidence
from service.recheck import Rechecker
from service.store.sql import SqlStore
from service.workflow import Workflow


def get_settings(request: Request) -> Settings:
    """The settings the app was created with."""
    settings: Settings = request.app.state.settings
    return settings


def get_engine(request: Request) -> Engine:
    """The loaded engine, or 503 (index not ready) with the reason it could not load."""
    return readiness.current_engine(request.app)


SettingsDep = Annotated[Settings, Depends(get_settings)]
EngineDep = Annotated[Engine, Depends(get_engine)]


def get_store(request: Request) -> SqlStore:
    """The workflow store (opened and migrated at startup, or now if the database was down then)."""
    return readiness.open_store(request.app)


def get_workflow(request: Request) -> Workflow:
    """The workflow rules over the store."""
    readiness.open_store(request.app)
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


def get_rechecker(request: Request) -> Rechecker:
    """Review flags, retractions and saved questions over the store."""
    store = get_store(request)
    return Rechecker(store, store.recheck)


def get_documents(request: Request) -> Mapping[str, Document] | None:
    """The loaded snapshot's documents, or None when no index is loaded (re-checks then skip index checks)."""
    engine: Engine | None = request.app.state.engine
    return engine.reader.documents if engine is not None else None


MAX_ID = 2**63 - 1
"""Largest row id either database can hold; a larger id in a URL is a 422, never a driver overflow."""
DraftId = Annotated[int, Path(ge=1, le=MAX_ID, description="A draft id.")]
ReleaseId = Annotated[int, Path(ge=1, le=MAX_ID, description="A release id.")]
DraftIdFilter = Annotated[int | None, Query(ge=1, le=MAX_ID, description="Only this draft.")]
ReleaseIdFilter = Annotated[int | None, Query(ge=1, le=MAX_ID, description="Only this release.")]
FlagId = Annotated[int, Path(ge=1, le=MAX_ID, description="A review flag id.")]
StoreDep = Annotated[SqlStore, Depends(get_store)]
RecheckerDep = Annotated[Rechecker, Depends(get_rechecker)]
DocumentsDep = Annotated[Mapping[str, Document] | None, Depends(get_documents)]
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
