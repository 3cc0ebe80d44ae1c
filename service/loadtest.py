"""A bounded load test of ``POST /v1/summaries`` against a local evsum server.

    python -m service.loadtest --url http://127.0.0.1:8000 --key KEY --concurrency 32 --duration 60 --pid PID

Bounded three ways: wall-clock ``--duration``, ``--max-requests`` in total, and loopback
targets only (it refuses any other host, so it cannot be pointed at someone else's
service).  It reports the request count, errors (anything but 200), latency percentiles
and, given the server's ``--pid``, its resident memory sampled once a second, so a leak
shows as growth between the middle and the end of the run.  The report is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import httpx
import numpy as np

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
QUESTIONS = (
    "What hand hygiene is expected before and after patient contact in outpatient settings?",
    "How much free sugar should adults eat per day?",
    "Which injection practices prevent transmission of bloodborne pathogens?",
    "What is the recommended daily salt intake for adults?",
    "How should reusable medical equipment be cleaned and reprocessed?",
    "Does structured exercise lower HbA1c in type 2 diabetes?",
    "When should gloves be worn in outpatient care?",
    "What fat intake is recommended for a healthy diet?",
    "How should respiratory hygiene and cough etiquette be promoted in waiting areas?",
    "What are the minimum expectations for safe care in outpatient settings?",
    "Is fruit and vegetable intake of at least 400 g a day recommended?",
    "How should sharps be disposed of safely?",
)


@dataclass(slots=True)
class LoadReport:
    """What a run measured; latencies in milliseconds, memory in MiB."""

    url: str
    concurrency: int
    duration_s: float
    requests: int = 0
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    requests_per_s: float = 0.0
    p50_ms: float = 0.0
    p90_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    rss_start_mb: float | None = None
    rss_middle_mb: float | None = None
    rss_end_mb: float | None = None
    rss_max_mb: float | None = None
    rss_samples_mb: list[float] = field(default_factory=list)

    def summary(self) -> str:
        """One line for people."""
        memory = (f", RSS {self.rss_start_mb:.0f} -> {self.rss_middle_mb:.0f} -> {self.rss_end_mb:.0f} MiB "
                  f"(max {self.rss_max_mb:.0f})" if self.rss_end_mb is not None else "")
        return (f"{self.requests} requests in {self.duration_s:.1f} s at concurrency {self.concurrency} "
                f"({self.requests_per_s:.1f}/s), {self.errors} errors, p50 {self.p50_ms:.0f} ms, "
                f"p90 {self.p90_ms:.0f} ms, p99 {self.p99_ms:.0f} ms, max {self.max_ms:.0f} ms{memory}")


def rss_mb(pid: int) -> float | None:
    """Resident set size of process ``pid`` in MiB (Linux ``/proc``), or None if it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def check_loopback(url: str) -> None:
    """Refuse to load anything but this machine."""
    host = urlparse(url).hostname or ""
    if host not in LOOPBACK:
        raise SystemExit(f"loadtest: refusing to load {host!r}: only 127.0.0.1, localhost or ::1")


async def run_load(url: str, key: str, *, concurrency: int = 32, duration_s: float = 60.0,
                   max_requests: int = 100_000, pid: int | None = None, max_sentences: int = 3,
                   questions: tuple[str, ...] = QUESTIONS) -> LoadReport:
    """Keep ``concurrency`` requests in flight until ``duration_s`` passes or ``max_requests`` were sent."""
    check_loopback(url)
    report = LoadReport(url=url, concurrency=concurrency, duration_s=0.0)
    latencies: list[float] = []
    issued = 0
    started = time.monotonic()
    deadline = started + duration_s
    samples: list[float] = []

    async def sample_memory() -> None:
        while pid is not None:
            value = rss_mb(pid)
            if value is not None:
                samples.append(value)
            await asyncio.sleep(1.0)

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal issued
        while time.monotonic() < deadline and issued < max_requests:
            question = questions[issued % len(questions)]
            issued += 1
            sent = time.perf_counter()
            try:
                response = await client.post("/v1/summaries", json={"question": question,
                                                                    "max_sentences": max_sentences})
                ok = response.status_code == 200
                problem = f"{response.status_code}: {response.text[:200]}"
            except httpx.HTTPError as error:
                ok, problem = False, f"{error.__class__.__name__}: {error}"
            latencies.append((time.perf_counter() - sent) * 1000)
            if not ok:
                report.errors += 1
                if len(report.error_samples) < 5:
                    report.error_samples.append(problem)

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=120,
                                 limits=limits, trust_env=False) as client:
        sampler = asyncio.create_task(sample_memory())
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        sampler.cancel()
    if pid is not None and (final := rss_mb(pid)) is not None:
        samples.append(final)
    report.duration_s = time.monotonic() - started
    report.requests = len(latencies)
    report.requests_per_s = report.requests / report.duration_s if report.duration_s else 0.0
    if latencies:
        values = np.array(latencies)
        report.p50_ms, report.p90_ms, report.p99_ms = (float(np.percentile(values, q)) for q in (50, 90, 99))
        report.max_ms = float(values.max())
    if samples:
        report.rss_samples_mb = [round(s, 1) for s in samples]
        report.rss_start_mb, report.rss_end_mb = samples[0], samples[-1]
        report.rss_middle_mb, report.rss_max_mb = samples[len(samples) // 2], max(samples)
    return report


def main(argv: list[str] | None = None) -> int:
    """Command line: run once, print the JSON report and a summary line; exit 1 if any request failed."""
    parser = argparse.ArgumentParser(prog="python -m service.loadtest", description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--key", required=True, help="An API key (any role may ask for summaries).")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--duration", type=float, default=60.0, help="Seconds (upper bound).")
    parser.add_argument("--max-requests", type=int, default=100_000, help="Requests in total (upper bound).")
    parser.add_argument("--pid", type=int, help="The server's process id, to sample its memory.")
    parser.add_argument("--out", help="Also write the JSON report here.")
    args = parser.parse_args(argv)
    report = asyncio.run(run_load(args.url, args.key, concurrency=args.concurrency, duration_s=args.duration,
                                  max_requests=args.max_requests, pid=args.pid))
    text = json.dumps(asdict(report), indent=2)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")
    print(text)
    print(report.summary(), file=sys.stderr)
    return 0 if report.errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
