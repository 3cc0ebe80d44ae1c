"""A passage is found by the words of its document's title (BM25 title field, search text version 3)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
from conftest import make_settings

from indexing.pipeline import run_index
from indexing.reader import IndexReader
from indexing.snapshot import PASSAGE_TITLE_REPEATS, DocumentContent, _bm25_texts
from models.encoders import HashEncoder

ABSTRACTS = [
    {"id": "vit-d", "title": "Vitamin D supplementation and fracture risk in older adults",
     "abstract": ["Daily supplementation reduced hip fractures by a fifth over three years.",
                  "Falls were not reduced in the treated group."]},
    {"id": "statin", "title": "Statins after ischaemic stroke",
     "abstract": ["Treatment lowered the rate of recurrent events over five years of follow-up.",
                  "Muscle symptoms were reported by a minority of participants."]},
]


def _index(tmp_path: Path) -> IndexReader:
    source = tmp_path / "abstracts.jsonl"
    source.write_text("\n".join(json.dumps(a) for a in ABSTRACTS) + "\n", encoding="utf-8")
    settings = make_settings(tmp_path / "index")
    run_index([source], settings.index, HashEncoder(), progress=False)
    return IndexReader.open(settings.index.index_dir)


def test_a_passage_is_found_by_a_word_only_its_title_has(tmp_path: Path) -> None:
    reader = _index(tmp_path)
    hits = reader.bm25_passages("vitamin", 5)
    assert len(hits.ids) >= 1
    assert {reader.document_ids[d] for d in reader.passage_doc[hits.ids].tolist()} == {"vit-d"}
    # the quoted text is untouched: the title lives only in the search text
    assert all("Vitamin" not in p.text for p in reader.passages(hits.ids.tolist()))


def test_sentences_are_not_given_the_title(tmp_path: Path) -> None:
    reader = _index(tmp_path)
    scores = reader.sentence_bm25_scores("stroke", np.arange(reader.n_sentences))
    assert not scores.any()  # "stroke" is only in a title
    assert reader.bm25_passages("stroke", 5).ids.size >= 1


def test_the_title_is_repeated_as_a_weighted_field(tmp_path: Path) -> None:
    reader = _index(tmp_path)
    doc = reader.document("statin")
    passages = [p for p in reader.passages(list(range(reader.n_passages))) if p.document_id == "statin"]
    content = DocumentContent(doc, [], [], passages, np.zeros((0, 1)), np.zeros((0, 1)))
    passage_texts, _ = _bm25_texts([content])
    assert passage_texts[0].count("Statins after ischaemic stroke") == PASSAGE_TITLE_REPEATS
    assert passage_texts[0].endswith(passages[0].text)


def test_a_stand_in_title_is_not_searched(tmp_path: Path) -> None:
    source = tmp_path / "untitled.jsonl"
    source.write_text(json.dumps({"id": "pm-77", "text": "Exercise lowered blood pressure in adults."}) + "\n",
                      encoding="utf-8")
    settings = make_settings(tmp_path / "index")
    run_index([source], settings.index, HashEncoder(), progress=False)
    reader = IndexReader.open(settings.index.index_dir)
    doc = reader.document("pm-77")
    assert doc.title == "Abstract pm-77"  # what the reader shows; BM25 does not search it
    passages = [p for p in reader.passages(list(range(reader.n_passages)))]
    content = DocumentContent(doc, [], [], passages, np.zeros((0, 1)), np.zeros((0, 1)))
    assert _bm25_texts([content])[0] == [passages[0].text]
    assert reader.bm25_passages("abstract", 5).ids.size == 0


def test_the_title_has_its_abbreviations_spelled_out(tmp_path: Path) -> None:
    reader = _index(tmp_path)
    doc = replace(reader.document("statin"), title="Statins after ischaemic stroke (IS) in primary care")
    passages = [p for p in reader.passages(list(range(reader.n_passages))) if p.document_id == "statin"]
    content = DocumentContent(doc, [], [], passages, np.zeros((0, 1)), np.zeros((0, 1)))
    text = _bm25_texts([content])[0][0]
    assert text.count("ischaemic stroke") >= PASSAGE_TITLE_REPEATS
    short = replace(doc, title="Outcomes after IS", id="other")
    defined = replace(passages[0], text="We studied ischaemic stroke (IS) in older adults.")
    text = _bm25_texts([DocumentContent(short, [], [], [defined], np.zeros((0, 1)), np.zeros((0, 1)))])[0][0]
    assert text.startswith("Outcomes after IS ischaemic stroke . ")
