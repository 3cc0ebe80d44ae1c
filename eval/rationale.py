"""Rationale sentence selection inside given abstracts, scored by the summariser's own scorer.

For a (claim, gold abstract) pair, the candidates are the abstract's quotable
sentences with the features the summariser computes at query time
(``evsum.features.collect_candidates`` restricted to that document), scored as the
summariser scores a claim (its scorer, then the claim cross-encoder when one is
installed); a cosine-only variant is the baseline.  A selection
rule (at most ``k_max`` sentences, each within ``tau`` of the best on the
document's min–max scale) is tuned on training claims only.  Our sentences are
mapped back to SciFact sentence indices by order, verified against the corpus
text, with a fall-back to the parser's region offsets.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from eval.baselines import SentencePools
from eval.metrics import PRF, micro_prf
from evsum.features import FEATURE_NAMES, collect_candidates
from evsum.records import Role
from evsum.retrieval import FusedRanking, HybridRetriever
from indexing.abstracts import parse_abstract

K_GRID: tuple[int, ...] = (1, 2, 3, 4, 5)
TAU_GRID: tuple[float, ...] = tuple(round(0.1 * i, 1) for i in range(11))


class DocumentScopeRetriever(HybridRetriever):
    """The served retriever, except that the passage ranking covers the whole index.

    Every passage of a gold abstract then enters the candidate pool, so the
    document restriction of ``collect_candidates`` sees all of its sentences.
    """

    def fused_passages(self, query: str, query_vector: np.ndarray) -> FusedRanking:
        """Dense and BM25 rankings of every passage, fused by reciprocal rank."""
        dense = self.reader.dense_passages(query_vector, self.reader.n_passages)
        lexical = self.reader.bm25_passages(query, self.reader.n_passages)
        return self._fuse(dense, lexical)


@dataclass(frozen=True, slots=True)
class PairScores:
    """Candidate sentences of one (claim, gold abstract) pair with both scores and their SciFact indices."""

    claim_id: str
    document_id: str
    gold: frozenset[int]
    indices: tuple[int, ...]
    scores: np.ndarray
    cosine: np.ndarray


@dataclass(frozen=True, slots=True)
class SelectionRule:
    """Keep up to ``k_max`` best sentences whose min–max-scaled score is at least ``tau`` (the best always)."""

    k_max: int = 1
    tau: float = 1.0

    def select(self, scores: np.ndarray) -> list[int]:
        """Rows chosen from one document's scores."""
        if not len(scores):
            return []
        order = np.argsort(-scores, kind="stable")
        low, high = float(scores.min()), float(scores.max())
        scaled = (scores - low) / (high - low) if high - low > 1e-9 else np.ones_like(scores)
        chosen = [int(order[0])]
        chosen += [int(i) for i in order[1:self.k_max] if scaled[i] >= self.tau - 1e-9]
        return chosen


def index_map(pools: SentencePools, document_id: str, record: Mapping[str, Any]) -> tuple[dict[int, int], str]:
    """Sentence row id -> SciFact sentence index for one abstract, and how it was mapped.

    ``"order"`` when the index holds exactly the given sentences in order (the
    expected case); ``"offsets"`` when the segmenter split some of them, in which
    case each of our sentences takes the index of the given sentence whose
    region of the page text contains it.
    """
    given = [str(s).strip() for s in record.get("abstract", [])]
    present = [i for i, s in enumerate(given) if s]
    ids = pools.all_ids(document_id)
    sentences = pools.reader.sentences(ids.tolist())
    if len(sentences) == len(present) and all(s.text == given[i] for s, i in zip(sentences, present)):
        return {s.id: i for s, i in zip(sentences, present)}, "order"
    regions = [r for r in parse_abstract(dict(record)).source.regions if r.role == Role.BODY]
    mapping: dict[int, int] = {}
    for sentence in sentences:
        for region, index in zip(regions, present):
            if region.char_start <= sentence.char_start < region.char_end:
                mapping[sentence.id] = index
                break
    return mapping, "offsets"


def score_claim(engine: Any, retriever: HybridRetriever, pools: SentencePools, claim_id: str, claim: str,
                rationales: Mapping[str, frozenset[int]], maps: Mapping[str, dict[int, int]]) -> list[PairScores]:
    """Scores of every quotable sentence of each gold abstract of one claim, one abstract at a time.

    Each abstract gets its own ``collect_candidates`` call, so features normalised
    over the candidate set (BM25) are the same whatever other gold abstracts the claim has.
    """
    summariser = engine.summariser
    query_vector: np.ndarray | None = None
    pairs: list[PairScores] = []
    for document_id, gold in rationales.items():
        if document_id not in pools.row_of:
            pairs.append(PairScores(claim_id, document_id, gold, (), np.zeros(0), np.zeros(0)))
            continue
        if query_vector is None:
            query_vector = retriever.embed_query(claim)
        candidates = collect_candidates(
            retriever, claim, query_vector, candidate_passages=pools.reader.n_passages, candidate_sentences=0,
            min_words=summariser.min_sentence_words, document_ids={pools.row_of[document_id]},
        )
        scores = summariser.scorer.score(candidates.features, FEATURE_NAMES)
        if summariser.claim_scorer is not None:  # a claim, scored as the service scores one (claim=True)
            scores = summariser.claim_scores(claim, candidates, scores)
        scores = np.asarray(scores, dtype=np.float64)
        mapping = maps[document_id]
        ids = candidates.ids.tolist()
        keep = np.array([i in mapping for i in ids], dtype=bool)
        pairs.append(PairScores(claim_id, document_id, gold, tuple(mapping[i] for i in ids if i in mapping),
                                scores[keep], np.asarray(candidates.cosine, dtype=np.float64)[keep]))
    return pairs


def predict(pair: PairScores, rule: SelectionRule, use_cosine: bool = False) -> set[int]:
    """SciFact indices selected by ``rule`` from one pair."""
    values = pair.cosine if use_cosine else pair.scores
    return {pair.indices[i] for i in rule.select(values)}


def evaluate(pairs: Sequence[PairScores], rule: SelectionRule, use_cosine: bool = False) -> PRF:
    """Micro P/R/F1 of the rule's selections against the gold rationale indices."""
    return micro_prf((predict(p, rule, use_cosine), p.gold) for p in pairs)


def tune(pairs: Sequence[PairScores], use_cosine: bool = False) -> tuple[SelectionRule, float]:
    """The grid rule with the best micro F1 on ``pairs`` (training claims only); top-1 when there are none.

    Ties go to fewer sentences, then to a stricter ``tau``.
    """
    if not pairs:
        return SelectionRule(), 0.0
    best, best_f1 = SelectionRule(), -1.0
    for k_max in K_GRID:
        for tau in sorted(TAU_GRID, reverse=True):
            rule = SelectionRule(k_max, tau)
            f1 = evaluate(pairs, rule, use_cosine).f1
            if f1 > best_f1 + 1e-12:
                best, best_f1 = rule, f1
    return best, best_f1
