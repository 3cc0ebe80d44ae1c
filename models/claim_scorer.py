"""The claim scorer: a MiniLM cross-encoder that reads a claim and a sentence together.

A claim states a finding ("Vitamin D supplements reduce fractures in older adults"), and the
sentences worth quoting for it are the ones that support or contradict that finding. Unlike the
frozen bi-encoder, a cross-encoder attends across the claim and the sentence, so it can tell the
sentence that reports the finding from background sentences on the same topic.

The model is all-MiniLM-L6-v2 fine-tuned with a one-logit head on the SciFact training claims and,
with ``--questions``, on our dev questions about the shared corpus (``evsum train-claim-scorer``,
``models.claim_training``, ``models.question_training``), and shipped as an int8 ONNX graph in
``models/weights``. Input the caller marks as a claim is always re-scored by it. Questions are re-scored
with a smaller weight only by a graph trained on questions too (``trained_on_questions``): trained on
claims alone it ranks answer sentences worse than the served prior (docs/quality.md), because a question
lacks the finding it asks about.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol, Sequence

import numpy as np

from evsum.errors import EvsumError
from models.onnx_encoder import map_in_order, ort_session, padded_inputs
from models.scorer import WEIGHTS_DIR

logger = logging.getLogger("evsum.models")

CLAIM_SCORER_FILE = WEIGHTS_DIR / "claim_cross_encoder-int8.onnx"
CLAIM_SCORER_INFO = WEIGHTS_DIR / "claim_cross_encoder.json"
#: Claim plus sentence, in word pieces; SciFact claims and abstract sentences fit in 128 but for a few.
MAX_PAIR_TOKENS = 128


class PairScorer(Protocol):
    """Scores (claim, sentence) pairs: one logit per sentence, higher when it bears on the claim."""

    def score(self, claim: str, sentences: Sequence[str]) -> np.ndarray:
        """One logit per sentence."""
        ...

    def describe(self) -> dict[str, Any]:
        """How the model was made (shown in evaluation provenance)."""
        ...


class ClaimScorer:
    """The int8 ONNX cross-encoder, loaded lazily on first use (``warm_up``)."""

    def __init__(self, graph_path: Path = CLAIM_SCORER_FILE, tokenizer_dir: Path | None = None, *,
                 threads: int = min(2, os.cpu_count() or 1)) -> None:
        self.graph_path = graph_path
        self._tokenizer_dir = tokenizer_dir
        # Pairs scored at once on the one-thread session, by one pool for the whole process: under concurrent
        # claim checks this caps the scorer at ``threads`` cores, and requests queue for it.
        self._threads = max(1, threads)
        self._tokenizer: Any = None
        self._session: Any = None
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    @property
    def available(self) -> bool:
        """Whether the weights file exists (the scorer is optional)."""
        return self.graph_path.is_file()

    def warm_up(self) -> None:
        """Load the tokenizer of the packaged MiniLM and the ONNX Runtime session (once, thread-safe)."""
        with self._lock:
            if self._session is not None:
                return
            if not self.available:
                raise EvsumError(f"claim scorer weights not found: {self.graph_path} "
                                 "(run 'evsum train-claim-scorer')")
            from tokenizers import Tokenizer

            from models.encoders import packaged_model_path

            directory = self._tokenizer_dir or packaged_model_path()
            tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
            tokenizer.enable_truncation(max_length=MAX_PAIR_TOKENS)
            tokenizer.no_padding()
            self._tokenizer = tokenizer
            self._session = ort_session(self.graph_path, 1)
            if self._threads > 1:
                self._pool = ThreadPoolExecutor(self._threads, thread_name_prefix="evsum-claim-scorer")

    def score(self, claim: str, sentences: Sequence[str]) -> np.ndarray:
        """One logit per sentence, in the order given.

        Each pair runs on its own: int8 activations are quantised per batch, so a logit computed
        in a batch would depend on the other sentences in it. Alone, a pair always gets the same
        logit (and, unpadded, it is faster too: 3.8 ms against 6.1 ms a pair in batches of 32).
        ``threads`` pairs run at once on the one-thread session (ONNX Runtime releases the GIL while
        it runs): the 20 pairs of a claim check on PDF sentences take about 99 ms instead of 175 ms.
        """
        self.warm_up()
        encodings = self._tokenizer.encode_batch([(claim, s) for s in sentences])
        return np.array(map_in_order(self._pool, self._logit, encodings), dtype=np.float32)

    def _logit(self, encoding: Any) -> float:
        """The logit of one unpadded (claim, sentence) pair."""
        (logits,) = self._session.run(None, padded_inputs([encoding]))
        return float(np.asarray(logits).reshape(-1)[0])

    def describe(self) -> dict[str, Any]:
        """How the shipped weights were trained (``CLAIM_SCORER_INFO``), or ``{}`` when that file is missing or
        unreadable (logged: provenance is then incomplete, but claim checks still run)."""
        info = self.graph_path.with_name(CLAIM_SCORER_INFO.name)
        if not info.is_file():
            return {}
        try:
            described = json.loads(info.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            logger.warning("claim scorer description %s is unreadable: %s", info, error)
            return {}
        return described if isinstance(described, dict) else {}


def trained_on_questions(scorer: PairScorer) -> bool:
    """Whether the pair scorer's description says it was trained on questions as well as claims
    (``trained_on.questions``, written by ``evsum train-claim-scorer --questions``)."""
    trained_on = scorer.describe().get("trained_on")
    return isinstance(trained_on, dict) and bool(trained_on.get("questions"))


def default_claim_scorer(graph_path: Path | None = None) -> ClaimScorer | None:
    """The shipped claim scorer (or the one at ``graph_path``) when its weights exist, else ``None``."""
    scorer = ClaimScorer(graph_path or CLAIM_SCORER_FILE)
    return scorer if scorer.available else None
