"""``evsum ui``'s launcher: the Streamlit command line, input checks, and a real start-up."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import httpx
import pytest

from evsum.errors import InvalidRequestError
from ui.launch import APP_PATH, build_command


def test_build_command_runs_the_app_headless_on_the_given_address() -> None:
    command = build_command("http://127.0.0.1:8000/", 8600, host="0.0.0.0", python="/py")

    assert command[:5] == ["/py", "-m", "streamlit", "run", str(APP_PATH)]
    assert APP_PATH.is_file()
    options = dict(zip(command[5:-3:2], command[6:-3:2], strict=True))
    assert options == {
        "--server.port": "8600",
        "--server.address": "0.0.0.0",
        "--server.headless": "true",
        "--browser.gatherUsageStats": "false",
        "--client.toolbarMode": "minimal",
    }
    assert command[-3:] == ["--", "--api-url", "http://127.0.0.1:8000"]


def test_build_command_defaults_to_loopback_and_this_python() -> None:
    command = build_command("https://evsum.trust.nhs.uk", 8501)

    assert command[0] == sys.executable
    assert command[command.index("--server.address") + 1] == "127.0.0.1"


@pytest.mark.parametrize(
    ("api_url", "port", "message"),
    [("127.0.0.1:8000", 8501, "--api-url"), ("ftp://x", 8501, "--api-url"), ("http://x", 0, "--port")],
)
def test_bad_arguments_are_one_line_errors(api_url: str, port: int, message: str) -> None:
    with pytest.raises(InvalidRequestError, match=message) as caught:
        build_command(api_url, port)
    assert "\n" not in str(caught.value)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_command_starts_a_streamlit_server_that_answers() -> None:
    port = _free_port()
    process = subprocess.Popen(
        build_command("http://127.0.0.1:9", port),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/_stcore/health", timeout=1)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    output = process.stdout.read().decode() if process.stdout else ""
                    pytest.fail(f"streamlit did not start (exit {process.poll()}):\n{output}")
                time.sleep(0.2)
        assert health.status_code == 200
        assert "<title>Streamlit</title>" in httpx.get(f"http://127.0.0.1:{port}/", timeout=5).text
    finally:
        process.terminate()
        process.wait(timeout=15)
