"""Query latency, throughput, memory and cold start of the real HTTP server (``evsum serve``, uvicorn).

The server runs as a child process on 127.0.0.1 with a throw-away SQLite workflow database and
one clinician key.  Every request loop is bounded in count and time and sends traffic to that
loopback address only.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import httpx
import numpy as np

from evsum.errors import EvsumError

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True, slots=True)
class Server:
    """A started server: its URL, API key, process and the seconds from spawn to ``/readyz`` OK."""

    url: str
    key: str
    process: subprocess.Popen[bytes]
    cold_start_s: float

    @property
    def headers(self) -> dict[str, str]:
        """The Authorization header."""
        return {"Authorization": f"Bearer {self.key}"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _clinician_key(database_url: str) -> str:
    from service.domain import Role
    from service.store.sql import SqlStore

    store = SqlStore.open(database_url)
    try:
        return store.add_user("bench", Role("clinician"), actor="bench")[1]
    finally:
        store.close()


@contextmanager
def serve(index_dir: Path, encoder_kind: str, *, cache_dir: Path | None = None,
          timeout_s: float = 300.0) -> Iterator[Server]:
    """Start ``evsum serve`` on a free loopback port; stop it on exit."""
    with tempfile.TemporaryDirectory(prefix="evsum-bench-db-") as tmp:
        database_url = f"sqlite:///{Path(tmp) / 'bench.sqlite'}"
        key = _clinician_key(database_url)
        port = _free_port()
        env = {**os.environ, "EVSUM_DATABASE_URL": database_url, "EVSUM_MODELS__ENCODER": encoder_kind,
               "PYTHONPATH": str(REPO_ROOT), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
        if cache_dir is not None:
            env["EVSUM_MODELS__CACHE_DIR"] = str(cache_dir)
        started = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-m", "evsum.cli", "serve", "--index-dir", str(index_dir), "--port", str(port)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        try:
            cold_start = _wait_ready(url, process, started, timeout_s)
            yield Server(url, key, process, cold_start)
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def _wait_ready(url: str, process: subprocess.Popen[bytes], started: float, timeout_s: float) -> float:
    deadline = started + timeout_s
    with httpx.Client(timeout=2.0) as client:
        while time.perf_counter() < deadline:
            if process.poll() is not None:
                raise EvsumError(f"the benchmark server exited with status {process.returncode}")
            try:
                if client.get(f"{url}/readyz").status_code == 200:
                    return time.perf_counter() - started
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
    raise EvsumError(f"the benchmark server was not ready within {timeout_s:.0f} s")


def memory_mb(pid: int) -> dict[str, float]:
    """VmRSS, RssAnon and RssFile of a process in MiB (Linux ``/proc``)."""
    wanted = {"VmRSS": "rss_mb", "RssAnon": "rss_anon_mb", "RssFile": "rss_file_mb", "VmHWM": "peak_rss_mb"}
    out: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in wanted:
            out[wanted[name]] = round(int(value.split()[0]) / 1024, 1)
    return out


def _percentiles(samples: Sequence[float]) -> dict[str, float]:
    values = np.asarray(samples, dtype=np.float64) * 1000.0
    return {f"p{q}_ms": round(float(np.percentile(values, q)), 2) for q in (50, 95, 99)}


def latency(server: Server, path: str, bodies: Sequence[dict[str, Any]], *, warmup: int = 3) -> dict[str, Any]:
    """One client, requests one after another: p50/p95/p99 in ms over ``bodies``."""
    samples: list[float] = []
    with httpx.Client(timeout=60.0, headers=server.headers) as client:
        for body in bodies[:warmup]:
            client.post(f"{server.url}{path}", json=body).raise_for_status()
        for body in bodies:
            started = time.perf_counter()
            client.post(f"{server.url}{path}", json=body).raise_for_status()
            samples.append(time.perf_counter() - started)
    return {"requests": len(samples), **_percentiles(samples)}


def throughput(server: Server, path: str, bodies: Sequence[dict[str, Any]], concurrency: int,
               requests: int, *, max_seconds: float = 60.0) -> dict[str, Any]:
    """``concurrency`` clients sharing ``requests`` requests (bounded by ``max_seconds``): req/s and latency."""
    samples: list[float] = []
    lock = threading.Lock()
    counter = iter(range(requests))
    deadline = time.perf_counter() + max_seconds
    errors: list[str] = []

    def client_loop() -> None:
        with httpx.Client(timeout=60.0, headers=server.headers) as client:
            for i in counter:
                if time.perf_counter() > deadline:
                    return
                started = time.perf_counter()
                response = client.post(f"{server.url}{path}", json=bodies[i % len(bodies)])
                elapsed = time.perf_counter() - started
                with lock:
                    if response.status_code != 200:
                        errors.append(str(response.status_code))
                    samples.append(elapsed)

    threads = [threading.Thread(target=client_loop) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    if errors:
        raise EvsumError(f"{len(errors)} benchmark requests failed on {path} (status {errors[0]})")
    return {"concurrency": concurrency, "requests": len(samples), "req_per_s": round(len(samples) / wall, 2),
            **_percentiles(samples)}


def measure_server(index_dir: Path, encoder_kind: str, questions: Sequence[str], *, rounds: int,
                   concurrency: Sequence[int] = (1, 4, 8), per_level: int, cache_dir: Path | None = None,
                   passages: int) -> dict[str, Any]:
    """Cold start, memory, single-client latency and concurrent throughput for one served index."""
    summaries = [{"question": q, "max_sentences": 3} for q in questions]
    searches = [{"query": q, "top_k": 10} for q in questions]
    ordered = [summaries[i % len(summaries)] for i in range(rounds)]
    with serve(index_dir, encoder_kind, cache_dir=cache_dir) as server:
        ready_memory = memory_mb(server.process.pid)
        summary_latency = latency(server, "/v1/summaries", ordered)
        search_latency = latency(server, "/v1/search", [searches[i % len(searches)] for i in range(rounds)])
        levels = {str(c): throughput(server, "/v1/summaries", summaries, c, per_level) for c in concurrency}
        served_memory = memory_mb(server.process.pid)
        cold_start = server.cold_start_s
    return {
        "passages": passages,
        "cold_start_s": round(cold_start, 2),
        "summaries_p50_ms": summary_latency["p50_ms"],
        "summaries_p95_ms": summary_latency["p95_ms"],
        "summaries_p99_ms": summary_latency["p99_ms"],
        "search_p50_ms": search_latency["p50_ms"],
        "search_p95_ms": search_latency["p95_ms"],
        "search_p99_ms": search_latency["p99_ms"],
        "requests": summary_latency["requests"],
        "summaries_by_concurrency": levels,
        "memory_ready": ready_memory,
        "memory": served_memory,
    }


def disk_mb(path: Path) -> float:
    """Size of a directory tree in MiB."""
    return round(sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20, 1)
