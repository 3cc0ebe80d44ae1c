"""The claim path: a cross-encoder re-scores the best candidates when the input is a claim to check."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
from conftest import SHARED, add_keys, bearer, make_settings
from fake_claim_scorer import PreferWord
from fastapi.testclient import TestClient
from servers import LiveServer

from evsum.engine import Engine
from evsum.errors import ClaimScorerUnavailableError
from evsum.features import FEATURE_NAMES, Candidates
from evsum.retrieval import SourcePriority
from evsum.settings import SourcePrioritySettings
from models.claim_scorer import CLAIM_SCORER_FILE, ClaimScorer, default_claim_scorer, trained_on_questions
from models.encoders import HashEncoder
from models.onnx_encoder import OnnxInt8Encoder
from models.scorer import LinearScorer
from service.app import create_app
from ui.client import EvsumClient

SCIFACT = SHARED / "data" / "scifact"
# SciFact claim 47 (dev split of eval.splits) with its rationale and the first sentence of its evidence
# abstract (doc 26996935); SciFact claims CC BY 4.0, abstracts ODC-By 1.0 (allenai/scifact).
CLAIM = ("A strong bias in the phage genome locations where the spacers were derived has been observed in many "
         "CRISPR subtypes that confer the immunity to phage.")
RATIONALE = "We detect a strong and reproducible bias in the phage genome locations from which spacers derive."
BACKGROUND = ("Clustered regularly interspaced short palindromic repeats (CRISPR)-Cas systems provide adaptive "
              "immunity against phage via spacer-encoded CRISPR RNAs that are complementary to invasive nucleic "
              "acids.")


@pytest.fixture()
def hash_engine(sample_index: Path) -> Iterator[Engine]:
    engine = Engine.load(make_settings(sample_index), encoder=HashEncoder())
    try:
        yield engine
    finally:
        engine.reader.close()


def test_a_claim_is_rescored_by_the_claim_scorer_and_marked(hash_engine: Engine) -> None:
    fake = PreferWord("alcohol")
    summariser = hash_engine.summariser
    summariser.claim_scorer = fake
    claim = "Hand hygiene before patient contact prevents infection."
    plain = summariser.summarise(claim, max_sentences=2)
    assert fake.calls == [] and plain.claim is False  # a question (the default) never reaches the cross-encoder
    checked = summariser.summarise(claim, max_sentences=2, claim=True)
    assert checked.claim is True and len(fake.calls) == 1 and fake.calls[0][0] == claim
    # It read exactly the claim_candidates best candidates by the prior, best first ...
    candidates = summariser.candidates(claim)
    prior = summariser.scorer.score(candidates.features, FEATURE_NAMES)
    top = np.argsort(-prior, kind="stable")[:summariser.settings.claim_candidates]
    # The cross-encoder reads whole sentences: both parts of one that a page break cut in two.
    expected = hash_engine.reader.unit_texts([int(candidates.ids[i]) for i in top])
    assert fake.calls[0][1] == expected and len(expected) == summariser.settings.claim_candidates
    # ... and the sentence it prefers is quoted first, whatever the prior thought of it.
    assert any("alcohol" in s.lower() for s in expected)
    assert "alcohol" in max(checked.sentences, key=lambda s: s.score).text.lower()


def test_a_claim_without_a_claim_scorer_is_a_clear_error(hash_engine: Engine) -> None:
    hash_engine.summariser.claim_scorer = None
    for text in ("Hand hygiene prevents infection.", "zzqx wvvt kkpl"):  # with evidence, and without
        with pytest.raises(ClaimScorerUnavailableError, match="train-claim-scorer"):
            hash_engine.summariser.summarise(text, claim=True)


def test_no_candidates_give_no_claim_scores(hash_engine: Engine) -> None:
    hash_engine.summariser.claim_scorer = PreferWord("x")
    candidates = hash_engine.summariser.candidates("zzqx wvvt kkpl")
    empty = candidates.ids[:0]
    none = Candidates(empty, candidates.features[:0], candidates.cosine[:0], empty, ())
    assert hash_engine.summariser.claim_scores("a claim", none, np.zeros(0, dtype=np.float32)).shape == (0,)


def test_the_api_checks_claims_and_answers_400_without_a_scorer(sample_index: Path) -> None:
    settings = make_settings(sample_index)
    keys = add_keys(settings.database_url, {"claim-clinician": "clinician"})
    app = create_app(settings, encoder=HashEncoder())
    with TestClient(app, headers=bearer(keys["claim-clinician"])) as client:
        app.state.engine.summariser.claim_scorer = PreferWord("hand")
        body = client.post("/v1/summaries", json={"question": "Hand hygiene prevents infection.", "claim": True})
        assert body.status_code == 200 and body.json()["claim"] is True
        assert client.post("/v1/summaries", json={"question": "hand hygiene"}).json()["claim"] is False
        app.state.engine.summariser.claim_scorer = None
        refused = client.post("/v1/summaries", json={"question": "Hand hygiene prevents infection.", "claim": True})
        assert refused.status_code == 400 and "claim scorer" in refused.json()["detail"]


def test_a_librarian_drafts_a_claim_check_through_the_ui_client_and_the_live_service(sample_index: Path,
                                                                                    tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'evsum.sqlite'}"
    keys = add_keys(database_url, {"claim-librarian": "librarian"})
    with LiveServer(sample_index, database_url, tmp_path / "server.log") as server:  # the shipped claim scorer
        librarian = EvsumClient(server.url, api_key=keys["claim-librarian"])
        draft = librarian.create_draft("Alcohol-based hand rub is preferred for hand hygiene.", 2, claim=True)
        assert draft.claim is True and draft.sentences
        assert all(s.status == "unverified" and s.text == s.source_text for s in draft.sentences)
        assert librarian.draft(draft.id).claim is True
        assert librarian.create_draft("hand hygiene", 2).claim is False


def test_no_weights_means_no_claim_scorer(tmp_path: Path) -> None:
    assert default_claim_scorer(tmp_path / "absent.onnx") is None


def test_an_unreadable_description_leaves_provenance_empty_but_the_scorer_usable(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    graph = tmp_path / "claim_cross_encoder-int8.onnx"
    graph.write_bytes(b"not loaded by describe()")
    info = graph.with_name("claim_cross_encoder.json")
    info.write_text('{"name": "minilm-l6-claim-cross-encoder", "graph_sha256": "ab', encoding="utf-8")  # cut short
    scorer = default_claim_scorer(graph)
    assert scorer is not None and scorer.describe() == {}
    assert "unreadable" in caplog.text
    info.write_text('{"name": "minilm-l6-claim-cross-encoder", "graph_sha256": "ab"}', encoding="utf-8")
    assert scorer.describe()["graph_sha256"] == "ab"


@pytest.mark.model
@pytest.mark.skipif(not CLAIM_SCORER_FILE.is_file(), reason="the claim scorer's weights are not in models/weights")
def test_the_shipped_weights_say_how_they_were_made_and_stay_small() -> None:
    info = ClaimScorer().describe()
    assert info["trained_on"]["split"].startswith("train") and info["trained_on"]["pairs"] > 3000
    assert info["graph_sha256"] and info["options"]["seed"] == 0
    size = sum(p.stat().st_size for p in CLAIM_SCORER_FILE.parent.iterdir() if p.is_file())
    assert size <= 25 * 1024 * 1024, "weights committed to the repository stay within 25 MB in all"
    # One graph serves claims and questions. It was trained on dev question sets 1 to 8 as they are in eval/ (a
    # changed file means retraining), never on sets 9 and 10, which are kept to confirm it.
    questions = info["trained_on"]["questions"]
    eval_dir = Path(__file__).resolve().parents[1] / "eval"
    expected = ["dev_questions.jsonl", *(f"dev_questions_{n}.jsonl" for n in range(2, 9))]
    assert sorted(questions["files"]) == sorted(expected)
    assert questions["files"] == {name: hashlib.sha256((eval_dir / name).read_bytes()).hexdigest() for name in expected}
    assert questions["questions"] == 460 and questions["negatives_per_question"] == 10
    assert trained_on_questions(ClaimScorer())


@pytest.mark.model
@pytest.mark.skipif(not CLAIM_SCORER_FILE.is_file() or not (SCIFACT / "claims_train.jsonl").is_file(),
                    reason="needs the shipped weights and ../shared/data")
def test_the_shipped_claim_scorer_finds_dev_rationales_more_often_than_cosine(
        int8_encoder: OnnxInt8Encoder) -> None:
    """Every (claim, evidence abstract) pair of the dev claims, never trained on: is the top sentence a rationale?"""
    from models.claim_training import scifact_training_pairs

    pairs = scifact_training_pairs(SCIFACT / "claims_train.jsonl", SCIFACT / "corpus.jsonl", split="dev")
    groups: dict[tuple[str, str], list[tuple[str, int]]] = {}
    for pair in pairs:
        groups.setdefault((pair.claim, pair.document_id), []).append((pair.sentence, pair.label))
    scorer = ClaimScorer()
    hits = {"claim scorer": 0, "cosine": 0}
    for (claim, _), rows in groups.items():
        sentences, labels = [r[0] for r in rows], np.array([r[1] for r in rows])
        cosine = int8_encoder.encode_passages(sentences) @ int8_encoder.encode_queries([claim])[0]
        hits["claim scorer"] += int(labels[int(np.argmax(scorer.score(claim, sentences)))])
        hits["cosine"] += int(labels[int(np.argmax(cosine))])
    share = {name: count / len(groups) for name, count in hits.items()}
    assert len(groups) >= 150
    assert share["claim scorer"] >= 0.55 and share["claim scorer"] >= share["cosine"] + 0.05, share


@pytest.mark.model
@pytest.mark.skipif(not (SCIFACT / "claims_train.jsonl").is_file(),
                    reason="../shared/data is not beside the repository")
def test_training_batches_hold_whole_abstracts_and_the_listwise_loss_is_the_rationales_softmax_share() -> None:
    import math
    import random

    import torch

    from models.claim_training import ClaimPair, abstract_batches, listwise_loss

    pairs = [ClaimPair(claim, f"sentence {i}", int(i == 0), doc)
             for claim, doc, size in (("c1", "d1", 3), ("c1", "d2", 2), ("c2", "d1", 4)) for i in range(size)]
    random.seed(0)
    batches = abstract_batches(pairs, 4)
    groups = [tuple(group) for batch in batches for group in batch]
    assert sorted(groups) == [(0, 1, 2), (3, 4), (5, 6, 7, 8)]  # every abstract whole, exactly once
    assert all(sum(len(g) for g in batch) >= 4 for batch in batches[:-1])
    # one group: softmax of (0, ln 3) is (1/4, 3/4), the rationale is the second: loss -ln(3/4); the second
    # group has no rationale and adds nothing.
    loss = listwise_loss(torch.tensor([0.0, math.log(3.0), 5.0]), torch.tensor([0.0, 1.0, 0.0]), [2, 1])
    assert float(loss) == pytest.approx(-math.log(0.75), rel=1e-6)
    assert float(listwise_loss(torch.tensor([1.0]), torch.tensor([0.0]), [1])) == 0.0
    # Weighted by group (question pairs weigh --question-weight): groups -ln(3/4) and -ln(1/2), weights 1 and 3.
    logits, labels = torch.tensor([0.0, math.log(3.0), 0.0, 0.0]), torch.tensor([0.0, 1.0, 1.0, 0.0])
    weighted = listwise_loss(logits, labels, [2, 2], [1.0, 3.0])
    assert float(weighted) == pytest.approx((-math.log(0.75) - 3 * math.log(0.5)) / 4, rel=1e-6)
    assert float(listwise_loss(logits, labels, [2, 2], [1.0, 1.0])) == pytest.approx(float(
        listwise_loss(logits, labels, [2, 2])), rel=1e-7)


def test_the_training_command_writes_a_graph_the_scorer_loads(tmp_path: Path) -> None:
    from evsum.cli import main

    out = tmp_path / "claim_cross_encoder-int8.onnx"
    assert main(["train-claim-scorer", "--limit", "16", "--epochs", "1", "--out", str(out), "--no-progress"]) == 0
    info = json.loads(out.with_name("claim_cross_encoder.json").read_text())
    assert info["trained_on"]["pairs"] == 16 and info["options"]["seed"] == 0
    scorer = ClaimScorer(out)
    logits = scorer.score(CLAIM, [BACKGROUND, RATIONALE])
    assert logits.shape == (2,) and np.isfinite(logits).all()
    # Each pair is scored on its own, so a sentence's logit does not depend on the others asked with it.
    assert logits[1] == scorer.score(CLAIM, [RATIONALE])[0]
    assert logits[0] == scorer.score(CLAIM, [BACKGROUND, RATIONALE, "An unrelated, much longer sentence " * 5])[0]
    # Pairs run two at a time by default; one at a time gives the same logits, bit for bit, in the same order.
    many = [BACKGROUND, RATIONALE, *(f"Sentence {i} about spacers and phage genomes." for i in range(7))]
    assert np.array_equal(ClaimScorer(out, threads=1).score(CLAIM, many), scorer.score(CLAIM, many))


def test_a_question_is_rescored_only_by_a_cross_encoder_trained_on_questions(hash_engine: Engine) -> None:
    summariser = hash_engine.summariser
    question = "Does hand hygiene before patient contact prevent infection?"
    claim_only = PreferWord("alcohol")
    summariser.claim_scorer = claim_only
    prior_ranking = summariser.describe_ranking()
    plain = summariser.summarise(question, max_sentences=3)
    assert claim_only.calls == [] and not summariser.reranks_questions  # a claim-only graph never reads questions
    assert prior_ranking["name"] == summariser.scorer.describe()["name"] and len(prior_ranking["weights_sha256"]) == 64

    both = PreferWord("alcohol", questions=True)
    summariser.claim_scorer = both
    assert summariser.reranks_questions
    reranked = summariser.summarise(question, max_sentences=3)
    assert len(both.calls) == 1 and reranked.claim is False
    assert reranked.cross_encoded is True and plain.cross_encoded is False
    candidates = summariser.candidates(question)
    prior = summariser.scorer.score(candidates.features, FEATURE_NAMES)
    # It read the question_candidates best candidates of the document of the prior's best one, best first.
    docs = hash_engine.reader.sentence_doc[candidates.ids]
    same = np.flatnonzero(docs == docs[int(np.argmax(prior))])
    top = same[np.argsort(-prior[same], kind="stable")][:summariser.settings.question_candidates]
    assert 1 < len(top) <= summariser.settings.question_candidates and len(set(docs[top])) == 1
    assert both.calls[0] == (question, hash_engine.reader.unit_texts([int(candidates.ids[i]) for i in top]))
    # The mix is the prior scaled to 0..1 plus question_weight x the probability, on those candidates only.
    mixed = summariser.question_scores(question, candidates, prior)
    assert mixed is not None
    scaled = (prior - prior.min()) / (prior.max() - prior.min())
    rest = np.setdiff1d(np.arange(len(prior)), top)
    assert np.allclose(mixed[rest], scaled[rest], atol=1e-6)
    bonus = mixed[top] - scaled[top]
    texts = both.calls[0][1]
    weight = summariser.settings.question_weight
    assert np.allclose(bonus, [weight * (1 / (1 + np.exp(-8.0)) if "alcohol" in t.lower() else 1 / (1 + np.exp(8.0)))
                               for t in texts], atol=1e-5)
    # Only when the best document is of a kind in question_source_kinds (full-text PDFs by default).
    kinds = summariser.settings.question_source_kinds
    summariser.settings.question_source_kinds = ("abstract",)
    try:
        assert summariser.question_scores(question, candidates, prior) is None
        assert summariser.summarise(question, max_sentences=3).cross_encoded is False
    finally:
        summariser.settings.question_source_kinds = kinds
    # Saved questions record the mix, so that a rerun knows when the cross-encoder or its weight changed; a
    # summary the cross-encoder did not re-score is described by the prior alone.
    ranking = summariser.describe_ranking()
    assert ranking["name"] == f"{prior_ranking['name']} + cross-encoder"
    assert ranking["weights_sha256"] != prior_ranking["weights_sha256"] and len(ranking["weights_sha256"]) == 64
    assert summariser.describe_ranking(True) == ranking and summariser.describe_ranking(False) == prior_ranking
    renamed = summariser.scorer
    summariser.scorer = LinearScorer(renamed.weights, renamed.bias, name="renamed")  # type: ignore[attr-defined]
    assert summariser.describe_ranking()["weights_sha256"] == ranking["weights_sha256"]  # a name is not a model
    summariser.scorer = renamed
    summariser.settings.question_candidates += 1
    assert summariser.describe_ranking()["weights_sha256"] != ranking["weights_sha256"]
    summariser.settings.question_candidates -= 1
    # So do the selection settings, with or without the cross-encoder: they decide what is quoted too.
    for cross_encoded in (None, False):
        before = summariser.describe_ranking(cross_encoded)["weights_sha256"]
        summariser.settings.aim_penalty += 0.1
        assert summariser.describe_ranking(cross_encoded)["weights_sha256"] != before
        summariser.settings.aim_penalty -= 0.1
        assert summariser.describe_ranking(cross_encoded)["weights_sha256"] == before
    # With the source priority on, the priority takes part in choosing the document the cross-encoder reads.
    # Here the prior's best sentence is in a paper, and with the priority it is in a guideline.
    priority = SourcePriority.of(SourcePrioritySettings(weight=1.0))
    asked = "What HbA1c target is recommended for adults with diabetes?"
    found = summariser.candidates(asked)
    found_prior = summariser.scorer.score(found.features, FEATURE_NAMES)
    found_docs = hash_engine.reader.sentence_doc[found.ids]
    spread = float(found_prior.max() - found_prior.min())
    adjusted = found_prior + priority.weight * spread * priority.sentence_prior(hash_engine.reader)[found.ids]
    best_adjusted = int(found_docs[int(np.argmax(adjusted))])
    assert best_adjusted != int(found_docs[int(np.argmax(found_prior))])
    both.calls.clear()
    summariser.summarise(asked, max_sentences=3, priority=priority)
    read = {s.text: int(d) for s, d in zip(hash_engine.reader.sentences([int(i) for i in found.ids]), found_docs)}
    assert {read[t] for t in both.calls[0][1]} == {best_adjusted}
    summariser.settings.question_weight = 0.0
    calls = len(both.calls)
    try:
        assert not summariser.reranks_questions and summariser.describe_ranking() == prior_ranking
        assert summariser.summarise(question, max_sentences=3).sentences == plain.sentences
        assert len(both.calls) == calls  # weight 0: the prior alone
    finally:
        summariser.settings.question_weight = weight


def test_question_pairs_are_the_answers_against_the_priors_best_other_candidates(
        hash_engine: Engine, tmp_path: Path) -> None:
    from models.question_training import question_pairs

    summariser = hash_engine.summariser
    question = "Does hand hygiene before patient contact prevent infection?"
    candidates = summariser.candidates(question)
    prior = summariser.scorer.score(candidates.features, FEATURE_NAMES)
    # Whole sentences, as the cross-encoder reads them when serving (both parts of one cut by a page break, once).
    ranked = list(dict.fromkeys(hash_engine.reader.unit_texts([int(candidates.ids[i]) for i in np.argsort(-prior)])))
    answer = ranked[1]  # the prior's second-best candidate is the answer: it must not be a negative
    gold = tmp_path / "questions.jsonl"
    gold.write_text("\n".join(json.dumps(line) for line in (
        {"id": "q1", "question": question, "gold_sentences": [answer]},
        {"id": "q2", "question": "A question with no answer sentence is skipped."})) + "\n", encoding="utf-8")
    made = question_pairs([gold], summariser, negatives=3)
    assert [(p.claim, p.sentence, p.label, p.document_id) for p in made.pairs] == [
        (question, answer, 1, "q1"), *((question, text, 0, "q1") for text in (ranked[0], *ranked[2:4]))]
    described = made.describe()
    assert described["files"] == {"questions.jsonl": hashlib.sha256(gold.read_bytes()).hexdigest()}
    assert described["index_snapshot"] == hash_engine.reader.snapshot_id
    assert (described["questions"], described["pairs"], described["positives"]) == (1, 4, 1)


def test_training_on_questions_too_makes_a_graph_that_says_so(tmp_path: Path) -> None:
    from models.claim_training import ClaimPair, ClaimTrainingOptions, QuestionPairs, train_claim_scorer

    gold = tmp_path / "questions.jsonl"
    gold.write_text('{"question": "q"}\n', encoding="utf-8")
    questions = QuestionPairs([ClaimPair("Which bias was seen?", RATIONALE, 1, "q1"),
                               ClaimPair("Which bias was seen?", BACKGROUND, 0, "q1")], (gold,), "snap-1", 10)
    out = tmp_path / "claim_cross_encoder-int8.onnx"
    info = train_claim_scorer(SCIFACT / "claims_train.jsonl", SCIFACT / "corpus.jsonl", out,
                              ClaimTrainingOptions(epochs=1, limit=6), questions=questions, progress=False)
    assert info["name"] == "minilm-l6-claim-question-cross-encoder"
    assert info["trained_on"]["pairs"] == 8 and info["trained_on"]["scifact_pairs"] == 6  # --limit is per source
    assert info["trained_on"]["questions"]["index_snapshot"] == "snap-1"
    scorer = ClaimScorer(out)
    assert trained_on_questions(scorer) and not trained_on_questions(PreferWord("x"))
    assert scorer.score("Which bias was seen?", [RATIONALE]).shape == (1,)
    for weight in (0.0, -1.0):
        with pytest.raises(ValueError, match="question_weight"):
            ClaimTrainingOptions(question_weight=weight)
