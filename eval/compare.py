"""``evsum eval compare BEFORE AFTER --out DIR``: two runs on the same gold set, item by item.

An evaluator who changes the system wants to know whether it got better or only moved inside the noise.
This reads each run directory as ``evsum eval`` wrote it (``metrics.json`` for the dataset and the run's
provenance, ``predictions.jsonl`` for the items), pairs the items by id, and for every per-item metric gives
both means and the paired-bootstrap 95 % interval of *after minus before* (``eval.metrics.paired_bootstrap``).
For a yes/no metric (the answer sentence quoted, the right source cited) it lists the items gained and lost;
for the others, the items that moved most. SciFact rationale F1 is micro-averaged over (claim, abstract)
pairs, so its interval resamples claims and recomputes F1 from their counts.

It also lists where the two runs' provenance differs (machine, encoder graph, claim scorer, snapshot,
options): int8 figures move between CPUs, so a difference between machines is not a change of the system.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from eval.common import write_json
from eval.gold import GoldFormatError, iter_jsonl
from eval.metrics import PRF, PairedDifference, mean, micro_prf, paired_bootstrap
from eval.report import Section, metric_table, note, table, write_report
from evsum.errors import EvsumError

Row = Mapping[str, Any]
PROVENANCE_KEYS: tuple[str, ...] = ("machine", "encoder", "encoder_graph_sha256", "scorer", "claim_scorer",
                                    "snapshot_id", "backend", "source", "claims", "corpus")
OPTION_KEYS: tuple[str, ...] = ("split", "limit", "max_sentences", "seed")
MOVERS = 10  # items listed per direction for a graded metric


@dataclass(frozen=True, slots=True)
class ItemMetric:
    """A per-item number read from a predictions.jsonl row (``None``: not measured on that item)."""

    name: str
    read: Callable[[Row], float | None]
    binary: bool = False
    lower_is_better: bool = False


def _path(*keys: str, when: str | None = None) -> Callable[[Row], float | None]:
    """Read ``row[k1][k2]...`` as a float; ``None`` when any key is missing or the value is null, or when the
    row's ``when`` field is empty (a SciFact claim without cited documents has no BEIR-style score)."""
    def read(row: Row) -> float | None:
        if when is not None and not row.get(when):
            return None
        value: Any = row
        for key in keys:
            if not isinstance(value, Mapping) or value.get(key) is None:
                return None
            value = value[key]
        return float(value)
    return read


_LATENCY = ItemMetric("latency_ms", _path("latency_ms"), lower_is_better=True)
METRICS: dict[str, tuple[ItemMetric, ...]] = {
    "pubmedqa": (ItemMetric("rougeL", _path("rouge", "rougeL")), ItemMetric("rouge1", _path("rouge", "rouge1")),
                 ItemMetric("rouge2", _path("rouge", "rouge2")),
                 ItemMetric("recall_at_1", _path("recall", "at_1"), binary=True), _LATENCY),
    "jsonl": (ItemMetric("gold_sentence_hit", _path("gold_sentence_hit"), binary=True),
              ItemMetric("source_hit", _path("source_hit"), binary=True),
              ItemMetric("rougeL", _path("rouge", "rougeL")), _LATENCY),
    "scifact": (ItemMetric("ndcg_at_10", _path("retrieval", "system", "ndcg_at_10")),
                ItemMetric("recall_at_10", _path("retrieval", "system", "recall_at_10")),
                ItemMetric("ndcg_at_10_beir", _path("retrieval_beir", "system", "ndcg_at_10", when="cited_doc_ids")),
                ItemMetric("recall_at_10_beir",
                           _path("retrieval_beir", "system", "recall_at_10", when="cited_doc_ids")), _LATENCY),
}
"""The per-item metrics of each dataset, as its ``predictions.jsonl`` rows hold them."""


@dataclass(frozen=True, slots=True)
class EvalRun:
    """One ``evsum eval`` output directory: its dataset, run information and rows by item id."""

    path: Path
    dataset: str
    run: dict[str, Any]
    rows: dict[str, dict[str, Any]]

    @classmethod
    def load(cls, path: Path) -> EvalRun:
        """Read ``metrics.json`` and ``predictions.jsonl``; ``EvsumError`` when either is missing or unreadable."""
        try:
            metrics = json.loads((path / "metrics.json").read_text(encoding="utf-8"))
            rows = [row for _, row in iter_jsonl(path / "predictions.jsonl")]  # line by line: quotes may hold U+2029
        except (OSError, ValueError, GoldFormatError) as error:
            raise EvsumError(f"{path} is not an 'evsum eval' output directory: {error}") from error
        run = metrics.get("run") or {}
        dataset = str(run.get("dataset") or "")
        if dataset not in METRICS:
            raise EvsumError(f"{path}: unknown dataset {dataset!r} in metrics.json (expected one of "
                             f"{', '.join(METRICS)})")
        return cls(path, dataset, run, {str(row["id"]): row for row in rows if "id" in row})


def provenance_differences(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Run-information fields (and options) whose values differ between the two runs."""
    out: dict[str, dict[str, Any]] = {}
    for key in PROVENANCE_KEYS:
        if before.get(key) != after.get(key):
            out[key] = {"before": before.get(key), "after": after.get(key)}
    options_before, options_after = before.get("options") or {}, after.get("options") or {}
    for key in OPTION_KEYS:
        if options_before.get(key) != options_after.get(key):
            out[f"options.{key}"] = {"before": options_before.get(key), "after": options_after.get(key)}
    return out


def _item_label(row: Row) -> str:
    return str(row.get("question") or row.get("claim") or "")


def verdict(difference: PairedDifference, lower_is_better: bool) -> str:
    """"better" or "worse" when the 95 % interval excludes 0, else "tie"."""
    if not difference.significant:
        return "tie"
    return "better" if (difference.ci95_low > 0) != lower_is_better else "worse"


def _result(difference: PairedDifference, before: float, after: float, lower_is_better: bool) -> dict[str, Any]:
    return {"n": difference.n, "before": before, "after": after,
            "difference": {**asdict(difference), "significant": difference.significant},
            "verdict": verdict(difference, lower_is_better), "lower_is_better": lower_is_better}


def compare_metric(metric: ItemMetric, ids: Sequence[str], before: EvalRun, after: EvalRun,
                   seed: int) -> dict[str, Any] | None:
    """Means, the paired difference and the items that changed, over the items measured in both runs."""
    pairs = [(i, metric.read(before.rows[i]), metric.read(after.rows[i])) for i in ids]
    measured = [(i, b, a) for i, b, a in pairs if b is not None and a is not None]
    if not measured:
        return None
    b_values = [b for _, b, _ in measured]
    a_values = [a for _, _, a in measured]
    difference = paired_bootstrap(a_values, b_values, seed=seed)
    out = _result(difference, mean(b_values), mean(a_values), metric.lower_is_better)
    sign = -1.0 if metric.lower_is_better else 1.0
    if metric.binary:
        out["gained"] = [i for i, b, a in measured if a > b]
        out["lost"] = [i for i, b, a in measured if a < b]
    else:
        gains = [(sign * (a - b), i, a - b) for i, b, a in measured if a != b]  # (gain, id, after - before)
        out["improved"] = [{"id": i, "change": c} for g, i, c in sorted(gains, key=lambda x: (-x[0], x[1]))
                           if g > 0][:MOVERS]
        out["worsened"] = [{"id": i, "change": c} for g, i, c in sorted(gains, key=lambda x: (x[0], x[1]))
                           if g < 0][:MOVERS]
    return out


def _rationale_counts(row: Row) -> PRF | None:
    """True positives, selected and gold sentences of one SciFact claim's rationale selection, over its abstracts."""
    rationales = row.get("rationales")
    if not rationales:
        return None
    return micro_prf((pair.get("system") or [], pair.get("gold") or []) for pair in rationales.values())


def _micro_f1(counts: np.ndarray) -> float:
    """Micro F1 of rows of (true positives, selected, gold) counts."""
    tp, selected, gold = counts.sum(axis=0)
    return PRF(int(tp), int(selected), int(gold)).f1


def compare_rationale_f1(ids: Sequence[str], before: EvalRun, after: EvalRun, *, seed: int,
                         samples: int = 2000) -> dict[str, Any] | None:
    """Micro rationale F1 of both runs and the bootstrap interval of its difference (claims resampled)."""
    both = [(i, _rationale_counts(before.rows[i]), _rationale_counts(after.rows[i])) for i in ids]
    kept = [(i, b, a) for i, b, a in both if b is not None and a is not None]
    if not kept:
        return None
    b_counts = np.array([(b.true_positives, b.predicted, b.gold) for _, b, _ in kept], dtype=np.int64)
    a_counts = np.array([(a.true_positives, a.predicted, a.gold) for _, _, a in kept], dtype=np.int64)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(kept), size=(samples, len(kept)))
    differences = [_micro_f1(a_counts[d]) - _micro_f1(b_counts[d]) for d in draws]
    low, high = np.percentile(differences, [2.5, 97.5])
    before_f1, after_f1 = _micro_f1(b_counts), _micro_f1(a_counts)
    out = _result(PairedDifference(after_f1 - before_f1, float(low), float(high), len(kept)), before_f1, after_f1,
                  False)
    out["improved"] = [i for i, b, a in kept if a.f1 > b.f1]
    out["worsened"] = [i for i, b, a in kept if a.f1 < b.f1]
    return out


def compare_runs(before_dir: Path, after_dir: Path, *, seed: int = 0) -> dict[str, Any]:
    """The comparison as ``compare.json`` holds it.

    ``EvsumError`` when the runs are of different gold sets, share no item, or ask different questions
    (or claims) under the same ids: such runs come from different gold files and cannot be paired.
    """
    before, after = EvalRun.load(before_dir), EvalRun.load(after_dir)
    if before.dataset != after.dataset:
        raise EvsumError(f"cannot compare a {before.dataset} run with a {after.dataset} run")
    ids = [i for i in before.rows if i in after.rows]
    if not ids:
        raise EvsumError("the two runs have no item in common")
    differing = [i for i in ids if _item_label(before.rows[i]) != _item_label(after.rows[i])]
    if differing:
        raise EvsumError(f"the two runs ask different questions under the same ids ({', '.join(differing[:5])}"
                         f"{' ...' if len(differing) > 5 else ''}): they come from different gold files")
    metrics: dict[str, Any] = {}
    for metric in METRICS[before.dataset]:
        result = compare_metric(metric, ids, before, after, seed)
        if result is not None:
            metrics[metric.name] = result
    if before.dataset == "scifact":
        rationale = compare_rationale_f1(ids, before, after, seed=seed)
        if rationale is not None:
            metrics["rationale_f1"] = rationale
    return {
        "dataset": before.dataset, "before": str(before_dir), "after": str(after_dir), "n_paired": len(ids),
        "only_before": sorted(set(before.rows) - set(after.rows)),
        "only_after": sorted(set(after.rows) - set(before.rows)),
        "provenance_differences": provenance_differences(before.run, after.run),
        "metrics": metrics, "seed": seed,
        "questions": {i: _item_label(after.rows[i]) for i in ids},
    }


def summary_lines(comparison: Mapping[str, Any]) -> list[str]:
    """A plain-text summary: one line per metric with its verdict, then the differences in provenance."""
    lines = [f"{comparison['dataset']}: {comparison['n_paired']} items in both runs "
             f"({len(comparison['only_before'])} only before, {len(comparison['only_after'])} only after)"]
    for name, result in comparison["metrics"].items():
        d = result["difference"]
        line = (f"  {name}: {result['before']:.4f} -> {result['after']:.4f}, difference {d['mean']:+.4f} "
                f"(95 % interval {d['ci95_low']:+.4f} to {d['ci95_high']:+.4f}, n {result['n']}): {result['verdict']}")
        if "gained" in result:
            line += f"; gained {', '.join(result['gained']) or 'none'}; lost {', '.join(result['lost']) or 'none'}"
        lines.append(line)
    for key, values in comparison["provenance_differences"].items():
        lines.append(f"  note: {key} differs ({values['before']} -> {values['after']})")
    return lines


def _changed_items(comparison: Mapping[str, Any]) -> list[list[Any]]:
    """Report rows: every item gained or lost, and the items that moved most on each graded metric."""
    questions = comparison["questions"]
    rows: list[list[Any]] = []
    for name, result in comparison["metrics"].items():
        for direction in ("gained", "lost", "improved", "worsened"):
            for entry in result.get(direction, []):
                item = entry["id"] if isinstance(entry, dict) else entry
                change = f"{entry['change']:+.4f}" if isinstance(entry, dict) else ""
                rows.append([name, direction, change, item, questions.get(item, "")])
    return rows


def write_comparison(comparison: Mapping[str, Any], out: Path) -> None:
    """``compare.json`` and ``report.html`` in ``out``."""
    write_json(out / "compare.json", comparison)
    rows = {name: {"before": r["before"], "after": r["after"], "difference": r["difference"]["mean"],
                   "ci95_low": r["difference"]["ci95_low"], "ci95_high": r["difference"]["ci95_high"],
                   "verdict": r["verdict"], "n": r["n"]} for name, r in comparison["metrics"].items()}
    changed = _changed_items(comparison)
    provenance = [[k, str(v["before"]), str(v["after"])] for k, v in comparison["provenance_differences"].items()]
    sections = [
        Section("After minus before, item by item", [
            note(f"Before: {comparison['before']}. After: {comparison['after']}. {comparison['n_paired']} items in "
                 f"both runs, {len(comparison['only_before'])} only before, {len(comparison['only_after'])} only "
                 "after."),
            metric_table(rows, ["before", "after", "difference", "ci95_low", "ci95_high", "verdict", "n"]),
            note("Paired-bootstrap 95 % intervals (2,000 resamples of the items both runs answered). An interval "
                 "that contains 0 is a tie: the change is inside the noise of these items. Lower latency is better."),
        ]),
        Section("Items that changed", [table(["metric", "direction", "change", "id", "question"], changed, text=True)
                                       if changed else note("No item changed on any metric.")]),
        Section("Where the two runs differ besides the system", [
            table(["field", "before", "after"], provenance, text=True) if provenance
            else note("Same machine, encoder graph, scorers, snapshot and options."),
        ]),
    ]
    raw = {k: v for k, v in comparison.items() if k != "questions"}
    write_report(out / "report.html", f"evsum evaluation: comparison of two {comparison['dataset']} runs",
                 {"dataset": comparison["dataset"]}, sections, raw)
