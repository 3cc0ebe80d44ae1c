"""Benchmark building blocks that need no model: synthetic snapshots, passage spans, the table."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from evsum.bench.rationale import passages_of
from evsum.bench.report import markdown
from evsum.bench.synthetic import build_synthetic_index, measure_recall
from indexing.reader import IndexReader
from indexing.snapshot import current_snapshot_dir


def test_synthetic_snapshot_is_a_valid_snapshot_with_exact_offsets(tmp_path: Path) -> None:
    real = [f"Real sentence number {i} about vitamin D and fractures." for i in range(25)]
    anchor = np.zeros((1, 384), dtype=np.float32)
    anchor[0, 0] = 1.0
    counts = build_synthetic_index(tmp_path, 1_000, "hash-384", 384, real, anchors=anchor)
    assert counts == {"passages": 1_000, "sentences": 2_000, "documents": 100}
    reader = IndexReader.open(tmp_path)
    try:
        sentences = reader.sentences(list(range(reader.n_sentences)))
        assert [s.text for s in sentences[:25]] == real  # real text first, then drawn words
        for sentence in sentences[:100] + sentences[-100:]:  # invariant 1 holds for synthetic documents too
            page = reader.page(sentence.document_id, sentence.page)
            assert page.text[sentence.char_start:sentence.char_end] == sentence.text
        norms = np.linalg.norm(np.asarray(reader.passage_vectors, dtype=np.float32), axis=1)
        assert np.allclose(norms, 1.0, atol=1e-3)  # generated in float16
        # The anchor is one of the 64 topic centres: some of the 1,000 passages lie close to it.
        assert float(reader.dense_passages(anchor[0], 1).scores[0]) > 0.8
    finally:
        reader.close()
    snapshot = current_snapshot_dir(tmp_path)
    assert snapshot is not None
    assert measure_recall(snapshot, queries=10)["recall_at_10"] == 1.0


def test_rationale_passages_keep_exact_sentence_spans() -> None:
    abstracts = {"7": {"abstract": ["First finding here.", "Second finding " + "word " * 140 + "end.", "Third one."]}}
    passages, spans = passages_of(["7"], abstracts)
    assert len(passages) == 3  # the long middle sentence cannot share a 130-word passage
    for span in spans:
        assert passages[span.passage][span.start:span.end] == span.text
    assert [s.index for s in spans] == [0, 1, 2]


def test_markdown_table_reports_ratios_and_missing_baselines() -> None:
    index = {"encoder": "onnx-int8-unbatched:all-MiniLM-L6-v2", "corpus": "3 abstracts", "pages": 3, "passages": 6,
             "sentences": 20, "seconds": 1.5, "passages_per_s": 4.0, "sentences_per_s": 13.3, "pages_per_s": 2.0,
             "stages_s": {"embed_s": 1.2}, "naive": {"passages": 6, "seconds": 3.0, "passages_per_s": 2.0},
             "ratio_vs_naive": 2.0, "txtai": {"error": "txtai is not installed"}, "ratio_vs_txtai": None}
    served = {"passages": 6, "summaries_p50_ms": 10.0, "summaries_p95_ms": 12.0, "summaries_p99_ms": 13.0,
              "search_p50_ms": 5.0, "search_p95_ms": 6.0, "cold_start_s": 2.0, "index_disk_mb": 0.1,
              "memory": {"rss_mb": 300.0, "rss_anon_mb": 200.0}, "summaries_by_concurrency": {}}
    text = markdown({"mode": "quick", "machine": {"cpus": 2, "load_avg_start": [1.0]}, "encoder": "minilm-int8",
                     "index": index, "query": {"real_index": served}})
    assert "| evsum, onnx-int8-unbatched:all-MiniLM-L6-v2, end to end | 4.00 | 1.00 |" in text
    assert "| 2.00 | 6 passages in 3.00 s |" in text
    assert "txtai is not installed" in text
    assert "| 6 (real) | 10.00 / 12.00 / 13.00 |" in text
