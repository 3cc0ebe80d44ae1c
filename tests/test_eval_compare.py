"""``evsum eval compare``: two hand-made run directories with hand-computed differences, and a real run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from eval.compare import compare_runs, summary_lines, write_comparison
from evsum.cli import main
from evsum.errors import EvsumError


def _run(path: Path, dataset: str, rows: list[dict[str, Any]], **run: Any) -> Path:
    path.mkdir(parents=True)
    info = {"dataset": dataset, "options": {"split": "dev", "max_sentences": 5, "seed": 0, "limit": None},
            "machine": {"cpu": "AMD EPYC"}, "encoder": "minilm-int8", **run}
    (path / "metrics.json").write_text(json.dumps({"run": info}), encoding="utf-8")
    (path / "predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _question(item: str, hit: bool, rouge_l: float, latency: float, source: bool | None = True) -> dict[str, Any]:
    return {"id": item, "question": f"question {item}?", "gold_sentence_hit": hit, "source_hit": source,
            "rouge": {"rougeL": rouge_l}, "latency_ms": latency}


@pytest.fixture
def jsonl_runs(tmp_path: Path) -> tuple[Path, Path]:
    before = _run(tmp_path / "before", "jsonl", [
        _question("q1", True, 0.2, 10, source=None), _question("q2", False, 0.4, 10), _question("q3", True, 0.3, 10),
        _question("q4", False, 0.1, 10), _question("q5", True, 0.5, 10)])
    after = _run(tmp_path / "after", "jsonl", [
        _question("q1", True, 0.3, 5), _question("q2", True, 0.4, 5), _question("q3", False, 0.1, 5),
        _question("q4", True, 0.1, 5), _question("q6", True, 0.9, 5)], machine={"cpu": "Intel Xeon"})
    return before, after


def test_paired_items_give_hand_computed_differences(jsonl_runs: tuple[Path, Path]) -> None:
    comparison = compare_runs(*jsonl_runs)
    assert comparison["n_paired"] == 4 and comparison["only_before"] == ["q5"] and comparison["only_after"] == ["q6"]
    hit = comparison["metrics"]["gold_sentence_hit"]
    assert (hit["before"], hit["after"], hit["n"]) == (0.5, 0.75, 4)
    assert hit["difference"]["mean"] == pytest.approx(0.25)
    assert hit["gained"] == ["q2", "q4"] and hit["lost"] == ["q3"]
    source = comparison["metrics"]["source_hit"]
    assert source["n"] == 3 and source["difference"]["mean"] == 0.0  # q1 has no source check before: left out
    rouge = comparison["metrics"]["rougeL"]
    assert rouge["difference"]["mean"] == pytest.approx(-0.025)
    assert [m["id"] for m in rouge["improved"]] == ["q1"] and rouge["improved"][0]["change"] == pytest.approx(0.1)
    assert [m["id"] for m in rouge["worsened"]] == ["q3"] and rouge["worsened"][0]["change"] == pytest.approx(-0.2)
    latency = comparison["metrics"]["latency_ms"]
    assert latency["difference"]["mean"] == -5.0 and latency["difference"]["significant"]
    assert comparison["provenance_differences"] == {"machine": {"before": {"cpu": "AMD EPYC"},
                                                                "after": {"cpu": "Intel Xeon"}}}
    assert (hit["verdict"], rouge["verdict"], latency["verdict"]) == ("tie", "tie", "better")  # lower is better
    assert [m["id"] for m in latency["improved"]] == ["q1", "q2", "q3", "q4"] and latency["worsened"] == []
    assert latency["improved"][0]["change"] == -5.0  # after minus before: 5 ms faster
    lines = summary_lines(comparison)
    assert "latency_ms: 10.0000 -> 5.0000" in lines[4] and lines[4].endswith("better")
    assert "gained q2, q4; lost q3" in lines[1]
    assert lines[-1].startswith("  note: machine differs")


def test_scifact_rationale_f1_is_micro_averaged_and_resampled_by_claim(tmp_path: Path) -> None:
    def claim(item: str, gold: list[int], system: list[int]) -> dict[str, Any]:
        return {"id": item, "claim": f"claim {item}.", "latency_ms": 40.0,
                "retrieval": {"system": {"ndcg_at_10": 1.0, "recall_at_10": 1.0}},
                "rationales": {f"doc-{item}": {"gold": gold, "system": system, "cosine": []}}}

    before = _run(tmp_path / "before", "scifact", [claim("A", [1, 2], [1]), claim("B", [0], [3])])
    after = _run(tmp_path / "after", "scifact", [claim("A", [1, 2], [1, 2]), claim("B", [0], [0])])
    f1 = compare_runs(before, after)["metrics"]["rationale_f1"]
    assert f1["before"] == pytest.approx(2 * 1 / (2 + 3))  # micro: tp 1, selected 2, gold 3
    assert f1["after"] == pytest.approx(1.0) and f1["difference"]["mean"] == pytest.approx(0.6)
    assert f1["improved"] == ["A", "B"] and f1["worsened"] == []
    assert 0.0 < f1["difference"]["ci95_low"] <= f1["difference"]["ci95_high"] <= 1.0


def test_real_row_shapes_are_read(tmp_path: Path) -> None:
    """SciFact rows of claims without evidence (``retrieval`` null, no rationales) or without cited documents,
    PubMedQA rows with recall, and quotes holding a paragraph separator (U+2029) inside a JSON string."""
    evidence = {"id": "1", "claim": "Aspirin\u2029prevents stroke.", "latency_ms": 30.0, "cited_doc_ids": ["d1"],
                "retrieval": {"system": {"ndcg_at_10": 0.5, "recall_at_10": 1.0}},
                "retrieval_beir": {"system": {"ndcg_at_10": 0.5, "recall_at_10": 1.0}},
                "rationales": {"d1": {"gold": [0], "system": [0], "cosine": [1]}}}
    no_evidence = {"id": "2", "claim": "Statins cure colds.", "latency_ms": 30.0, "cited_doc_ids": ["d2"],
                   "retrieval": None, "retrieval_beir": {"system": {"ndcg_at_10": 1.0, "recall_at_10": 1.0}},
                   "rationales": {}}
    uncited = {"id": "3", "claim": "Tea is hot.", "latency_ms": 30.0, "cited_doc_ids": [],
               "retrieval": {"system": {"ndcg_at_10": 0.0, "recall_at_10": 0.0}},
               "retrieval_beir": {"system": {"ndcg_at_10": 0.0, "recall_at_10": 0.0}}, "rationales": {}}
    before = _run(tmp_path / "b", "scifact", [evidence, no_evidence, uncited])
    better = {**evidence, "retrieval": {"system": {"ndcg_at_10": 1.0, "recall_at_10": 1.0}}}
    after = _run(tmp_path / "a", "scifact", [better, no_evidence, uncited])
    metrics = compare_runs(before, after)["metrics"]
    assert metrics["ndcg_at_10"]["n"] == 2 and metrics["ndcg_at_10"]["difference"]["mean"] == 0.25
    assert metrics["ndcg_at_10_beir"]["n"] == 2  # the claim that cites nothing has no BEIR-style score
    assert metrics["rationale_f1"]["n"] == 1 and metrics["rationale_f1"]["before"] == 1.0
    pubmedqa = [{"id": "p1", "question": "Q?", "rouge": {"rougeL": 0.2, "rouge1": 0.3, "rouge2": 0.1},
                 "recall": {"at_1": 1.0, "at_5": 1.0}, "latency_ms": 9.0}]
    moved = [{**pubmedqa[0], "recall": {"at_1": 0.0, "at_5": 1.0}}]
    recall = compare_runs(_run(tmp_path / "pb", "pubmedqa", pubmedqa), _run(tmp_path / "pa", "pubmedqa", moved))
    assert recall["metrics"]["recall_at_1"]["lost"] == ["p1"]


def test_the_same_ids_with_other_questions_are_refused(tmp_path: Path, jsonl_runs: tuple[Path, Path]) -> None:
    other = _run(tmp_path / "other-file", "jsonl", [_question("q1", True, 0.1, 1) | {"question": "Another?"}])
    with pytest.raises(EvsumError, match=r"different questions under the same ids \(q1\)"):
        compare_runs(jsonl_runs[0], other)


def test_runs_of_different_gold_sets_or_without_common_items_are_refused(tmp_path: Path,
                                                                         jsonl_runs: tuple[Path, Path]) -> None:
    pubmedqa = _run(tmp_path / "pubmedqa", "pubmedqa", [{"id": "q1", "rouge": {"rougeL": 0.2}}])
    with pytest.raises(EvsumError, match="cannot compare a jsonl run with a pubmedqa run"):
        compare_runs(jsonl_runs[0], pubmedqa)
    other = _run(tmp_path / "other", "jsonl", [_question("z9", True, 0.1, 1)])
    with pytest.raises(EvsumError, match="no item in common"):
        compare_runs(jsonl_runs[0], other)
    with pytest.raises(EvsumError, match="not an 'evsum eval' output directory"):
        compare_runs(jsonl_runs[0], tmp_path / "missing")


def test_the_command_writes_the_comparison_and_prints_the_verdicts(jsonl_runs: tuple[Path, Path], tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "compare"
    assert main(["eval", "compare", str(jsonl_runs[0]), str(jsonl_runs[1]), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "jsonl: 4 items in both runs (1 only before, 1 only after)" in printed
    assert "gold_sentence_hit: 0.5000 -> 0.7500" in printed
    saved = json.loads((out / "compare.json").read_text(encoding="utf-8"))
    assert saved["metrics"]["gold_sentence_hit"]["gained"] == ["q2", "q4"]
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "Items that changed" in page and "question q3?" in page and "Intel Xeon" in page
    assert "<td>better</td>" in page and "Before: " in page


def test_a_run_compared_with_itself_changes_nothing(jsonl_runs: tuple[Path, Path], tmp_path: Path) -> None:
    comparison = compare_runs(jsonl_runs[1], jsonl_runs[1])
    assert comparison["provenance_differences"] == {}
    for result in comparison["metrics"].values():
        assert result["difference"]["mean"] == 0.0 and not result["difference"]["significant"]
    write_comparison(comparison, tmp_path / "same")
    page = (tmp_path / "same" / "report.html").read_text(encoding="utf-8")
    assert "Same machine, encoder graph, scorers, snapshot and options." in page
