"""Shared plumbing of the evaluation commands: options, index and engine set-up, output files."""

from __future__ import annotations

import json
import math
import platform
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from eval.backends import EvalSummary, HttpBackend, InProcessBackend, SummaryBackend
from evsum.settings import DEFAULT_ENCODER, Settings


@dataclass(slots=True)
class EvalOptions:
    """Options every ``evsum eval`` command shares."""

    out: Path
    limit: int | None = None
    max_sentences: int = 2
    seed: int = 0
    index_dir: Path | None = None
    encoder: str = DEFAULT_ENCODER
    url: str | None = None
    split: str = "all"
    progress: bool = True
    api_key: str | None = field(default=None, repr=False)  # sent with --url; never written to outputs

    def settings(self, default_index_dir: Path) -> Settings:
        """Settings for this run: the chosen encoder and index directory."""
        settings = Settings()
        settings.index.index_dir = self.index_dir or default_index_dir
        settings.models.encoder = self.encoder  # type: ignore[assignment]  # argparse choices
        return settings

    def describe(self) -> dict[str, Any]:
        """The options as JSON-ready values (for metrics.json and the report)."""
        values = asdict(self)
        values["out"] = str(self.out)
        values["index_dir"] = str(self.index_dir) if self.index_dir else None
        values.pop("api_key", None)
        return values


def build_encoder_for(settings: Settings, encoder: Any = None) -> Any:
    """The given encoder, or the one ``settings`` names."""
    if encoder is not None:
        return encoder
    from models.encoders import build_encoder

    return build_encoder(settings.models, settings.index.embed_batch_size)


def ensure_index(sources: Sequence[Path], settings: Settings, encoder: Any, progress: bool) -> str:
    """Index ``sources`` into ``settings.index.index_dir`` (no work when already indexed); one-line report."""
    from indexing.pipeline import run_index

    settings.index.index_dir.mkdir(parents=True, exist_ok=True)
    report = run_index(list(sources), settings.index, encoder, progress=progress)
    for skipped in report.skipped[:20]:
        print(f"skipped {skipped.path}: {skipped.reason}", file=sys.stderr)
    return report.summary()


def load_engine(settings: Settings, encoder: Any) -> Any:
    """The query-side engine over the current snapshot (the same object the service builds)."""
    from evsum.engine import Engine

    return Engine.load(settings, encoder=encoder)


def make_backend(options: EvalOptions, engine: Any, http_client: Any = None) -> SummaryBackend:
    """HTTP backend when ``--url`` is given (or a client is injected), else the in-process engine."""
    if options.url or http_client is not None:
        return HttpBackend(options.url or "http://testserver", client=http_client, api_key=options.api_key)
    if engine is None:
        raise ValueError("an in-process evaluation needs a loaded engine")
    return InProcessBackend(engine)


def summary_stats(summaries: Sequence[EvalSummary], checks: Sequence[bool]) -> dict[str, float]:
    """What every gold set reports about its summaries: citation validity, answered share, latency."""
    from eval.metrics import mean, percentile

    latencies = [s.latency_ms for s in summaries]
    return {
        "citation_valid": sum(checks) / len(checks) if checks else 1.0,
        "cited_sentences": float(len(checks)),
        "answered": mean(1.0 if s.status == "answered" else 0.0 for s in summaries),
        "latency_ms_p50": percentile(latencies, 50), "latency_ms_p95": percentile(latencies, 95),
        "latency_ms_mean": mean(latencies),
    }


def progress_bar(items: Iterable[Any], total: int, desc: str, enabled: bool) -> Iterable[Any]:
    """A tqdm progress bar over ``items`` (on stderr), or the items themselves."""
    from tqdm import tqdm

    return tqdm(items, total=total, desc=desc, unit="q", disable=not enabled)


def _clean(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return _clean(value.item())
    return value


def write_json(path: Path, payload: Any) -> None:
    """Write JSON (sorted keys, indented, non-finite floats as null)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_clean(payload), indent=2, sort_keys=True, ensure_ascii=False) + "\n",
                    encoding="utf-8")


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    """Write one JSON object per line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(_clean(row), ensure_ascii=False) + "\n")


INT8_INSTRUCTION_FLAGS: tuple[str, ...] = (
    "avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8",  # x86-64 ('flags')
    "asimddp", "i8mm", "sve", "sve2",  # Arm ('Features')
)


def machine_info(cpuinfo: Path = Path("/proc/cpuinfo")) -> dict[str, Any]:
    """The CPU a run used: model, architecture, usable CPUs, and which int8-relevant instruction sets it has.

    ONNX Runtime picks its int8 matrix kernels by instruction set (AVX2, AVX-512, VNNI, AMX on x86-64;
    dot-product and i8mm on Arm), and their rounding differs slightly, so the int8 encoder's vectors, and
    the scores derived from them, can move a little between machines with the same code and the same graph.
    """
    import os

    model, flags = "", set[str]()
    try:
        for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            key, _, value = (part.strip() for part in line.partition(":"))
            if key in ("model name", "Hardware") and value and not model:
                model = value
            elif key in ("flags", "Features") and not flags:
                flags = set(value.split())
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 0
    return {"cpu": model or platform.processor() or platform.machine(), "architecture": platform.machine(),
            "usable_cpus": usable, "int8_instructions": [flag for flag in INT8_INSTRUCTION_FLAGS if flag in flags]}


def run_info(options: EvalOptions, dataset: str, engine: Any, backend: SummaryBackend, started: float,
             **extra: Any) -> dict[str, Any]:
    """Provenance of a run for metrics.json: dataset, options, snapshot, encoder, timing."""
    info: dict[str, Any] = {
        "dataset": dataset,
        "backend": backend.name,
        "options": options.describe(),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds": round(time.perf_counter() - started, 2),
        "python": platform.python_version(),
        "machine": machine_info(),
    }
    if engine is not None:
        info["snapshot_id"] = engine.reader.snapshot_id
        info["encoder"] = engine.encoder.name
        graph = getattr(engine.encoder, "graph_path", None)
        if graph is not None and Path(graph).is_file():  # the int8 graph that encoded this run's queries
            from indexing.pipeline import sha256_file

            info["encoder_graph_sha256"] = sha256_file(Path(graph))
        info["scorer"] = str(getattr(engine.summariser.scorer, "name", type(engine.summariser.scorer).__name__))
        claim_scorer = engine.summariser.claim_scorer
        info["claim_scorer"] = claim_scorer.describe().get("name", "installed") if claim_scorer is not None else None
        info["question_ranking"] = engine.summariser.describe_ranking()  # the prior, or the prior + the cross-encoder
    info.update(extra)
    return info
