"""The real command line: `evsum serve` under uvicorn answers over HTTP; `evsum ask` prints a cited draft."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import httpx
import pytest
from conftest import REPO, bearer

from evsum.cli import main as cli_main
from models.claim_scorer import CLAIM_SCORER_FILE


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture()
def served(sample_index: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
           capsys: pytest.CaptureFixture[str]) -> Iterator[tuple[str, str]]:
    port = _free_port()
    database_url = f"sqlite:///{tmp_path / 'evsum.sqlite'}"
    monkeypatch.setenv("EVSUM_DATABASE_URL", database_url)
    assert cli_main(["users", "add", "dr-who", "--role", "clinician"]) == 0
    key = capsys.readouterr().out.strip().splitlines()[-1]
    env = {**os.environ, "EVSUM_MODELS__ENCODER": "hash", "PYTHONPATH": str(REPO), "EVSUM_DATABASE_URL": database_url}
    process = subprocess.Popen(
        [sys.executable, "-m", "evsum.cli", "serve", "--index-dir", str(sample_index), "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            process.kill()
            pytest.fail("server did not become ready: " + (process.stdout.read() if process.stdout else ""))
        yield url, key
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_uvicorn_serves_cited_summaries(served: tuple[str, str]) -> None:
    url, key = served
    response = httpx.post(f"{url}/v1/summaries", json={"question": "alcohol-based hand rub", "max_sentences": 2},
                          headers=bearer(key), timeout=30)
    assert response.status_code == 200
    sentence = response.json()["sentences"][0]
    c = sentence["citation"]
    page = httpx.get(f"{url}/v1/documents/{c['document_id']}/pages/{c['page']}", headers=bearer(key),
                     timeout=10).json()
    assert page["text"][c["char_start"] : c["char_end"]] == sentence["text"]
    problem = httpx.get(f"{url}/v1/documents/missing", headers=bearer(key), timeout=10)
    assert problem.status_code == 404 and problem.headers["content-type"] == "application/problem+json"


def test_users_revoke_stops_the_key_at_once(served: tuple[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    url, key = served
    assert httpx.get(f"{url}/v1/documents", headers=bearer(key), timeout=10).status_code == 200
    unauthenticated = httpx.get(f"{url}/v1/documents", timeout=10)
    assert unauthenticated.status_code == 401
    assert unauthenticated.headers["content-type"] == "application/problem+json"
    assert cli_main(["users", "revoke", "dr-who"]) == 0
    assert "revoked 1 key" in capsys.readouterr().out
    revoked = httpx.get(f"{url}/v1/documents", headers=bearer(key), timeout=10)
    assert revoked.status_code == 401 and "revoked" in revoked.json()["detail"]


def test_ask_prints_numbered_citations(sample_index: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli_main(["ask", "alcohol-based hand rub", "--index-dir", str(sample_index), "--encoder", "hash",
                     "--max-sentences", "2"])
    out = capsys.readouterr().out
    assert code == 0
    assert "UNREVIEWED MACHINE DRAFT" in out and "[1]" in out and ", p. " in out


@pytest.mark.model
@pytest.mark.skipif(not CLAIM_SCORER_FILE.is_file(), reason="the claim scorer's weights are not in models/weights")
def test_ask_checks_a_claim_with_the_shipped_claim_scorer(sample_index: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    claim = "Alcohol-based hand rub is preferred when hands are not visibly soiled."
    code = cli_main(["ask", "--claim", claim, "--index-dir", str(sample_index), "--encoder", "hash", "--json"])
    body = json.loads(capsys.readouterr().out)
    assert code == 0 and body["claim"] is True and body["sentences"]
    assert cli_main(["ask", "--claim", claim, "--index-dir", str(sample_index), "--encoder", "hash"]) == 0
    assert capsys.readouterr().out.startswith(f"Claim checked: {claim}")


def test_ask_without_index_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli_main(["ask", "anything", "--index-dir", str(tmp_path / "none"), "--encoder", "hash"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and err[0].startswith("evsum: error: no index in")
