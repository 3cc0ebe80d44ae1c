"""Sentence relevance scorers: turn a feature matrix into one score per candidate sentence.

The features are computed by ``evsum.features`` (vectorised numpy, no model
work at query time beyond the single query embedding).  ``LinearScorer`` is a
weighted sum: its default weights are a hand-set prior, and weights learned by
``evsum train-scorer`` are loaded from a small JSON file in ``models/weights``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Mapping, Protocol, Sequence

import numpy as np

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
DEFAULT_WEIGHTS_FILE = WEIGHTS_DIR / "sentence_scorer.json"

#: Hand-set prior: dense similarity, lexical overlap and passage context; for a question that asks for a quantity,
#: a preference for sentences that state one (``evsum.answer_type``), and a smaller one for sentences that point
#: to a figure or table, as results do. Dense similarity weighs 0.30, not the first 0.60: it favours the topic
#: sentences that restate a question's entities over the sentence that states the specific finding
#: (docs/quality.md, "Ninth session", gives how each weight was chosen and checked).
PRIOR_WEIGHTS: dict[str, float] = {
    "sentence_cosine": 0.30,
    "sentence_bm25": 0.20,
    "passage_cosine": 0.10,
    "passage_rrf": 0.05,
    "sentence_rrf": 0.05,
    "answer_type": 0.15,
    "figure_reference": 0.05,
}


class SentenceScorer(Protocol):
    """Scores candidate sentences from their features (higher is more relevant)."""

    def score(self, features: np.ndarray, names: Sequence[str]) -> np.ndarray:
        """One score per row of ``features`` (columns named by ``names``)."""
        ...

    def describe(self) -> dict[str, str]:
        """The scorer's provenance: ``name`` and ``weights_sha256`` (what a saved question's run records)."""
        ...


class LinearScorer:
    """A weighted sum of named features plus a bias."""

    def __init__(self, weights: Mapping[str, float], bias: float = 0.0, name: str = "linear-prior") -> None:
        self.weights = dict(weights)
        self.bias = bias
        self.name = name

    def describe(self) -> dict[str, str]:
        """Name and SHA-256 of the weights and bias: recorded with saved questions' runs, so that a rerun can
        tell when the scorer changed."""
        return {"name": self.name, "weights_sha256": _json_sha256({"weights": self.weights, "bias": self.bias})}

    def score(self, features: np.ndarray, names: Sequence[str]) -> np.ndarray:
        """Weighted sum; features the weights do not name count zero."""
        vector = np.array([self.weights.get(n, 0.0) for n in names], dtype=np.float32)
        return features.astype(np.float32) @ vector + np.float32(self.bias)

    @classmethod
    def load(cls, path: Path) -> LinearScorer:
        """Read weights written by ``save``."""
        raw = json.loads(path.read_text(encoding="utf-8"))
        return cls(raw["weights"], float(raw.get("bias", 0.0)), str(raw.get("name", path.stem)))

    def save(self, path: Path, **provenance: object) -> None:
        """Write weights (and how they were made) as JSON."""
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {"name": self.name, "weights": self.weights, "bias": self.bias, **provenance}
        path.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def prior_name() -> str:
    """``linear-prior-`` and the first 8 hex digits of the SHA-256 of ``PRIOR_WEIGHTS``: eval runs and
    comparisons name the weights they were made with."""
    return f"linear-prior-{_json_sha256(PRIOR_WEIGHTS)[:8]}"


def _json_sha256(payload: object) -> str:
    """SHA-256 of ``payload`` as canonical JSON (sorted keys): the same weights always give the same digest."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode("utf-8")).hexdigest()


def default_scorer() -> LinearScorer:
    """The trained scorer when its weights file exists, else the hand-set prior."""
    if DEFAULT_WEIGHTS_FILE.is_file():
        return LinearScorer.load(DEFAULT_WEIGHTS_FILE)
    return LinearScorer(PRIOR_WEIGHTS, name=prior_name())
