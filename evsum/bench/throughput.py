"""Indexing throughput: evsum's pipeline, end to end, against two baselines on the same passages.

* evsum: ``run_index`` from files to a served snapshot (parse, split, embed passages *and*
  sentences, write SQLite + FAISS + bm25s), timed per stage.
* naive: the same model through ``SentenceTransformer.encode`` with its defaults, then
  ``faiss.IndexFlatIP``: the passages only (no parsing, no sentences, nothing written).
* txtai: ``txtai.Embeddings`` with the same local model directory indexing the same passages.

The baselines get the passages evsum produced, so their rates exclude parsing and splitting:
the comparison is conservative for evsum.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from evsum.settings import Settings
from indexing.pipeline import IndexReport, run_index
from models.encoders import build_encoder, packaged_model_path


@dataclass(frozen=True, slots=True)
class IndexRun:
    """One evsum indexing run: counts, stage seconds and the passage texts it produced."""

    report: IndexReport
    passage_texts: list[str]
    encoder: str

    def as_dict(self) -> dict[str, Any]:
        """Rates per second (pages, passages, sentences) and the stage breakdown."""
        r = self.report
        seconds = max(r.seconds, 1e-9)
        return {
            "encoder": self.encoder,
            "files": r.files,
            "documents": r.documents,
            "pages": r.pages,
            "passages": r.passages,
            "sentences": r.sentences,
            "seconds": round(r.seconds, 2),
            "pages_per_s": round(r.pages / seconds, 2),
            "passages_per_s": round(r.passages / seconds, 2),
            "sentences_per_s": round(r.sentences / seconds, 2),
            "stages_s": {name: round(value, 2) for name, value in r.timings.items()},
        }


def index_with_evsum(sources: Sequence[Path], index_dir: Path, encoder_kind: str, *,
                     cache_dir: Path | None = None) -> IndexRun:
    """Index ``sources`` from scratch into ``index_dir`` with the named encoder (model load not timed)."""
    from indexing.reader import IndexReader

    settings = Settings()
    settings.index.index_dir = index_dir
    settings.models.encoder = encoder_kind  # type: ignore[assignment]
    settings.models.cache_dir = cache_dir
    encoder = build_encoder(settings.models, settings.index.embed_batch_size)
    encoder.warm_up()
    report = run_index(list(sources), settings.index, encoder, progress=False)
    reader = IndexReader.open(index_dir)
    try:
        texts = [p.text for p in reader.passages(list(range(reader.n_passages)))]
    finally:
        reader.close()
    return IndexRun(report, texts, encoder.name)


def _all_cores_for_torch() -> None:
    """torch's default without OMP_NUM_THREADS: one intra-op thread per core (tests and CI may set it to 1)."""
    import torch

    torch.set_num_threads(os.cpu_count() or 1)


def index_naive(texts: list[str]) -> dict[str, Any]:
    """``SentenceTransformer(...).encode(texts)`` with its defaults, then ``IndexFlatIP.add`` (load not timed)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import faiss
    from sentence_transformers import SentenceTransformer

    _all_cores_for_torch()

    model = SentenceTransformer(str(packaged_model_path()), device="cpu", local_files_only=True)
    started = time.perf_counter()
    vectors = model.encode(texts)
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    seconds = time.perf_counter() - started
    return {"passages": len(texts), "seconds": round(seconds, 2), "passages_per_s": round(len(texts) / seconds, 2)}


def index_txtai(texts: list[str]) -> dict[str, Any]:
    """txtai ``Embeddings`` over the same local model directory (load not timed); error text if unavailable."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        from txtai import Embeddings
    except ImportError as error:
        return {"error": f"txtai is not installed (pip install 'evsum[bench]'): {error}"}
    _all_cores_for_torch()
    embeddings = Embeddings(path=str(packaged_model_path()), method="sentence-transformers", backend="faiss",
                            content=False)
    embeddings.transform("warm up")  # loads the model, like warm_up() for the others
    started = time.perf_counter()
    embeddings.index(texts)
    seconds = time.perf_counter() - started
    return {"passages": len(texts), "seconds": round(seconds, 2), "passages_per_s": round(len(texts) / seconds, 2)}
