"""Abbreviation definitions and the BM25 search text that spells them out, on real sample text."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import numpy as np
import pytest
from conftest import PREPRINT, WHO_DIET, make_settings

from indexing.abbreviations import document_definitions, find_definitions, search_texts
from indexing.pipeline import run_index
from indexing.reader import IndexReader
from indexing.snapshot import SEARCH_TEXT_VERSION, SNAPSHOT_INFO, SnapshotInfo, current_snapshot_dir, read_info
from models.encoders import HashEncoder


@pytest.mark.parametrize(("text", "short", "long"), [
    # sentences of the sample preprint and the CDC outpatient guide
    ("Drosophila larvae lacking REV1 are hypersensitive to methyl methanesulfonate (MMS) and have highly "
     "elevated levels of γ-H2Av foci", "MMS", "methyl methanesulfonate"),
    ("Loss of the REV1 C-terminal domain (CTD), which recruits multiple translesion polymerases", "CTD",
     "C-terminal domain"),
    ("guidance from the Centers for Disease Control and Prevention (CDC)", "CDC",
     "Centers for Disease Control and Prevention"),
    ("Use of alcohol-based hand rubs (ABHR) as the primary mode of hand hygiene", "ABHR", "alcohol-based hand rubs"),
    # a plural definition also defines the singular
    ("Analysis of potential single nucleotide polymorphisms (SNPs) reveals", "SNP", "single nucleotide polymorphisms"),
    # a lower-case-led short form, and one whose letters are not all word initials
    ("Dox treatment after doxorubicin (Dox) was given", "Dox", "doxorubicin"),
    ("we explore how changing the elastin-like polypeptide (ELP) length", "ELP", "elastin-like polypeptide"),
    # names that start with a capitalised function word, and short forms that start like "see" or "ref"
    ("data from The Cancer Genome Atlas (TCGA) cohorts", "TCGA", "The Cancer Genome Atlas"),
    ("the Surveillance, Epidemiology, and End Results (SEER) programme", "SEER",
     "Surveillance, Epidemiology, and End Results"),
    ("the NCBI reference sequence (RefSeq) database", "RefSeq", "reference sequence"),
])
def test_definitions_are_found(text: str, short: str, long: str) -> None:
    assert find_definitions(text)[short] == long


@pytest.mark.parametrize("text", [
    "as shown before (12) and in Figure 2 (Figure 1D)",
    "in 30 obese subjects (age 42±11 years), (n = 12), (p < 0.05), (mean 4.2)",
    "metamizole (dipyrone) is an ordinary word in parentheses, not a short form",
    "a current recorded in the same patch (IC) after",  # the algorithm's classic miss: starts at "in"
    "diluted in vivo with 0.0001% (v/v) Triton",
    "ZIKV (Zika virus)",  # the reverse order is not a definition of this kind
    "the oncogenic KRAS mutant (G12C)",  # a point mutation
    "kits were purchased from (Promega)",  # a capitalised word
    "the first of the enhancer regions (region 1)",
    "pPAG1::gPAG1-FM (gPAG1-FM)",  # a long form that ends with its short form
    "contact ijk@example.org (IJK)",
])
def test_parentheses_that_define_nothing(text: str) -> None:
    assert find_definitions(text) == {}


def test_first_definition_wins() -> None:
    assert find_definitions("high-fat diet (HFD) then later heavy fat diet (HFD)") == {"HFD": "high-fat diet"}


def test_a_plural_short_form_is_made_singular_only_when_its_long_form_is_plural() -> None:
    assert find_definitions("hepatitis B surface (HBs) antigen") == {"HBs": "hepatitis B surface"}
    assert find_definitions("dendritic cells (DCs) matured") == {"DC": "dendritic cells"}


def test_search_text_spells_out_short_forms_once() -> None:
    definitions = {"ELP": "elastin-like polypeptide", "SNP": "single nucleotide polymorphisms"}
    texts = ["shortening ELP produces fibers", "two SNPs and one SNP", "the elastin-like polypeptide (ELP)",
             "HELP and ELPSE words", "ELP-based", "nothing here"]
    assert search_texts(texts, definitions) == [
        "shortening ELP produces fibers elastin-like polypeptide",
        "two SNPs and one SNP single nucleotide polymorphisms",
        "the elastin-like polypeptide (ELP)",  # already spelled out
        "HELP and ELPSE words",  # inside other words: no match
        "ELP-based elastin-like polypeptide",
        "nothing here",
    ]
    assert search_texts(texts, {}) == texts


def test_preprint_definitions_are_real_abbreviations() -> None:
    """Every definition found in the sample preprint is one a reader would accept (checked by hand)."""
    from indexing.pdf import parse_pdf
    from indexing.segment import segment

    _, passages = segment(parse_pdf(PREPRINT), "x", passage_max_words=130)
    found = document_definitions(p.text for p in passages)
    assert found["MMS"] == "methyl methanesulfonate"
    assert found["DSB"] == "double-stranded breaks"
    assert found["TLS"] == "translesion synthesis"
    assert found["DMSO"] == "dimethyl sulfoxide"
    assert len(found) >= 10
    assert all(not re.match(r"(?i)(in|the|of|with)\b", long) for long in found.values())


def test_bm25_finds_a_sentence_by_the_long_form_of_its_short_form(sample_index: Path) -> None:
    reader = IndexReader.open(sample_index)
    ids = np.arange(reader.n_sentences)
    texts = [s.text for s in reader.sentences(ids.tolist())]
    only_short = [i for i, t in enumerate(texts)
                  if t.startswith("Loss of the REV1 C-terminal domain (CTD)") or
                  (re.search(r"\bMMS\b", t) and "methanesulfonate" not in t.lower())]
    assert only_short, "the preprint uses MMS without spelling it out"
    scores = reader.sentence_bm25_scores("methyl methanesulfonate sensitivity", ids)
    assert all(scores[i] > 0 for i in only_short)
    # what is quoted is still exactly the page text at the sentence's offsets
    for sentence in reader.sentences(only_short):
        page = reader.page(sentence.document_id, sentence.page)
        assert page.text[sentence.char_start:sentence.char_end] == sentence.text


def test_an_index_with_older_search_text_is_rewritten_once(tmp_path: Path) -> None:
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / WHO_DIET.name).write_bytes(WHO_DIET.read_bytes())
    settings = make_settings(tmp_path / "index")
    first = run_index([folder], settings.index, HashEncoder(), progress=False)
    snapshot = current_snapshot_dir(settings.index.index_dir)
    assert snapshot is not None and read_info(snapshot).search_text_version == SEARCH_TEXT_VERSION
    old = dataclasses.asdict(read_info(snapshot))
    del old["extra"]["search_text_version"]  # as written before the version existed
    (snapshot / SNAPSHOT_INFO).write_text(json.dumps(old), encoding="utf-8")
    assert read_info(snapshot).search_text_version == 1

    def must_not_parse(path: Path):  # type: ignore[no-untyped-def]
        raise AssertionError("an unchanged file was parsed again")

    second = run_index([folder], settings.index, HashEncoder(), progress=False, parse_pdf=must_not_parse)
    assert not second.up_to_date and second.snapshot_id != first.snapshot_id
    assert second.reused_documents == 1 and second.new_documents == 0
    rewritten = current_snapshot_dir(settings.index.index_dir)
    assert rewritten is not None and read_info(rewritten).search_text_version == SEARCH_TEXT_VERSION
    third = run_index([folder], settings.index, HashEncoder(), progress=False, parse_pdf=must_not_parse)
    assert third.up_to_date and third.snapshot_id == second.snapshot_id


def test_snapshot_info_stays_readable_across_versions(sample_index: Path, tmp_path: Path) -> None:
    """snapshot.json keeps the fields older code knows (the version lives in ``extra``), and keys
    written by newer code are ignored rather than refused."""
    snapshot = current_snapshot_dir(sample_index)
    assert snapshot is not None
    raw = json.loads((snapshot / SNAPSHOT_INFO).read_text(encoding="utf-8"))
    assert set(raw) == {f.name for f in dataclasses.fields(SnapshotInfo)}
    assert raw["extra"]["search_text_version"] == SEARCH_TEXT_VERSION
    (tmp_path / SNAPSHOT_INFO).write_text(json.dumps({**raw, "written_by_a_newer_version": 1}), encoding="utf-8")
    assert read_info(tmp_path).id == raw["id"]
