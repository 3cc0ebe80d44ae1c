"""The scorer training command: seeded, split-aware, and it learns a usable ranking."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import SHARED

from evsum.features import FEATURE_NAMES
from models.scorer import DEFAULT_WEIGHTS_FILE, PRIOR_WEIGHTS, LinearScorer, default_scorer
from models.training import QuestionExamples, _pairs, fit_pairwise, save_result, top1_rouge, train_scorer

PUBMEDQA = SHARED / "data" / "pubmedqa" / "pqal_dev.json"


def test_pairwise_fit_recovers_a_planted_ranking() -> None:
    rng = np.random.default_rng(0)
    truth = np.zeros(len(FEATURE_NAMES))
    truth[0], truth[1] = 2.0, -1.0
    examples = []
    for i in range(30):
        features = rng.random((40, len(FEATURE_NAMES))).astype(np.float32)
        examples.append(QuestionExamples(str(i), features, (features @ truth).astype(np.float32)))
    differences, weights = _pairs(examples, np.random.default_rng(1), per_question=100, margin=0.01)
    w = fit_pairwise(differences, weights, steps=500)
    assert w[0] > 0 > w[1] and abs(w[0]) > abs(w[2:]).max()
    learned = LinearScorer(dict(zip(FEATURE_NAMES, w.tolist())))
    best = float(np.mean([e.labels.max() for e in examples]))
    assert top1_rouge(examples, learned) > 0.95 * best


def test_weights_round_trip(tmp_path: Path) -> None:
    scorer = LinearScorer({"sentence_cosine": 1.0, "sentence_bm25": 0.5}, bias=0.1, name="t")
    scorer.save(tmp_path / "w.json", note="x")
    loaded = LinearScorer.load(tmp_path / "w.json")
    features = np.array([[1.0, 2.0], [0.0, 1.0]], dtype=np.float32)
    names = ["sentence_cosine", "sentence_bm25"]
    assert np.allclose(loaded.score(features, names), [2.1, 0.6])
    assert json.loads((tmp_path / "w.json").read_text())["note"] == "x"


def test_a_scorer_is_described_by_its_weights_not_its_name(tmp_path: Path) -> None:
    scorer = LinearScorer({"sentence_cosine": 1.0, "sentence_bm25": 0.5}, bias=0.1, name="t")
    scorer.save(tmp_path / "w.json")
    assert LinearScorer.load(tmp_path / "w.json").describe() == scorer.describe()
    assert LinearScorer({"sentence_bm25": 0.5, "sentence_cosine": 1.0}, 0.1, "t").describe() == scorer.describe()
    for changed in (LinearScorer({"sentence_cosine": 1.0, "sentence_bm25": 0.6}, 0.1, "t"),
                    LinearScorer({"sentence_cosine": 1.0, "sentence_bm25": 0.5}, 0.2, "t")):
        assert changed.describe()["weights_sha256"] != scorer.describe()["weights_sha256"]
    assert LinearScorer(PRIOR_WEIGHTS, name="x").describe()["weights_sha256"] != scorer.describe()["weights_sha256"]


def test_served_scorer_is_the_committed_trained_one() -> None:
    scorer = default_scorer()
    if DEFAULT_WEIGHTS_FILE.is_file():
        raw = json.loads(DEFAULT_WEIGHTS_FILE.read_text())
        assert scorer.name == raw["name"] and raw["trained_on"]["split"] == "train"
        assert set(raw["weights"]) == set(FEATURE_NAMES), "weights must cover exactly the served features"
    else:
        assert scorer.weights == PRIOR_WEIGHTS


@pytest.mark.skipif(not PUBMEDQA.is_file(), reason="../shared/data is not beside the repository")
def test_train_command_runs_end_to_end_on_a_small_split(tmp_path: Path) -> None:
    raw = json.loads(PUBMEDQA.read_text(encoding="utf-8"))
    small = dict(list(raw.items())[:20])
    source = tmp_path / "small_pqal.json"
    source.write_text(json.dumps(small), encoding="utf-8")
    result = train_scorer(source, tmp_path / "index", encoder_name="hash", progress=False, seed=3)
    again = train_scorer(source, tmp_path / "index", encoder_name="hash", progress=False, seed=3)
    assert result.train_questions > 6 and result.dev_questions > 2
    assert result.scorer.weights == again.scorer.weights, "training is deterministic for a seed"
    out = save_result(result, source, tmp_path / "weights.json", seed=3)
    saved = json.loads(out.read_text())
    assert saved["trained_on"]["questions"] == result.train_questions and len(saved["trained_on"]["sha256"]) == 64
