"""Sentences cut in two by a page break: found at index time, quoted whole, each part cited to its own page."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import make_settings

from evsum.engine import Engine
from indexing.reader import IndexReader
from indexing.sentence_traits import SentenceRows, page_break_continuations
from models.encoders import MiniLMEncoder


def _rows(*sentences: tuple[str, int, str], document: str = "d") -> SentenceRows:
    texts, pages, roles = zip(*sentences)
    return SentenceRows(texts=list(texts), sections=[None] * len(texts), pages=list(pages), roles=list(roles),
                        documents=[document] * len(texts))


@pytest.mark.parametrize("sentences, expected", [
    # A lower-case start on the next page finishes an unfinished sentence.
    ((("Hand rub is recommended by the WHO", 8, "body"), ("because of its activity against bacteria.", 9, "body")),
     [1, -1]),
    # The first part ends on a word no sentence ends with; the second starts with an acronym.
    ((("Most infections followed the", 3, "body"), ("COVID-19 pandemic in most regions.", 4, "body")), [1, -1]),
    # A caption placed at the top of the next page stands between the two parts.
    ((("Doses were lowered for patients with", 3, "body"), ("Figure 2. Doses.", 4, "caption"),
      ("renal impairment in both arms.", 4, "body")), [2, -1, -1]),
    # A finished sentence is not continued, even by a lower-case start.
    ((("The trial ended early.", 3, "body"), ("and then more text followed.", 4, "body")), [-1, -1]),
    # A heading in between: the text does not run on.
    ((("Doses were lowered for patients with", 3, "body"), ("Results", 4, "heading"),
      ("renal impairment in both arms.", 4, "body")), [-1, -1, -1]),
    # Two pages apart, or on the same page (the parser already joins column breaks): no link.
    ((("Doses were lowered for patients with", 3, "body"), ("renal impairment in both arms.", 5, "body")), [-1, -1]),
    ((("Doses were lowered for patients with", 3, "body"), ("renal impairment in both arms.", 3, "body")), [-1, -1]),
    # The second part must finish the sentence, and a capitalised start after a full word is a new one.
    ((("Doses were lowered for patients with", 3, "body"), ("renal impairment in both arms", 4, "body")), [-1, -1]),
    ((("Table of contents and summary", 3, "body"), ("Background of the programme.", 4, "body")), [-1, -1]),
])
def test_page_break_continuations_link_the_two_parts_of_one_sentence(
        sentences: tuple[tuple[str, int, str], ...], expected: list[int]) -> None:
    assert page_break_continuations(_rows(*sentences)).tolist() == expected


def test_continuations_never_cross_documents() -> None:
    rows = SentenceRows(texts=["Doses were lowered for patients with", "renal impairment in both arms."],
                        sections=[None, None], pages=[3, 4], roles=["body", "body"], documents=["a", "b"])
    assert page_break_continuations(rows).tolist() == [-1, -1]


def test_the_real_cdc_guide_has_its_page_8_sentence_linked_to_its_end_on_page_9(sample_index: Path) -> None:
    reader = IndexReader.open(sample_index)
    heads = np.flatnonzero(reader.sentence_continuation >= 0)
    assert len(heads) > 0
    by_text = {s.text: s for s in reader.sentences(heads.tolist())}
    head = next(s for text, s in by_text.items() if text.endswith("the World Health Organization (WHO)"))
    tail_id = int(reader.sentence_continuation[head.id])
    (tail,) = reader.sentences([tail_id])
    assert (head.page, tail.page) == (8, 9) and tail.text.startswith("because of its activity against")
    assert reader.sentence_parts(head.id) == reader.sentence_parts(tail_id) == (head.id, tail_id)
    assert int(reader.sentence_continued_from[tail_id]) == head.id
    assert reader.unit_texts([tail_id]) == [f"{head.text} {tail.text}"]
    words = reader.unit_words(np.array([head.id, tail_id]))
    assert words.tolist() == [int(reader.sentence_words[head.id] + reader.sentence_words[tail_id])] * 2
    # The first part is no longer a fragment that can never be quoted: it is a candidate like a finished sentence.
    assert not reader.sentence_complete[head.id]


@pytest.fixture(scope="module")
def engine(minilm_index: Path, minilm_encoder: MiniLMEncoder) -> Engine:
    return Engine.load(make_settings(minilm_index, "minilm"), encoder=minilm_encoder)


def test_a_sentence_cut_by_a_page_break_is_quoted_whole_with_a_citation_for_each_page(engine: Engine) -> None:
    summary = engine.summariser.summarise(
        "Why is alcohol-based hand rub the preferred method of hand hygiene in healthcare settings?", max_sentences=3)
    texts = [s.text for s in summary.sentences]
    tail = next(i for i, text in enumerate(texts) if text.startswith("because of its activity against"))
    head, end = summary.sentences[tail - 1], summary.sentences[tail]
    assert head.continues and not end.continues
    assert head.text.endswith("(WHO)") and (head.citation.page, end.citation.page) == (8, 9)
    for part in (head, end):
        page = engine.reader.page(part.citation.document_id, part.citation.page)
        assert page.text[part.citation.char_start:part.citation.char_end] == part.text
    # The budget counts sentences, not parts; no part is quoted twice.
    assert sum(not s.continues for s in summary.sentences) <= 3
    assert len({s.sentence_id for s in summary.sentences}) == len(summary.sentences)


def test_the_api_says_which_quote_runs_on_into_the_next(engine: Engine) -> None:
    from service.schemas import SummaryOut

    summary = engine.summariser.summarise(
        "Why is alcohol-based hand rub the preferred method of hand hygiene in healthcare settings?", max_sentences=3)
    out = SummaryOut.of(summary)
    assert [s.continues for s in out.sentences] == [s.continues for s in summary.sentences]
    assert any(s.continues for s in out.sentences)


def _release_with_a_cut_sentence() -> Any:
    from datetime import UTC, datetime

    from service.domain import Release

    def sentence(text: str, page: int, start: int, continues: bool = False) -> dict[str, Any]:
        return {"text": text, "source_text": text, "edited": False, "continues": continues,
                "citation": {"document_id": "cdc", "title": "CDC outpatient guide", "page": page, "char_start": start,
                             "char_end": start + len(text)}}

    content = {"question": "Why hand rub?", "sentences": [
        sentence("Hand rub is recommended by the WHO", 8, 3524, continues=True),
        sentence("because of its activity against bacteria.", 9, 0),
        sentence("Gloves do not replace hand hygiene.", 9, 400),
    ], "documents": {}}
    return Release(id=1, draft_id=1, number=1, draft_version=3, released_at=datetime(2026, 11, 26, tzinfo=UTC),
                   released_by="rev", content=content)


def test_exports_show_a_cut_sentence_as_one_bullet_citing_both_pages() -> None:
    from service.exports import to_docx, to_markdown

    markdown = to_markdown(_release_with_a_cut_sentence())
    assert "- Hand rub is recommended by the WHO because of its activity against bacteria. [1][2]" in markdown
    assert "- Gloves do not replace hand hygiene. [2]" in markdown
    assert "1. CDC outpatient guide, page 8." in markdown and "2. CDC outpatient guide, page 9." in markdown

    import docx

    document = docx.Document(io.BytesIO(to_docx(_release_with_a_cut_sentence())))
    bullets = [p.text for p in document.paragraphs if p.style is not None and p.style.name == "List Bullet"]
    assert bullets == ["Hand rub is recommended by the WHO because of its activity against bacteria. [1][2]",
                       "Gloves do not replace hand hygiene. [2]"]


def test_the_plain_text_summary_puts_a_cut_sentence_on_one_line() -> None:
    from evsum.cli import Quote, format_summary

    text = format_summary("Why hand rub?", "answered", "", [
        Quote("Hand rub is recommended by the WHO", "CDC", 8, 3524, 3558, continues=True),
        Quote("because of its activity against bacteria.", "CDC", 9, 0, 41),
        Quote("Gloves do not replace hand hygiene.", "CDC", 9, 400, 435),
    ])
    assert "  Hand rub is recommended by the WHO because of its activity against bacteria. [1][2]\n" in text
    assert "  Gloves do not replace hand hygiene. [3]\n" in text
    assert "  [1] CDC, p. 8, chars 3524-3558" in text and "  [2] CDC, p. 9, chars 0-41" in text


def _empty_draft(snapshot_id: str) -> Any:
    from datetime import UTC, datetime

    from service.domain import Draft, DraftState

    now = datetime(2026, 11, 27, tzinfo=UTC)
    return Draft(id=1, question="Why hand rub?", pico=None, state=DraftState.DRAFT, version=1, author="lib",
                 max_sentences=3, snapshot_id=snapshot_id, search={}, sentences=(), next_key=1, created_at=now,
                 updated_at=now)


def test_a_librarian_who_adds_one_part_of_a_cut_sentence_gets_the_whole_sentence(engine: Engine) -> None:
    from service.editing import DraftChange, SentenceAddition, apply_change
    from service.evidence import EngineEvidence

    reader = engine.reader
    head_id = int(next(i for i in np.flatnonzero(reader.sentence_continuation >= 0)
                       if reader.sentences([int(i)])[0].text.endswith("(WHO)")))
    tail_id = int(reader.sentence_continuation[head_id])
    (head,) = reader.sentences([head_id])
    (tail,) = reader.sentences([tail_id])
    (passage,) = reader.passages([head.passage_id])  # a search hit: the passage that ends with the first part
    assert passage.char_end == head.char_end and passage.page == 8
    evidence = EngineEvidence(engine)
    draft = _empty_draft(evidence.snapshot_id)

    # The search hit ends with the first part: its end on page 9 follows it, and the two are tied.
    added, _, after = apply_change(draft, DraftChange(add=(SentenceAddition(
        document_id=passage.document_id, page=passage.page, char_start=passage.char_start,
        char_end=passage.char_end, query="hand rub"),)), evidence)
    assert [(s.citation.page, s.source_text[-5:], s.continues) for s in added.sentences] == [
        (8, "(WHO)", True), (9, tail.text[-5:], False)]
    assert added.sentences[1].sentence_id == tail_id and added.sentences[1].source_text == tail.text
    assert [s.key for s in added.sentences] == [1, 2] and added.next_key == 3 and len(after["added"]) == 2
    for sentence in added.sentences:  # each part verbatim on its own page
        page = reader.page(sentence.citation.document_id, sentence.citation.page)
        assert page.text[sentence.citation.char_start:sentence.citation.char_end] == sentence.source_text

    # The end alone, by sentence id: its first part on page 8 comes before it, with the next free key.
    by_id, _, _ = apply_change(draft, DraftChange(add=(SentenceAddition(sentence_id=tail_id),)), evidence)
    assert [(s.key, s.sentence_id, s.continues) for s in by_id.sentences] == [(2, head_id, True), (1, tail_id, False)]
    assert by_id.sentences[0].citation.char_start == head.char_start

    # Re-adding a removed part next to the other ties them again; a part already present is not added twice.
    untied, _, _ = apply_change(by_id, DraftChange(remove=(1,)), evidence)
    assert [(s.sentence_id, s.continues) for s in untied.sentences] == [(head_id, False)]
    again, _, _ = apply_change(untied, DraftChange(add=(SentenceAddition(sentence_id=tail_id),)), evidence)
    assert [(s.sentence_id, s.continues) for s in again.sentences] == [(head_id, True), (tail_id, False)]
    # Both parts asked for in one change, in either order of the request: each added once, tied when adjacent.
    both, _, _ = apply_change(draft, DraftChange(add=(SentenceAddition(sentence_id=head_id),
                                                      SentenceAddition(sentence_id=tail_id))), evidence)
    assert [(s.key, s.sentence_id, s.continues) for s in both.sentences] == [(1, head_id, True), (2, tail_id, False)]
    # An order given with the additions names the explicitly added keys; the other part joins after it.
    ordered, _, after = apply_change(by_id, DraftChange(remove=(1, 2), add=(SentenceAddition(sentence_id=tail_id),),
                                                        order=(3,)), evidence)
    assert [(s.key, s.sentence_id, s.continues) for s in ordered.sentences] == [(4, head_id, True), (3, tail_id, False)]
    assert [a["continues"] for a in after["added"]] == [True, False]
    # A sentence that no page break cut is added alone.
    whole = next(s for s in reader.sentences(list(range(head_id - 5, head_id))) if s.page == 8)
    plain, _, _ = apply_change(draft, DraftChange(add=(SentenceAddition(sentence_id=whole.id),)), evidence)
    assert [(s.sentence_id, s.continues) for s in plain.sentences] == [(whole.id, False)]
