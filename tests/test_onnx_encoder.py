"""The int8 ONNX Runtime encoder: exported locally, cached, and faithful to the fp32 model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from evsum.engine import Engine
from evsum.errors import IndexNotReadyError
from evsum.settings import ModelSettings
from indexing.reader import IndexReader
from models.encoders import MiniLMEncoder, build_encoder, packaged_model_path
from models.onnx_encoder import (
    INT8_FILE,
    OnnxInt8Encoder,
    export_int8,
    model_fingerprint,
    toolchain_fingerprint,
)
from tests.conftest import make_settings

pytestmark = pytest.mark.model


def test_int8_embeddings_stay_within_cosine_098_of_fp32_on_real_sentences(
        minilm_index: Path, int8_encoder: OnnxInt8Encoder) -> None:
    """Real sentences from the indexed sample guidelines against the fp32 vectors stored for them."""
    reader = IndexReader.open(minilm_index)
    try:
        ids = np.linspace(0, reader.n_sentences - 1, num=min(240, reader.n_sentences)).astype(np.int64)
        texts = [s.text for s in reader.sentences(ids.tolist())]
        fp32 = np.asarray(reader.sentence_vectors[ids], dtype=np.float32)
    finally:
        reader.close()
    int8 = int8_encoder.encode_passages(texts)
    cosine = (fp32 * int8).sum(axis=1)
    assert float(cosine.mean()) >= 0.98, f"mean cosine {cosine.mean():.4f}"
    assert float(np.percentile(cosine, 5)) >= 0.97, f"5th percentile {np.percentile(cosine, 5):.4f}"


def test_int8_query_ranking_agrees_with_fp32(minilm_encoder: MiniLMEncoder, int8_encoder: OnnxInt8Encoder) -> None:
    passages = [
        "Perform hand hygiene before and after every patient contact, and after removing gloves.",
        "Adults should limit free sugars to less than 10% of total energy intake.",
        "Sterilise critical devices that enter sterile tissue or the vascular system.",
        "Eat at least 400 g of fruit and vegetables a day.",
    ]
    query = "When should healthcare workers clean their hands?"
    for encoder in (minilm_encoder, int8_encoder):
        scores = encoder.encode_passages(passages) @ encoder.encode_queries([query])[0]
        assert int(np.argmax(scores)) == 0


def test_length_sorted_batches_return_rows_in_input_order(int8_encoder: OnnxInt8Encoder) -> None:
    texts = ["Short one.", "A much longer sentence about infection prevention in outpatient settings " * 3,
             "Medium length sentence on sugar intake.", "Hand hygiene", "x"]
    together = int8_encoder.encode_passages(texts)
    alone = np.vstack([int8_encoder.encode_passages([t]) for t in texts])
    similarity = together @ alone.T
    # Each row comes back where its text was, even though batches run shortest first ...
    assert np.array_equal(np.argmax(similarity, axis=1), np.arange(len(texts)))
    # ... and only int8 noise separates it from the same text encoded alone (activations are
    # quantised per batch, so batch partners move a vector slightly).
    assert np.all(np.diag(similarity) > 0.97)


def test_export_is_cached_and_keyed_by_the_weights(int8_encoder: OnnxInt8Encoder, tmp_path: Path) -> None:
    graph = int8_encoder.graph_path
    assert graph is not None and graph.name == INT8_FILE
    assert graph.parent.name.endswith(f"{model_fingerprint(packaged_model_path())}-{toolchain_fingerprint()}")
    cache = graph.parent.parent
    before = graph.stat().st_mtime_ns
    assert export_int8(packaged_model_path(), cache) == graph  # second call: no re-export
    assert graph.stat().st_mtime_ns == before
    assert not list(graph.parent.glob(".*.onnx")), "temporary export files must not be left behind"


def test_the_export_cache_is_keyed_by_the_toolchain_versions(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.metadata

    before = toolchain_fingerprint()
    real = importlib.metadata.version
    monkeypatch.setattr(importlib.metadata, "version",
                        lambda package: "0.0.1" if package == "onnxruntime" else real(package))
    assert toolchain_fingerprint() != before


def test_settings_select_the_int8_encoder(tmp_path: Path) -> None:
    encoder = build_encoder(ModelSettings(encoder="minilm-int8", cache_dir=tmp_path))
    assert isinstance(encoder, OnnxInt8Encoder)
    assert encoder.name == "onnx-int8-unbatched:all-MiniLM-L6-v2"


def test_a_text_gets_the_same_vector_alone_beside_others_and_as_a_query(int8_encoder: OnnxInt8Encoder) -> None:
    """Each text is encoded alone: its vector does not move with other texts, parallel workers or threads.

    (The batched encoder before it gave the same sentence vectors with cosine of only about 0.99 to each other
    in two batches, because ONNX Runtime quantises activations per tensor.)"""
    text = "Alcohol-based hand rub is preferred for routine hand hygiene when hands are not visibly soiled."
    others = ["Free sugars should be below 10% of energy intake.", "Short.",
              "A much longer passage about opioid tapering schedules " * 12]
    alone = int8_encoder.encode_passages([text])[0]
    beside = int8_encoder.encode_passages(others + [text] + others)[len(others)]
    as_query = int8_encoder.encode_queries([text])[0]
    assert np.array_equal(alone, beside) and np.array_equal(alone, as_query)
    single_thread = OnnxInt8Encoder(cache_dir=int8_encoder._cache_dir, threads=1, query_threads=2)
    assert np.array_equal(single_thread.encode_passages(others + [text])[-1], alone)
    assert np.array_equal(single_thread.encode_queries([text])[0], alone)  # a query on a two-thread session
    tokens = int8_encoder.token_embeddings(others + [text])  # late chunking's input: each text alone too
    pooled = tokens.text_vector(len(others))
    assert np.allclose(pooled / np.linalg.norm(pooled), alone, atol=1e-6)


def test_an_fp32_index_is_not_served_with_int8_query_vectors(minilm_index: Path,
                                                             int8_encoder: OnnxInt8Encoder) -> None:
    with pytest.raises(IndexNotReadyError, match="built with sentence-transformers"):
        Engine.load(make_settings(minilm_index, "minilm-int8"), encoder=int8_encoder)


def test_missing_model_directory_is_a_clear_error(tmp_path: Path) -> None:
    from evsum.errors import EvsumError

    with pytest.raises(EvsumError, match="model directory not found"):
        OnnxInt8Encoder(tmp_path / "nowhere", cache_dir=tmp_path).warm_up()


def test_late_chunking_pools_sentence_vectors_from_one_passage_pass(tmp_path: Path,
                                                                    int8_encoder: OnnxInt8Encoder) -> None:
    import json

    from indexing.pipeline import run_index

    abstracts = tmp_path / "abstracts.jsonl"
    abstracts.write_text("\n".join(json.dumps(record) for record in [
        {"id": "hh", "title": "Hand hygiene", "text": "Hand hygiene prevents infection. Staff should clean hands "
         "before and after every patient contact. Alcohol-based rub is preferred when hands are not soiled."},
        {"id": "sugar", "title": "Free sugars", "text": "Adults should limit free sugars to under 10% of energy. "
         "A further reduction to 5% gives additional benefits. Sugary drinks are the main source in children."},
    ]) + "\n")
    settings = make_settings(tmp_path / "index", "minilm-int8").index
    settings.late_chunking = True
    run_index([abstracts], settings, int8_encoder, progress=False)
    reader = IndexReader.open(settings.index_dir)
    try:
        passages = reader.passages(list(range(reader.n_passages)))
        sentences = reader.sentences(list(range(reader.n_sentences)))
        stored_passages = np.asarray(reader.passage_vectors, dtype=np.float32)
        stored_sentences = np.asarray(reader.sentence_vectors, dtype=np.float32)
    finally:
        reader.close()
    # A passage vector is the mean over all its tokens: the same as encoding the passage alone.
    alone = int8_encoder.encode_passages([p.text for p in passages])
    assert np.all((alone * stored_passages).sum(axis=1) > 0.99)
    # A pooled sentence vector stays close to its sentence encoded alone, and nearest to its own
    # document's sentences (not always to itself: passage context bleeds in, the measured quality cost).
    standalone = int8_encoder.encode_passages([s.text for s in sentences])
    body = [i for i, s in enumerate(sentences) if len(s.text.split()) >= 4]
    similarity = stored_sentences[body] @ standalone[body].T
    assert np.all(np.diag(similarity) > 0.5)
    documents = np.array([sentences[i].document_id for i in body])
    assert np.array_equal(documents[np.argmax(similarity, axis=1)], documents)
    assert np.allclose(np.linalg.norm(stored_sentences, axis=1), 1.0, atol=1e-5)


def test_a_documents_vectors_do_not_depend_on_the_other_documents_indexed_with_it(
        tmp_path: Path, int8_encoder: OnnxInt8Encoder) -> None:
    """int8 activations are quantised per batch; batches never mix documents, so a rebuild is reproducible."""
    import json

    from indexing.pipeline import run_index

    records = {
        "hh": {"id": "hh", "title": "Hand hygiene", "text": "Hand hygiene prevents infection. Staff should clean "
               "hands before and after every patient contact. Alcohol-based rub is preferred when hands are "
               "not visibly soiled."},
        "long": {"id": "long", "title": "Free sugars and dental caries in children and adults", "text": " ".join(
            f"In cohort {i}, intake of free sugars above 10% of total energy was associated with a higher "
            f"incidence of dental caries over {i + 2} years of follow-up in children and adults." for i in range(12))},
    }

    def vectors(ids: list[str], name: str, across: bool = False) -> dict[str, np.ndarray]:
        source = tmp_path / f"{name}.jsonl"
        source.write_text("".join(json.dumps(records[i]) + "\n" for i in ids))
        settings = make_settings(tmp_path / name, "minilm-int8").index
        settings.batch_across_documents = across
        run_index([source], settings, int8_encoder, progress=False)
        reader = IndexReader.open(settings.index_dir)
        try:
            hh = reader.document_ids.index("hh")
            rows = np.flatnonzero(reader.sentence_doc == hh)
            passages = np.flatnonzero(reader.passage_doc == hh)
            return {"sentences": np.asarray(reader.sentence_vectors[rows], dtype=np.float32),
                    "passages": np.asarray(reader.passage_vectors[passages], dtype=np.float32)}
        finally:
            reader.close()

    alone, together = vectors(["hh"], "alone"), vectors(["long", "hh"], "together")
    assert np.array_equal(alone["sentences"], together["sentences"])
    assert np.array_equal(alone["passages"], together["passages"])
    # Mixing documents in the encoder's calls changes nothing either: each text is encoded alone.
    mixed = vectors(["long", "hh"], "mixed", across=True)
    assert np.array_equal(alone["sentences"], mixed["sentences"])
    assert np.array_equal(alone["passages"], mixed["passages"])
