"""The indexing job on real PDFs: exact provenance, idempotence, crash safety, bad input."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pymupdf
import pytest
from conftest import CDC_OUTPATIENT, DIABETES_PAPER, PREPRINT, SAMPLE_CORPUS, WHO_DIET, make_settings

from evsum.cli import main as cli_main
from evsum.errors import IndexingError
from indexing.pipeline import run_index
from indexing.reader import IndexReader
from indexing.snapshot import current_snapshot_dir
from models.encoders import HashEncoder


def _rows(index_dir: Path, sql: str) -> list[sqlite3.Row]:
    snapshot = current_snapshot_dir(index_dir)
    assert snapshot is not None
    connection = sqlite3.connect(snapshot / "meta.sqlite")
    connection.row_factory = sqlite3.Row
    try:
        return connection.execute(sql).fetchall()
    finally:
        connection.close()


def test_every_sentence_and_passage_is_a_verbatim_span_of_its_page(sample_index: Path) -> None:
    pages = {(r["document_id"], r["number"]): r["text"] for r in _rows(sample_index, "SELECT * FROM pages")}
    sentences = _rows(sample_index, "SELECT * FROM sentences")
    passages = _rows(sample_index, "SELECT * FROM passages")
    assert len(sentences) > 1000 and len(passages) > 200
    for row in [*sentences, *passages]:
        assert pages[(row["document_id"], row["page"])][row["char_start"] : row["char_end"]] == row["text"]


def test_page_numbers_match_pymupdf(sample_index: Path) -> None:
    documents = {r["source_path"]: r for r in _rows(sample_index, "SELECT * FROM documents")}
    assert len(documents) == 4
    for path, row in documents.items():
        with pymupdf.open(path) as pdf:
            assert row["pages"] == pdf.page_count
        numbers = [r["number"] for r in _rows(
            sample_index, f"SELECT number FROM pages WHERE document_id = '{row['id']}' ORDER BY number")]
        assert numbers == list(range(1, row["pages"] + 1))
    sentence_pages = _rows(sample_index, "SELECT DISTINCT s.page, d.pages FROM sentences s "
                                         "JOIN documents d ON d.id = s.document_id")
    assert all(1 <= r["page"] <= r["pages"] for r in sentence_pages)


def test_manifest_metadata_and_titles_are_attached(sample_index: Path) -> None:
    reader = IndexReader.open(sample_index)
    by_name = {Path(d.source_path).name: d for d in reader.documents.values()}
    who = by_name[WHO_DIET.name]
    assert who.title == "Healthy diet (WHO-EM/NUT/282/E)"
    assert who.metadata["licence"].startswith("CC BY-NC-SA")
    assert who.metadata["kind"] == "guideline"
    assert by_name[DIABETES_PAPER.name].metadata["doi"] == "10.1007/s00125-024-06103-w"
    assert all(len(d.sha256) == 64 and d.id == d.sha256[:16] for d in reader.documents.values())


def test_references_are_not_indexed(sample_index: Path) -> None:
    roles = {r["role"] for r in _rows(sample_index, "SELECT DISTINCT role FROM sentences")}
    assert "reference" not in roles
    assert "body" in roles and "heading" in roles


def test_vectors_are_aligned_with_rows(sample_index: Path) -> None:
    reader = IndexReader.open(sample_index)
    assert reader.sentence_vectors.shape == (reader.n_sentences, 384)
    assert reader.passage_vectors.shape == (reader.n_passages, 384)
    sentence = reader.sentences([123])[0]
    expected = HashEncoder().encode_passages([sentence.text])[0]
    assert np.allclose(reader.sentence_vectors[123], expected, atol=1e-6)


def _copy(sources: list[Path], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for source in sources:
        shutil.copy(source, folder / source.name)
    return folder


def test_rerun_on_unchanged_input_does_no_work(tmp_path: Path) -> None:
    corpus = _copy([WHO_DIET], tmp_path / "corpus")
    settings = make_settings(tmp_path / "index")
    first = run_index([corpus], settings.index, HashEncoder(), progress=False)
    calls: list[Path] = []

    def must_not_parse(path: Path):  # type: ignore[no-untyped-def]
        calls.append(path)
        raise AssertionError("parsed an unchanged file")

    second = run_index([corpus], settings.index, HashEncoder(), progress=False, parse_pdf=must_not_parse)
    assert second.up_to_date and second.snapshot_id == first.snapshot_id and not calls
    assert current_snapshot_dir(settings.index.index_dir) == settings.index.index_dir / "snapshots" / first.snapshot_id


def test_changed_file_is_reindexed_and_unchanged_vectors_reused(tmp_path: Path) -> None:
    corpus = _copy([WHO_DIET, DIABETES_PAPER], tmp_path / "corpus")
    settings = make_settings(tmp_path / "index")
    run_index([corpus], settings.index, HashEncoder(), progress=False)
    before = IndexReader.open(settings.index.index_dir)
    who_before = next(d for d in before.documents.values() if d.source_path.endswith(WHO_DIET.name))
    # Replace the diabetes paper's content under the same path.
    shutil.copy(PREPRINT, corpus / DIABETES_PAPER.name)
    parsed: list[str] = []
    from indexing.pdf import parse_pdf

    def counting_parse(path: Path):  # type: ignore[no-untyped-def]
        parsed.append(path.name)
        return parse_pdf(path)

    report = run_index([corpus], settings.index, HashEncoder(), progress=False, parse_pdf=counting_parse)
    assert parsed == [DIABETES_PAPER.name]
    assert report.new_documents == 1 and report.reused_documents == 1 and report.removed_documents == 1
    after = IndexReader.open(settings.index.index_dir)
    assert len(after.documents) == 2
    assert who_before.id in after.documents
    assert any(d.sha256 == _sha(PREPRINT) for d in after.documents.values())
    # Reused rows still satisfy the offsets invariant and vectors still match their text.
    who_sentences = [s for s in after.sentences(range(after.n_sentences)) if s.document_id == who_before.id]
    page = after.page(who_before.id, who_sentences[10].page)
    assert page.text[who_sentences[10].char_start : who_sentences[10].char_end] == who_sentences[10].text
    assert np.allclose(after.sentence_vectors[who_sentences[10].id],
                       HashEncoder().encode_passages([who_sentences[10].text])[0], atol=1e-6)


def test_documents_split_by_an_older_segmenter_are_split_again_when_their_files_are_given(tmp_path: Path) -> None:
    import dataclasses
    import json

    from indexing.segment import SEGMENTATION_VERSION
    from indexing.snapshot import SNAPSHOT_INFO, read_info

    who = _copy([WHO_DIET], tmp_path / "who")
    diabetes = _copy([DIABETES_PAPER], tmp_path / "diabetes")
    settings = make_settings(tmp_path / "index")
    run_index([who, diabetes], settings.index, HashEncoder(), progress=False)
    snapshot = current_snapshot_dir(settings.index.index_dir)
    assert snapshot is not None and read_info(snapshot).outdated_segmentation(SEGMENTATION_VERSION) == set()
    old = dataclasses.asdict(read_info(snapshot))
    for key in ("segmentation_version", "outdated_segmentation"):  # as written before the version existed
        del old["extra"][key]
    (snapshot / SNAPSHOT_INFO).write_text(json.dumps(old), encoding="utf-8")
    parsed: list[str] = []
    from indexing.pdf import parse_pdf

    def counting_parse(path: Path):  # type: ignore[no-untyped-def]
        parsed.append(path.name)
        return parse_pdf(path)

    # Only the WHO file is given: it is split again, the paper is kept as it was and stays marked.
    first = run_index([who], settings.index, HashEncoder(), progress=False, parse_pdf=counting_parse)
    assert parsed == [WHO_DIET.name] and first.resplit_documents == 1 and first.outdated_documents == 1
    assert first.new_documents == 1 and first.reused_documents == 1 and first.removed_documents == 0
    assert "1 documents still split by an older segmenter" in first.summary()
    reader = IndexReader.open(settings.index.index_dir)
    paper = next(d.id for d in reader.documents.values() if d.source_path.endswith(DIABETES_PAPER.name))
    assert len(reader.documents) == 2
    snapshot = current_snapshot_dir(settings.index.index_dir)
    assert snapshot is not None and read_info(snapshot).outdated_segmentation(SEGMENTATION_VERSION) == {paper}
    # A file that cannot be parsed now keeps its document as it was (still marked).
    def failing_parse(path: Path):  # type: ignore[no-untyped-def]
        raise RuntimeError("parser crashed")

    failed = run_index([diabetes], settings.index, HashEncoder(), progress=False, parse_pdf=failing_parse)
    assert failed.resplit_documents == 0 and len(failed.skipped) == 1 and failed.removed_documents == 0
    assert len(IndexReader.open(settings.index.index_dir).documents) == 2
    snapshot = current_snapshot_dir(settings.index.index_dir)
    assert snapshot is not None and read_info(snapshot).outdated_segmentation(SEGMENTATION_VERSION) == {paper}
    # Then both: only the paper is parsed again; after that nothing is left to do.
    second = run_index([who, diabetes], settings.index, HashEncoder(), progress=False, parse_pdf=counting_parse)
    assert parsed == [WHO_DIET.name, DIABETES_PAPER.name] and second.resplit_documents == 1
    assert second.outdated_documents == 0 and second.reused_documents == 1
    third = run_index([who, diabetes], settings.index, HashEncoder(), progress=False, parse_pdf=counting_parse)
    assert third.up_to_date and len(parsed) == 2


def _sha(path: Path) -> str:
    from indexing.pipeline import sha256_file

    return sha256_file(path)


def test_same_file_under_two_paths_is_stored_once(tmp_path: Path) -> None:
    corpus = _copy([WHO_DIET], tmp_path / "corpus")
    shutil.copy(WHO_DIET, corpus / "copy-of-diet.pdf")
    settings = make_settings(tmp_path / "index")
    report = run_index([corpus], settings.index, HashEncoder(), progress=False)
    assert report.documents == 1 and len(report.duplicates) == 1


def test_prune_drops_removed_files(tmp_path: Path) -> None:
    corpus = _copy([WHO_DIET, DIABETES_PAPER], tmp_path / "corpus")
    settings = make_settings(tmp_path / "index")
    run_index([corpus], settings.index, HashEncoder(), progress=False)
    (corpus / DIABETES_PAPER.name).unlink()
    kept = run_index([corpus], settings.index, HashEncoder(), progress=False)
    assert kept.up_to_date and kept.documents == 2, "without --prune documents are kept"
    pruned = run_index([corpus], settings.index, HashEncoder(), progress=False, prune=True)
    assert pruned.documents == 1 and pruned.removed_documents == 1


class ExplodingEncoder(HashEncoder):
    """Fails part-way through embedding, like a crash mid-run."""

    def __init__(self, fail_after: int) -> None:
        super().__init__()
        self.calls = 0
        self.fail_after = fail_after

    def encode_passages(self, texts, *, show_progress=False):  # type: ignore[no-untyped-def]
        self.calls += 1
        if self.calls > self.fail_after:
            raise RuntimeError("simulated crash while embedding")
        return super().encode_passages(texts)


def test_failure_mid_index_leaves_previous_snapshot_serving(tmp_path: Path) -> None:
    corpus = _copy([WHO_DIET], tmp_path / "corpus")
    settings = make_settings(tmp_path / "index")
    first = run_index([corpus], settings.index, HashEncoder(), progress=False)
    reader = IndexReader.open(settings.index.index_dir)
    hits_before = reader.bm25_passages("sugar intake adults", 5).ids.tolist()
    _copy([CDC_OUTPATIENT], corpus)
    with pytest.raises(RuntimeError, match="simulated crash"):
        run_index([corpus], settings.index, ExplodingEncoder(fail_after=1), progress=False)
    assert current_snapshot_dir(settings.index.index_dir).name == first.snapshot_id  # type: ignore[union-attr]
    again = IndexReader.open(settings.index.index_dir)
    assert again.snapshot_id == first.snapshot_id
    assert again.bm25_passages("sugar intake adults", 5).ids.tolist() == hits_before
    assert not list((settings.index.index_dir / "snapshots").glob(".staging-*"))
    rerun = run_index([corpus], settings.index, HashEncoder(), progress=False)
    assert rerun.documents == 2


def test_bad_inputs_are_reported_and_the_run_goes_on(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus = _copy([WHO_DIET], tmp_path / "corpus")
    (corpus / "empty.pdf").write_bytes(b"")
    data = WHO_DIET.read_bytes()
    (corpus / "truncated.pdf").write_bytes(data[: len(data) // 3])
    (corpus / "notes.pdf").write_text("this is not a PDF", encoding="utf-8")
    with pymupdf.open(WHO_DIET) as pdf:
        pdf.save(corpus / "locked.pdf", encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw="secret", owner_pw="o")
    with pymupdf.open() as image_only, pymupdf.open(WHO_DIET) as source:
        pixmap = source[0].get_pixmap()
        page = image_only.new_page(width=pixmap.width, height=pixmap.height)
        page.insert_image(page.rect, pixmap=pixmap)
        image_only.save(corpus / "scanned.pdf")
    (corpus / "abstracts.jsonl").write_text('{"id": "a1", "text": "One finding here."}\n{broken\n',
                                            encoding="utf-8")
    index_dir = tmp_path / "index"
    code = cli_main(["index", str(corpus), "--index-dir", str(index_dir), "--encoder", "hash", "--no-progress"])
    out, err = capsys.readouterr()
    assert code == 0
    assert "empty.pdf: empty file" in err
    assert "truncated.pdf: corrupt or truncated PDF" in err
    assert "notes.pdf: not a PDF file" in err
    assert "locked.pdf: encrypted PDF (password required)" in err
    assert "scanned.pdf: no text layer" in err
    assert "abstracts.jsonl:2: invalid JSON" in err
    assert "2 documents" in out and "6 skipped" in out
    assert len(IndexReader.open(index_dir).documents) == 2


def test_nothing_indexable_exits_non_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty.pdf").write_bytes(b"")
    code = cli_main(["index", str(tmp_path / "empty.pdf"), "--index-dir", str(tmp_path / "i"), "--encoder", "hash"])
    err = capsys.readouterr().err
    assert code == 1
    assert err.strip().splitlines()[-1].startswith("evsum: error: nothing could be indexed")
    with pytest.raises(IndexingError):
        run_index([tmp_path / "missing.pdf"], make_settings(tmp_path / "j").index, HashEncoder(), progress=False)


def test_sample_corpus_has_attribution() -> None:
    manifest = (SAMPLE_CORPUS / "manifest.csv").read_text(encoding="utf-8")
    for pdf in SAMPLE_CORPUS.rglob("*.pdf"):
        assert str(pdf.relative_to(SAMPLE_CORPUS)) in manifest


def test_sentence_traits_are_stored_at_index_time_and_match_a_recomputation(sample_index_copy: Path) -> None:
    """Cold start reads the stored traits; a snapshot without the file (older format) gets the same values."""
    from indexing.sentence_traits import TRAITS_FILE

    snapshot = current_snapshot_dir(sample_index_copy)
    assert snapshot is not None and (snapshot / TRAITS_FILE).is_file()
    stored = IndexReader.open(sample_index_copy)
    (snapshot / TRAITS_FILE).unlink()
    recomputed = IndexReader.open(sample_index_copy)
    for name in ("sentence_words", "sentence_section", "sentence_has_number", "sentence_finding_cue",
                 "sentence_complete", "sentence_quantity"):
        assert np.array_equal(getattr(stored, name), getattr(recomputed, name)), name
    assert stored.sentence_complete.any() and not stored.sentence_complete.all()
    assert stored.sentence_quantity.any() and not stored.sentence_quantity.all()
    assert stored.sentence_words.sum() > 10_000


def test_a_traits_file_from_before_a_trait_was_added_keeps_the_others(sample_index_copy: Path) -> None:
    """Only the missing trait is computed at load; the stored ones are read as they are."""
    from indexing.sentence_traits import TRAIT_NAMES, TRAITS_FILE

    snapshot = current_snapshot_dir(sample_index_copy)
    assert snapshot is not None
    full = IndexReader.open(sample_index_copy)
    with np.load(snapshot / TRAITS_FILE) as stored:
        older = {name: stored[name] for name in stored.files if name not in {"quantity", "figure_reference"}}
    older["words"] = older["words"] + 1000  # marks values that were read, not recomputed
    with (snapshot / TRAITS_FILE).open("wb") as handle:
        np.savez(handle, **older)
    reopened = IndexReader.open(sample_index_copy)
    assert np.array_equal(reopened.sentence_words, full.sentence_words + 1000)
    assert np.array_equal(reopened.sentence_quantity, full.sentence_quantity)
    assert np.array_equal(reopened.sentence_figure_reference, full.sentence_figure_reference)
    with np.load(snapshot / TRAITS_FILE) as stored:  # written back once, so the next start reads it
        assert set(stored.files) == set(TRAIT_NAMES) | {f"fingerprint_{name}" for name in TRAIT_NAMES}
        assert np.array_equal(stored["quantity"], full.sentence_quantity)
        assert np.array_equal(stored["figure_reference"], full.sentence_figure_reference)
        assert np.array_equal(stored["words"], full.sentence_words + 1000)
    assert not [p for p in snapshot.iterdir() if p.name.endswith(".tmp")]


def test_a_trait_whose_definition_changed_is_recomputed(sample_index_copy: Path) -> None:
    """A trait stored with another definition's fingerprint (a regular expression changed since the snapshot
    was written) is recomputed at load; the traits whose definition did not change are read as stored."""
    from indexing.sentence_traits import TRAITS_FILE, trait_fingerprint

    snapshot = current_snapshot_dir(sample_index_copy)
    assert snapshot is not None
    full = IndexReader.open(sample_index_copy)
    with np.load(snapshot / TRAITS_FILE) as stored:
        arrays = {name: stored[name] for name in stored.files}
    assert str(arrays["fingerprint_quantity"]) == trait_fingerprint("quantity")
    arrays["quantity"] = ~arrays["quantity"]  # what an older definition might have said
    arrays["fingerprint_quantity"] = np.array("0" * 16)
    arrays["words"] = arrays["words"] + 1000  # read as stored: its definition did not change
    with (snapshot / TRAITS_FILE).open("wb") as handle:
        np.savez(handle, **arrays)
    reopened = IndexReader.open(sample_index_copy)
    assert np.array_equal(reopened.sentence_quantity, full.sentence_quantity)
    assert np.array_equal(reopened.sentence_words, full.sentence_words + 1000)
    with np.load(snapshot / TRAITS_FILE) as stored:
        assert str(stored["fingerprint_quantity"]) == trait_fingerprint("quantity")


def test_a_damaged_traits_file_is_recomputed_and_an_unwritable_one_still_opens(
        sample_index_copy: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """A traits file cut short (power loss) counts as absent; a failed write-back is logged, not fatal."""
    import indexing.reader as reader_module
    from indexing.sentence_traits import TRAITS_FILE

    snapshot = current_snapshot_dir(sample_index_copy)
    assert snapshot is not None
    full = IndexReader.open(sample_index_copy)
    (snapshot / TRAITS_FILE).write_bytes((snapshot / TRAITS_FILE).read_bytes()[:100])

    def refuse(path: Path, traits: object) -> None:
        raise PermissionError(13, "read-only index", str(path))

    monkeypatch.setattr(reader_module, "save_traits", refuse)
    with caplog.at_level("WARNING", logger="evsum.indexing"):
        reopened = IndexReader.open(sample_index_copy)
    assert np.array_equal(reopened.sentence_quantity, full.sentence_quantity)
    assert np.array_equal(reopened.sentence_words, full.sentence_words)
    assert "could not store" in caplog.text
    monkeypatch.undo()
    IndexReader.open(sample_index_copy)  # now writable: the file is repaired
    with np.load(snapshot / TRAITS_FILE) as stored:
        assert np.array_equal(stored["complete"], full.sentence_complete)
