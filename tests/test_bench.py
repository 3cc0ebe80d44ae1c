"""`evsum bench --quick` end to end: real indexing against the baselines, a real uvicorn server, bench.json."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

from models.onnx_encoder import OnnxInt8Encoder

pytestmark = pytest.mark.model


def test_quick_bench_writes_the_contracted_keys_and_a_table(tmp_path: Path, int8_encoder: OnnxInt8Encoder) -> None:
    assert int8_encoder.graph_path is not None
    cache = int8_encoder.graph_path.parent.parent  # reuse this session's export
    out = tmp_path / "bench"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    completed = subprocess.run(
        [sys.executable, "-m", "evsum.cli", "bench", "--quick", "--abstracts", "12", "--out", str(out),
         "--cache-dir", str(cache)],
        env=env, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr[-2000:]
    result = json.loads((out / "bench.json").read_text())

    index, query, memory = result["index"], result["query"], result["memory"]
    assert index["encoder"] == "onnx-int8-unbatched:all-MiniLM-L6-v2"
    assert index["passages"] >= 12 and index["sentences"] > index["passages"]
    assert index["passages_per_s"] > 0 and index["naive_passages_per_s"] > 0
    assert set(index["stages_s"]) >= {"read_s", "parse_s", "split_s", "embed_s", "write_s"}
    if importlib.util.find_spec("txtai") is not None:
        assert index["txtai_passages_per_s"] > 0
    else:
        assert index["txtai_passages_per_s"] is None and "not installed" in index["txtai"]["error"]
    assert query["passages"] == index["passages"]
    assert 0 < query["summaries_p50_ms"] <= query["summaries_p95_ms"] <= query["summaries_p99_ms"]
    assert set(query["summaries_by_concurrency"]) == {"1", "4", "8"}
    assert memory["rss_mb"] > 0 and memory["index_disk_mb"] > 0
    assert result["cold_start_s"] > 0
    assert "by_size" not in query  # the full mode adds the 100k and 1M sizes

    table = (out / "bench.md").read_text()
    assert "| naive: SentenceTransformer.encode defaults + IndexFlatIP" in table
    assert "/v1/summaries p50 / p95 / p99 ms" in table
    assert not (out / "work").exists(), "scratch indexes are removed"
