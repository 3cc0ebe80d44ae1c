"""Property-based fuzzing of the OpenAPI spec with schemathesis, against a real uvicorn server, with every role's
key and with none: no 5xx at all, and every error is ``application/problem+json``.

The default run tries a few examples per operation (CI); ``pytest -m slow tests/test_api_fuzz.py`` tries 100.
"""

from __future__ import annotations

import re
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from conftest import add_keys, bearer
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from servers import LiveServer

ROLES = ("clinician", "librarian", "reviewer", "admin")


@schemathesis.check
def errors_are_problem_json(ctx: schemathesis.CheckContext, response: schemathesis.Response,
                            case: schemathesis.Case) -> bool | None:
    """Every 4xx/5xx answer is RFC 9457 problem details with a matching ``status``."""
    if response.status_code >= 400:
        content_type = response.headers.get("content-type", [""])[0]
        assert content_type.startswith("application/problem+json"), (response.status_code, content_type)
        body = response.json()
        assert body["status"] == response.status_code and body["type"] and body["title"], body
    return None


def _release_one(url: str, keys: dict[str, str]) -> None:
    """One released summary and one open draft, so ids 1 exist and the fuzzer reaches real code."""
    lib, rev = bearer(keys["librarian"]), bearer(keys["reviewer"])
    with httpx.Client(base_url=url, timeout=30) as client:
        draft = client.post("/v1/drafts", json={"question": "alcohol-based hand rub", "max_sentences": 2},
                            headers=lib).json()
        patched = client.patch(f"/v1/drafts/{draft['id']}", headers={**lib, "If-Match": str(draft["version"])},
                               json={"sentences": [{"id": s["id"], "status": "verified"} for s in draft["sentences"]],
                                     "bottom_line": "Use alcohol-based hand rub."}).json()
        submitted = client.post(f"/v1/drafts/{draft['id']}/submit", headers={**lib,
                                                                             "If-Match": str(patched["version"])})
        approved = client.post(f"/v1/drafts/{draft['id']}/approve", headers={**rev, "If-Match": submitted.headers[
            "etag"]})
        released = client.post(f"/v1/drafts/{draft['id']}/release", headers={**rev,
                                                                             "If-Match": approved.headers["etag"]})
        assert released.status_code == 201, released.text
        client.post("/v1/drafts", json={"question": "free sugars", "max_sentences": 2}, headers=lib)


@pytest.fixture(scope="module")
def live(sample_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, dict[str, str]]]:
    folder = tmp_path_factory.mktemp("fuzz")
    database_url = f"sqlite:///{folder / 'evsum.sqlite'}"
    suffix = uuid.uuid4().hex[:8]  # fuzzed user names will not hit ours (revoke, new keys)
    made = add_keys(database_url, {f"{role}-{suffix}": role for role in ROLES})
    keys = {name.rsplit("-", 1)[0]: key for name, key in made.items()}
    with LiveServer(sample_index, database_url, folder / "server.log") as server:
        _release_one(server.url, keys)
        yield server, keys
        log = (folder / "server.log").read_text()
    statuses = Counter(re.findall(r'HTTP/1\.1" (\d{3})', log))
    print(f"\nfuzzing: {sum(statuses.values())} requests, by status: {dict(sorted(statuses.items()))}")
    assert not [status for status in statuses if status.startswith("5")], statuses
    assert "Traceback" not in log, log[-4000:]


@pytest.fixture(scope="module")
def api_schema(live: tuple[LiveServer, dict[str, str]]) -> schemathesis.BaseSchema:
    server, _ = live
    return schemathesis.openapi.from_url(server.url + "/openapi.json")


def _operations() -> list[tuple[str, str]]:
    """Every (method, path) of the OpenAPI document, read from the app factory (no server needed)."""
    from evsum.settings import Settings
    from models.encoders import HashEncoder
    from service.app import create_app

    document = create_app(Settings(), encoder=HashEncoder()).openapi()
    return [(method.upper(), path) for path, operations in document["paths"].items() for method in operations
            if method in {"get", "post", "patch", "put", "delete"}]


OPERATIONS = _operations()
CHECKS = [not_a_server_error, errors_are_problem_json]


def _fuzz(api_schema: schemathesis.BaseSchema, live: tuple[LiveServer, dict[str, str]], method: str, path: str,
          examples: int) -> None:
    server, keys = live
    operation = api_schema[path][method]

    valid = operation.as_strategy(schemathesis.GenerationMode.POSITIVE)
    try:  # data that breaks the schema on purpose (wrong types, missing fields, out-of-range values)
        strategy = valid | operation.as_strategy(schemathesis.GenerationMode.NEGATIVE)
    except Exception:  # an operation with nothing to break (no parameters, no body)
        strategy = valid

    @given(case=strategy)
    @settings(max_examples=examples, deadline=None, derandomize=examples <= 10, database=None,
              suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
    def run(case: schemathesis.Case) -> None:
        for key in (None, *keys.values()):  # no key, then each role's key
            case.call_and_validate(base_url=server.url, headers=bearer(key) if key else {}, checks=CHECKS,
                                   timeout=60)

    run()


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_fuzz_every_operation_with_every_role(api_schema: schemathesis.BaseSchema,
                                              live: tuple[LiveServer, dict[str, str]], method: str, path: str) -> None:
    _fuzz(api_schema, live, method, path, examples=6)


@pytest.mark.slow
@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_fuzz_every_operation_with_every_role_long(api_schema: schemathesis.BaseSchema,
                                                   live: tuple[LiveServer, dict[str, str]], method: str,
                                                   path: str) -> None:
    _fuzz(api_schema, live, method, path, examples=150)
