"""Pure formatting helpers of the UI: Markdown escaping, citation numbering, highlighting, library rows."""

from __future__ import annotations

import html

import pytest

from ui import formatting as fmt
from ui.client import ApiError, ApiUnavailable, UICitation, UIDocument, UISentence


def sentence(document_id: str, page: int, section: str | None, sentence_id: int = 1) -> UISentence:
    citation = UICitation(document_id, f"Title {document_id}", page, 0, 5, section, f"{document_id}.pdf")
    return UISentence(sentence_id=sentence_id, text="Hello", score=0.5, citation=citation)


def test_escape_markdown_neutralises_markup_links_html_and_latex() -> None:
    text = "Costs $5 to $10 *per* [dose](http://x) <b>p < 0.05</b> # not a heading_\n  next"

    escaped = fmt.escape_markdown(text)

    assert "\n" not in escaped
    for special in ("$", "*", "[", "]", "(", ")", "<", ">", "#", "_"):
        assert f"\\{special}" in escaped
    # Removing the escapes gives back the text with whitespace collapsed.
    assert escaped.replace("\\", "") == " ".join(text.split())


def test_citations_are_numbered_by_first_appearance_and_shared() -> None:
    sentences = [
        sentence("b", 3, "Results"),
        sentence("a", 1, None),
        sentence("b", 3, "Results"),
        sentence("b", 4, "Results"),
        sentence("b", 3, "Discussion"),
    ]

    numbers, references = fmt.number_citations(sentences)

    assert numbers == [1, 2, 1, 3, 4]
    assert [(r.number, r.document_id, r.page, r.section) for r in references] == [
        (1, "b", 3, "Results"),
        (2, "a", 1, None),
        (3, "b", 4, "Results"),
        (4, "b", 3, "Discussion"),
    ]


def test_reference_markdown_escapes_the_title_and_omits_a_missing_section() -> None:
    _, (with_section, without) = fmt.number_citations([sentence("a*b", 2, "Methods"), sentence("c", 9, None)])

    assert fmt.reference_markdown(with_section) == "**[1]** Title a\\*b — page 2, section: Methods"
    assert fmt.reference_markdown(without) == "**[2]** Title c — page 9"


def test_highlight_marks_exactly_the_span_and_escapes_everything() -> None:
    text = "Intro <script>alert(1)</script>. Risk was <5% & falling. After."
    start = text.index("Risk")
    end = text.index(" After")

    body = fmt.highlight_html(text, start, end)

    assert "<script>" not in body
    assert "&lt;script&gt;" in body
    marked = body.split("<mark", 1)[1].split(">", 1)[1].split("</mark>")[0]
    assert marked == html.escape(text[start:end]) == "Risk was &lt;5% &amp; falling."


def test_excerpt_keeps_context_cut_at_word_boundaries() -> None:
    words = [f"w{i:03d}" for i in range(400)]
    text = " ".join(words)
    start = text.index("w200")
    end = start + len("w200")

    part = fmt.excerpt(text, start, end, context=50)

    assert part.marked == "w200"
    assert part.cut_start
    assert part.cut_end
    assert 40 <= len(part.before) <= 51
    assert 40 <= len(part.after) <= 51
    assert part.before.split(" ")[0] in words, "the window must not start mid-word"
    assert part.after.rstrip().split(" ")[-1] in words, "the window must not end mid-word"


def test_excerpt_of_a_short_page_is_the_whole_page() -> None:
    part = fmt.excerpt("Alpha beta gamma.", 6, 10)

    assert (part.before, part.marked, part.after, part.cut_start, part.cut_end) == (
        "Alpha ",
        "beta",
        " gamma.",
        False,
        False,
    )


@pytest.mark.parametrize(("start", "end"), [(-1, 3), (5, 5), (3, 2), (0, 99)])
def test_excerpt_rejects_spans_outside_the_text(start: int, end: int) -> None:
    with pytest.raises(ValueError, match="outside"):
        fmt.excerpt("Alpha beta gamma.", start, end)


def test_document_row_reads_metadata_with_fallbacks() -> None:
    document = UIDocument(
        id="d1",
        title="",
        source_path="papers/x.pdf",
        sha256="d1",
        pages=12,
        source_kind="pdf",
        indexed_at="2025-11-20T09:30:00Z",
        metadata={"journal": "Diabetologia", "license": "CC BY 4.0", "kind": "paper"},
    )

    assert fmt.document_row(document) == {
        "Title": "papers/x.pdf",
        "Publisher": "Diabetologia",
        "Year": "",
        "Licence": "CC BY 4.0",
        "DOI": "",
        "Pages": 12,
        "Type": "paper",
        "Indexed": "2025-11-20",
    }


def test_describe_error_is_plain_language() -> None:
    unavailable = fmt.describe_error(ApiUnavailable("http://h:8000", "connection refused"))
    server = fmt.describe_error(ApiError(500, "Internal Server Error", "boom"))
    client = fmt.describe_error(ApiError(422, "Invalid request", "question: too long"))

    assert "http://h:8000 cannot be reached (connection refused)" in unavailable
    assert server == "The evidence service reported an error: Internal Server Error (HTTP 500). boom"
    assert client == "The request was not accepted: Invalid request. question: too long"


def test_a_released_sentence_cut_by_a_page_break_is_one_line_citing_both_pages() -> None:
    from ui.records import UICitation, UIDraftSentence
    from ui.workflow_format import sentence_line, whole_sentence_line

    def part(text: str, page: int, continues: bool = False) -> UIDraftSentence:
        citation = UICitation(document_id="d", title="CDC guide", page=page, char_start=0, char_end=len(text))
        return UIDraftSentence(id=page, text=text, source_text=text, status="verified", citation=citation,
                               continues=continues)

    head, tail = part("Hand rub is recommended by the WHO", 8, True), part("because it kills bacteria.", 9)
    line = whole_sentence_line([1, 2], [head, tail])
    assert "Hand rub is recommended by the WHO because it kills bacteria. **[1][2]** — CDC guide, pp. 8 and 9" in line
    assert whole_sentence_line([3], [tail]) == sentence_line(3, tail)
