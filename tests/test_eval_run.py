"""End-to-end evaluation runs with the hash encoder on a handful of real PubMedQA and SciFact items."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import SHARED, add_keys, make_settings

from eval.baselines import SentencePools
from eval.cli import main, register
from eval.common import EvalOptions, load_engine, machine_info
from eval.compare import compare_runs
from eval.generic import run_generic
from eval.pubmedqa import BASELINES, run_pubmedqa
from eval.rationale import index_map
from eval.scifact import run_scifact
from evsum.settings import DEFAULT_ENCODER
from indexing.pipeline import run_index
from models.encoders import HashEncoder

PUBMEDQA = SHARED / "data" / "pubmedqa" / "pqal_dev.json"
SCIFACT = SHARED / "data" / "scifact"
OUTPUTS = ("metrics.json", "predictions.jsonl", "report.html")


def _options(out: Path, index_dir: Path, **kwargs: Any) -> EvalOptions:
    return EvalOptions(out=out, index_dir=index_dir, encoder="hash", progress=False, **kwargs)


def _check_outputs(out: Path, n: int) -> dict[str, Any]:
    for name in OUTPUTS:
        assert (out / name).is_file(), name
    lines = (out / "predictions.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == n and all(json.loads(line)["sentences"] is not None for line in lines)
    page = (out / "report.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and page.count("data:image/png;base64,") >= 2
    return dict(json.loads((out / "metrics.json").read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def pubmedqa_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = json.loads(PUBMEDQA.read_text(encoding="utf-8"))
    keys = list(data)[:6]
    path = tmp_path_factory.mktemp("pubmedqa") / "ori_pqal.json"
    path.write_text(json.dumps({k: data[k] for k in keys}), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def pubmedqa_run(pubmedqa_file: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, Any]]:
    root = tmp_path_factory.mktemp("pubmedqa-run")
    index_dir = root / "index"
    metrics = run_pubmedqa(pubmedqa_file, _options(root / "out", index_dir), encoder=HashEncoder())
    return root / "out", index_dir, metrics


def test_pubmedqa_run_writes_metrics_predictions_and_report(pubmedqa_run: tuple[Path, Path, dict[str, Any]]) -> None:
    out, _, returned = pubmedqa_run
    metrics = _check_outputs(out, 6)
    assert metrics["n"] == returned["n"] == 6
    system = metrics["system"]
    for key in ("rouge1", "rouge2", "rougeL", "recall_at_1", "recall_at_5", "citation_valid",
                "latency_ms_p50", "latency_ms_p95"):
        assert isinstance(system[key], float), key
    assert system["citation_valid"] == 1.0 and system["cited_sentences"] > 0
    assert system["latency_ms_p95"] >= system["latency_ms_p50"] > 0
    assert metrics["run"]["machine"]["usable_cpus"] >= 1 and metrics["run"]["machine"]["cpu"]
    assert 0.0 <= system["recall_at_1"] <= system["recall_at_5"] <= 1.0
    for name in BASELINES:
        assert set(metrics["baselines"][name]) == {"rouge1", "rouge2", "rougeL"}
    oracle = metrics["baselines"]["oracle"]["rougeL"]
    assert all(oracle >= metrics["baselines"][name]["rougeL"] for name in ("lead", "bm25", "cosine"))
    assert oracle >= system["rougeL"]
    for name in BASELINES:
        comparison = metrics["system_minus_baseline_rougeL"][name]
        expected = system["rougeL"] - metrics["baselines"][name]["rougeL"]
        assert comparison["mean"] == pytest.approx(expected, abs=1e-9)
        assert comparison["ci95_low"] <= comparison["mean"] <= comparison["ci95_high"] and comparison["n"] == 6
    row = json.loads((out / "predictions.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert {"id", "question", "sentences", "retrieved_document_ids", "latency_ms", "baselines"} <= set(row)
    for sentence in row["sentences"]:
        assert {"document_id", "page", "char_start", "char_end", "citation_valid"} <= set(sentence)


def test_http_backend_gives_the_same_answers(pubmedqa_file: Path, pubmedqa_run: tuple[Path, Path, dict[str, Any]],
                                             tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from service.app import create_app

    in_process_out, index_dir, in_process = pubmedqa_run
    encoder = HashEncoder()
    settings = make_settings(index_dir)
    key = add_keys(settings.database_url, {"evaluator": "clinician"})["evaluator"]
    options = _options(tmp_path, index_dir)
    options.api_key = key  # as `--api-key` / $EVSUM_API_KEY: sent as a bearer token, never written out
    with TestClient(create_app(settings, encoder=encoder)) as client:
        metrics = run_pubmedqa(pubmedqa_file, options, encoder=encoder, http_client=client)
    assert metrics["run"]["backend"] == "http"
    assert key not in (tmp_path / "metrics.json").read_text(encoding="utf-8")
    assert metrics["system"]["citation_valid"] == 1.0
    for key in ("rougeL", "recall_at_5", "cited_sentences"):
        assert metrics["system"][key] == pytest.approx(in_process["system"][key])
    comparison = compare_runs(in_process_out, tmp_path)  # the two real runs, item by item (`evsum eval compare`)
    assert comparison["n_paired"] == 6 and comparison["metrics"]["rougeL"]["difference"]["mean"] == 0.0
    assert comparison["provenance_differences"]["backend"] == {"before": "in-process", "after": "http"}


def test_jsonl_run_over_the_current_index(pubmedqa_file: Path, pubmedqa_run: tuple[Path, Path, dict[str, Any]],
                                          tmp_path: Path) -> None:
    _, index_dir, _ = pubmedqa_run
    items = json.loads(pubmedqa_file.read_text(encoding="utf-8"))
    gold = tmp_path / "gold.jsonl"
    lines = [{"id": pmid, "question": item["QUESTION"], "gold_summary": item["LONG_ANSWER"],
              "gold_sources": ["pubmedqa_abstracts.jsonl"], "gold_sentences": [item["CONTEXTS"][0]],
              "gold_doc_ids": [pmid], "kind": "paper" if n % 2 else "guideline", "page": n, "note": f"item {n}"}
             for n, (pmid, item) in enumerate(list(items.items())[:4])]
    lines.append({"question": "What is the boiling point of tungsten?", "kind": "paper", "page": 9,
                  "note": "off topic"})
    # an answer sentence that no summary can quote: listed in the report as missed
    lines[0]["gold_sentences"] = ["This sentence is in no abstract at all, so it is never quoted."]
    gold.write_text("\n".join(json.dumps(line) for line in lines) + "\n", encoding="utf-8")
    metrics = run_generic(gold, _options(tmp_path / "out", index_dir), encoder=HashEncoder())
    _check_outputs(tmp_path / "out", 5)
    assert metrics["counts"]["with_gold_summary"] == 4 and metrics["n"] == 5
    system = metrics["system"]
    assert system["citation_valid"] == 1.0
    assert 0.0 < system["source_recall"] <= 1.0  # every abstract comes from that file
    assert 0.0 <= system["gold_sentence_hit"] <= 1.0 and 0.0 <= system["rougeL"] <= 1.0
    for share in ("gold_sentence_hit", "source_recall"):
        assert system[f"{share}_ci95_low"] <= system[share] <= system[f"{share}_ci95_high"], share
    # broken down by the file's own string field: not by the numeric "page", nor by a note unique to each question
    groups = metrics["by_group"]
    assert set(groups) == {"kind"} and set(groups["kind"]) == {"paper", "guideline"}
    assert groups["kind"]["paper"]["n"] == 3 and groups["kind"]["guideline"]["n"] == 2
    hits = [json.loads(line)["gold_sentence_hit"] for line in
            (tmp_path / "out" / "predictions.jsonl").read_text(encoding="utf-8").splitlines()]
    assert hits[0] is False and hits[4] is None  # the unquotable sentence; the question without gold
    assert groups["kind"]["guideline"]["gold_sentence_hit"] == (0 + bool(hits[2])) / 2
    assert groups["kind"]["paper"]["gold_sentence_hit"] == (bool(hits[1]) + bool(hits[3])) / 2
    report = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "By kind" in report and "kind = guideline" in report and "<td>3</td>" in report  # counts as integers
    missed = sum(h is False for h in hits)
    assert f"Questions whose answer sentence was not quoted ({missed})" in report
    assert "This sentence is in no abstract at all" in report


def test_several_jsonl_files_are_one_run_broken_down_per_file(
        pubmedqa_file: Path, pubmedqa_run: tuple[Path, Path, dict[str, Any]], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    _, index_dir, _ = pubmedqa_run
    items = list(json.loads(pubmedqa_file.read_text(encoding="utf-8")).items())[:5]
    lines = [{"id": pmid, "question": item["QUESTION"], "gold_sentences": [item["CONTEXTS"][0]],
              "gold_summary": item["LONG_ANSWER"], "gold_sources": ["pubmedqa_abstracts.jsonl"], "kind": "paper"}
             for pmid, item in items]
    first, second = tmp_path / "set_a.jsonl", tmp_path / "set_b.jsonl"
    first.write_text("".join(json.dumps(line) + "\n" for line in lines[:3]), encoding="utf-8")
    second.write_text("".join(json.dumps(line) + "\n" for line in lines[3:]), encoding="utf-8")
    metrics = run_generic([first, second], _options(tmp_path / "both", index_dir), encoder=HashEncoder())
    _check_outputs(tmp_path / "both", 5)
    per_file = metrics["by_group"]["file"]
    assert {name: group["n"] for name, group in per_file.items()} == {str(first): 3, str(second): 2}
    # the pooled share is the per-file shares weighted by their questions, and each equals a one-file run
    alone = run_generic(second, _options(tmp_path / "b", index_dir), encoder=HashEncoder())
    assert per_file[str(second)]["gold_sentence_hit"] == alone["system"]["gold_sentence_hit"]
    assert "file" not in alone["by_group"] and "set_a.jsonl" in metrics["run"]["source"]
    pooled = (3 * per_file[str(first)]["gold_sentence_hit"] + 2 * per_file[str(second)]["gold_sentence_hit"]) / 5
    assert metrics["system"]["gold_sentence_hit"] == pytest.approx(pooled)
    assert "By file" in (tmp_path / "both" / "report.html").read_text(encoding="utf-8")
    # an id in two files would make predictions ambiguous: refused, naming both files
    second.write_text(json.dumps(lines[0]) + "\n", encoding="utf-8")
    code = main(["jsonl", str(first), str(second), "--out", str(tmp_path / "dup"), "--encoder", "hash",
                 "--index-dir", str(index_dir), "--no-progress"])
    error = capsys.readouterr().err
    assert code == 1 and "set_b.jsonl" in error and "set_a.jsonl" in error and lines[0]["id"] in error


@pytest.fixture(scope="module")
def scifact_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("scifact")
    claims = [json.loads(line) for line in (SCIFACT / "claims_train.jsonl").read_text(encoding="utf-8").splitlines()]
    chosen = [c for c in claims if c["evidence"]][:6]
    wanted = {str(d) for c in chosen for d in [*c["evidence"], *c["cited_doc_ids"]]}
    corpus, extra = [], 0
    for line in (SCIFACT / "corpus.jsonl").read_text(encoding="utf-8").splitlines():
        doc_id = str(json.loads(line)["doc_id"])
        if doc_id in wanted or extra < 25:
            extra += doc_id not in wanted
            corpus.append(line)
    (root / "corpus.jsonl").write_text("\n".join(corpus) + "\n", encoding="utf-8")
    (root / "claims.jsonl").write_text("\n".join(json.dumps(c) for c in chosen) + "\n", encoding="utf-8")
    return root / "corpus.jsonl", root / "claims.jsonl"


def test_scifact_run_reports_retrieval_and_rationales(scifact_files: tuple[Path, Path], tmp_path: Path) -> None:
    corpus, claims = scifact_files
    metrics = run_scifact(corpus, claims, _options(tmp_path / "out", tmp_path / "index"), encoder=HashEncoder())
    _check_outputs(tmp_path / "out", 6)
    system, baselines = metrics["system"], metrics["baselines"]
    assert metrics["n"] == 6 and metrics["n_beir"] == 6
    for key in ("ndcg_at_10", "recall_at_10", "ndcg_at_10_beir", "recall_at_10_beir", "rationale_precision",
                "rationale_recall", "rationale_f1"):
        assert 0.0 <= system[key] <= 1.0, key
    assert system["citation_valid"] == 1.0
    assert {"ndcg_at_10", "recall_at_10", "ndcg_at_10_beir"} <= set(baselines["bm25"])
    assert "ndcg_at_10" in baselines["dense"]
    assert "rationale_f1" in baselines["cosine"] and metrics["n_rationale_pairs"] >= 6
    rules = metrics["run"]["rationale_rules"]
    assert rules["tuned_on"] == "train" and rules["system"]["k_max"] >= 1
    assert system["rationale_recall"] > 0.0  # gold abstracts are given: some rationale is always found
    # split "all": the train claims are evaluated too, and their evidence abstracts never count as unseen
    tuned = metrics["run"]["rationale_rules"]["tune_pairs"]
    assert 0 < metrics["n_rationale_pairs_unseen"] <= metrics["n_rationale_pairs"] - tuned
    assert 0.0 <= system["rationale_f1_unseen_abstracts"] <= 1.0
    assert "rationale_f1_unseen_abstracts" in baselines["cosine"]
    assert "rationale_f1_unseen_abstracts" in (tmp_path / "out" / "report.html").read_text(encoding="utf-8")


def test_machine_info_reads_the_cpu_and_its_int8_instruction_sets(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: Example Xeon 8480\nflags\t\t: fpu sse2 avx2 avx512f "
                       "avx512_vnni amx_tile amx_int8\n\nprocessor\t: 1\nmodel name\t: Example Xeon 8480\n",
                       encoding="utf-8")
    info = machine_info(cpuinfo)
    assert info["cpu"] == "Example Xeon 8480"
    assert info["int8_instructions"] == ["avx2", "avx512f", "avx512_vnni", "amx_int8"]
    assert info["usable_cpus"] >= 1 and info["architecture"]
    arm = tmp_path / "cpuinfo-arm"
    arm.write_text("processor\t: 0\nBogoMIPS\t: 50.00\nFeatures\t: fp asimd asimddp sve i8mm\n"
                   "CPU implementer\t: 0x41\n", encoding="utf-8")
    assert machine_info(arm)["int8_instructions"] == ["asimddp", "i8mm", "sve"]
    assert machine_info(tmp_path / "absent")["int8_instructions"] == []


def test_scifact_rationale_f1_on_unseen_abstracts_leaves_out_evidence_of_train_claims() -> None:
    from eval.rationale import PairScores, SelectionRule
    from eval.scifact import _aggregate

    def pair(claim: str, document: str, gold: int) -> PairScores:
        return PairScores(claim, document, frozenset({gold}), (0, 1), np.array([1.0, 0.0]), np.array([1.0, 0.0]))

    tune_pairs = [pair("t1", "seen", 0)]
    eval_pairs = [pair("d1", "seen", 0), pair("d2", "new", 1)]  # right on the seen abstract, wrong on the new
    rules = {"system": SelectionRule(1, 1.0), "cosine": SelectionRule(1, 1.0)}
    metrics = _aggregate([], set(), set(), eval_pairs, rules, tune_pairs, {"seen", "also-train"})
    assert metrics["n_rationale_pairs_unseen"] == 1
    assert metrics["system"]["rationale_f1"] == pytest.approx(0.5)
    assert metrics["system"]["rationale_f1_unseen_abstracts"] == 0.0
    # evidence of a train claim counts as seen even when that claim was not scored (a --limit sample)
    limited = _aggregate([], set(), set(), eval_pairs, rules, [], {"seen"})
    assert limited["n_rationale_pairs_unseen"] == 1
    everything_seen = _aggregate([], set(), set(), eval_pairs, rules, tune_pairs, {"seen", "new"})
    assert everything_seen["n_rationale_pairs_unseen"] == 0
    assert "rationale_f1_unseen_abstracts" not in everything_seen["system"]


def test_sentence_index_mapping_falls_back_to_offsets(tmp_path: Path) -> None:
    records = [
        {"doc_id": 1, "title": "Clean", "abstract": ["First sentence of the abstract here.",
                                                     "Second sentence follows it closely."]},
        {"doc_id": 2, "title": "Merged", "abstract": ["Intro sentence stands alone here.",
                                                      "Two sentences were given. As one single item here.",
                                                      "Last given sentence of this one."]},
    ]
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    settings = make_settings(tmp_path / "index")
    run_index([corpus], settings.index, HashEncoder(), progress=False)
    engine = load_engine(settings, HashEncoder())
    pools = SentencePools(engine.reader, 1)
    clean, how = index_map(pools, "1", records[0])
    assert how == "order" and sorted(clean.values()) == [0, 1]
    merged, how = index_map(pools, "2", records[1])
    texts = {s.id: s.text for s in engine.reader.sentences(list(merged))}
    assert how == "offsets" and len(merged) == 4
    assert sorted(merged.values()) == [0, 1, 1, 2]
    assert {texts[i] for i, index in merged.items() if index == 1} == {"Two sentences were given.",
                                                                        "As one single item here."}


def test_cli_register_and_main(pubmedqa_file: Path, pubmedqa_run: tuple[Path, Path, dict[str, Any]],
                               tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(prog="evsum")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["eval", "scifact", "--corpus", "c.jsonl", "--claims", "k.jsonl", "--out", "o",
                              "--split", "dev", "--max-sentences", "3"])
    assert args.split == "dev" and args.max_sentences == 3 and callable(args.handler)
    assert args.encoder == DEFAULT_ENCODER == "minilm-int8"  # eval measures what the service serves
    _, index_dir, _ = pubmedqa_run
    code = main(["eval", "pubmedqa", str(pubmedqa_file), "--out", str(tmp_path / "out"), "--encoder", "hash",
                 "--index-dir", str(index_dir), "--limit", "2", "--split", "all", "--no-progress"])
    assert code == 0 and json.loads((tmp_path / "out" / "metrics.json").read_text())["n"] == 2
    assert main(["pubmedqa", str(tmp_path / "missing.json"), "--out", str(tmp_path / "x"), "--encoder", "hash"]) == 1
    assert "no such file" in capsys.readouterr().err
