"""Snapshots of a given size for the query benchmarks, written by the real snapshot writer.

Embedding a million passages is not feasible on two cores (about 14 hours at 20 passages/s), so
these snapshots carry *synthetic* unit vectors (clustered around random topic centres) under the
real encoder's name, so that the served engine accepts them.  Text is real SciFact sentences
while they last (the 10k size), then words drawn by their SciFact frequency.  Each synthetic
document has one page holding its sentences, so every citation offset is valid.  Each passage
has ``SENTENCES_PER_PASSAGE`` sentences (real indexes have about four: their sentence index is
larger than here).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from evsum.records import Document, Page, Passage, Role, Sentence
from indexing.snapshot import DocumentContent, write_snapshot

SENTENCES_PER_PASSAGE = 2
PASSAGES_PER_DOCUMENT = 10
_WORD = re.compile(r"[A-Za-z][A-Za-z-]+")


def scifact_sentences(corpus: Path | None) -> list[str]:
    """Every abstract sentence of a SciFact ``corpus.jsonl`` (empty when the file is missing)."""
    if corpus is None or not corpus.is_file():
        return []
    sentences: list[str] = []
    with corpus.open(encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            sentences.extend(s.strip() for s in record.get("abstract", []) if len(s.split()) >= 4)
    return sentences


class SentenceSource:
    """Real sentences first, then sentences of words drawn by their frequency in the real ones."""

    def __init__(self, real: list[str], seed: int = 0) -> None:
        self._real = real
        counts = Counter(w.lower() for s in real for w in _WORD.findall(s)) or Counter({"evidence": 1})
        self._words = np.array(list(counts))
        frequency = np.array(list(counts.values()), dtype=np.float64)
        self._p = frequency / frequency.sum()
        self._rng = np.random.default_rng(seed)

    def take(self, n: int, start: int) -> list[str]:
        """Sentences ``start``..``start + n`` of the stream."""
        real = self._real[start:start + n]
        missing = n - len(real)
        if missing <= 0:
            return real
        lengths = self._rng.integers(8, 30, size=missing)
        words = self._words[self._rng.choice(len(self._words), size=int(lengths.sum()), p=self._p)]
        out, cursor = list(real), 0
        for length in lengths.tolist():
            chunk = words[cursor:cursor + length]
            cursor += length
            out.append(" ".join(chunk.tolist()).capitalize() + ".")
        return out


def clustered_vectors(n: int, dim: int, rng: np.random.Generator, centres: np.ndarray,
                      noise: float = 0.35) -> np.ndarray:
    """``n`` float16 unit vectors around ``centres`` (built in chunks to bound memory)."""
    out = np.empty((n, dim), dtype=np.float16)
    for start in range(0, n, 100_000):
        m = min(100_000, n - start)
        x = centres[rng.integers(0, len(centres), m)] + noise * rng.standard_normal((m, dim)).astype(np.float32)
        out[start:start + m] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def build_synthetic_index(index_dir: Path, n_passages: int, encoder_name: str, dim: int,
                          real_sentences: list[str], *, anchors: np.ndarray | None = None,
                          seed: int = 0) -> dict[str, int]:
    """Write a snapshot of ``n_passages`` passages into ``index_dir``; returns its counts.

    ``anchors`` (unit vectors, e.g. the benchmark questions' embeddings) become topic centres,
    so those questions find relevant-looking passages and take the full summary path instead
    of the early "no evidence" answer.
    """
    rng = np.random.default_rng(seed)
    source = SentenceSource(real_sentences, seed)
    n_sentences = n_passages * SENTENCES_PER_PASSAGE
    texts = source.take(n_sentences, 0)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    contents: list[DocumentContent] = []
    empty = np.zeros((0, dim), dtype=np.float32)
    sentence_id = passage_id = 0
    for doc_number in range(0, n_passages, PASSAGES_PER_DOCUMENT):
        doc_id = f"synthetic-{doc_number // PASSAGES_PER_DOCUMENT:07d}"
        n_doc = min(PASSAGES_PER_DOCUMENT, n_passages - doc_number) * SENTENCES_PER_PASSAGE
        doc_texts = texts[sentence_id:sentence_id + n_doc]
        page_text = " ".join(doc_texts)
        sentences: list[Sentence] = []
        passages: list[Passage] = []
        cursor = 0
        for position, text in enumerate(doc_texts):
            sentences.append(Sentence(sentence_id + position, doc_id, 1, cursor, cursor + len(text), text, Role.BODY,
                                      "Results", position, passage_id + position // SENTENCES_PER_PASSAGE))
            cursor += len(text) + 1
        for first in range(0, len(sentences), SENTENCES_PER_PASSAGE):
            group = sentences[first:first + SENTENCES_PER_PASSAGE]
            passages.append(Passage(passage_id, doc_id, 1, group[0].char_start, group[-1].char_end,
                                    page_text[group[0].char_start:group[-1].char_end], Role.BODY, "Results",
                                    group[0].id, group[-1].id))
            passage_id += 1
        sentence_id += len(sentences)
        document = Document(doc_id, doc_id.ljust(64, "0"), f"Synthetic document {doc_id}", f"synthetic/{doc_id}",
                            "abstract", 1, now, {})
        contents.append(DocumentContent(document, [Page(doc_id, 1, page_text, 612.0, 792.0, ())],
                                        sentences, passages, empty, empty))
    centres = rng.standard_normal((max(64, n_passages // 200), dim)).astype(np.float32)
    if anchors is not None and len(anchors):
        planted = min(len(anchors), len(centres) // 2)
        centres[:planted] = anchors[:planted] * np.sqrt(dim)  # same norm as a random centre
    passage_vectors = clustered_vectors(n_passages, dim, rng, centres)
    sentence_vectors = clustered_vectors(n_sentences, dim, rng, centres)
    info = write_snapshot(index_dir, contents, encoder_name, dim, keep=1,
                          extra={"synthetic": True, "real_sentences": min(len(real_sentences), n_sentences)},
                          vectors=(passage_vectors, sentence_vectors))
    return {"passages": info.passages, "sentences": info.sentences, "documents": info.documents}


def measure_recall(snapshot_dir: Path, *, queries: int = 50, k: int = 10, seed: int = 1) -> dict[str, object]:
    """Recall@k of the served passage index against exact search, for queries near stored passages."""
    import time

    import faiss

    from indexing import vectors

    stored = np.load(snapshot_dir / "passage_vectors.npy", mmap_mode="r")
    index = faiss.read_index(str(snapshot_dir / "passages.faiss"))
    rng = np.random.default_rng(seed)
    picked = np.asarray(stored[np.sort(rng.choice(len(stored), size=queries, replace=False))], dtype=np.float32)
    probe = picked + 0.02 * rng.standard_normal(picked.shape).astype(np.float32)
    probe /= np.linalg.norm(probe, axis=1, keepdims=True)
    faiss.omp_set_num_threads(1)
    started = time.perf_counter()
    found = np.stack([vectors.search(index, stored, q, k)[0] for q in probe])
    search_ms = (time.perf_counter() - started) * 1000 / queries
    scores = np.zeros((queries, len(stored)), dtype=np.float32)
    for start in range(0, len(stored), 200_000):
        scores[:, start:start + 200_000] = probe @ np.asarray(stored[start:start + 200_000], dtype=np.float32).T
    exact = np.argsort(-scores, axis=1)[:, :k]
    return {"recall_at_10": round(vectors.recall_at_k(found, exact), 4), "dense_search_ms": round(search_ms, 2),
            "index_kind": vectors.index_kind(len(stored))}
