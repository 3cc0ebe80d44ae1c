"""``evsum eval pubmedqa``: end-to-end summaries over all PQA-L abstracts, against LONG_ANSWER.

Every item's CONTEXTS is indexed as one abstract (LABELS as section headings);
each QUESTION is asked against the whole index.  The item's own abstract is the
gold document (recall@k) and LONG_ANSWER the gold summary (ROUGE).  The lead,
BM25 and cosine baselines and the extractive oracle choose the same number of
sentences from the item's own abstract, in the same run.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from eval.backends import EvalSummary, SummaryBackend
from eval.baselines import SentencePools, bm25_scores, cosine_scores, lead, oracle, top_k
from eval.common import (
    EvalOptions,
    build_encoder_for,
    ensure_index,
    load_engine,
    make_backend,
    progress_bar,
    run_info,
    summary_stats,
    write_json,
    write_jsonl,
)
from eval.gold import PubMedQAItem, load_pubmedqa, select, write_pubmedqa_abstracts
from eval.metrics import ROUGE_TYPES, citation_is_valid, mean, paired_bootstrap, recall_at_k, rouge
from eval.report import Section, bar_chart, distributions, histogram, metric_table, note, write_report
from eval.splits import split_of

BASELINES: tuple[str, ...] = ("lead", "bm25", "cosine", "oracle")
RECALL_KS: tuple[int, ...] = (1, 5)


@dataclass(slots=True)
class ItemResult:
    """Everything measured on one item (one line of predictions.jsonl)."""

    item: PubMedQAItem
    summary: EvalSummary
    system_rouge: dict[str, float]
    valid: list[bool]
    recall: dict[int, float]
    baselines: dict[str, dict[str, Any]] = field(default_factory=dict)

    def row(self) -> dict[str, Any]:
        """The predictions.jsonl line."""
        return {
            "id": self.item.id,
            "split": split_of(self.item.id),
            "question": self.item.question,
            "status": self.summary.status,
            "latency_ms": round(self.summary.latency_ms, 2),
            "sentences": [
                {"text": s.text, "document_id": s.document_id, "page": s.page, "char_start": s.char_start,
                 "char_end": s.char_end, "score": s.score, "citation_valid": ok}
                for s, ok in zip(self.summary.sentences, self.valid)
            ],
            "retrieved_document_ids": list(self.summary.retrieved_document_ids[:20]),
            "gold_document_id": self.item.id,
            "gold_summary": self.item.long_answer,
            "rouge": self.system_rouge,
            "recall": {f"at_{k}": v for k, v in self.recall.items()},
            "baselines": self.baselines,
        }


def evaluate_item(item: PubMedQAItem, backend: SummaryBackend, engine: Any, pools: SentencePools,
                  k: int) -> ItemResult:
    """Ask the system, check its citations, and run every baseline on the item's own abstract."""
    summary = backend.summarise(item.question, k)
    valid = [citation_is_valid(s.span(), backend.page_text) for s in summary.sentences]
    result = ItemResult(
        item=item, summary=summary, system_rouge=rouge(summary.text, item.long_answer), valid=valid,
        recall={r: recall_at_k(summary.retrieved_document_ids, [item.id], r) for r in RECALL_KS},
    )
    if item.id not in pools.row_of:
        result.baselines = {name: {"rows": [], **rouge("", item.long_answer)} for name in BASELINES}
        return result
    pool = pools.quotable(item.id)
    query_vector = engine.retriever.embed_query(item.question)
    choices = {
        "lead": lead(pool, k),
        "bm25": top_k(bm25_scores(engine.reader, pool, item.question), k),
        "cosine": top_k(cosine_scores(engine.reader, pool, query_vector), k),
        "oracle": oracle(pool.texts, item.long_answer, k),
    }
    for name, rows in choices.items():
        result.baselines[name] = {"rows": sorted(rows), **rouge(pool.join(rows), item.long_answer)}
    return result


def aggregate(results: list[ItemResult], seed: int = 0) -> dict[str, Any]:
    """metrics.json's numbers: system and baseline means, recall@k, citation validity, latency.

    ``system_minus_baseline_rougeL`` gives, for each baseline, the mean per-question
    difference in ROUGE-L F1 with its paired-bootstrap 95 % interval (``seed``).
    """
    system: dict[str, float] = {name: mean(r.system_rouge[name] for r in results) for name in ROUGE_TYPES}
    system.update({f"recall_at_{k}": mean(r.recall[k] for r in results) for k in RECALL_KS})
    system.update(summary_stats([r.summary for r in results], [ok for r in results for ok in r.valid]))
    system["sentences_per_summary"] = mean(float(len(r.summary.sentences)) for r in results)
    baselines = {
        name: {metric: mean(float(r.baselines[name][metric]) for r in results) for metric in ROUGE_TYPES}
        for name in BASELINES
    }
    system_scores = [r.system_rouge["rougeL"] for r in results]
    comparisons = {
        name: asdict(paired_bootstrap(system_scores, [float(r.baselines[name]["rougeL"]) for r in results],
                                      seed=seed))
        for name in BASELINES
    }
    return {"n": len(results), "system": system, "baselines": baselines,
            "system_minus_baseline_rougeL": comparisons}


def _report(path: Path, metrics: dict[str, Any], results: list[ItemResult]) -> None:
    rows = {"system": metrics["system"], **metrics["baselines"]}
    per_item = {"system": [r.system_rouge["rougeL"] for r in results]}
    per_item.update({name: [float(r.baselines[name]["rougeL"]) for r in results] for name in BASELINES})
    system = metrics["system"]
    sections = [
        Section("Summary quality (ROUGE F1 against LONG_ANSWER)", [
            metric_table(rows, list(ROUGE_TYPES)),
            note("Baselines and the oracle choose the same number of sentences from the item's own abstract "
                 "(body sentences the system may quote); the system searches the whole index."),
            bar_chart(rows, list(ROUGE_TYPES), "System vs baselines vs oracle"),
            metric_table(metrics["system_minus_baseline_rougeL"], ["mean", "ci95_low", "ci95_high"]),
            note("System minus each baseline, ROUGE-L F1 per question: mean and paired-bootstrap 95 % interval "
                 "(2,000 resamples). An interval that contains 0 is a tie on these items."),
            distributions(per_item, "Per-question ROUGE-L F1", "ROUGE-L F1"),
        ]),
        Section("Retrieval and citations", [
            metric_table({"system": system}, ["recall_at_1", "recall_at_5", "citation_valid", "answered",
                                              "sentences_per_summary"]),
        ]),
        Section("Latency", [
            metric_table({"system": system}, ["latency_ms_p50", "latency_ms_p95", "latency_ms_mean"]),
            histogram([r.summary.latency_ms for r in results], "Summary latency", "milliseconds"),
        ]),
    ]
    write_report(path, "evsum evaluation: PubMedQA (PQA-L)", metrics.get("run", {}), sections, metrics)


def run_pubmedqa(path: Path, options: EvalOptions, *, encoder: Any = None, http_client: Any = None) -> dict[str, Any]:
    """Index, ask, score and write metrics.json, predictions.jsonl and report.html; returns the metrics."""
    started = time.perf_counter()
    items = load_pubmedqa(path)
    chosen = select(items, [i.id for i in items], options.split, options.limit, options.seed)
    options.out.mkdir(parents=True, exist_ok=True)
    settings = options.settings(options.out / "index")
    encoder = build_encoder_for(settings, encoder)
    abstracts = write_pubmedqa_abstracts(items, options.out / "pubmedqa_abstracts.jsonl")
    index_line = ensure_index([abstracts], settings, encoder, options.progress)
    engine = load_engine(settings, encoder)
    backend = make_backend(options, engine, http_client)
    pools = SentencePools(engine.reader, engine.summariser.min_sentence_words)
    results = [evaluate_item(item, backend, engine, pools, options.max_sentences)
               for item in progress_bar(chosen, len(chosen), "pubmedqa", options.progress)]
    metrics = aggregate(results, options.seed)
    metrics["run"] = run_info(options, "pubmedqa", engine, backend, started, source=str(path),
                              items_in_file=len(items), index=index_line,
                              oracle="exact search over subsets of <= K sentences (greedy above 2000 subsets), "
                                     "objective ROUGE-L F1")
    write_json(options.out / "metrics.json", metrics)
    write_jsonl(options.out / "predictions.jsonl", (r.row() for r in results))
    _report(options.out / "report.html", metrics, results)
    return metrics
