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

from eval.metrics import PairedDifference, mean, paired_bootstrap
from eval.report import Section, metric_table, note, table, write_report
from evsum.errors import EvsumError

Row = Mapping[str, Any]
PROVENANCE_KEYS: tuple[str, ...] = ("machine", "encoder", "encoder_graph_sha256", "scorer", "claim_scorer",
                                    "snapshot_id", "backend", "source")
OPTION_KEYS: tuple[str, ...] = ("split", "limit", "max_sentences", "seed")
MOVERS = 10  # items listed per direction for a graded metric


@dataclass(frozen=True, slots=True)
class ItemMetric:
    """A per-item number read from a predictions.jsonl row (``None``: not measured on that item)."""

    name: str
    read: Callable[[Row], float | None]
    binary: bool = False
    lower_is_better: bool = False


def _path(*keys: str) -> Callable[[Row], float | None]:
    """Read ``row[k1][k2]...`` as a float; ``None`` when any key is missing or the value is null."""
    def read(row: Row) -> float | None:
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
                ItemMetric("ndcg_at_10_beir", _path("retrieval_beir", "system", "ndcg_at_10")), _LATENCY),
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
            lines = (path / "predictions.jsonl").read_text(encoding="utf-8").splitlines()
            rows = [json.loads(line) for line in lines if line.strip()]
        except (OSError, ValueError) as error:
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
    out: dict[str, Any] = {"n": len(measured), "before": mean(b_values), "after": mean(a_values),
                           "difference": {**asdict(difference), "significant": difference.significant},
                           "lower_is_better": metric.lower_is_better}
    sign = -1.0 if metric.lower_is_better else 1.0
    if metric.binary:
        out["gained"] = [i for i, b, a in measured if a > b]
        out["lost"] = [i for i, b, a in measured if a < b]
    else:
        moved = sorted(((sign * (a - b), i) for i, b, a in measured if a != b), reverse=True)
        out["improved"] = [{"id": i, "change": sign * d} for d, i in moved[:MOVERS] if d > 0]
        out["worsened"] = [{"id": i, "change": sign * d} for d, i in reversed(moved[-MOVERS:]) if d < 0]
    return out


def _rationale_counts(row: Row) -> tuple[int, int, int] | None:
    """(true positives, selected, gold) of one SciFact claim's rationale selection, over its abstracts."""
    rationales = row.get("rationales")
    if not rationales:
        return None
    tp = selected = gold = 0
    for pair in rationales.values():
        chosen, wanted = set(pair.get("system") or []), set(pair.get("gold") or [])
        tp, selected, gold = tp + len(chosen & wanted), selected + len(chosen), gold + len(wanted)
    return tp, selected, gold


def _micro_f1(counts: np.ndarray) -> float:
    tp, selected, gold = counts.sum(axis=0)
    return float(2 * tp / (selected + gold)) if selected + gold else 0.0


def compare_rationale_f1(ids: Sequence[str], before: EvalRun, after: EvalRun, *, seed: int,
                         samples: int = 2000) -> dict[str, Any] | None:
    """Micro rationale F1 of both runs and the bootstrap interval of its difference (claims resampled)."""
    both = [(i, _rationale_counts(before.rows[i]), _rationale_counts(after.rows[i])) for i in ids]
    kept = [(i, b, a) for i, b, a in both if b is not None and a is not None]
    if not kept:
        return None
    b_counts = np.array([b for _, b, _ in kept], dtype=np.float64)
    a_counts = np.array([a for _, _, a in kept], dtype=np.float64)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(kept), size=(samples, len(kept)))
    differences = [_micro_f1(a_counts[d]) - _micro_f1(b_counts[d]) for d in draws]
    low, high = np.percentile(differences, [2.5, 97.5])
    value = _micro_f1(a_counts) - _micro_f1(b_counts)
    interval = PairedDifference(value, float(low), float(high), len(kept))
    return {"n": len(kept), "before": _micro_f1(b_counts), "after": _micro_f1(a_counts),
            "difference": {**asdict(interval), "significant": interval.significant}, "lower_is_better": False,
            "improved": [i for i, b, a in kept if _claim_f1(a) > _claim_f1(b)],
            "worsened": [i for i, b, a in kept if _claim_f1(a) < _claim_f1(b)]}


def _claim_f1(counts: tuple[int, int, int]) -> float:
    tp, selected, gold = counts
    return 2 * tp / (selected + gold) if selected + gold else 0.0


def compare_runs(before_dir: Path, after_dir: Path, *, seed: int = 0) -> dict[str, Any]:
    """The comparison as ``compare.json`` holds it; ``EvsumError`` when the runs are of different gold sets."""
    before, after = EvalRun.load(before_dir), EvalRun.load(after_dir)
    if before.dataset != after.dataset:
        raise EvsumError(f"cannot compare a {before.dataset} run with a {after.dataset} run")
    ids = [i for i in before.rows if i in after.rows]
    if not ids:
        raise EvsumError("the two runs have no item in common")
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
    """A plain-text summary: one line per metric, then the differences in provenance."""
    lines = [f"{comparison['dataset']}: {comparison['n_paired']} items in both runs "
             f"({len(comparison['only_before'])} only before, {len(comparison['only_after'])} only after)"]
    for name, result in comparison["metrics"].items():
        d = result["difference"]
        verdict = "tie" if not d["significant"] else (
            "better" if (d["mean"] < 0) == result["lower_is_better"] else "worse")
        line = (f"  {name}: {result['before']:.4f} -> {result['after']:.4f}, difference {d['mean']:+.4f} "
                f"(95 % interval {d['ci95_low']:+.4f} to {d['ci95_high']:+.4f}, n {result['n']}): {verdict}")
        if "gained" in result:
            line += f"; gained {', '.join(result['gained']) or 'none'}; lost {', '.join(result['lost']) or 'none'}"
        lines.append(line)
    for key, values in comparison["provenance_differences"].items():
        lines.append(f"  note: {key} differs ({values['before']} -> {values['after']})")
    return lines


def write_comparison(comparison: Mapping[str, Any], out: Path) -> None:
    """``compare.json`` and ``report.html`` in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "compare.json").write_text(json.dumps(comparison, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    metrics = comparison["metrics"]
    rows = {name: {"before": r["before"], "after": r["after"], "difference": r["difference"]["mean"],
                   "ci95_low": r["difference"]["ci95_low"], "ci95_high": r["difference"]["ci95_high"],
                   "n": float(r["n"])} for name, r in metrics.items()}
    questions = comparison["questions"]
    changed = [[name, direction, i, questions.get(i, "")]
               for name, r in metrics.items() for direction in ("gained", "lost") for i in r.get(direction, [])]
    provenance = [[k, str(v["before"]), str(v["after"])] for k, v in comparison["provenance_differences"].items()]
    sections = [
        Section("After minus before, item by item", [
            metric_table(rows, ["before", "after", "difference", "ci95_low", "ci95_high", "n"]),
            note("Paired-bootstrap 95 % intervals (2,000 resamples of the items both runs answered). An interval "
                 "that contains 0 is a tie: the change is inside the noise of these items."),
        ]),
        Section("Items gained and lost", [table(["metric", "change", "id", "question"], changed, text=True)
                                          if changed else note("No yes/no metric changed on any item.")]),
        Section("Where the two runs differ besides the system", [
            table(["field", "before", "after"], provenance, text=True) if provenance
            else note("Same machine, encoder graph, scorers, snapshot and options."),
        ]),
    ]
    info = {"dataset": comparison["dataset"], "before": comparison["before"], "after": comparison["after"]}
    write_report(out / "report.html", f"evsum evaluation: comparison of two {comparison['dataset']} runs", info,
                 sections, {k: v for k, v in comparison.items() if k != "questions"})
