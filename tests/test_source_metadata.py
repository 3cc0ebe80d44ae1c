"""Source metadata at indexing: from the PDF, from sidecar manifests (CSV, JSON, RIS) that win, shown by the API."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import CDC_OUTPATIENT, DIABETES_PAPER, PREPRINT, WHO_DIET, add_keys, bearer, make_settings
from fastapi.testclient import TestClient

from evsum.errors import IndexingError
from evsum.records import DocType
from indexing.pipeline import run_index
from indexing.reader import IndexReader
from indexing.sidecar import parse_ris, read_sidecars
from models.encoders import HashEncoder
from service.app import create_app

RIS = """TY  - JOUR
TI  - A loss-of-function mutation in KCNJ11 causing sulfonylurea-sensitive diabetes in early adult life
AU  - Vedovato, Natascia
AU  - Ashcroft, Frances M.
PY  - 2024
JO  - Diabetologia
DO  - https://doi.org/10.1007/s00125-024-06103-w
AN  - 38358447
M3  - Case report
LA  - en
ER  -
TY  - RPRT
TI  - Healthy diet
PB  - World Health Organization
L1  - file://guidelines/who.pdf
DA  - 2019-06
ET  - 1.0
M3  - Guideline
ER  -
"""


def test_ris_records_become_sidecar_fields() -> None:
    paper, guideline = parse_ris(RIS)
    assert paper["authors"] == "Vedovato, Natascia; Ashcroft, Frances M."
    assert paper["year"] == "2024" and paper["pmid"] == "38358447" and paper["doc_type"] == "Case report"
    assert guideline["file"] == "guidelines/who.pdf" and guideline["published"] == "2019-06"


def test_pdf_metadata_of_the_sample_corpus(sample_index: Path) -> None:
    reader = IndexReader.open(sample_index)
    by_title = {d.title[:20]: d.source for d in reader.documents.values()}
    cdc = by_title["Guide to Infection P"]
    assert (cdc.doc_type, cdc.doc_type_origin) == (DocType.GUIDELINE, "sidecar")  # manifest.csv kind
    assert (cdc.version, cdc.published, cdc.year) == ("2.3", "2016-09", 2016)  # read from the title page
    assert cdc.issuer.startswith("Centers for Disease Control") and cdc.language == "en"
    paper = by_title["A loss-of-function m"]
    assert paper.doi == "10.1007/s00125-024-06103-w" and paper.year == 2024 and paper.issuer == "Diabetologia"
    preprint = by_title["REV1 Coordinates a M"]
    assert preprint.doc_type_origin in ("rules", "classifier") and preprint.licence == "CC BY 4.0"


@pytest.fixture(scope="module")
def sidecar_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three sample PDFs with a RIS and a JSON sidecar (no folder manifest)."""
    root = tmp_path_factory.mktemp("sidecar-corpus")
    (root / "guidelines").mkdir()
    shutil.copy(DIABETES_PAPER, root / "paper.pdf")
    shutil.copy(PREPRINT, root / "preprint.pdf")
    shutil.copy(WHO_DIET, root / "guidelines" / "who.pdf")
    (root / "refs.ris").write_text(RIS, encoding="utf-8")
    (root / "extra.json").write_text(json.dumps({"documents": [
        {"file": "preprint.pdf", "authors": ["Khodaverdian, V.", "McVey, M."], "type": "Cohort study",
         "language": "en", "licence": "CC BY 4.0"}]}), encoding="utf-8")
    index_dir = tmp_path_factory.mktemp("sidecar-index")
    sidecar = read_sidecars([root / "refs.ris", root / "extra.json"])
    run_index([root], make_settings(index_dir).index, HashEncoder(), progress=False, sidecar=sidecar)
    return index_dir


def test_sidecar_values_win_over_the_pdf(sidecar_index: Path) -> None:
    reader = IndexReader.open(sidecar_index)
    sources = {Path(d.source_path).name: (d.title, d.source) for d in reader.documents.values()}
    title, paper = sources["paper.pdf"]  # matched by DOI (the RIS has no file link for it)
    assert paper.authors == ("Vedovato, Natascia", "Ashcroft, Frances M.")  # the PDF names one author
    assert paper.pmid == "38358447" and paper.doi == "10.1007/s00125-024-06103-w"
    assert (paper.doc_type, paper.doc_type_origin) == (DocType.CASE_REPORT, "sidecar")
    title, who = sources["who.pdf"]  # matched by the L1 file path
    assert title == "Healthy diet" and who.issuer == "World Health Organization"
    assert (who.doc_type, who.published, who.year, who.version) == (DocType.GUIDELINE, "2019-06", 2019, "1.0")
    _title, preprint = sources["preprint.pdf"]  # matched by file name in the JSON manifest
    assert preprint.doc_type is DocType.COHORT and preprint.authors == ("Khodaverdian, V.", "McVey, M.")


def test_metadata_is_served_in_documents_search_and_summaries(sidecar_index: Path) -> None:
    settings = make_settings(sidecar_index)
    keys = add_keys(settings.database_url)
    with TestClient(create_app(settings, encoder=HashEncoder())) as client:
        headers = bearer(keys["clinician"])
        documents = client.get("/v1/documents", headers=headers).json()["documents"]
        who = next(d for d in documents if d["title"] == "Healthy diet")
        assert who["source"]["doc_type"] == "guideline" and who["source"]["doc_type_label"] == "Guideline"
        assert who["source"]["issuer"] == "World Health Organization" and who["source"]["published"] == "2019-06"
        hits = client.post("/v1/search", json={"query": "free sugars intake", "top_k": 5}, headers=headers).json()
        assert hits["hits"][0]["citation"]["doc_type"] == "guideline"
        assert hits["hits"][0]["citation"]["issuer"] == "World Health Organization"
        summary = client.post("/v1/summaries", json={"question": "What is a healthy intake of free sugars?"},
                              headers=headers).json()
        assert summary["status"] == "answered"
        for sentence in summary["sentences"]:
            assert sentence["citation"]["doc_type_label"] in {"Guideline", "Case report", "Cohort study"}


def test_bad_sidecars_are_reported(tmp_path: Path) -> None:
    (tmp_path / "m.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(IndexingError, match="not valid JSON"):
        read_sidecars([tmp_path / "m.json"])
    (tmp_path / "m.txt").write_text("x", encoding="utf-8")
    with pytest.raises(IndexingError, match=r"expected a \.csv, \.json or \.ris"):
        read_sidecars([tmp_path / "m.txt"])


def test_cli_index_takes_a_csv_sidecar(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from evsum.cli import main

    shutil.copy(CDC_OUTPATIENT, tmp_path / "cdc.pdf")
    (tmp_path / "meta.csv").write_text("file,title,issuer,doc_type,published,version\ncdc.pdf,Outpatient guide,"
                                       "CDC,guideline,2016-09,2.3\n", encoding="utf-8")
    code = main(["index", str(tmp_path / "cdc.pdf"), "--index-dir", str(tmp_path / "index"), "--encoder", "hash",
                 "--no-progress", "--metadata", str(tmp_path / "meta.csv")])
    assert code == 0, capsys.readouterr().err
    document = next(iter(IndexReader.open(tmp_path / "index").documents.values()))
    assert document.title == "Outpatient guide" and document.source.issuer == "CDC"


def test_a_changed_sidecar_reindexes_only_the_documents_it_changes(tmp_path: Path) -> None:
    shutil.copy(CDC_OUTPATIENT, tmp_path / "cdc.pdf")
    shutil.copy(DIABETES_PAPER, tmp_path / "paper.pdf")
    settings = make_settings(tmp_path / "index")
    meta = tmp_path / "meta.csv"
    meta.write_text("file,issuer\ncdc.pdf,CDC\n", encoding="utf-8")
    first = run_index([tmp_path], settings.index, HashEncoder(), progress=False, sidecar=read_sidecars([meta]))
    assert first.new_documents == 2
    again = run_index([tmp_path], settings.index, HashEncoder(), progress=False, sidecar=read_sidecars([meta]))
    assert again.up_to_date  # same sidecar: nothing to do
    meta.write_text("file,issuer,doc_type\ncdc.pdf,CDC,guideline\n", encoding="utf-8")
    changed = run_index([tmp_path], settings.index, HashEncoder(), progress=False, sidecar=read_sidecars([meta]))
    assert (changed.new_documents, changed.reused_documents) == (1, 1)
    cdc = next(d for d in IndexReader.open(settings.index.index_dir).documents.values() if "cdc" in d.source_path)
    assert (cdc.source.issuer, cdc.source.doc_type) == ("CDC", DocType.GUIDELINE)


def test_csv_sidecar_fields_may_span_lines_and_bad_csv_is_an_indexing_error(tmp_path: Path) -> None:
    from indexing.sidecar import read_sidecar_records

    sidecar = tmp_path / "m.csv"
    sidecar.write_bytes(b'file,title,authors\r\nwho.pdf,"Healthy diet:\na fact sheet","Smith J;\rJones K"\r\n')
    rows = read_sidecar_records(sidecar)
    assert rows == [{"file": "who.pdf", "title": "Healthy diet:\na fact sheet", "authors": "Smith J;\nJones K"}]
    sidecar.write_text("file,title\nwho.pdf," + "x" * 200_000 + "\n", encoding="utf-8")  # beyond the field limit
    with pytest.raises(IndexingError, match="not readable CSV"):
        read_sidecar_records(sidecar)
