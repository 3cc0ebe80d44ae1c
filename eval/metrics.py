"""Evaluation metrics: ROUGE, retrieval (recall@k, nDCG@k), set P/R/F1, percentiles, citation validity.

Pure functions over plain Python values so each can be checked against numbers
worked out by hand.  ROUGE follows Google's ``rouge-score`` package (F1, Porter
stemming); ``RougeTokens`` re-implements its three F1 scores on pre-tokenised
text so that the extractive oracle can try many sentence subsets quickly, and a
test checks it agrees with the package.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

ROUGE_TYPES: tuple[str, ...] = ("rouge1", "rouge2", "rougeL")


# --- ROUGE -----------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _scorer() -> Any:
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=True)


@lru_cache(maxsize=1)
def _tokenizer() -> Any:
    from rouge_score import tokenizers

    return tokenizers.DefaultTokenizer(use_stemmer=True)


def rouge(prediction: str, reference: str) -> dict[str, float]:
    """ROUGE-1, ROUGE-2 and ROUGE-L F1 of ``prediction`` against ``reference`` (stemmed)."""
    if not prediction.strip() or not reference.strip():
        return dict.fromkeys(ROUGE_TYPES, 0.0)
    scores = _scorer().score(reference, prediction)
    return {name: float(scores[name].fmeasure) for name in ROUGE_TYPES}


def rouge_tokens(text: str) -> list[str]:
    """The tokens ``rouge-score`` compares: lower-cased alphanumerics, Porter-stemmed when longer than 3."""
    return list(_tokenizer().tokenize(text))


def _f1(overlap: int, predicted: int, reference: int) -> float:
    if overlap == 0 or predicted == 0 or reference == 0:
        return 0.0
    precision, recall = overlap / predicted, overlap / reference
    return 2 * precision * recall / (precision + recall)


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence of two token sequences."""
    if not a or not b:
        return 0
    previous = [0] * (len(b) + 1)
    for token in a:
        current = [0]
        for j, other in enumerate(b, start=1):
            current.append(previous[j - 1] + 1 if token == other else max(previous[j], current[j - 1]))
        previous = current
    return previous[-1]


@dataclass(frozen=True, slots=True)
class RougeTokens:
    """A tokenised reference: ROUGE F1 of token sequences against it, without re-tokenising."""

    tokens: tuple[str, ...]
    unigrams: Counter[str]
    bigrams: Counter[tuple[str, str]]

    @classmethod
    def of(cls, reference: str) -> RougeTokens:
        """Tokenise a reference text once."""
        tokens = tuple(rouge_tokens(reference))
        return cls(tokens, Counter(tokens), Counter(zip(tokens, tokens[1:])))

    def score(self, predicted: Sequence[str]) -> dict[str, float]:
        """ROUGE-1/2/L F1 of a predicted token sequence (equal to ``rouge`` on the joined text)."""
        unigrams = Counter(predicted)
        bigrams = Counter(zip(predicted, predicted[1:]))
        return {
            "rouge1": _f1(sum((unigrams & self.unigrams).values()), len(predicted), len(self.tokens)),
            "rouge2": _f1(sum((bigrams & self.bigrams).values()), max(len(predicted) - 1, 0),
                          max(len(self.tokens) - 1, 0)),
            "rougeL": _f1(lcs_length(self.tokens, predicted), len(predicted), len(self.tokens)),
        }


# --- retrieval -------------------------------------------------------------------------------


def recall_at_k(ranking: Sequence[str], relevant: Iterable[str], k: int) -> float:
    """Share of the relevant items found in the first ``k`` of ``ranking`` (0 when none are relevant)."""
    wanted = set(relevant)
    if not wanted:
        return 0.0
    return len(wanted.intersection(ranking[:k])) / len(wanted)


def ndcg_at_k(ranking: Sequence[str], relevant: Iterable[str], k: int = 10) -> float:
    """Binary-relevance nDCG@k: DCG = sum of 1/log2(rank + 1) over relevant items in the top k.

    Normalised by the DCG of an ideal ranking (all relevant items first), as in
    ``trec_eval``'s ``ndcg_cut`` with relevance 1; duplicate items count once.
    """
    wanted = set(relevant)
    if not wanted:
        return 0.0
    seen: set[str] = set()
    dcg = 0.0
    for rank, item in enumerate(ranking[:k], start=1):
        if item in wanted and item not in seen:
            dcg += 1.0 / math.log2(rank + 1)
        seen.add(item)
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, min(len(wanted), k) + 1))
    return dcg / ideal


# --- set selection ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PRF:
    """Micro-averaged precision, recall and F1 with the counts they come from."""

    true_positives: int
    predicted: int
    gold: int

    @property
    def precision(self) -> float:
        """TP / predicted (0 when nothing was predicted)."""
        return self.true_positives / self.predicted if self.predicted else 0.0

    @property
    def recall(self) -> float:
        """TP / gold (0 when there is no gold item)."""
        return self.true_positives / self.gold if self.gold else 0.0

    @property
    def f1(self) -> float:
        """Harmonic mean of precision and recall."""
        return _f1(self.true_positives, self.predicted, self.gold)


def micro_prf(pairs: Iterable[tuple[Iterable[int], Iterable[int]]]) -> PRF:
    """Micro P/R/F1 over (predicted set, gold set) pairs: counts are summed before dividing."""
    tp = predicted = gold = 0
    for chosen, wanted in pairs:
        chosen_set, wanted_set = set(chosen), set(wanted)
        tp += len(chosen_set & wanted_set)
        predicted += len(chosen_set)
        gold += len(wanted_set)
    return PRF(tp, predicted, gold)


# --- summary statistics ----------------------------------------------------------------------


def mean(values: Iterable[float]) -> float:
    """Arithmetic mean; 0.0 for no values."""
    items = list(values)
    return float(sum(items) / len(items)) if items else 0.0


def percentile(values: Iterable[float], q: float) -> float:
    """The ``q``-th percentile (0–100) with linear interpolation between order statistics.

    The same definition as ``numpy.percentile``'s default: position ``(n - 1) * q / 100``
    in the sorted values.  0.0 for no values.
    """
    items = sorted(values)
    if not items:
        return 0.0
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"percentile must be within 0..100, got {q}")
    position = (len(items) - 1) * q / 100.0
    low = math.floor(position)
    high = min(low + 1, len(items) - 1)
    return float(items[low] + (items[high] - items[low]) * (position - low))


@dataclass(frozen=True, slots=True)
class PairedDifference:
    """Mean of per-item ``a - b`` with a percentile-bootstrap 95 % interval (items resampled in pairs)."""

    mean: float
    ci95_low: float
    ci95_high: float
    n: int

    @property
    def significant(self) -> bool:
        """Whether the interval excludes zero."""
        return self.ci95_low > 0.0 or self.ci95_high < 0.0


def bootstrap_interval(values: Sequence[float], *, samples: int = 2000, seed: int = 0) -> tuple[float, float]:
    """Percentile-bootstrap 95 % interval of the mean of ``values`` (items resampled with replacement, seeded)."""
    if not values:
        return 0.0, 0.0
    import numpy as np

    items = np.asarray(values, dtype=np.float64)
    rng = np.random.default_rng(seed)
    block = max(1, 1_000_000 // len(items))  # at most a million resampled items in memory at once
    means = np.concatenate([
        items[rng.integers(0, len(items), size=(min(block, samples - start), len(items)))].mean(axis=1)
        for start in range(0, samples, block)
    ])
    low, high = np.percentile(means, [2.5, 97.5])
    return float(low), float(high)


def paired_bootstrap(a: Sequence[float], b: Sequence[float], *, samples: int = 2000,
                     seed: int = 0) -> PairedDifference:
    """How much system ``a`` beats ``b`` on the same items, and how sure that is.

    Resamples the items with replacement ``samples`` times (seeded) and takes the
    2.5th and 97.5th percentiles of the mean difference: with a few hundred items,
    ROUGE differences below about 0.01 are usually inside the interval.
    """
    if len(a) != len(b):
        raise ValueError(f"paired scores differ in length: {len(a)} and {len(b)}")
    differences = [x - y for x, y in zip(a, b)]
    low, high = bootstrap_interval(differences, samples=samples, seed=seed)
    return PairedDifference(mean(differences), low, high, len(differences))


# --- citations -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CitedSpan:
    """A quoted sentence and where its citation says it is."""

    text: str
    document_id: str
    page: int
    char_start: int
    char_end: int


def citation_is_valid(span: CitedSpan, page_text: Callable[[str, int], str | None]) -> bool:
    """True when the cited page exists and ``page_text[char_start:char_end]`` equals the quote.

    ``page_text(document_id, page)`` returns the page's text, or None when the page
    does not exist; it must come from the index or the service, never from the summary.
    """
    if span.char_start < 0 or span.char_end <= span.char_start:
        return False
    text = page_text(span.document_id, span.page)
    if text is None or span.char_end > len(text):
        return False
    return text[span.char_start:span.char_end] == span.text


def citation_validity(spans: Sequence[CitedSpan], page_text: Callable[[str, int], str | None]) -> float:
    """Share of quoted sentences whose citation is valid; 1.0 when there is nothing to check."""
    if not spans:
        return 1.0
    return sum(citation_is_valid(s, page_text) for s in spans) / len(spans)
