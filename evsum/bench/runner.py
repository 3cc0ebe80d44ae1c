"""Orchestrates one benchmark run and writes ``bench.json`` and ``bench.md``."""

from __future__ import annotations

import json
import os
import platform
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evsum.bench import report
from evsum.bench.serving import disk_mb, measure_server
from evsum.bench.synthetic import build_synthetic_index, measure_recall, scifact_sentences
from evsum.bench.throughput import index_naive, index_txtai, index_with_evsum
from evsum.errors import EvsumError
from evsum.settings import ModelSettings
from indexing.snapshot import current_snapshot_dir
from models.encoders import build_encoder

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED = REPO_ROOT.parent / "shared"
SCIFACT_CORPUS = SHARED / "data" / "scifact" / "corpus.jsonl"
SCIFACT_CLAIMS = SHARED / "data" / "scifact" / "claims_train.jsonl"
SHARED_PDFS = SHARED / "corpus"
FALLBACK_QUESTIONS = (
    "What hand hygiene is expected before and after patient contact?",
    "How much free sugar should adults eat?",
    "Which devices need sterilisation before use?",
    "What is the risk of type 2 diabetes after gestational diabetes?",
)


@dataclass(slots=True)
class BenchOptions:
    """What to measure; ``quick`` is the CI size."""

    out: Path
    quick: bool = False
    encoder: str = "minilm-int8"
    baseline_encoder: str = "minilm"
    abstracts: int | None = None
    pdfs: int | None = None
    sizes: tuple[int, ...] = field(default_factory=lambda: (10_000, 100_000, 1_000_000))
    cache_dir: Path | None = None
    txtai: bool = True

    def __post_init__(self) -> None:
        if self.abstracts is None:
            self.abstracts = 40 if self.quick else 150
        if self.pdfs is None:
            self.pdfs = 0 if self.quick else 2


def _questions(limit: int) -> list[str]:
    if SCIFACT_CLAIMS.is_file():
        with SCIFACT_CLAIMS.open(encoding="utf-8") as handle:
            claims = [json.loads(line)["claim"] for line in handle]
        return claims[:limit]
    return list(FALLBACK_QUESTIONS)


def _abstract_subset(work: Path, n: int) -> list[Path]:
    """The first ``n`` SciFact abstracts as a JSONL file, or the sample PDFs when SciFact is absent."""
    if not SCIFACT_CORPUS.is_file():
        return [REPO_ROOT / "samples" / "corpus" / "guidelines"]
    target = work / "abstracts.jsonl"
    with SCIFACT_CORPUS.open(encoding="utf-8") as source, target.open("w", encoding="utf-8") as out:
        for _, line in zip(range(n), source):
            out.write(line)
    return [target]


def _pdf_subset(work: Path, n: int) -> list[Path]:
    """The ``n`` smallest PDFs of the shared corpus, copied into one folder."""
    pdfs = sorted(SHARED_PDFS.rglob("*.pdf"), key=lambda p: p.stat().st_size)[:n] if SHARED_PDFS.is_dir() else []
    folder = work / "pdfs"
    folder.mkdir(exist_ok=True)
    for pdf in pdfs:
        shutil.copy(pdf, folder / pdf.name)
    return [folder] if pdfs else []


def _compare(ours: dict[str, Any], naive: dict[str, Any], txtai: dict[str, Any]) -> dict[str, Any]:
    out = dict(ours)
    out["naive_passages_per_s"] = naive.get("passages_per_s")
    out["txtai_passages_per_s"] = txtai.get("passages_per_s")
    out["naive"] = naive
    out["txtai"] = txtai
    for name, baseline in (("naive", naive), ("txtai", txtai)):
        rate = baseline.get("passages_per_s")
        out[f"ratio_vs_{name}"] = round(ours["passages_per_s"] / rate, 2) if rate else None
    return out


def _save(out: Path, result: dict[str, Any]) -> None:
    """Write what is measured so far (a long full run that is stopped still leaves its figures)."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench.json").write_text(json.dumps(result, indent=2), encoding="utf-8")


def run_bench(options: BenchOptions) -> dict[str, Any]:
    """Run every benchmark the options ask for; write ``bench.json`` and ``bench.md`` into ``options.out``."""
    started = time.perf_counter()
    out = options.out
    work = out / "work"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    result: dict[str, Any] = {
        "mode": "quick" if options.quick else "full",
        "machine": {"cpus": os.cpu_count(), "load_avg_start": [round(x, 2) for x in os.getloadavg()],
                    "python": platform.python_version()},
        "encoder": options.encoder,
    }
    # 1. Indexing throughput on abstracts: evsum end to end, then the baselines on its passages.
    sources = _abstract_subset(work, options.abstracts or 40)
    ours = index_with_evsum(sources, work / "index", options.encoder, cache_dir=options.cache_dir)
    naive = index_naive(ours.passage_texts)
    txtai = index_txtai(ours.passage_texts) if options.txtai else {"error": "skipped (--no-txtai)"}
    result["index"] = _compare(ours.as_dict(), naive, txtai)
    result["index"]["corpus"] = f"{options.abstracts} SciFact abstracts" if SCIFACT_CORPUS.is_file() else "samples"
    if not options.quick and options.baseline_encoder != options.encoder:
        before = index_with_evsum(sources, work / "index-baseline", options.baseline_encoder)
        result["index"]["baseline_encoder"] = before.as_dict()
        result["index"]["ratio_vs_baseline_encoder"] = round(
            result["index"]["passages_per_s"] / max(before.as_dict()["passages_per_s"], 1e-9), 2)
    _save(out, result)
    if options.pdfs:
        pdf_sources = _pdf_subset(work, options.pdfs)
        if pdf_sources:
            pdf_run = index_with_evsum(pdf_sources, work / "index-pdf", options.encoder, cache_dir=options.cache_dir)
            result["index_pdf"] = _compare(pdf_run.as_dict(), index_naive(pdf_run.passage_texts), {})
            result["index_pdf"]["corpus"] = f"{options.pdfs} smallest PDFs of ../shared/corpus"
    # 2-4. Serving: latency, throughput, memory, cold start.
    questions = _questions(60)
    small = measure_server(work / "index", options.encoder, questions, rounds=30 if options.quick else 100,
                           per_level=16 if options.quick else 64, cache_dir=options.cache_dir,
                           passages=ours.report.passages)
    small["index_disk_mb"] = disk_mb(work / "index")
    _save(out, {**result, "partial_real_index": small})
    by_size: dict[str, Any] = {}
    if not options.quick:
        real = scifact_sentences(SCIFACT_CORPUS)
        encoder = build_encoder(ModelSettings(encoder=options.encoder, cache_dir=options.cache_dir))
        anchors = encoder.encode_queries(questions)
        for size in options.sizes:
            index_dir = work / f"index-{size}"
            t = time.perf_counter()
            counts = build_synthetic_index(index_dir, size, ours.encoder, encoder.dim, real, anchors=anchors)
            build_s = time.perf_counter() - t
            measured = measure_server(index_dir, options.encoder, questions, rounds=100, per_level=64,
                                      cache_dir=options.cache_dir, passages=counts["passages"])
            measured.update(sentences=counts["sentences"], build_s=round(build_s, 1), index_disk_mb=disk_mb(index_dir))
            snapshot = current_snapshot_dir(index_dir)
            if snapshot is not None:
                measured.update(measure_recall(snapshot))
            by_size[str(size)] = measured
            _save(out, {**result, "partial_by_size": by_size})
            shutil.rmtree(index_dir, ignore_errors=True)
    headline = by_size.get("100000", small)
    result["query"] = {key: headline[key] for key in (
        "passages", "summaries_p50_ms", "summaries_p95_ms", "summaries_p99_ms", "search_p50_ms", "search_p95_ms",
        "search_p99_ms", "summaries_by_concurrency")}
    result["query"]["real_index"] = small
    if by_size:
        result["query"]["by_size"] = by_size
    result["memory"] = {"rss_mb": headline["memory"]["rss_mb"], "passages": headline["passages"],
                        **{k: v for k, v in headline["memory"].items() if k != "rss_mb"},
                        "index_disk_mb": headline["index_disk_mb"]}
    if by_size:
        result["memory"]["by_size"] = {size: {**m["memory"], "index_disk_mb": m["index_disk_mb"]}
                                       for size, m in by_size.items()}
    result["cold_start_s"] = headline["cold_start_s"]
    result["machine"]["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]
    result["seconds"] = round(time.perf_counter() - started, 1)
    _save(out, result)
    (out / "bench.md").write_text(report.markdown(result), encoding="utf-8")
    shutil.rmtree(work, ignore_errors=True)
    return result


def check_options(options: BenchOptions) -> None:
    """Reject options that cannot be measured (one clear error)."""
    if options.abstracts is not None and options.abstracts < 1:
        raise EvsumError("--abstracts must be at least 1")
    if any(size < 10 for size in options.sizes):
        raise EvsumError("--sizes must be at least 10 passages each")
