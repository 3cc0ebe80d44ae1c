"""Real servers for the reliability tests: ``evsum serve`` under uvicorn in a subprocess, and a TCP proxy
in front of PostgreSQL that a test can cut and restore (an unreachable or restarted database)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
POSTGRES = ("127.0.0.1", 5432)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def postgres_reachable() -> bool:
    """Whether the test PostgreSQL server accepts connections."""
    try:
        with socket.create_connection(POSTGRES, timeout=1):
            return True
    except OSError:
        return False


@dataclass
class LiveServer:
    """``python -m evsum.cli serve`` on a free loopback port, output captured in ``log_path``."""

    index_dir: Path
    database_url: str
    log_path: Path
    encoder: str = "hash"
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Base URL."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        """The server's process id."""
        assert self.process is not None
        return self.process.pid

    def start(self, timeout: float = 90, wait_for: str = "/healthz") -> LiveServer:
        """Start and wait until ``wait_for`` answers 200."""
        env = {**os.environ, "PYTHONPATH": str(REPO), "EVSUM_MODELS__ENCODER": self.encoder,
               "EVSUM_DATABASE_URL": self.database_url, "OMP_NUM_THREADS": "1", **self.env}
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "evsum.cli", "serve", "--index-dir", str(self.index_dir), "--port",
             str(self.port)], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.log_path.read_text()}")
            try:
                if httpx.get(self.url + wait_for, timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"server not ready in {timeout} s:\n{self.log_path.read_text()}")

    def kill9(self) -> None:
        """SIGKILL: no shutdown handlers, no flushing."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 20 s."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill9()

    def __enter__(self) -> LiveServer:
        return self.start() if self.process is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class TcpProxy:
    """A loopback TCP proxy to ``target``; ``cut()`` refuses new and drops open connections, ``restore()``
    listens again on the same port: the database looks unreachable, then restarted."""

    def __init__(self, target: tuple[str, int] = POSTGRES) -> None:
        self.target = target
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()

    def restore(self) -> TcpProxy:
        """Start listening (again)."""
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def cut(self) -> None:
        """Stop listening and reset every proxied connection."""
        if self._listener is not None:
            with suppress(OSError):  # wakes the accepting thread (close alone does not, on Linux)
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        with self._lock:
            for sock in list(self._sockets):
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._sockets.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets |= {client, upstream}
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:  # shut down before closing: close() alone does not wake the other direction's blocked recv
            for sock in (source, sink):  # on Linux, so the client never saw the backend go (a flaky hang)
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                with suppress(OSError):
                    sock.close()


@contextmanager
def postgres_schema(port: int = POSTGRES[1], application_name: str = "evsum-test") -> Iterator[tuple[str, str]]:
    """A fresh schema in database ``test``: yields (URL through ``port``, direct admin URL); dropped afterwards.

    Skips the calling test when PostgreSQL at 127.0.0.1:5432 is unreachable.
    """
    import pytest
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import DBAPIError

    admin = None
    for user in ("postgres", "root"):
        url = f"postgresql+psycopg://{user}@127.0.0.1:5432/test"
        try:
            engine = create_engine(url, connect_args={"connect_timeout": 3})
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            admin = (user, engine)
            break
        except DBAPIError:
            continue
    if admin is None:
        pytest.skip("PostgreSQL at 127.0.0.1:5432 (database 'test') is unreachable")
    user, engine = admin
    schema = f"evsum_rel_{uuid.uuid4().hex[:12]}"
    with engine.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    options = f"?options=-csearch_path%3D{schema}&application_name={application_name}"
    try:
        yield (f"postgresql+psycopg://{user}@127.0.0.1:{port}/test{options}",
               f"postgresql+psycopg://{user}@127.0.0.1:5432/test{options}")
    finally:
        with engine.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        engine.dispose()
