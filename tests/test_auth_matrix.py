"""Every route × every role: 401 without a valid key, 403 for a role the route does not allow.

The rules below are the specification; a new route without a rule fails ``test_every_route_has_a_rule``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ROLES, add_keys, bearer, make_settings
from fastapi.testclient import TestClient
from starlette.routing import Route

from models.encoders import HashEncoder
from service.app import create_app

OPEN = "open"
EVERYONE = frozenset(ROLES)
STAFF = frozenset({"librarian", "reviewer", "admin"})
LIBRARIAN = frozenset({"librarian", "admin"})
REVIEWER = frozenset({"reviewer", "admin"})
ADMIN = frozenset({"admin"})

RULES: dict[tuple[str, str], frozenset[str] | str] = {
    ("GET", "/healthz"): OPEN,
    ("GET", "/readyz"): OPEN,
    ("GET", "/openapi.json"): OPEN,
    ("GET", "/docs"): OPEN,
    ("GET", "/docs/oauth2-redirect"): OPEN,
    ("GET", "/redoc"): OPEN,
    ("POST", "/v1/search"): EVERYONE,
    ("POST", "/v1/summaries"): EVERYONE,
    ("GET", "/v1/documents"): EVERYONE,
    ("GET", "/v1/documents/{document_id}"): EVERYONE,
    ("GET", "/v1/documents/{document_id}/pages/{page}"): EVERYONE,
    ("GET", "/v1/documents/{document_id}/pages/{page}/image"): EVERYONE,
    ("GET", "/v1/releases"): EVERYONE,
    ("GET", "/v1/releases/{release_id}"): EVERYONE,
    ("GET", "/v1/releases/{release_id}/export"): EVERYONE,
    ("POST", "/v1/releases/{release_id}/withdraw"): REVIEWER,
    ("POST", "/v1/drafts"): LIBRARIAN,
    ("GET", "/v1/drafts"): STAFF,
    ("GET", "/v1/drafts/{draft_id}"): STAFF,
    ("GET", "/v1/drafts/{draft_id}/versions"): STAFF,
    ("PATCH", "/v1/drafts/{draft_id}"): LIBRARIAN,
    ("POST", "/v1/drafts/{draft_id}/comments"): STAFF,
    ("POST", "/v1/drafts/{draft_id}/submit"): LIBRARIAN,
    ("POST", "/v1/drafts/{draft_id}/approve"): REVIEWER,
    ("POST", "/v1/drafts/{draft_id}/return"): REVIEWER,
    ("POST", "/v1/drafts/{draft_id}/release"): REVIEWER,
    ("GET", "/v1/audit"): STAFF,
    ("GET", "/v1/audit.csv"): STAFF,
    ("GET", "/v1/users"): ADMIN,
    ("POST", "/v1/users"): ADMIN,
    ("POST", "/v1/users/{name}/keys"): ADMIN,
    ("POST", "/v1/users/{name}/revoke"): ADMIN,
    ("POST", "/v1/recheck"): STAFF,
    ("GET", "/v1/review-flags"): STAFF,
    ("POST", "/v1/review-flags/{flag_id}/resolve"): REVIEWER,
    ("GET", "/v1/retractions"): STAFF,
    ("POST", "/v1/retractions"): ADMIN,
    ("POST", "/v1/retractions/import"): ADMIN,
    ("GET", "/v1/saved-questions"): STAFF,
    ("POST", "/v1/saved-questions"): LIBRARIAN,
}
HTTP_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"}
PLACEHOLDERS = {"draft_id": "999999", "release_id": "999999", "document_id": "no-such-doc", "page": "1",
                "name": "nobody", "flag_id": "999999"}


@pytest.fixture(scope="module")
def matrix_app(sample_index: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    settings = make_settings(sample_index)
    keys = add_keys(settings.database_url)
    revoked = add_keys(settings.database_url, {"gone": "admin"})["gone"]
    from service.store.sql import SqlStore

    store = SqlStore.open(settings.database_url)
    store.revoke("gone", actor="test")
    store.close()
    with TestClient(create_app(settings, encoder=HashEncoder())) as client:
        yield client, {**keys, "revoked": revoked}


def _routes() -> list[tuple[str, str]]:
    """Every (method, path) the app serves: the OpenAPI operations plus the plain routes (docs, schema)."""
    app = create_app(make_settings(Path("/nonexistent/index")), encoder=HashEncoder())
    found = {(method.upper(), path) for path, operations in app.openapi()["paths"].items()
             for method in operations if method.upper() in HTTP_METHODS}
    for route in app.routes:
        if isinstance(route, Route):
            found |= {(method, route.path) for method in route.methods or () if method != "HEAD"}
    return sorted(found)


ROUTES = _routes()


def test_every_route_has_a_rule() -> None:
    missing = sorted(set(ROUTES) - RULES.keys())
    assert not missing, f"routes without an access rule (add them to RULES): {missing}"
    assert not sorted(RULES.keys() - set(ROUTES)), "rules for routes that no longer exist"


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_role_matrix(matrix_app: tuple[TestClient, dict[str, str]], method: str, path: str) -> None:
    client, keys = matrix_app
    rule = RULES[(method, path)]
    url = re.sub(r"\{(\w+)\}", lambda m: PLACEHOLDERS[m.group(1)], path)
    if rule == OPEN:
        assert client.request(method, url).status_code not in (401, 403)
        return
    for headers in ({}, bearer("evsum_not-a-key"), bearer(keys["revoked"])):
        response = client.request(method, url, headers=headers)
        assert response.status_code == 401, (headers, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["www-authenticate"].startswith("Bearer")
    for role in ROLES:
        response = client.request(method, url, headers=bearer(keys[role]), json={})
        if role in rule:
            assert response.status_code not in (401, 403), (role, response.text)
        else:
            assert response.status_code == 403, (role, response.status_code, response.text)
            assert response.headers["content-type"] == "application/problem+json"
            assert role in response.json()["detail"]
