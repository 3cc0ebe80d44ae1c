"""Access: keys hashed at rest, revocation at once, request size limits, no path traversal, CORS and bind address
safe by default, and logs that never contain an API key or a patient detail (real uvicorn server, real log)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import add_keys, bearer, make_settings
from fastapi.testclient import TestClient
from servers import LiveServer

from evsum.settings import Settings
from models.encoders import HashEncoder
from service.app import create_app

PII_QUESTION = ("Patient NHS 943 476 5919, born 14/03/1962, SW1A 1AA, 07700 900123, jo.bloggs@example.nhs.uk: "
                "alcohol-based hand rub?")
PII_FRAGMENTS = ("943 476 5919", "9434765919", "14/03/1962", "SW1A 1AA", "SW1A+1AA", "07700 900123", "07700+900123",
                 "jo.bloggs@example.nhs.uk", "jo.bloggs%40example.nhs.uk")


@pytest.fixture(scope="module")
def client(sample_index: Path) -> Iterator[tuple[TestClient, dict[str, str], Settings]]:
    settings = make_settings(sample_index)
    keys = add_keys(settings.database_url)
    with TestClient(create_app(settings, encoder=HashEncoder())) as test_client:
        yield test_client, keys, settings


def test_keys_are_stored_only_as_hashes(client: tuple[TestClient, dict[str, str], Settings]) -> None:
    test_client, keys, settings = client
    made = test_client.post("/v1/users", json={"name": "new-clinician", "role": "clinician"},
                            headers=bearer(keys["admin"]))
    assert made.status_code == 201
    new_key = made.json()["api_key"]
    database = Path(settings.database_url.removeprefix("sqlite:///"))
    stored = b"".join(p.read_bytes() for p in database.parent.glob(database.name + "*"))  # with -wal and -shm
    for key in (*keys.values(), new_key):
        assert key.encode() not in stored
        assert key[len("evsum_"):].encode() not in stored
    from service.store.sql import hash_key

    assert hash_key(new_key).encode() in stored


def test_a_revoked_key_stops_on_the_next_request(client: tuple[TestClient, dict[str, str], Settings]) -> None:
    test_client, keys, _ = client
    made = test_client.post("/v1/users", json={"name": "leaver", "role": "librarian"}, headers=bearer(keys["admin"]))
    key = made.json()["api_key"]
    assert test_client.get("/v1/drafts", headers=bearer(key)).status_code == 200
    assert test_client.post("/v1/users/leaver/revoke", headers=bearer(keys["admin"])).json()["revoked"] == 1
    refused = test_client.get("/v1/drafts", headers=bearer(key))
    assert refused.status_code == 401 and refused.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("path", ["/v1/summaries", "/v1/search", "/v1/drafts"])
def test_question_length_is_limited(client: tuple[TestClient, dict[str, str], Settings], path: str) -> None:
    test_client, keys, _ = client
    field = "query" if path == "/v1/search" else "question"
    response = test_client.post(path, json={field: "x" * 2001}, headers=bearer(keys["admin"]))
    assert response.status_code == 422 and response.headers["content-type"] == "application/problem+json"
    assert field in response.json()["detail"]


def test_request_bodies_over_the_limit_get_413(client: tuple[TestClient, dict[str, str], Settings]) -> None:
    test_client, keys, settings = client
    limit = settings.service.max_body_bytes
    big = b'{"question": "' + b"a" * limit + b'"}'
    response = test_client.post("/v1/summaries", content=big, headers={**bearer(keys["admin"]),
                                                                       "Content-Type": "application/json"})
    assert response.status_code == 413 and response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while streaming
        yield b'{"question": "'
        for _ in range(limit // 65536 + 2):
            yield b"b" * 65536
        yield b'"}'

    streamed = test_client.post("/v1/drafts", content=chunks(), headers={**bearer(keys["admin"]),
                                                                         "Content-Type": "application/json"})
    assert streamed.status_code == 413 and streamed.headers["content-type"] == "application/problem+json"
    assert test_client.get("/v1/drafts", headers=bearer(keys["admin"])).json()["drafts"] == []


TRAVERSALS = ["../../../../etc/passwd", "..%2F..%2F..%2Fetc%2Fpasswd", "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
              "....//....//etc/passwd", "/etc/passwd", "..\\..\\windows\\win.ini", "%00../../etc/passwd"]


@pytest.mark.parametrize("evil", TRAVERSALS)
def test_no_path_traversal_through_any_file_parameter(client: tuple[TestClient, dict[str, str], Settings],
                                                      evil: str) -> None:
    test_client, keys, _ = client
    headers = bearer(keys["admin"])
    urls = [f"/v1/documents/{evil}", f"/v1/documents/{evil}/pages/1", f"/v1/documents/{evil}/pages/1/image",
            f"/v1/users/{evil}/keys", f"/v1/releases/1/export?format={evil}"]
    for url in urls:
        response = test_client.request("POST" if "/keys" in url else "GET", url, headers=headers)
        assert response.status_code in (404, 405, 422), (url, response.status_code)
        assert "root:" not in response.text and "[fonts]" not in response.text
        if response.status_code != 405:
            assert response.headers["content-type"] == "application/problem+json", url


def test_cors_is_off_by_default_and_exact_when_configured(sample_index: Path) -> None:
    settings = make_settings(sample_index)
    assert settings.service.cors_origins == [] and settings.service.host == "127.0.0.1"
    preflight = {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization"}
    with TestClient(create_app(settings, encoder=HashEncoder())) as plain:
        assert "access-control-allow-origin" not in plain.options("/v1/summaries", headers=preflight).headers
        assert "access-control-allow-origin" not in plain.get("/healthz", headers={"Origin": "https://evil.example"}
                                                              ).headers
    settings.service.cors_origins = ["https://intranet.nhs.example"]
    with TestClient(create_app(settings, encoder=HashEncoder())) as configured:
        allowed = configured.options("/v1/summaries", headers={**preflight, "Origin": "https://intranet.nhs.example"})
        assert allowed.headers["access-control-allow-origin"] == "https://intranet.nhs.example"
        assert "access-control-allow-credentials" not in allowed.headers
        assert "access-control-allow-origin" not in configured.options("/v1/summaries", headers=preflight).headers


def _listening_addresses(port: int) -> set[str]:
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            address, port_hex = local.split(":")
            if int(port_hex, 16) == port and state == "0A":  # LISTEN
                found.add(address)
    return found


def test_server_binds_loopback_and_logs_no_keys_or_patient_details(sample_index: Path, tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'evsum.sqlite'}"
    keys = add_keys(database_url)
    revoked = add_keys(database_url, {"gone": "clinician"})["gone"]
    log = tmp_path / "server.log"
    with LiveServer(sample_index, database_url, log) as server:
        assert _listening_addresses(server.port) == {"0100007F"}  # 127.0.0.1 only
        try:
            outward = socket.gethostbyname(socket.gethostname())
        except OSError:
            outward = "127.0.0.1"
        if not outward.startswith("127."):  # the machine's other addresses do not answer
            with socket.socket() as probe:
                assert probe.connect_ex((outward, server.port)) != 0
        httpx.post(server.url + "/v1/users/gone/revoke", headers=bearer(keys["admin"]), timeout=10)
        for key in (*keys.values(), revoked, "evsum_wrong-key-0123456789abcdefghijklmnopqrstuv"):
            httpx.post(server.url + "/v1/summaries", json={"question": PII_QUESTION}, headers=bearer(key), timeout=30)
            httpx.get(server.url + "/v1/releases", params={"question": PII_QUESTION, "api_key": key},
                      headers=bearer(key), timeout=30)
            httpx.get(server.url + f"/v1/documents/{key}", headers=bearer(key), timeout=30)
        httpx.post(server.url + "/v1/drafts", json={"question": PII_QUESTION}, headers=bearer(keys["librarian"]),
                   timeout=30)
    text = log.read_text()
    assert "GET /v1/releases?" in text and "POST /v1/summaries" in text  # the access log was written
    for key in (*keys.values(), revoked):
        assert key not in text and key[len("evsum_"):] not in text
    assert "evsum_wrong-key" not in text
    for fragment in PII_FRAGMENTS:
        assert fragment not in text, fragment
