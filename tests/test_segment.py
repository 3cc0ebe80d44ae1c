"""Sentence splitting, passage grouping and abstract parsing keep exact offsets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evsum.records import Role
from evsum.text import word_count
from indexing.abstracts import BadLine, parse_abstract, read_abstracts
from indexing.parsed import ParsedPage, ParsedSource, Region
from indexing.segment import segment, split_sentences


def test_split_sentences_keeps_abbreviations_and_decimals() -> None:
    text = "Patients (n = 42) were enrolled, e.g. in Fig. 2. The HR was 0.8 (95% CI 0.6-0.9).  Dr. Lee agreed."
    spans = split_sentences(text, offset=10)
    pieces = [text[a - 10 : b - 10] for a, b in spans]
    assert pieces == [
        "Patients (n = 42) were enrolled, e.g. in Fig. 2.",
        "The HR was 0.8 (95% CI 0.6-0.9).",
        "Dr. Lee agreed.",
    ]


def test_a_full_stop_after_a_bracket_ends_its_own_sentence_not_the_next() -> None:
    # syntok ends the sentence at "(Figures 1D and 1E)" and starts the next with its full stop.
    text = "Peaks rose by 48 hours. (Figures 1D and 1E). We next considered motifs. A dose of .5 mg was given."
    pieces = [text[a:b] for a, b in split_sentences(text)]
    assert pieces == ["Peaks rose by 48 hours.", "(Figures 1D and 1E).", "We next considered motifs.",
                      "A dose of .5 mg was given."]
    # Stray punctuation with nothing before it is left out of the sentence; offsets stay verbatim.
    text = ". Cells were allowed to attach overnight (16 h)."
    assert [text[a - 5:b - 5] for a, b in split_sentences(text, offset=5)] == [text[2:]]
    # Not after a stop of its own (syntok keeps a stop on the next line with its sentence); punctuation alone is
    # not a sentence.
    for text, expected in (("Treatment (A).\n\n. B was given.", ["Treatment (A).", "B was given."]),
                           ("Done. . Next we go.", ["Done.", "Next we go."]),
                           ("It rose (Fig. 2)\n. Then it fell.", ["It rose (Fig. 2)\n.", "Then it fell."]),
                           ("Fine. . . .", ["Fine."])):
        assert [text[a:b] for a, b in split_sentences(text)] == expected, text


def test_a_bracket_cut_off_an_unfinished_sentence_is_joined_back_but_list_items_are_not() -> None:
    import syntok.segmenter as syntok

    text = ("Patients were screened with the test (AUDIT-C) (262,263) (see Recommendations 8 and 12). Because "
            "depression often coexists, it matters.")
    cut = [" ".join(t.value for t in s) for p in syntok.analyze(text) for s in p]
    assert len(cut) == 3, "syntok cuts the sentence before its last bracket (what is mended here)"
    assert [text[a:b] for a, b in split_sentences(text)] == [
        "Patients were screened with the test (AUDIT-C) (262,263) (see Recommendations 8 and 12).",
        "Because depression often coexists, it matters."]
    # A finished sentence, a list item and a new paragraph keep their own brackets.
    for text, expected in (("The trial ended. (A list is given in the appendix.)",
                            ["The trial ended.", "(A list is given in the appendix.)"]),
                           ("Three steps were used; (4) masking of regions came last.",
                            ["Three steps were used; (4) masking of regions came last."]),
                           ("Reads were aligned to the genome\n\n(Table 1) lists the samples.",
                            ["Reads were aligned to the genome", "(Table 1) lists the samples."])):
        assert [text[a:b] for a, b in split_sentences(text)] == expected, text


def _source(text: str, regions: list[Region]) -> ParsedSource:
    return ParsedSource(title="t", pages=[ParsedPage(1, text)], regions=regions)


def test_segment_offsets_roles_and_passage_budget() -> None:
    body = " ".join(f"Sentence number {i} has exactly seven words." for i in range(40))
    heading = "Results"
    text = f"{heading}\n\n{body}\n\nSmith J et al. A reference. Nature 2020;1:2."
    ref_start = text.index("Smith")
    regions = [
        Region(1, 0, len(heading), Role.HEADING, "Results"),
        Region(1, len(heading) + 2, len(heading) + 2 + len(body), Role.BODY, "Results"),
        Region(1, ref_start, len(text), Role.REFERENCE, "References"),
    ]
    sentences, passages = segment(_source(text, regions), "doc", passage_max_words=30)
    assert all(text[s.char_start : s.char_end] == s.text for s in sentences)
    assert all(text[p.char_start : p.char_end] == p.text for p in passages)
    assert sentences[0].role is Role.HEADING and sentences[0].passage_id == -1
    assert not any("reference" in s.text for s in sentences), "references are not indexed"
    body_sentences = [s for s in sentences if s.role is Role.BODY]
    assert len(body_sentences) == 40
    assert all(word_count(p.text) <= 30 for p in passages)
    assert [s.id for s in sentences] == list(range(len(sentences)))
    for passage in passages:
        inside = [s for s in sentences if s.passage_id == passage.id]
        assert inside[0].id == passage.first_sentence_id and inside[-1].id == passage.last_sentence_id


def test_segment_never_crosses_pages_or_sections() -> None:
    page1, page2 = "Alpha one two three. Beta one two three.", "Gamma one two three."
    source = ParsedSource("t", [ParsedPage(1, page1), ParsedPage(2, page2)], [
        Region(1, 0, 20, Role.BODY, "Methods"),
        Region(1, 21, len(page1), Role.BODY, "Results"),
        Region(2, 0, len(page2), Role.BODY, "Results"),
    ])
    _, passages = segment(source, "d", passage_max_words=500)
    assert [(p.page, p.section) for p in passages] == [(1, "Methods"), (1, "Results"), (2, "Results")]


def test_scifact_sentences_stay_one_to_one() -> None:
    record = {"doc_id": 4983, "title": "T", "abstract": ["First finding is here.", "Second, e.g. this one."],
              "structured": False}
    parsed = parse_abstract(record)
    assert parsed.record_id == "4983"
    sentences, _ = segment(parsed.source, "4983", passage_max_words=130)
    assert [s.text for s in sentences] == record["abstract"]


def test_pubmedqa_sections_become_headings() -> None:
    record = {"id": "123", "contexts": ["We asked why.", "We found it."], "labels": ["BACKGROUND", "RESULTS"],
              "year": "2001"}
    parsed = parse_abstract(record)
    sentences, _ = segment(parsed.source, "123", passage_max_words=130)
    assert [(s.role, s.section, s.text) for s in sentences] == [
        (Role.HEADING, "Background", "Background"),
        (Role.BODY, "Background", "We asked why."),
        (Role.HEADING, "Results", "Results"),
        (Role.BODY, "Results", "We found it."),
    ]
    assert parsed.source.metadata == {"year": "2001"}


def test_read_abstracts_reports_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text("\n".join([
        json.dumps({"id": "1", "title": "Good", "text": "A finding. Another."}),
        "{not json",
        json.dumps(["a list"]),
        json.dumps({"id": "2", "title": "Empty"}),
    ]) + "\n", encoding="utf-8")
    items = list(read_abstracts(path))
    bad = {i.line_number: i.reason for i in items if isinstance(i, BadLine)}
    assert set(bad) == {2, 3, 4}
    assert bad[2].startswith("invalid JSON")
    assert "no abstract text" in bad[4]


@pytest.mark.parametrize("record", [{"text": "Same text."}, {"title": "x", "text": "Same text."}])
def test_abstract_hash_depends_on_content(record: dict[str, str]) -> None:
    assert parse_abstract(record).sha256 != parse_abstract({**record, "text": "Other text."}).sha256


@pytest.mark.parametrize("text, complete", [
    ("The intake of free sugars should", False),
    ("1. Key situations where hand hygiene should be performed include:", False),
    ("b. Hand hygiene should be performed", False),
    ("Rates fell by a fifth (Fig. 2).", True),
    ("The map classifies 78% of pathogenic variants [24].", True),
    ("Is it safe?", True),
    ("›› access to hand hygiene facilities at the point of care and within 5 meters of sanitation facilities;", True),
    ("the scope of changes introduced;", False),
    ("one two three four five six seven;", False),
    ("one two three four five six seven eight; ", True),
])
def test_only_finished_sentences_count_as_complete(text: str, complete: bool) -> None:
    from indexing.sentence_traits import is_complete_sentence

    assert is_complete_sentence(text) is complete


@pytest.mark.parametrize("text, aim", [
    ("Here, we investigated the role of Spn-E using an ATPase-deficient mutant.", True),
    ("To this end, we analyzed a large dataset from rtfMRI-NF studies.", True),
    ("To determine whether the effect depends on dose, mice were given three doses.", True),
    ("The aim of this study was to compare two tapering schedules.", True),
    ("We aimed to test whether the variant disrupts splicing.", True),
    ("This study aimed to characterise whole-brain activation patterns.", True),
    ("Here, we found that UFMylation is required for the efficient activation of CHK1.", False),
    ("Here we present the 2.05-Å crystal structure of the λ RexA dimer.", False),
    ("Tapering reduced withdrawal symptoms in 40% of patients.", False),
    ("Total fat should not exceed 30% of total energy intake.", False),
])
def test_statements_of_what_a_study_set_out_to_do_are_told_from_findings(text: str, aim: bool) -> None:
    from indexing.sentence_traits import SentenceRows, sentence_traits

    rows = SentenceRows(texts=[text], sections=[None], pages=[1], roles=["body"], documents=["d"])
    assert sentence_traits(rows, ["aim_statement"])["aim_statement"].tolist() == [aim]
