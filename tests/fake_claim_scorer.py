"""A deterministic fake claim cross-encoder (``models.claim_scorer.PairScorer``) for claim-path tests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


class PreferWord:
    """A fake pair scorer: a high logit for sentences containing ``word``; records what it read."""

    def __init__(self, word: str, *, questions: bool = False) -> None:
        self.word = word
        self.questions = questions  # whether it says it was trained on questions (and so re-scores them)
        self.calls: list[tuple[str, list[str]]] = []

    def score(self, claim: str, sentences: Sequence[str]) -> np.ndarray:
        """+8 for a sentence containing the word, -8 otherwise."""
        self.calls.append((claim, list(sentences)))
        return np.array([8.0 if self.word in s.lower() else -8.0 for s in sentences], dtype=np.float32)

    def describe(self) -> dict[str, Any]:
        """Its name, a made-up graph digest and, with ``questions``, question training data."""
        trained_on: dict[str, Any] = {"claims": "claims_train.jsonl"}
        if self.questions:
            trained_on["questions"] = {"files": {"dev_questions.jsonl": "0" * 64}, "pairs": 2}
        return {"name": "prefer-word", "graph_sha256": "1" * 64 if self.questions else "", "trained_on": trained_on}
