"""The readable side of ``bench.json``: one Markdown page of tables."""

from __future__ import annotations

from typing import Any


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.2f}{unit}"
    return f"{value}{unit}"


def _index_rows(title: str, index: dict[str, Any]) -> list[str]:
    rows = [f"### {title} ({index.get('corpus', '')})", "",
            "| pipeline | passages/s | ratio (evsum / it) | notes |", "|---|---|---|---|",
            f"| evsum, {index['encoder']}, end to end | {_fmt(index['passages_per_s'])} | 1.00 | "
            f"{index['pages']} pages, {index['passages']} passages, {index['sentences']} sentences in "
            f"{_fmt(index['seconds'])} s; {_fmt(index['sentences_per_s'])} sentences/s, "
            f"{_fmt(index['pages_per_s'])} pages/s |"]
    baseline = index.get("baseline_encoder")
    if baseline:
        rows.append(f"| evsum, {baseline['encoder']}, end to end | {_fmt(baseline['passages_per_s'])} | "
                    f"{_fmt(index.get('ratio_vs_baseline_encoder'))} | the same pipeline before the int8 encoder |")
    for name, label in (("naive", "naive: SentenceTransformer.encode defaults + IndexFlatIP, passages only"),
                        ("txtai", "txtai Embeddings, same model, same passages")):
        base = index.get(name) or {"error": "not run"}
        note = base.get("error", f"{base.get('passages', '')} passages in {_fmt(base.get('seconds'))} s")
        rows.append(f"| {label} | {_fmt(base.get('passages_per_s'))} | {_fmt(index.get(f'ratio_vs_{name}'))} | "
                    f"{note} |")
    stages = ", ".join(f"{k.removesuffix('_s')} {v:.2f} s" for k, v in index.get("stages_s", {}).items())
    rows += ["", f"Stages: {stages}.", ""]
    return rows


def _query_row(size: str, m: dict[str, Any]) -> str:
    levels = m.get("summaries_by_concurrency", {})
    rps = " / ".join(_fmt(levels.get(c, {}).get("req_per_s")) for c in ("1", "4", "8"))
    memory = m.get("memory", {})
    return (f"| {size} | {_fmt(m['summaries_p50_ms'])} / {_fmt(m['summaries_p95_ms'])} / "
            f"{_fmt(m['summaries_p99_ms'])} | {_fmt(m['search_p50_ms'])} / {_fmt(m['search_p95_ms'])} | {rps} | "
            f"{_fmt(memory.get('rss_mb'))} ({_fmt(memory.get('rss_anon_mb'))} anon) | "
            f"{_fmt(m.get('index_disk_mb'))} | {_fmt(m['cold_start_s'])} |")


def markdown(result: dict[str, Any]) -> str:
    """Tables of indexing throughput, query latency, memory and cold start."""
    machine = result["machine"]
    lines = [f"# evsum bench ({result['mode']})", "",
             f"{machine['cpus']} CPUs, load average {machine['load_avg_start']} at start and "
             f"{machine.get('load_avg_end')} at the end (shared machine: compare ratios, not absolutes). "
             f"Query encoder: {result['encoder']}. Total {result.get('seconds')} s.", ""]
    lines += _index_rows("Indexing throughput", result["index"])
    if "index_pdf" in result:
        lines += _index_rows("Indexing throughput, PDFs", result["index_pdf"])
    lines += ["### Serving (uvicorn, 127.0.0.1, one client unless stated)", "",
              "| passages | /v1/summaries p50 / p95 / p99 ms | /v1/search p50 / p95 ms | summaries req/s at "
              "concurrency 1 / 4 / 8 | RSS MiB | index on disk MiB | cold start s |",
              "|---|---|---|---|---|---|---|"]
    real = result["query"]["real_index"]
    lines.append(_query_row(f"{real['passages']} (real)", real))
    for size, measured in result["query"].get("by_size", {}).items():
        lines.append(_query_row(f"{int(size):,} (synthetic, {measured.get('sentences', '?')} sentences)", measured))
    lines.append("")
    recalls = [f"{int(size):,}: {m['index_kind']}, recall@10 {m['recall_at_10']}, {m['dense_search_ms']} ms"
               for size, m in result["query"].get("by_size", {}).items() if "recall_at_10" in m]
    if recalls:
        lines += ["Dense passage search against exact search (50 queries, one thread): " + "; ".join(recalls) + ".", ""]
    return "\n".join(lines)
