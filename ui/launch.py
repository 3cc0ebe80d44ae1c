"""Start the Streamlit front end as a child process (what ``evsum ui`` calls)."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

from evsum.errors import InvalidRequestError

APP_PATH = Path(__file__).resolve().parent / "app.py"
"""The Streamlit entry point."""

_GRACE_SECONDS = 10.0


def build_command(api_url: str, port: int, host: str = "127.0.0.1", python: str | None = None) -> list[str]:
    """The ``python -m streamlit run`` command line for the UI; ``InvalidRequestError`` on bad input."""
    parts = urlsplit(api_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidRequestError(
            f"--api-url must be an http(s) URL such as http://127.0.0.1:8000, not {api_url!r}"
        )
    if not 1 <= port <= 65535:
        raise InvalidRequestError(f"--port must be between 1 and 65535, not {port}")
    return [
        python or sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP_PATH),
        "--server.port",
        str(port),
        "--server.address",
        host,
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--client.toolbarMode",
        "minimal",
        "--",
        "--api-url",
        api_url.rstrip("/"),
    ]


def run_ui(api_url: str, port: int, host: str = "127.0.0.1") -> int:
    """Run the UI until it exits and return its exit code (130 after Ctrl+C).

    On Ctrl+C the child (which gets the same SIGINT) is given a few seconds to
    shut down cleanly before it is terminated.
    """
    process = subprocess.Popen(build_command(api_url, port, host))
    try:
        return process.wait()
    except KeyboardInterrupt:
        try:
            process.wait(timeout=_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        return 130
