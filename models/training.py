"""``evsum train-scorer``: learn the sentence scorer's weights from the gold data in ../shared/data.

Training data: the PubMedQA PQA-L items of the *train* split (``eval.splits``;
dev items are never trained on).  All items' abstracts are indexed together, as
``evsum eval pubmedqa`` does; for each train question the summariser's own
candidate sentences are collected over the whole index with the served
features, and each candidate is labelled with its ROUGE-L F1 against the item's
``LONG_ANSWER`` (its conclusion).

Model: a linear pairwise ranker (RankNet with a linear scorer): for sampled pairs
of candidates of one question where one has the clearly higher label, logistic
loss on the difference of their scores, L2-regularised, trained by full-batch
gradient descent with a fixed seed.  A linear model keeps the query path a
single dot product (``models.scorer.LinearScorer``); the weights file is a few
hundred bytes.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from evsum.features import FEATURE_NAMES
from evsum.settings import Settings
from models.scorer import DEFAULT_WEIGHTS_FILE, PRIOR_WEIGHTS, LinearScorer


@dataclass(frozen=True, slots=True)
class QuestionExamples:
    """Candidate features and labels of one training or dev question."""

    item_id: str
    features: np.ndarray
    labels: np.ndarray


@dataclass(frozen=True, slots=True)
class TrainingResult:
    """The learned scorer and how it did on the held-out dev questions."""

    scorer: LinearScorer
    train_questions: int
    dev_questions: int
    pairs: int
    dev_top1_rouge_prior: float
    dev_top1_rouge_trained: float
    seconds: float


def collect_examples(pubmedqa_file: Path, index_dir: Path, *, encoder_name: str = "minilm-int8",
                     progress: bool = True) -> tuple[list[QuestionExamples], list[QuestionExamples]]:
    """Index every PubMedQA abstract (no work if already indexed) and label candidates of each question."""
    from eval.common import build_encoder_for, ensure_index, load_engine
    from eval.gold import load_pubmedqa, write_pubmedqa_abstracts
    from eval.metrics import rouge
    from eval.splits import split_of

    settings = Settings()
    settings.index.index_dir = index_dir
    settings.models.encoder = encoder_name  # type: ignore[assignment]
    items = load_pubmedqa(pubmedqa_file)
    abstracts = write_pubmedqa_abstracts(items, index_dir.parent / f"{index_dir.name}-abstracts.jsonl")
    encoder = build_encoder_for(settings)
    print(ensure_index([abstracts], settings, encoder, progress))
    engine = load_engine(settings, encoder)
    train: list[QuestionExamples] = []
    dev: list[QuestionExamples] = []
    for item in tqdm(items, desc="label candidates", unit="question", disable=not progress):
        candidates = engine.summariser.candidates(item.question)
        if len(candidates.ids) < 2:
            continue
        texts = [s.text for s in engine.reader.sentences(candidates.ids.tolist())]
        labels = np.array([rouge(text, item.long_answer)["rougeL"] for text in texts], dtype=np.float32)
        example = QuestionExamples(item.id, candidates.features, labels)
        (train if split_of(item.id) == "train" else dev).append(example)
    return train, dev


def _pairs(examples: list[QuestionExamples], rng: np.random.Generator, per_question: int,
           margin: float) -> tuple[np.ndarray, np.ndarray]:
    """Feature differences (better minus worse) and weights (label gap) of sampled pairs."""
    differences: list[np.ndarray] = []
    weights: list[np.ndarray] = []
    for example in examples:
        n = len(example.labels)
        first = rng.integers(0, n, size=per_question * 4)
        second = rng.integers(0, n, size=per_question * 4)
        gap = example.labels[first] - example.labels[second]
        keep = np.flatnonzero(np.abs(gap) > margin)[:per_question]
        if not len(keep):
            continue
        sign = np.sign(gap[keep])[:, None]
        differences.append((example.features[first[keep]] - example.features[second[keep]]) * sign)
        weights.append(np.abs(gap[keep]))
    if not differences:
        raise ValueError("no informative training pairs")
    return np.vstack(differences).astype(np.float64), np.concatenate(weights).astype(np.float64)


def fit_pairwise(differences: np.ndarray, weights: np.ndarray, *, l2: float = 1e-3, steps: int = 3000,
                 learning_rate: float = 0.5) -> np.ndarray:
    """Weighted logistic regression without bias on pair differences (full-batch gradient descent)."""
    w = np.zeros(differences.shape[1])
    total = weights.sum()
    for _ in range(steps):
        margin = differences @ w
        # d/dw of weighted mean log(1 + exp(-margin)) + l2 |w|^2
        sigma = 0.5 * (1.0 - np.tanh(0.5 * margin))  # = 1 / (1 + exp(margin)), numerically stable
        gradient = -(differences * (weights * sigma)[:, None]).sum(axis=0) / total + 2 * l2 * w
        w -= learning_rate * gradient
    return w


def top1_rouge(examples: list[QuestionExamples], scorer: LinearScorer) -> float:
    """Mean label (ROUGE-L) of the candidate each question's scorer ranks first."""
    if not examples:
        return 0.0
    return float(np.mean([e.labels[int(np.argmax(scorer.score(e.features, FEATURE_NAMES)))] for e in examples]))


def train_scorer(pubmedqa_file: Path, index_dir: Path, *, seed: int = 13, encoder_name: str = "minilm-int8",
                 progress: bool = True, pairs_per_question: int = 400, margin: float = 0.05) -> TrainingResult:
    """Collect examples, fit the pairwise ranker on the train split, compare with the prior on dev."""
    started = time.perf_counter()
    train, dev = collect_examples(pubmedqa_file, index_dir, encoder_name=encoder_name, progress=progress)
    rng = np.random.default_rng(seed)
    differences, weights = _pairs(train, rng, pairs_per_question, margin)
    w = fit_pairwise(differences, weights)
    scale = float(np.abs(w).max()) or 1.0  # scale is irrelevant to ranking; keep weights readable
    trained = LinearScorer({name: round(float(v / scale), 6) for name, v in zip(FEATURE_NAMES, w)},
                           name=f"pairwise-linear-pubmedqa-seed{seed}")
    prior = LinearScorer(PRIOR_WEIGHTS)
    return TrainingResult(
        scorer=trained,
        train_questions=len(train),
        dev_questions=len(dev),
        pairs=len(weights),
        dev_top1_rouge_prior=top1_rouge(dev, prior),
        dev_top1_rouge_trained=top1_rouge(dev, trained),
        seconds=time.perf_counter() - started,
    )


def save_result(result: TrainingResult, pubmedqa_file: Path, out: Path = DEFAULT_WEIGHTS_FILE,
                seed: int = 13) -> Path:
    """Write the weights with their provenance (data hash, split sizes, dev figures)."""
    digest = hashlib.sha256(pubmedqa_file.read_bytes()).hexdigest()
    result.scorer.save(
        out,
        trained_on={"file": pubmedqa_file.name, "sha256": digest, "split": "train", "seed": seed,
                    "questions": result.train_questions, "pairs": result.pairs},
        dev={"questions": result.dev_questions, "top1_rougeL_prior": round(result.dev_top1_rouge_prior, 4),
             "top1_rougeL_trained": round(result.dev_top1_rouge_trained, 4)},
        features=list(FEATURE_NAMES),
    )
    return out
