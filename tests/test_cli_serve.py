"""The real command line: `evsum serve` under uvicorn answers over HTTP; `evsum ask` prints a cited draft."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import httpx
import pytest
from conftest import REPO

from evsum.cli import main as cli_main


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture()
def served(sample_index: Path) -> Iterator[str]:
    port = _free_port()
    env = {**os.environ, "EVSUM_MODELS__ENCODER": "hash", "PYTHONPATH": str(REPO)}
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
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_uvicorn_serves_cited_summaries(served: str) -> None:
    response = httpx.post(f"{served}/v1/summaries", json={"question": "alcohol-based hand rub", "max_sentences": 2},
                          timeout=30)
    assert response.status_code == 200
    sentence = response.json()["sentences"][0]
    c = sentence["citation"]
    page = httpx.get(f"{served}/v1/documents/{c['document_id']}/pages/{c['page']}", timeout=10).json()
    assert page["text"][c["char_start"] : c["char_end"]] == sentence["text"]
    problem = httpx.get(f"{served}/v1/documents/missing", timeout=10)
    assert problem.status_code == 404 and problem.headers["content-type"] == "application/problem+json"


def test_ask_prints_numbered_citations(sample_index: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli_main(["ask", "alcohol-based hand rub", "--index-dir", str(sample_index), "--encoder", "hash",
                     "--max-sentences", "2"])
    out = capsys.readouterr().out
    assert code == 0
    assert "UNREVIEWED MACHINE DRAFT" in out and "[1]" in out and ", p. " in out


def test_ask_without_index_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli_main(["ask", "anything", "--index-dir", str(tmp_path / "none"), "--encoder", "hash"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and err[0].startswith("evsum: error: no index in")
