"""The study-design classifier: rules, the shipped weights, and their accuracy on the labelled sample kept here.

``tests/data/study_design_sample.jsonl`` holds 125 held-out abstracts (``dev`` split of
``eval.splits``, never trained on), labelled from their title (SciFact) or their MeSH
headings (PubMedQA); the classifier sees the abstract text only.  Measured when the weights
were trained (``evsum train-study-design``): accuracy 0.704, rules alone 0.344, majority 0.200.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from conftest import SHARED

from evsum.records import DocType
from models.study_design import (
    WEIGHTS_FILE,
    accuracy,
    classify,
    load_model,
    read_sample,
    rule_type,
    train_and_save,
)

SAMPLE = Path(__file__).resolve().parent / "data" / "study_design_sample.jsonl"


@pytest.mark.parametrize(("title", "expected"), [
    ("Statins for primary prevention: a systematic review and meta-analysis", DocType.SYSTEMATIC_REVIEW),
    ("Hypertension in adults: diagnosis and management (NICE guideline NG136)", DocType.GUIDELINE),
    ("Early versus delayed surgery: a randomised controlled trial", DocType.RCT),
    ("Sudden hearing loss after vaccination: a case report", DocType.CASE_REPORT),
    ("Air pollution and dementia in a prospective cohort of 2 million adults", DocType.COHORT),
    ("Gut microbiota in health and disease: a review", DocType.NARRATIVE_REVIEW),
])
def test_title_rules_name_the_design(title: str, expected: DocType) -> None:
    assert rule_type(title, "") is expected
    assert classify(title, "").origin == "rules"


def test_text_rules_when_the_title_says_nothing() -> None:
    text = "Patients were randomly assigned to metformin or placebo and followed for two years."
    assert classify("Metformin and weight", text).doc_type is DocType.RCT
    assert rule_type("Metformin and weight", "We measured insulin in mice.") is None


def test_the_classifier_decides_without_rules_and_says_so() -> None:
    text = ("We included 14 trials with 5,210 participants identified in MEDLINE and Embase. Pooled estimates "
            "showed a reduced risk of stroke; heterogeneity across the included studies was moderate (I2 = 48%).")
    prediction = classify("", text)
    assert prediction.origin == "classifier"
    assert prediction.doc_type is DocType.SYSTEMATIC_REVIEW and prediction.confidence >= 0.5


def test_accuracy_on_the_labelled_sample_beats_rules_alone_and_the_majority_label() -> None:
    sample = read_sample(SAMPLE)
    labels = Counter(item.label for item in sample)
    assert len(sample) == 125 and len(labels) == len(DocType)
    full = accuracy(sample)
    rules_only = accuracy(sample, use_model=False)
    majority = labels.most_common(1)[0][1] / len(sample)
    assert full >= 0.68, full  # 0.704 when the weights were trained
    assert full >= rules_only + 0.3 and full >= 2 * majority, (full, rules_only, majority)


def test_shipped_weights_are_small() -> None:
    assert WEIGHTS_FILE.stat().st_size < 150_000
    model = load_model()
    assert model is not None and len(model.vocabulary) <= 600 and model.weights.shape == (len(model.vocabulary), 7)


@pytest.mark.skipif(not (SHARED / "data" / "scifact" / "corpus.jsonl").is_file(), reason="shared data missing")
def test_training_reproduces_the_sample_and_its_accuracy(tmp_path: Path) -> None:
    report = train_and_save(SHARED / "data" / "scifact" / "corpus.jsonl",
                            SHARED / "data" / "pubmedqa" / "pqal_dev.json", tmp_path / "w.json",
                            tmp_path / "sample.jsonl")
    assert (tmp_path / "sample.jsonl").read_text(encoding="utf-8") == SAMPLE.read_text(encoding="utf-8")
    assert report.train_items > 800 and abs(report.accuracy - 0.704) <= 0.03
    assert report.rules_only == pytest.approx(0.344, abs=0.01)
