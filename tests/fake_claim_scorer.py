"""A deterministic fake claim cross-encoder (``models.claim_scorer.PairScorer``) for claim-path tests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


class PreferWord:
    """A fake pair scorer: a high logit for sentences containing ``word``; records what it read."""

    def __init__(self, word: str) -> None:
        self.word = word
        self.calls: list[tuple[str, list[str]]] = []

    def score(self, claim: str, sentences: Sequence[str]) -> np.ndarray:
        """+8 for a sentence containing the word, -8 otherwise."""
        self.calls.append((claim, list(sentences)))
        return np.array([8.0 if self.word in s.lower() else -8.0 for s in sentences], dtype=np.float32)

    def describe(self) -> dict[str, Any]:
        """Its name."""
        return {"name": "prefer-word"}
