"""Dependency faults: PostgreSQL unreachable, restarted or dropping connections mid-run -> 503 problem+json with
Retry-After and recovery without restarting the service; a missing or corrupt index snapshot -> /readyz says why
and the service keeps running."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from conftest import add_keys, bearer, make_settings
from fastapi.testclient import TestClient
from servers import LiveServer, TcpProxy, postgres_schema
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from indexing.snapshot import current_snapshot_dir
from models.encoders import HashEncoder
from service.app import create_app
from service.store.database import (
    POSTGRES_SESSION_SETTINGS,
    open_engine,
    postgres_connect_args,
    postgres_session_settings,
)

QUESTION = {"question": "alcohol-based hand rub before patient contact", "max_sentences": 2}


def _assert_503(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert int(response.headers["retry-after"]) > 0
    assert response.json()["type"].endswith("/store-unavailable")


def _until_ok(call: Callable[[], httpx.Response], seconds: float = 20) -> tuple[httpx.Response, list[int]]:
    statuses: list[int] = []
    deadline = time.monotonic() + seconds
    while True:
        response = call()
        statuses.append(response.status_code)
        if response.status_code < 500 or time.monotonic() > deadline:
            return response, statuses
        time.sleep(0.3)


@pytest.fixture(scope="module")
def proxied_server(sample_index: Path, tmp_path_factory: pytest.TempPathFactory
                   ) -> Iterator[tuple[LiveServer, TcpProxy, str, dict[str, str]]]:
    proxy = TcpProxy().restore()
    with postgres_schema(proxy.port, application_name=f"evsum-fault-{proxy.port}") as (via_proxy, direct):
        keys = add_keys(direct)  # migrates the schema and creates one user per role
        server = LiveServer(sample_index, via_proxy, tmp_path_factory.mktemp("faults") / "server.log")
        try:
            server.start(wait_for="/readyz")
            yield server, proxy, direct, keys
        finally:
            server.stop()
            proxy.cut()


def test_postgres_unreachable_then_back_gives_503_then_recovers_without_restart(
        proxied_server: tuple[LiveServer, TcpProxy, str, dict[str, str]]) -> None:
    server, proxy, direct, keys = proxied_server
    librarian = bearer(keys["librarian"])
    first = httpx.post(server.url + "/v1/drafts", json=QUESTION, headers=librarian, timeout=30)
    assert first.status_code == 201, first.text
    before = [d["id"] for d in httpx.get(server.url + "/v1/drafts", headers=librarian, timeout=30).json()["drafts"]]
    pid = server.pid

    proxy.cut()  # the database host is gone: refused connections, open ones reset
    _assert_503(httpx.post(server.url + "/v1/drafts", json=QUESTION, headers=librarian, timeout=30))
    _assert_503(httpx.get(server.url + "/v1/drafts", headers=librarian, timeout=30))
    _assert_503(httpx.get(server.url + "/v1/documents", headers=bearer(keys["clinician"]), timeout=30))
    ready = httpx.get(server.url + "/readyz", timeout=30)
    assert ready.status_code == 503 and "workflow database is unavailable" in ready.json()["detail"]
    assert httpx.get(server.url + "/healthz", timeout=10).status_code == 200

    proxy.restore()  # the database is back (as after a restart): no service restart
    listed, statuses = _until_ok(lambda: httpx.get(server.url + "/v1/drafts", headers=librarian, timeout=30))
    assert listed.status_code == 200 and set(statuses) <= {200, 503}, statuses
    assert [d["id"] for d in listed.json()["drafts"]] == before  # the refused write left nothing behind
    again = httpx.post(server.url + "/v1/drafts", json=QUESTION, headers=librarian, timeout=30)
    assert again.status_code == 201
    assert httpx.get(server.url + "/readyz", timeout=30).status_code == 200
    assert server.process is not None and server.process.poll() is None and server.pid == pid
    engine = create_engine(direct)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM drafts")).scalar_one() == len(before) + 1
        assert connection.execute(text("SELECT count(*) FROM audit_events WHERE action = 'create'")
                                  ).scalar_one() == len(before) + 1
    engine.dispose()


def test_postgres_dropping_every_connection_is_survived(
        proxied_server: tuple[LiveServer, TcpProxy, str, dict[str, str]]) -> None:
    server, proxy, direct, keys = proxied_server
    librarian = bearer(keys["librarian"])
    assert httpx.get(server.url + "/v1/drafts", headers=librarian, timeout=30).status_code == 200
    engine = create_engine(direct)
    with engine.connect() as connection:  # what a server restart does to every open session
        killed = connection.execute(text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = :name AND pid <> pg_backend_pid()"), {"name": f"evsum-fault-{proxy.port}"}
        ).scalar_one()
    engine.dispose()
    assert killed >= 1
    response, statuses = _until_ok(lambda: httpx.post(server.url + "/v1/drafts", json=QUESTION, headers=librarian,
                                                      timeout=30))
    assert response.status_code == 201 and set(statuses) <= {201, 503}, statuses
    assert len(statuses) <= 2, statuses  # the pool's pre-ping replaces dead connections at once


def test_database_down_at_startup_the_service_starts_and_recovers(sample_index: Path) -> None:
    proxy = TcpProxy()  # not listening yet: connection refused
    with postgres_schema(proxy.port, application_name=f"evsum-boot-{proxy.port}") as (via_proxy, direct):
        keys = add_keys(direct)
        settings = make_settings(sample_index, database_url=via_proxy)
        with TestClient(create_app(settings, encoder=HashEncoder())) as client:
            ready = client.get("/readyz")
            assert ready.status_code == 503 and "database" in ready.json()["detail"]
            refused = client.get("/v1/documents", headers=bearer(keys["clinician"]))
            assert refused.status_code == 503 and refused.headers["retry-after"]
            assert refused.headers["content-type"] == "application/problem+json"
            proxy.restore()
            try:
                assert client.get("/v1/documents", headers=bearer(keys["clinician"])).status_code == 200
                assert client.get("/readyz").status_code == 200
            finally:
                proxy.cut()


def _corrupt(kind: str) -> Callable[[Path], None]:
    def apply(index_dir: Path) -> None:
        snapshot = current_snapshot_dir(index_dir)
        assert snapshot is not None
        if kind == "no index":
            shutil.rmtree(index_dir)
        elif kind == "CURRENT names a missing snapshot":
            shutil.rmtree(snapshot)
        elif kind == "metadata database is garbage":
            (snapshot / "meta.sqlite").write_bytes(b"this is not sqlite" * 100)
        elif kind == "FAISS file truncated":
            data = (snapshot / "passages.faiss").read_bytes()
            (snapshot / "passages.faiss").write_bytes(data[: len(data) // 3])
        elif kind == "BM25 index removed":
            shutil.rmtree(snapshot / "bm25_passages")
        elif kind == "snapshot.json garbage":
            (snapshot / "snapshot.json").write_text("{", encoding="utf-8")
        elif kind == "vectors truncated":
            data = (snapshot / "sentence_vectors.npy").read_bytes()
            (snapshot / "sentence_vectors.npy").write_bytes(data[:200])
        else:
            raise AssertionError(kind)
    return apply


CORRUPTIONS = ["no index", "CURRENT names a missing snapshot", "metadata database is garbage", "FAISS file truncated",
               "BM25 index removed", "snapshot.json garbage", "vectors truncated"]


@pytest.mark.parametrize("kind", CORRUPTIONS)
def test_missing_or_corrupt_snapshot_fails_readiness_with_the_reason(kind: str, sample_index_copy: Path) -> None:
    _corrupt(kind)(sample_index_copy)
    settings = make_settings(sample_index_copy)
    keys = add_keys(settings.database_url)
    with TestClient(create_app(settings, encoder=HashEncoder())) as client:
        assert client.get("/healthz").status_code == 200
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.headers["retry-after"]
        detail = ready.json()["detail"]
        assert detail and ("index" in detail or "snapshot" in detail), detail
        answer = client.post("/v1/summaries", json=QUESTION, headers=bearer(keys["clinician"]))
        assert answer.status_code == 503 and answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["detail"] == detail
        drafts = client.get("/v1/drafts", headers=bearer(keys["librarian"]))  # the workflow still works
        assert drafts.status_code == 200


def test_snapshot_removed_while_serving_then_put_back_recovers_without_restart(
        sample_index_copy: Path, tmp_path: Path) -> None:
    settings = make_settings(sample_index_copy)
    settings.service.index_retry_s = 0.2
    keys = add_keys(settings.database_url)
    clinician = bearer(keys["clinician"])
    with TestClient(create_app(settings, encoder=HashEncoder())) as client:
        assert client.post("/v1/summaries", json=QUESTION, headers=clinician).status_code == 200
        backup = tmp_path / "backup"
        shutil.copytree(sample_index_copy, backup)
        shutil.rmtree(sample_index_copy)
        ready = client.get("/readyz")
        assert ready.status_code == 503 and "missing" in ready.json()["detail"]
        gone = client.post("/v1/summaries", json=QUESTION, headers=clinician)
        assert gone.status_code == 503 and gone.headers["content-type"] == "application/problem+json"
        shutil.copytree(backup, sample_index_copy)  # the index is back: served again by the same app
        time.sleep(0.3)
        assert client.get("/readyz").status_code == 200
        assert client.post("/v1/summaries", json=QUESTION, headers=clinician).status_code == 200


def test_postgres_settings_leave_what_the_url_or_pgoptions_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PGOPTIONS", raising=False)
    url = make_url("postgresql+psycopg://u@h/test?keepalives_idle=5&options=-c%20deadlock_timeout%3D2s")
    assert "keepalives_idle" not in postgres_connect_args(url) and postgres_connect_args(url)["connect_timeout"] == 5
    assert postgres_session_settings(url) == POSTGRES_SESSION_SETTINGS  # deadlock_timeout is not lock_timeout
    assert "lock_timeout" not in postgres_session_settings(make_url("postgresql://h/test?options=--lock_timeout%3D1s"))
    monkeypatch.setenv("PGOPTIONS", "-c statement_timeout=5min")
    assert "statement_timeout" not in postgres_session_settings(make_url("postgresql://h/test"))


def test_postgres_sessions_carry_timeouts_and_keepalives_and_keep_the_urls_options(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PGOPTIONS", raising=False)
    with postgres_schema(application_name="evsum-timeouts") as (_, direct):
        shown: dict[str, dict[str, str]] = {}
        parameters: dict[str, str] = {}
        without_options = direct.split("?")[0] + "?application_name=evsum-timeouts"
        for name, url, environment in (("url options", direct, None),
                                       ("PGOPTIONS", without_options, "-c work_mem=7MB -c lock_timeout=3s")):
            if environment is not None:
                monkeypatch.setenv("PGOPTIONS", environment)
            engine = open_engine(url)
            try:
                with engine.connect() as connection:
                    shown[name] = {setting: connection.execute(text(f"SHOW {setting}")).scalar_one()
                                   for setting in (*POSTGRES_SESSION_SETTINGS, "search_path", "work_mem")}
                    parameters = connection.connection.dbapi_connection.info.get_parameters()  # type: ignore[union-attr]
            finally:
                engine.dispose()
    assert {k: shown["url options"][k] for k in POSTGRES_SESSION_SETTINGS} == {
        "statement_timeout": "30s", "lock_timeout": "10s", "idle_in_transaction_session_timeout": "1min"}
    assert shown["url options"]["search_path"].startswith("evsum_rel_")  # the URL's own options are kept
    assert shown["PGOPTIONS"]["work_mem"] == "7MB" and shown["PGOPTIONS"]["lock_timeout"] == "3s"  # and PGOPTIONS
    assert shown["PGOPTIONS"]["statement_timeout"] == "30s"
    assert parameters["keepalives_idle"] == "30" and parameters["tcp_user_timeout"] == "30000"


def test_a_request_blocked_by_another_sessions_lock_fails_fast_with_503_then_recovers(
        sample_index: Path, caplog: pytest.LogCaptureFixture) -> None:
    with postgres_schema(application_name="evsum-lock") as (_, direct):
        keys = add_keys(direct)
        short_lock_wait = direct.replace("?options=", "?options=-clock_timeout%3D300%20")  # the URL's own setting wins
        locked, release = threading.Event(), threading.Event()

        def hold_the_drafts_table() -> None:
            holder = create_engine(direct)
            try:
                with holder.connect() as connection:
                    connection.execute(text("LOCK TABLE drafts IN ACCESS EXCLUSIVE MODE"))  # a stuck migration or admin
                    locked.set()
                    release.wait(15)
                    connection.rollback()
            finally:
                holder.dispose()

        settings = make_settings(sample_index, database_url=short_lock_wait)
        with TestClient(create_app(settings, encoder=HashEncoder())) as client:
            librarian = bearer(keys["librarian"])
            holder = threading.Thread(target=hold_the_drafts_table)
            holder.start()
            try:
                assert locked.wait(10)
                started = time.monotonic()
                blocked = client.post("/v1/drafts", json=QUESTION, headers=librarian)
                waited = time.monotonic() - started
            finally:
                release.set()
                holder.join(20)
            _assert_503(blocked)
            assert "(SQLSTATE 55P03)" in caplog.text  # the log tells a lock timeout from a database that is down
            assert waited < 5  # without a lock timeout the request waits for as long as the lock is held (15 s)
            assert client.post("/v1/drafts", json=QUESTION, headers=librarian).status_code == 201
