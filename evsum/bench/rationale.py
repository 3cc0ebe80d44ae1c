"""Sentence-vector quality and speed: torch fp32, int8 separate, int8 late chunking.

For SciFact claim/abstract pairs with gold rationale sentences, each abstract's sentences are
ranked by cosine to the claim; P@1, recall@2 and MRR of the gold rationales are reported with the
seconds each method took to embed the same passages and sentences.  Reproduces the figures in
docs/performance.md::

    python -m evsum.bench.rationale --pairs 250
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from evsum.bench.runner import SCIFACT_CLAIMS, SCIFACT_CORPUS


@dataclass(frozen=True, slots=True)
class SentenceSpan:
    """One abstract sentence inside a passage of the same abstract."""

    doc: str
    index: int
    passage: int
    start: int
    end: int
    text: str


def load_pairs(corpus: Path, claims: Path, limit: int) -> tuple[list[tuple[str, str, set[int]]], dict[str, Any]]:
    """(claim, doc id, gold sentence indices) for the first ``limit`` pairs, and the abstracts by id."""
    abstracts = {str(r["doc_id"]): r for r in map(json.loads, corpus.read_text(encoding="utf-8").splitlines())}
    pairs: list[tuple[str, str, set[int]]] = []
    for record in map(json.loads, claims.read_text(encoding="utf-8").splitlines()):
        for doc, evidence in record.get("evidence", {}).items():
            if doc in abstracts:
                pairs.append((record["claim"], doc, {i for e in evidence for i in e["sentences"]}))
    return pairs[:limit], abstracts


def passages_of(docs: Sequence[str], abstracts: dict[str, Any], max_words: int = 130,
                ) -> tuple[list[str], list[SentenceSpan]]:
    """Consecutive sentences joined into passages of up to ``max_words`` words, with sentence spans."""
    passages: list[str] = []
    spans: list[SentenceSpan] = []
    for doc in docs:
        group: list[tuple[int, str]] = []
        for i, raw in enumerate(list(abstracts[doc]["abstract"]) + [None]):
            sentence = raw.strip() if raw is not None else None
            words = sum(len(t.split()) for _, t in group)
            if group and (sentence is None or words + len(sentence.split()) > max_words):
                text = ""
                for j, t in group:
                    start = len(text) + (1 if text else 0)
                    text = f"{text} {t}" if text else t
                    spans.append(SentenceSpan(doc, j, len(passages), start, start + len(t), t))
                passages.append(text)
                group = []
            if sentence is not None:
                group.append((i, sentence))
    return passages, spans


def ranking_quality(pairs: Sequence[tuple[str, str, set[int]]], spans: Sequence[SentenceSpan],
                    vectors: np.ndarray, queries: np.ndarray) -> dict[str, float]:
    """P@1, recall@2 and MRR of the gold rationales when each abstract's sentences are ranked by cosine."""
    rows_of: dict[str, list[int]] = {}
    for row, span in enumerate(spans):
        rows_of.setdefault(span.doc, []).append(row)
    p1, r2, rr = [], [], []
    for (_, doc, gold), query in zip(pairs, queries):
        rows = rows_of[doc]
        ranked = [spans[rows[k]].index for k in np.argsort(-(vectors[rows] @ query), kind="stable")]
        p1.append(ranked[0] in gold)
        r2.append(len(set(ranked[:2]) & gold) / len(gold))
        rr.append(1.0 / (1 + min(ranked.index(g) for g in gold if g in ranked)))
    return {"p_at_1": round(float(np.mean(p1)), 3), "recall_at_2": round(float(np.mean(r2)), 3),
            "mrr": round(float(np.mean(rr)), 3)}


def run(limit: int, cache_dir: Path | None = None) -> dict[str, Any]:
    """Embed the pairs' abstracts three ways and score each against the gold rationales."""
    from models.encoders import MiniLMEncoder
    from models.onnx_encoder import OnnxInt8Encoder

    pairs, abstracts = load_pairs(SCIFACT_CORPUS, SCIFACT_CLAIMS, limit)
    passages, spans = passages_of(sorted({doc for _, doc, _ in pairs}), abstracts)
    texts = [s.text for s in spans]
    claims = [claim for claim, _, _ in pairs]
    fp32, int8 = MiniLMEncoder(), OnnxInt8Encoder(cache_dir=cache_dir)
    fp32.warm_up()
    int8.warm_up()
    out: dict[str, Any] = {"pairs": len(pairs), "passages": len(passages), "sentences": len(texts)}
    for name, encoder in (("fp32_separate", fp32), ("int8_separate", int8)):
        started = time.perf_counter()
        vectors = encoder.encode_passages(texts)
        encoder.encode_passages(passages)
        seconds = time.perf_counter() - started
        quality = ranking_quality(pairs, spans, vectors, encoder.encode_queries(claims))
        out[name] = {**quality, "seconds": round(seconds, 1)}
    started = time.perf_counter()
    tokens = int8.token_embeddings(passages)
    late = np.stack([v if (v := tokens.span_vector(s.passage, s.start, s.end)) is not None else np.zeros(int8.dim)
                     for s in spans])
    late /= np.maximum(np.linalg.norm(late, axis=1, keepdims=True), 1e-12)
    seconds = time.perf_counter() - started
    quality = ranking_quality(pairs, spans, late.astype(np.float32), int8.encode_queries(claims))
    out["int8_late_chunking"] = {**quality, "seconds": round(seconds, 1)}
    return out


def main() -> None:
    """Print the comparison as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--pairs", type=int, default=250, help="Claim/abstract pairs (default 250).")
    parser.add_argument("--cache-dir", help="ONNX export cache (default ~/.cache/evsum).")
    args = parser.parse_args()
    print(json.dumps(run(args.pairs, Path(args.cache_dir) if args.cache_dir else None), indent=2))


if __name__ == "__main__":
    main()
