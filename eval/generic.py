"""``evsum eval jsonl``: a generic gold file evaluated over the current index.

Per question (each metric over the questions that carry its gold field):
ROUGE against ``gold_summary``; source recall (the summary cites a document whose
``source_path`` file name is among ``gold_sources``); gold-sentence hit (a summary
sentence equals, contains or is contained in a ``gold_sentences`` entry, after
whitespace normalisation); recall@k of ``gold_doc_ids`` in the retrieved
documents; citation validity and latency for all. ``by_group`` repeats the
shares for each value of a field the gold file adds (``kind``: paper or
guideline) and, when several files are scored in one run, for each
``file``; the report lists the questions whose answer sentence was not quoted.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

from eval.backends import EvalSummary, SummaryBackend
from eval.common import (
    EvalOptions,
    build_encoder_for,
    load_engine,
    make_backend,
    progress_bar,
    run_info,
    summary_stats,
    write_json,
    write_jsonl,
)
from eval.gold import GenericItem, load_generic_files, select
from eval.metrics import ROUGE_TYPES, bootstrap_interval, citation_is_valid, mean, recall_at_k, rouge
from eval.report import Section, distributions, histogram, metric_table, note, table, write_report
from eval.splits import split_of
from evsum.settings import Settings

_SPACE = re.compile(r"\s+")
DOC_KS: tuple[int, ...] = (5, 10)
#: A gold field is a grouping (``by_group``) when every question gives it as a string with this many values at most.
MAX_GROUP_VALUES = 12
MAX_MISSES_SHOWN = 200


def normalise(text: str) -> str:
    """Whitespace collapsed to single spaces and trimmed."""
    return _SPACE.sub(" ", text).strip()


def sentence_matches(gold: str, predicted: str) -> bool:
    """A gold sentence matches a summary sentence when one equals or contains the other (normalised)."""
    a, b = normalise(gold), normalise(predicted)
    return bool(a) and bool(b) and (a in b or b in a)


def file_name(path: str) -> str:
    """The last component of a POSIX or Windows path."""
    return PurePath(path.replace("\\", "/")).name


def cites_source(sources: Iterable[str], gold_sources: Sequence[str]) -> bool:
    """Whether any cited source file name is one of the gold file names."""
    wanted = {file_name(g) for g in gold_sources}
    return any(file_name(s) in wanted for s in sources if s)


@dataclass(slots=True)
class GenericResult:
    """What was measured on one question; absent gold fields give None."""

    item: GenericItem
    summary: EvalSummary
    valid: list[bool]
    rouge: dict[str, float] | None
    source_hit: bool | None
    sentence_hit: bool | None
    doc_recall: dict[int, float] | None

    def row(self) -> dict[str, Any]:
        """The predictions.jsonl line."""
        return {
            "id": self.item.id, "split": split_of(self.item.id), "question": self.item.question,
            "status": self.summary.status, "latency_ms": round(self.summary.latency_ms, 2),
            "sentences": [{"text": s.text, "document_id": s.document_id, "page": s.page,
                           "char_start": s.char_start, "char_end": s.char_end, "score": s.score,
                           "source_path": s.source_path, "citation_valid": ok}
                          for s, ok in zip(self.summary.sentences, self.valid)],
            "retrieved_document_ids": list(self.summary.retrieved_document_ids[:20]),
            "rouge": self.rouge, "source_hit": self.source_hit, "gold_sentence_hit": self.sentence_hit,
            "doc_recall": {f"at_{k}": v for k, v in self.doc_recall.items()} if self.doc_recall else None,
        }


def evaluate_item(item: GenericItem, backend: SummaryBackend, k: int) -> GenericResult:
    """Ask the system and measure everything the item's gold fields allow."""
    summary = backend.summarise(item.question, k)
    return GenericResult(
        item=item, summary=summary,
        valid=[citation_is_valid(s.span(), backend.page_text) for s in summary.sentences],
        rouge=rouge(summary.text, item.gold_summary) if item.gold_summary.strip() else None,
        source_hit=cites_source((s.source_path for s in summary.sentences), item.gold_sources)
        if item.gold_sources else None,
        sentence_hit=any(sentence_matches(g, s.text) for g in item.gold_sentences for s in summary.sentences)
        if item.gold_sentences else None,
        doc_recall={r: recall_at_k(summary.retrieved_document_ids, item.gold_doc_ids, r) for r in DOC_KS}
        if item.gold_doc_ids else None,
    )


def aggregate(results: list[GenericResult], seed: int = 0) -> dict[str, Any]:
    """metrics.json's numbers, with how many questions each metric is over (``seed`` for the intervals)."""
    with_rouge = [r.rouge for r in results if r.rouge is not None]
    sources = [r.source_hit for r in results if r.source_hit is not None]
    sentences = [r.sentence_hit for r in results if r.sentence_hit is not None]
    recalls = [r.doc_recall for r in results if r.doc_recall is not None]
    system: dict[str, float] = {}
    if with_rouge:
        system.update({name: mean(s[name] for s in with_rouge) for name in ROUGE_TYPES})
    for name, hits in (("source_recall", sources), ("gold_sentence_hit", sentences)):
        if hits:  # share of questions, with a bootstrap 95 % interval (60 questions: about ±12 points)
            shares = [1.0 if hit else 0.0 for hit in hits]
            system[name] = mean(shares)
            system[f"{name}_ci95_low"], system[f"{name}_ci95_high"] = bootstrap_interval(shares, seed=seed)
    for k in DOC_KS if recalls else ():
        system[f"recall_at_{k}"] = mean(r[k] for r in recalls)
    system.update(summary_stats([r.summary for r in results], [ok for r in results for ok in r.valid]))
    counts = {"with_gold_summary": len(with_rouge), "with_gold_sources": len(sources),
              "with_gold_sentences": len(sentences), "with_gold_doc_ids": len(recalls)}
    return {"n": len(results), "counts": counts, "system": system, "baselines": {}, "by_group": by_group(results)}


def by_group(results: Sequence[GenericResult]) -> dict[str, dict[str, dict[str, float | int]]]:
    """Per value of each grouping field: the number of questions and the mean gold-sentence hit, source
    recall and ROUGE-L over them.

    A grouping field is one every question gives as a string, with at most ``MAX_GROUP_VALUES`` values
    and fewer values than questions (so a free-text note is not one); a run whose questions all share
    one value (``--limit``, ``--split``) still shows that value.
    """
    fields = sorted({key for r in results for key in r.item.extra})
    groups: dict[str, dict[str, dict[str, float | int]]] = {}
    for name in fields:
        raw = [r.item.extra.get(name) for r in results]
        values = [v for v in raw if isinstance(v, str)]
        distinct = len(set(values))
        if len(values) < len(raw) or not 1 <= distinct <= MAX_GROUP_VALUES or distinct == len(values) > 1:
            continue
        groups[name] = {}
        for value in sorted(set(values)):
            members = [r for r, v in zip(results, values) if v == value]
            shares: dict[str, float | int] = {"n": len(members)}
            for metric, hits in (("gold_sentence_hit", [r.sentence_hit for r in members]),
                                 ("source_recall", [r.source_hit for r in members])):
                known = [1.0 if h else 0.0 for h in hits if h is not None]
                if known:
                    shares[metric] = mean(known)
            rouge_l = [r.rouge["rougeL"] for r in members if r.rouge is not None]
            if rouge_l:
                shares["rougeL"] = mean(rouge_l)
            groups[name][value] = shares
    return groups


def _misses_table(results: Sequence[GenericResult]) -> str:
    """Questions with gold sentences none of which was quoted: the first gold sentence and the first quoted one."""
    rows = []
    for r in results:
        if r.sentence_hit is not False:
            continue
        first = r.summary.sentences[0] if r.summary.sentences else None
        source = file_name(first.source_path) or first.document_id if first else ""
        quoted = f"{first.text} ({source}, p. {first.page})" if first else r.summary.status
        rows.append([r.item.id, r.item.question, r.item.gold_sentences[0], quoted])
    return table(["id", "question", "answer sentence (gold)", "first sentence quoted"], rows[:MAX_MISSES_SHOWN],
                 text=True)


def _report(path: Path, metrics: dict[str, Any], results: list[GenericResult]) -> None:
    system = metrics["system"]
    shown = [m for m in (*ROUGE_TYPES, "source_recall", "source_recall_ci95_low", "source_recall_ci95_high",
                         "gold_sentence_hit", "gold_sentence_hit_ci95_low", "gold_sentence_hit_ci95_high",
                         "recall_at_5", "recall_at_10", "citation_valid", "answered") if m in system]
    parts = [metric_table({"system": system}, shown), note(f"Questions per metric: {metrics['counts']}")]
    rouge_l = [r.rouge["rougeL"] for r in results if r.rouge is not None]
    if rouge_l:
        parts.append(distributions({"system": rouge_l}, "Per-question ROUGE-L F1", "ROUGE-L F1"))
    groups = [Section(f"By {name}", [metric_table(
        {f"{name} = {value}": shares for value, shares in per_value.items()},
        ["n", "gold_sentence_hit", "source_recall", "rougeL"])]) for name, per_value in metrics["by_group"].items()]
    missed = sum(1 for r in results if r.sentence_hit is False)
    sections = [
        Section("Summary quality", parts),
        *groups,
        *([Section(f"Questions whose answer sentence was not quoted ({missed})", [
            note(f"At most {MAX_MISSES_SHOWN} shown; predictions.jsonl has every summary in full."),
            _misses_table(results)])] if missed else []),
        Section("Latency", [
            metric_table({"system": system}, ["latency_ms_p50", "latency_ms_p95", "latency_ms_mean"]),
            histogram([r.summary.latency_ms for r in results], "Summary latency", "milliseconds"),
        ]),
    ]
    write_report(path, "evsum evaluation: gold JSONL", metrics.get("run", {}), sections, metrics)


def run_generic(path: Path | Sequence[Path], options: EvalOptions, *, encoder: Any = None,
                http_client: Any = None) -> dict[str, Any]:
    """Evaluate one or more generic gold files against the current index (or a service) and write the outputs.

    Several files are one run over all their questions (one engine load), broken down per file in ``by_group``
    (``eval.gold.load_generic_files``).
    """
    started = time.perf_counter()
    paths = [path] if isinstance(path, Path) else list(path)
    items = load_generic_files(paths)
    chosen = select(items, [i.id for i in items], options.split, options.limit, options.seed)
    options.out.mkdir(parents=True, exist_ok=True)
    engine = None
    if not options.url and http_client is None:
        settings = options.settings(Settings().index.index_dir)
        engine = load_engine(settings, build_encoder_for(settings, encoder))
    backend = make_backend(options, engine, http_client)
    results = [evaluate_item(item, backend, options.max_sentences)
               for item in progress_bar(chosen, len(chosen), "jsonl", options.progress)]
    metrics = aggregate(results, options.seed)
    metrics["run"] = run_info(options, "jsonl", engine, backend, started, source=", ".join(str(p) for p in paths),
                              items_in_file=len(items))
    write_json(options.out / "metrics.json", metrics)
    write_jsonl(options.out / "predictions.jsonl", (r.row() for r in results))
    _report(options.out / "report.html", metrics, results)
    return metrics
