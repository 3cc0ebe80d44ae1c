"""Evaluation metrics against values worked out by hand, and the small pure helpers of eval/."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from eval.baselines import oracle, top_k
from eval.generic import cites_source, normalise, sentence_matches
from eval.gold import PubMedQAItem, pubmedqa_abstract, select
from eval.metrics import (
    CitedSpan,
    RougeTokens,
    bootstrap_interval,
    citation_is_valid,
    citation_validity,
    lcs_length,
    mean,
    micro_prf,
    ndcg_at_k,
    paired_bootstrap,
    percentile,
    recall_at_k,
    rouge,
    rouge_tokens,
)
from eval.rationale import PairScores, SelectionRule, evaluate, tune
from eval.splits import in_split, split_of


def test_ndcg_at_10_by_hand() -> None:
    # Relevant items at ranks 2 and 3: DCG = 1/log2(3) + 1/log2(4); ideal = 1/log2(2) + 1/log2(3).
    expected = (1 / math.log2(3) + 0.5) / (1 + 1 / math.log2(3))
    assert ndcg_at_k(["a", "b", "c", "d"], {"b", "c"}, 10) == pytest.approx(expected)
    assert expected == pytest.approx(0.693426, abs=1e-6)
    assert ndcg_at_k(["b", "c", "a"], {"b", "c"}) == pytest.approx(1.0)
    assert ndcg_at_k(["x", "y"], {"b"}) == 0.0
    assert ndcg_at_k(["x"], set()) == 0.0
    # Cut-off: a relevant item at rank 11 does not count, and the ideal is capped at k items.
    assert ndcg_at_k([str(i) for i in range(10)] + ["b"], {"b"}, 10) == 0.0
    assert ndcg_at_k(["a"], {"a", "b"}, 1) == pytest.approx(1.0)


def test_recall_at_k_by_hand() -> None:
    ranking = ["d1", "d2", "d3", "d4", "d5", "d6"]
    assert recall_at_k(ranking, ["d2"], 1) == 0.0
    assert recall_at_k(ranking, ["d2"], 5) == 1.0
    assert recall_at_k(ranking, ["d1", "d6", "zz"], 5) == pytest.approx(1 / 3)
    assert recall_at_k(ranking, [], 5) == 0.0


def test_micro_precision_recall_f1_by_hand() -> None:
    prf = micro_prf([({1, 2}, {2, 3}), ({4}, {4}), (set(), {7, 8})])
    # TP = 1 + 1 = 2, predicted = 3, gold = 5: P = 2/3, R = 2/5, F1 = 2PR/(P+R) = 0.5.
    assert (prf.true_positives, prf.predicted, prf.gold) == (2, 3, 5)
    assert prf.precision == pytest.approx(2 / 3)
    assert prf.recall == pytest.approx(0.4)
    assert prf.f1 == pytest.approx(0.5)
    empty = micro_prf([])
    assert (empty.precision, empty.recall, empty.f1) == (0.0, 0.0, 0.0)


def test_rouge_wrapper_by_hand() -> None:
    # Stemmed tokens: prediction a cat was sit on the mat (7), reference the cat sat on the mat (6).
    scores = rouge("A cat was sitting on the mats.", "The cat sat on the mat.")
    # ROUGE-1: overlap cat, on, the, mat = 4 -> P 4/7, R 4/6.
    assert scores["rouge1"] == pytest.approx(2 * (4 / 7) * (4 / 6) / (4 / 7 + 4 / 6))
    # ROUGE-2: overlap (on the), (the mat) = 2 of 6 predicted and 5 reference bigrams -> 4/11.
    assert scores["rouge2"] == pytest.approx(4 / 11)
    # ROUGE-L: LCS cat on the mat = 4, as ROUGE-1.
    assert scores["rougeL"] == pytest.approx(scores["rouge1"])
    assert rouge("", "The cat sat.") == {"rouge1": 0.0, "rouge2": 0.0, "rougeL": 0.0}
    assert rouge("The cat sat.", "The cat sat.")["rougeL"] == pytest.approx(1.0)


def test_token_rouge_matches_the_package() -> None:
    reference = "Telephone counseling was more effective than tailored print materials for mammography."
    predictions = [
        "Compared to usual care, telephone counseling promoted a higher proportion of women having mammograms.",
        "Women were randomized to 1 of 3 groups: usual care, tailored print, and telephone counseling.",
        "Nothing in common here at all.",
    ]
    target = RougeTokens.of(reference)
    for prediction in predictions:
        assert target.score(rouge_tokens(prediction)) == pytest.approx(rouge(prediction, reference))
    joined = " ".join(predictions[:2])
    tokens = rouge_tokens(predictions[0]) + rouge_tokens(predictions[1])
    assert target.score(tokens) == pytest.approx(rouge(joined, reference))


def test_lcs_length_by_hand() -> None:
    assert lcs_length(list("ABCBDAB"), list("BDCABA")) == 4
    assert lcs_length([], ["a"]) == 0


def test_percentiles_by_hand() -> None:
    values = [4.0, 1.0, 3.0, 2.0]
    # Sorted 1, 2, 3, 4: p50 at position 1.5 -> 2.5; p95 at 2.85 -> 3.85.
    assert percentile(values, 50) == pytest.approx(2.5)
    assert percentile(values, 95) == pytest.approx(3.85)
    assert percentile(values, 0) == 1.0 and percentile(values, 100) == 4.0
    assert percentile([7.0], 95) == 7.0 and percentile([], 50) == 0.0
    rng = random.Random(1)
    sample = [rng.random() for _ in range(37)]
    assert percentile(sample, 95) == pytest.approx(float(np.percentile(sample, 95)))
    with pytest.raises(ValueError):
        percentile(values, 101)
    assert mean([1.0, 2.0, 6.0]) == 3.0 and mean([]) == 0.0


def test_citation_validity_checks_page_text() -> None:
    pages = {("d1", 1): "Alpha beta. Gamma delta."}

    def page_text(document_id: str, page: int) -> str | None:
        return pages.get((document_id, page))

    good = CitedSpan("Gamma delta.", "d1", 1, 12, 24)
    shifted = CitedSpan("Gamma delta.", "d1", 1, 11, 23)
    beyond = CitedSpan("Gamma delta.", "d1", 1, 12, 99)
    missing_page = CitedSpan("Gamma delta.", "d1", 2, 12, 24)
    empty = CitedSpan("", "d1", 1, 5, 5)
    assert citation_is_valid(good, page_text)
    assert not any(citation_is_valid(s, page_text) for s in (shifted, beyond, missing_page, empty))
    assert citation_validity([good, shifted, good, missing_page], page_text) == 0.5
    assert citation_validity([], page_text) == 1.0


def test_splits_are_deterministic_and_about_70_30() -> None:
    ids = [str(i) for i in range(2000)]
    assert [split_of(i) for i in ids] == [split_of(i) for i in ids]
    share = sum(split_of(i) == "train" for i in ids) / len(ids)
    assert 0.66 < share < 0.74
    assert split_of(" 42 ") == split_of("42")
    assert all(in_split(i, "all") for i in ids[:10])
    assert in_split("7", split_of("7")) and not in_split("7", "dev" if split_of("7") == "train" else "train")
    with pytest.raises(ValueError):
        in_split("7", "test")


def test_select_filters_by_split_and_samples_with_the_seed() -> None:
    ids = [str(i) for i in range(100)]
    dev = select(ids, ids, "dev", None, 0)
    assert dev == [i for i in ids if split_of(i) == "dev"]
    sample = select(ids, ids, "all", 10, seed=3)
    assert len(sample) == 10 and sample == sorted(sample, key=int)
    assert sample == select(ids, ids, "all", 10, seed=3) and sample != select(ids, ids, "all", 10, seed=4)


def test_oracle_finds_the_best_subset() -> None:
    texts = ["the cat sat", "dogs bark loudly at night", "on the mat"]
    assert oracle(texts, "The cat sat on the mat.", 2) == [0, 2]
    assert oracle(texts, "The cat sat on the mat.", 1) == [0]
    assert oracle([], "anything", 2) == [] and oracle(texts, "", 2) == []
    assert top_k(np.array([0.1, 0.5, 0.5, 0.2]), 2) == [1, 2]


def test_selection_rule_and_tuning() -> None:
    scores = np.array([0.9, 0.1, 0.85, 0.5])
    assert SelectionRule(1, 1.0).select(scores) == [0]
    # Scaled: 1.0, 0.0, 0.9375, 0.5 -> with tau 0.9 and k_max 3: rows 0 and 2.
    assert SelectionRule(3, 0.9).select(scores) == [0, 2]
    assert SelectionRule(4, 0.0).select(scores) == [0, 2, 3, 1]
    assert SelectionRule(2, 0.0).select(np.zeros(0)) == []
    pair = PairScores("c", "d", frozenset({10, 12}), (10, 11, 12, 13), scores, scores[::-1].copy())
    assert evaluate([pair], SelectionRule(1, 1.0)).f1 == pytest.approx(2 / 3)
    rule, f1 = tune([pair])
    assert f1 == pytest.approx(1.0) and set(rule.select(scores)) == {0, 2}
    assert tune([]) == (SelectionRule(), 0.0)


def test_generic_matching_helpers() -> None:
    assert normalise("  a\n b\t c ") == "a b c"
    assert sentence_matches("Hand hygiene  is required.", "Hand hygiene is required.")
    assert sentence_matches("hygiene is", "Hand hygiene is required.")
    assert sentence_matches("Hand hygiene is required. Always.", "Hand hygiene is required.")
    assert not sentence_matches("", "x") and not sentence_matches("other", "Hand hygiene")
    assert cites_source(["/data/corpus/guidelines/who.pdf", ""], ["who.pdf"])
    assert cites_source(["C:\\docs\\who.pdf"], ["guides/who.pdf"])
    assert not cites_source(["/data/other.pdf"], ["who.pdf"])


def test_pubmedqa_abstract_keeps_the_question_out() -> None:
    item = PubMedQAItem("123", "Is X better than Y?", ("Background text.", "Results text."),
                        ("BACKGROUND", "RESULTS"), "X is better.", "2001", "yes")
    record = pubmedqa_abstract(item)
    assert record["id"] == "123" and "Is X" not in str(record)
    assert record["sections"] == [{"label": "BACKGROUND", "text": "Background text."},
                                  {"label": "RESULTS", "text": "Results text."}]


def test_paired_bootstrap_of_a_constant_difference_is_that_difference() -> None:
    result = paired_bootstrap([0.3, 0.5, 0.2, 0.4], [0.2, 0.4, 0.1, 0.3])
    assert result.n == 4
    assert result.mean == pytest.approx(0.1) and result.ci95_low == pytest.approx(0.1)
    assert result.ci95_high == pytest.approx(0.1) and result.significant


def test_paired_bootstrap_interval_covers_zero_for_a_noisy_tie() -> None:
    rng = random.Random(3)
    a = [rng.random() for _ in range(160)]
    b = [x + rng.choice([-0.2, 0.2]) for x in a]  # same mean, large per-item differences
    result = paired_bootstrap(a, b, seed=1)
    assert result.ci95_low < 0 < result.ci95_high and not result.significant
    assert result.mean == pytest.approx(sum(x - y for x, y in zip(a, b)) / 160)
    assert paired_bootstrap(a, b, seed=1) == result, "seeded: the same interval every run"
    # by hand: differences (1, -1): resampled means lie in [-1, 1] and centre on 0
    two = paired_bootstrap([1.0, 0.0], [0.0, 1.0], samples=4000)
    assert two.mean == 0.0 and two.ci95_low == -1.0 and two.ci95_high == 1.0


def test_paired_bootstrap_refuses_unpaired_scores() -> None:
    with pytest.raises(ValueError):
        paired_bootstrap([0.1], [0.1, 0.2])
    assert paired_bootstrap([], []).n == 0


def test_bootstrap_interval_of_a_share() -> None:
    assert bootstrap_interval([1.0, 1.0, 1.0]) == (1.0, 1.0)
    assert bootstrap_interval([]) == (0.0, 0.0)
    hits = [1.0] * 42 + [0.0] * 18  # 70 % of 60: the normal approximation gives about 0.58 to 0.82
    low, high = bootstrap_interval(hits, seed=0)
    assert 0.55 < low < 0.62 and 0.78 < high < 0.85
    assert bootstrap_interval(hits, seed=0) == (low, high)
