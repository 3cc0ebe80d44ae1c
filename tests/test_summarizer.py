"""Summaries over real PDFs with the real encoder: verbatim, cited, non-redundant, or no evidence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import make_settings

from evsum.engine import Engine
from evsum.features import FEATURE_NAMES, Candidates
from evsum.retrieval import reciprocal_rank_fusion
from evsum.summarizer import SummaryRequest
from indexing.reader import RankedIds
from models.encoders import MiniLMEncoder


@pytest.fixture(scope="module")
def engine(minilm_index: Path, minilm_encoder: MiniLMEncoder) -> Engine:
    return Engine.load(make_settings(minilm_index, "minilm"), encoder=minilm_encoder)


def test_rrf_fuses_by_reciprocal_rank() -> None:
    dense = RankedIds(np.array([1, 2, 3]), np.array([0.9, 0.8, 0.7]))
    lexical = RankedIds(np.array([3, 1]), np.array([5.0, 4.0]))
    ids, scores = reciprocal_rank_fusion([dense, lexical], k=60)
    assert ids.tolist() == [1, 3, 2]
    assert np.isclose(scores[0], 1 / 61 + 1 / 62) and np.isclose(scores[2], 1 / 62)


@pytest.mark.parametrize("question, expected_words", [
    ("How much free sugar should adults eat each day?", ["sugar"]),
    ("When should healthcare personnel perform hand hygiene?", ["hand hygiene"]),
])
def test_topic_questions_get_verbatim_cited_sentences(engine: Engine, question: str,
                                                      expected_words: list[str]) -> None:
    summary = engine.summariser.summarise(question, max_sentences=3)
    # The budget counts sentences: both parts of one that a page break cut in two count once.
    assert summary.status == "answered" and 1 <= sum(not s.continues for s in summary.sentences) <= 3
    for sentence in summary.sentences:
        page = engine.reader.page(sentence.citation.document_id, sentence.citation.page)
        assert page.text[sentence.citation.char_start : sentence.citation.char_end] == sentence.text
        assert sentence.citation.section is None or isinstance(sentence.citation.section, str)
    joined = " ".join(s.text.lower() for s in summary.sentences)
    assert all(word in joined for word in expected_words)


@pytest.mark.parametrize("question", [
    "What is the best transmission fluid for a 2004 Toyota Corolla?",
    "Who won the football world cup in 1966?",
])
def test_unsupported_questions_get_the_no_evidence_answer(engine: Engine, question: str) -> None:
    summary = engine.summariser.summarise(question)
    assert summary.status == "no_evidence" and summary.sentences == ()


def test_selection_respects_budgets_and_removes_near_duplicates(engine: Engine) -> None:
    summariser = engine.summariser
    candidates = summariser.candidates("hand hygiene alcohol-based hand rub")
    assert candidates.features.shape == (len(candidates.ids), len(FEATURE_NAMES))
    # Duplicate the best candidate: MMR's redundancy cut-off must never pick both copies.
    best = int(np.argmax(candidates.cosine))
    doubled = Candidates(
        ids=np.append(candidates.ids, candidates.ids[best]),
        features=np.vstack([candidates.features, candidates.features[best]]),
        cosine=np.append(candidates.cosine, candidates.cosine[best]),
        passage_ids=np.append(candidates.passage_ids, candidates.passage_ids[best]),
        retrieved_document_ids=candidates.retrieved_document_ids,
    )
    scores = summariser.scorer.score(doubled.features, FEATURE_NAMES)
    chosen = summariser.select(doubled, scores, SummaryRequest("q", max_sentences=5, max_words=1000))
    assert len({int(doubled.ids[i]) for i in chosen}) == len(chosen)
    small = summariser.select(doubled, scores, SummaryRequest("q", max_sentences=5, max_words=25))
    words = engine.reader.sentence_words[doubled.ids[small]]
    assert len(small) == 1 or int(words.sum()) <= 25
    mixed = summariser.candidates("hand hygiene with alcohol-based hand rub and limiting free sugars in the diet")
    mixed_scores = summariser.scorer.score(mixed.features, FEATURE_NAMES)
    candidate_docs = engine.reader.sentence_doc[mixed.ids]
    assert len(set(candidate_docs.tolist())) >= 2
    request = SummaryRequest("q", max_sentences=3, max_words=1000)
    saved = summariser.settings.per_document_cap, summariser.settings.over_cap_penalty
    try:
        summariser.settings.per_document_cap, summariser.settings.over_cap_penalty = 1, 10.0
        capped = summariser.select(mixed, mixed_scores, request)
        assert len(set(candidate_docs[capped].tolist())) == 2, "a heavy over-cap penalty brings in a second source"
        summariser.settings.over_cap_penalty = 0.0
        uncapped = summariser.select(mixed, mixed_scores, request)
        summariser.settings.per_document_cap = 99
        assert summariser.select(mixed, mixed_scores, request) == uncapped, "without the penalty no cap applies"
    finally:
        summariser.settings.per_document_cap, summariser.settings.over_cap_penalty = saved


def test_a_statement_of_what_a_study_set_out_to_do_gives_way_to_a_finding(engine: Engine) -> None:
    summariser, reader = engine.summariser, engine.reader
    candidates = summariser.candidates("hand hygiene alcohol-based hand rub")
    scores = summariser.scorer.score(candidates.features, FEATURE_NAMES)
    request = SummaryRequest("q", max_sentences=1, max_words=1000)
    saved_penalty, saved_aims = summariser.settings.aim_penalty, reader.sentence_aim_statement
    try:
        summariser.settings.aim_penalty = 0.0
        (first,) = summariser.select(candidates, scores, request)
        aims = np.zeros_like(saved_aims)
        aims[candidates.ids[first]] = True  # as if the best sentence only said what the study set out to do
        reader.sentence_aim_statement = aims
        assert summariser.select(candidates, scores, request) == [first], "no penalty, no change"
        summariser.settings.aim_penalty = 1.0
        assert summariser.select(candidates, scores, request) != [first]
    finally:
        summariser.settings.aim_penalty, reader.sentence_aim_statement = saved_penalty, saved_aims
