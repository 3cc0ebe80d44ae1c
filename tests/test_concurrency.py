"""20 concurrent editors of one draft over HTTP (uvicorn; SQLite and PostgreSQL): exactly one wins per version,
the others get 409 problem+json with the current version; editors that reload and retry lose no update."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from conftest import add_keys, bearer
from servers import LiveServer, postgres_schema

EDITORS = 20
ROUNDS = 3


@pytest.fixture(params=["postgresql", pytest.param("sqlite", marks=pytest.mark.slow)])
def server(request: pytest.FixtureRequest, sample_index: Path, tmp_path: Path) -> Iterator[tuple[str, list[str]]]:
    def run(database_url: str, admin_url: str) -> Iterator[tuple[str, list[str]]]:
        keys = add_keys(admin_url, {f"lib-{i:02d}": "librarian" for i in range(EDITORS)})
        with LiveServer(sample_index, database_url, tmp_path / "server.log") as live:
            yield live.url, list(keys.values())

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'evsum.sqlite'}"
        yield from run(url, url)
    else:
        with postgres_schema(application_name="evsum-concurrency") as (url, direct):
            yield from run(url, direct)


def _patch(client: httpx.Client, url: str, key: str, version: int, caveats: str) -> httpx.Response:
    return client.patch(url, json={"caveats": caveats}, headers={**bearer(key), "If-Match": str(version)})


def test_twenty_editors_one_winner_per_version_and_no_lost_update(server: tuple[str, list[str]]) -> None:
    base, keys = server
    with httpx.Client(base_url=base, timeout=60) as client:
        created = client.post("/v1/drafts", json={"question": "alcohol-based hand rub", "max_sentences": 2},
                              headers=bearer(keys[0]))
        assert created.status_code == 201
        draft_url = f"/v1/drafts/{created.json()['id']}"
        winners: list[str] = []
        for round_number in range(ROUNDS):  # everyone edits the same version at the same moment
            version = int(client.get(draft_url, headers=bearer(keys[0])).headers["etag"])
            barrier = threading.Barrier(EDITORS)

            def edit(i: int, version: int = version, round_number: int = round_number,
                     barrier: threading.Barrier = barrier) -> tuple[int, httpx.Response]:
                barrier.wait()
                return i, _patch(client, draft_url, keys[i], version, f"round {round_number} by editor {i}")

            with ThreadPoolExecutor(EDITORS) as pool:
                results = list(pool.map(edit, range(EDITORS)))
            ok = [(i, r) for i, r in results if r.status_code == 200]
            conflicts = [r for _, r in results if r.status_code == 409]
            assert len(ok) == 1 and len(conflicts) == EDITORS - 1, [r.status_code for _, r in results]
            assert ok[0][1].json()["version"] == version + 1
            for response in conflicts:
                assert response.headers["content-type"] == "application/problem+json"
                assert response.json()["current_version"] == version + 1
            winners.append(f"round {round_number} by editor {ok[0][0]}")

        def append_until_saved(i: int) -> int:  # reload-and-retry editors: each adds its own line
            attempts = 0
            while True:
                attempts += 1
                current = client.get(draft_url, headers=bearer(keys[i]))
                caveats = current.json()["caveats"] + f"\neditor {i}"
                response = _patch(client, draft_url, keys[i], int(current.headers["etag"]), caveats)
                if response.status_code == 200:
                    return attempts
                assert response.status_code == 409, response.text

        with ThreadPoolExecutor(EDITORS) as pool:
            attempts = list(pool.map(append_until_saved, range(EDITORS)))
        final = client.get(draft_url, headers=bearer(keys[0])).json()
        versions = client.get(draft_url + "/versions", headers=bearer(keys[0])).json()
        events = client.get("/v1/audit", params={"draft_id": final["id"]}, headers=bearer(keys[0])).json()["events"]

    lines = final["caveats"].split("\n")
    assert sorted(lines[1:]) == sorted(f"editor {i}" for i in range(EDITORS)), lines  # no update lost
    assert lines[0] == winners[-1]
    expected_versions = 1 + ROUNDS + EDITORS
    assert final["version"] == expected_versions
    assert [v["version"] for v in versions] == list(range(1, expected_versions + 1))
    assert [e["action"] for e in events] == ["create"] + ["edit"] * (ROUNDS + EDITORS)
    assert [e["after"]["version"] for e in events] == list(range(1, expected_versions + 1))
    for number, winner in enumerate(winners, start=2):
        assert versions[number - 1]["snapshot"]["caveats"] == winner
    assert sum(attempts) > EDITORS  # there was contention, and it was resolved by retrying
