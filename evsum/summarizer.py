"""Extractive summaries: choose verbatim sentences that answer a question, with citations.

Pipeline: one query embedding → hybrid candidates (sentences of the top fused
passages and the top fused sentences) → feature scoring → MMR selection with a
redundancy cut-off, a per-document cap and a word budget → reading order.
When even the best candidate is not similar enough to the question, the answer
is an explicit "no sufficient evidence" instead of filler.

The best candidates are then re-scored by the cross-encoder (``models.claim_scorer``),
which reads the input and each sentence together. For input marked as a claim
("Vitamin D reduces fractures") it reads the best candidates of every document and
finds the sentences that report the finding rather than those that share its topic
(``claim_weight``). For a question, when the installed graph was trained on questions
as well as claims, it reads the best candidates of the prior's best document, if that
is a full-text PDF, and picks the sentence that states the answer (``question_weight``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import numpy as np

from evsum.errors import ClaimScorerUnavailableError
from evsum.features import FEATURE_NAMES, Candidates, collect_candidates
from evsum.records import Pico, SearchFilters, Summary, SummarySentence
from evsum.retrieval import HybridRetriever, SourcePriority
from evsum.settings import SummarySettings
from indexing.reader import IndexReader
from indexing.sentence_traits import TRAIT_NAMES, trait_fingerprint
from models.claim_scorer import PairScorer, trained_on_questions
from models.scorer import SentenceScorer

#: The summary settings that decide which sentences a question's summary quotes (``describe_ranking``): the word
#: budget too, which drafts and saved questions take from the settings. Claim checks are described by their own
#: scorer; the source priority is a saved question's own.
_SELECTION_SETTINGS = frozenset({"candidate_passages", "candidate_sentences", "mmr_lambda", "aim_penalty",
                                 "max_redundancy", "per_document_cap", "over_cap_penalty", "min_relevance",
                                 "max_words"})
_NO_CLAIM_SCORER = ("no claim scorer is installed: models/weights/claim_cross_encoder-int8.onnx is missing "
                    "(run 'evsum train-claim-scorer')")
NO_EVIDENCE_MESSAGE = (
    "No sufficient evidence: no indexed source contains a sentence relevant enough to this question. "
    "Try rephrasing, or ask a librarian to search further."
)


@dataclass(frozen=True, slots=True)
class SummaryRequest:
    """What to summarise and within which budget."""

    question: str
    max_sentences: int
    max_words: int


class Summariser:
    """Builds extractive summaries over one loaded snapshot."""

    def __init__(self, retriever: HybridRetriever, scorer: SentenceScorer, settings: SummarySettings,
                 *, min_sentence_words: int = 4, claim_scorer: PairScorer | None = None) -> None:
        self.retriever = retriever
        self.scorer = scorer
        self.settings = settings
        self.min_sentence_words = min_sentence_words
        self.claim_scorer = claim_scorer
        self._reads_questions: tuple[PairScorer, bool] | None = None  # (scorer, trained on questions) once asked

    @property
    def relevance_floor(self) -> float:
        """The configured no-evidence threshold, else the encoder's calibrated one."""
        configured = self.settings.min_relevance
        return configured if configured is not None else self.retriever.encoder.relevance_floor

    def candidates(self, question: str, query_vector: np.ndarray | None = None,
                   filters: SearchFilters | None = None) -> Candidates:
        """Scored-feature candidates for a question (also used by training and evaluation)."""
        vector = self.retriever.embed_query(question) if query_vector is None else query_vector
        return collect_candidates(
            self.retriever.restricted(filters), question, vector,
            candidate_passages=self.settings.candidate_passages,
            candidate_sentences=self.settings.candidate_sentences,
            min_words=self.min_sentence_words,
        )

    def summarise(self, question: str, max_sentences: int | None = None,
                  max_words: int | None = None, *, filters: SearchFilters | None = None,
                  pico: Pico | None = None, priority: SourcePriority | None = None, claim: bool = False) -> Summary:
        """An extractive summary answering ``question``; every sentence verbatim with its citation.

        ``pico`` fields are added to the retrieval query (``Pico.query``); ``filters`` restrict
        the documents quoted from; ``priority`` adds the source-priority prior to each
        sentence's 0..1-scaled relevance before selection (``SourcePriority``); ``claim``
        treats the input as a claim to check and re-scores the best candidates with the
        claim cross-encoder (``claim_scores``).
        """
        if claim and self.claim_scorer is None:
            raise ClaimScorerUnavailableError(_NO_CLAIM_SCORER)
        request = SummaryRequest(
            question=question.strip(),
            max_sentences=max_sentences or self.settings.max_sentences,
            max_words=max_words or self.settings.max_words,
        )
        reader = self.retriever.reader
        query = pico.query(request.question) if pico is not None else request.question
        described = filters.describe() if filters is not None else {}
        candidates = self.candidates(query, filters=filters)
        if not len(candidates.ids) or float(candidates.cosine.max()) < self.relevance_floor:
            return Summary(request.question, (), "no_evidence", NO_EVIDENCE_MESSAGE, reader.snapshot_id,
                           candidates.retrieved_document_ids, query, described, priority is not None, claim)
        scores = self.scorer.score(candidates.features, FEATURE_NAMES)
        cross_encoded = claim
        if claim:
            scores = self._with_priority(self.claim_scores(request.question, candidates, scores), candidates, priority)
        else:  # the source priority first, so that it takes part in choosing the document the cross-encoder reads
            scores = self._with_priority(scores, candidates, priority)
            rescored = self.question_scores(request.question, candidates, scores)
            if rescored is not None:
                scores, cross_encoded = rescored, True
        chosen = self.select(candidates, scores, request)
        quoted = self.quotes(candidates, scores, self.reading_order(candidates, scores, chosen))
        return Summary(request.question, quoted, "answered", "", reader.snapshot_id,
                       candidates.retrieved_document_ids, query, described, priority is not None, claim,
                       cross_encoded=cross_encoded)

    def quotes(self, candidates: Candidates, scores: np.ndarray, rows: list[int]) -> tuple[SummarySentence, ...]:
        """The summary's quotes for the chosen candidate rows, in the order given: each row's sentence verbatim with
        its citation, and both parts, each cited to its own page, of a sentence that a page break cut in two (the
        first part marked ``continues``)."""
        reader = self.retriever.reader
        units = [reader.sentence_parts(int(candidates.ids[i])) for i in rows]
        by_id = {s.id: s for s in reader.sentences(sorted({part for unit in units for part in unit}))}
        return tuple(
            SummarySentence(sentence_id=part, text=by_id[part].text, citation=reader.citation(by_id[part]),
                            score=float(scores[i]), continues=n < len(unit) - 1)
            for i, unit in zip(rows, units)
            for n, part in enumerate(unit)
        )

    def _with_priority(self, scores: np.ndarray, candidates: Candidates, priority: SourcePriority | None) -> np.ndarray:
        """``scores`` plus the source-priority prior, on the scale of their spread (unchanged without ``priority``)."""
        if priority is None:
            return scores
        spread = float(scores.max() - scores.min()) or 1.0
        prior = priority.sentence_prior(self.retriever.reader)[candidates.ids]
        return scores + (priority.weight * spread * prior).astype(scores.dtype)

    @property
    def reranks_questions(self) -> bool:
        """Whether questions can be re-scored by the cross-encoder: one trained on questions is installed,
        ``question_weight`` > 0 and ``question_source_kinds`` is not empty (each question then also needs its best
        document to be of one of those kinds: ``question_scores``)."""
        return self._question_reranker() is not None

    def _question_reranker(self) -> PairScorer | None:
        """The cross-encoder that re-scores questions under the current settings, or ``None``. Only a graph
        trained on questions too is used (a claim-only graph ranks answer sentences worse than the prior); its
        description is read once per installed scorer."""
        scorer = self.claim_scorer
        if scorer is None or self.settings.question_weight <= 0 or not self.settings.question_source_kinds:
            return None
        if self._reads_questions is None or self._reads_questions[0] is not scorer:
            self._reads_questions = (scorer, trained_on_questions(scorer))
        return scorer if self._reads_questions[1] else None

    def describe_ranking(self, cross_encoded: bool | None = None) -> dict[str, str]:
        """What ranks and chooses a question's sentences, as drafts and saved questions record it: a name and a
        digest of everything that decides which sentences a summary quotes. The digest covers the prior's weights,
        the selection settings (candidate counts, MMR, redundancy and per-document cap, aim penalty, word budget),
        the retrieval settings, the definitions of the sentence traits the ranking reads and, when the
        cross-encoder re-scores, its graph, weight, candidate count and document kinds; so a saved question's rerun
        knows when a change in the code or its settings, not in the evidence, may explain a change in what it
        cites. ``cross_encoded``
        says whether it re-scored one summary (``Summary.cross_encoded``); ``None`` describes the service: whether
        it can re-score questions, which is what a saved question's rerun compares with its last run."""
        prior = self.scorer.describe()
        settings = self.settings
        described: dict[str, object] = {
            "prior_sha256": prior.get("weights_sha256", ""),
            "selection": settings.model_dump(include=set(_SELECTION_SETTINGS)),
            "min_sentence_words": self.min_sentence_words,
            "retrieval": self.retriever.settings.model_dump(exclude={"default_top_k"}),
            "traits": {name: trait_fingerprint(name) for name in TRAIT_NAMES},
        }
        name = prior.get("name", "prior")
        question_scorer = self._question_reranker()
        if question_scorer is not None and cross_encoded is not False:
            described["cross_encoder"] = {
                "graph_sha256": str(question_scorer.describe().get("graph_sha256", "")),
                "weight": settings.question_weight, "candidates": settings.question_candidates,
                "source_kinds": list(settings.question_source_kinds)}
            name = f"{name} + cross-encoder"
        return {"name": name,
                "weights_sha256": hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()}

    def claim_scores(self, claim: str, candidates: Candidates, scores: np.ndarray) -> np.ndarray:
        """Scores for a claim: the prior scaled to 0..1, plus ``claim_weight`` x the cross-encoder's probability.

        Only the ``claim_candidates`` best candidates by the prior are read by the cross-encoder (about
        0.1 s for 20 pairs on PDF sentences); the rest keep their scaled prior.
        """
        if self.claim_scorer is None:
            raise ClaimScorerUnavailableError(_NO_CLAIM_SCORER)
        if not len(scores):
            return np.zeros(0, dtype=np.float32)
        top = np.argsort(-scores, kind="stable")[:self.settings.claim_candidates]
        return self._mixed_scores(self.claim_scorer, claim, candidates, scores, self.settings.claim_weight, top)

    def question_scores(self, question: str, candidates: Candidates, scores: np.ndarray) -> np.ndarray | None:
        """Scores for a question: the prior scaled to 0..1, plus ``question_weight`` x the cross-encoder's
        probability on the ``question_candidates`` best candidates by the prior *of the document of its best
        candidate*, when that document's kind is in ``question_source_kinds``; ``None`` (keep the prior) when
        the cross-encoder does not re-score this question (``reranks_questions``, the document's kind)."""
        question_scorer = self._question_reranker()
        if question_scorer is None or not len(scores):
            return None
        reader = self.retriever.reader
        docs = reader.sentence_doc[candidates.ids]
        best_document = int(docs[int(np.argmax(scores))])
        if reader.documents[reader.document_ids[best_document]].source_kind not in self.settings.question_source_kinds:
            return None
        same_document = np.flatnonzero(docs == best_document)
        top = same_document[np.argsort(-scores[same_document], kind="stable")[:self.settings.question_candidates]]
        return self._mixed_scores(question_scorer, question, candidates, scores, self.settings.question_weight, top)

    def _mixed_scores(self, pair_scorer: PairScorer, text: str, candidates: Candidates, scores: np.ndarray,
                      weight: float, top: np.ndarray) -> np.ndarray:
        """The prior scaled to 0..1, plus ``weight`` x the pair scorer's probability on the candidate rows ``top``."""
        combined = _minmax(scores)
        texts = self.retriever.reader.unit_texts([int(candidates.ids[i]) for i in top])
        logits = pair_scorer.score(text, texts)
        combined[top] += np.float32(weight) / (1.0 + np.exp(-logits.astype(np.float32)))
        return combined

    def select(self, candidates: Candidates, scores: np.ndarray, request: SummaryRequest) -> list[int]:
        """Maximal marginal relevance over candidate rows, within the budgets; returns row indices.

        A sentence cut by a page break counts once, with the words of both parts, whichever part was scored."""
        reader = self.retriever.reader
        vectors = np.asarray(reader.sentence_vectors[candidates.ids], dtype=np.float32)
        docs = reader.sentence_doc[candidates.ids]
        words = reader.unit_words(candidates.ids)
        partner_rows = _partner_rows(reader, candidates.ids)
        first_parts = np.where(reader.sentence_continued_from[candidates.ids] >= 0,
                               reader.sentence_continued_from[candidates.ids], candidates.ids)
        aims = reader.sentence_aim_statement[first_parts]  # a sentence's opening words, whichever part was scored
        relevance = _minmax(scores) - np.float32(self.settings.aim_penalty) * aims
        lam = self.settings.mmr_lambda
        chosen: list[int] = []
        per_doc = np.zeros(int(docs.max()) + 1 if len(docs) else 1, dtype=np.int32)
        cap, penalty = self.settings.per_document_cap, self.settings.over_cap_penalty
        used_words = 0
        max_similarity = np.full(len(scores), -1.0, dtype=np.float32)
        available = np.ones(len(scores), dtype=bool)
        while len(chosen) < request.max_sentences and available.any():
            mmr = lam * relevance - (1.0 - lam) * np.maximum(max_similarity, 0.0)
            mmr -= penalty * (per_doc[docs] >= cap)  # soft cap: another source wins unless clearly weaker
            mmr[~available] = -np.inf
            best = int(np.argmax(mmr))
            available[best] = False
            if max_similarity[best] > self.settings.max_redundancy:
                continue
            if chosen and used_words + int(words[best]) > request.max_words:
                continue
            chosen.append(best)
            available[partner_rows.get(best, [])] = False  # the other part of a sentence cut by a page break
            per_doc[docs[best]] += 1
            used_words += int(words[best])
            max_similarity = np.maximum(max_similarity, vectors @ vectors[best])
        return chosen

    def reading_order(self, candidates: Candidates, scores: np.ndarray, chosen: list[int]) -> list[int]:
        """Group chosen sentences by document (best document first), in document order within each."""
        docs = self.retriever.reader.sentence_doc[candidates.ids]
        best_of_doc: dict[int, float] = {}
        for i in chosen:
            doc = int(docs[i])
            best_of_doc[doc] = max(best_of_doc.get(doc, -np.inf), float(scores[i]))
        return sorted(chosen, key=lambda i: (-best_of_doc[int(docs[i])], int(candidates.ids[i])))


def _partner_rows(reader: IndexReader, ids: np.ndarray) -> dict[int, list[int]]:
    """Candidate row -> the rows holding the other part of its sentence, for sentences cut by a page break."""
    linked = np.flatnonzero((reader.sentence_continuation[ids] >= 0) | (reader.sentence_continued_from[ids] >= 0))
    if not len(linked):
        return {}
    row_of = {int(sentence_id): row for row, sentence_id in enumerate(ids.tolist())}
    return {int(row): [row_of[p] for p in reader.sentence_parts(int(ids[row])) if p in row_of and row_of[p] != row]
            for row in linked}


def _minmax(values: np.ndarray) -> np.ndarray:
    low, high = float(values.min()), float(values.max())
    if high - low < 1e-9:
        return np.ones_like(values, dtype=np.float32)
    return ((values - low) / (high - low)).astype(np.float32)
