"""Split parsed regions into sentences with exact offsets, and group them into passages.

Every sentence and passage produced here is a verbatim span of its page text:
``page.text[char_start:char_end] == text``.  Sentences never cross a region,
passages never cross a page, a section or a role change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import syntok.segmenter as syntok

from evsum.records import Passage, Role, Sentence
from evsum.text import word_count
from indexing.parsed import ParsedPage, ParsedSource, Region

#: Roles whose text is kept out of the index entirely (still present in page text).
EXCLUDED_ROLES = frozenset({Role.REFERENCE})
#: Roles that form passages of their own; BODY passages may join several paragraphs.
PASSAGE_ROLES = frozenset({Role.BODY, Role.TABLE, Role.CAPTION})


@dataclass(frozen=True, slots=True)
class Span:
    """A sentence-sized span of one page, before ids are assigned."""

    page: int
    char_start: int
    char_end: int
    role: Role
    section: str | None


#: How text is split into sentences. 1: syntok's sentences as they are; 2: a stop that syntok puts at the start of
#: the next sentence is given back; 3: a bracket that syntok cuts off the end of an unfinished sentence ("... in
#: outpatient settings" "(e.g., clinics)." or "... to morphine" "(Fig. 1f).") is joined back to it
#: (``split_sentences``). Documents an index split with an older version are split again when ``evsum index`` is
#: given their files (``indexing.pipeline``).
SEGMENTATION_VERSION = 3

#: A sentence that syntok starts with the full stop of the sentence before: "(see Fig. 2)" ". We next ...".
_STRAY_END = re.compile(r"[.!?;:]+(?=\s|$)")
#: Stops repeated after a sentence's own, separated by spaces ("(Fig. 2). ."): not part of the sentence.
_DOUBLED_END = re.compile(r"(?<=[.!?;:])(?:\s+[.!?;:]+)+$")
#: A bracket that opens a list item ("(4) Masking ...", "(viii) internode ...", "(H) Peptide ..."): not joined.
_ENUMERATOR = re.compile(r"[(\[](?:\d{1,2}|[ivxlc]{1,5}|[A-Za-z])[)\]]\s")
_BLANK_LINE = re.compile(r"\n\s*\n")
#: A stop followed by more text: a new sentence begins.
_SENTENCE_BREAK = re.compile(r"[.!?]\s+\S")


def _same_paragraph(text: str, previous: tuple[int, int], start: int) -> bool:
    """Whether only spaces and single line breaks lie between the ``previous`` span and ``start``."""
    gap = text[previous[1]:start]
    return not gap.strip() and not _BLANK_LINE.search(gap)


def _gives_back(text: str, previous: tuple[int, int], stray_start: int) -> bool:
    """Whether a stray stop at ``stray_start`` ends the ``previous`` span: it follows in the same paragraph, and
    the span does not already end with a stop of its own."""
    return _same_paragraph(text, previous, stray_start) and text[previous[1] - 1] not in ".!?;:"


def _bracket_end(text: str, start: int, end: int) -> int:
    """The index just past the bracket that opens at ``start`` (nested brackets counted), or ``end`` when it is
    not closed before ``end``."""
    depth = 0
    for index in range(start, end):
        if text[index] in "([":
            depth += 1
        elif text[index] in ")]":
            depth -= 1
            if depth == 0:
                return index + 1
    return end


def _joins_previous(text: str, previous: tuple[int, int], start: int, end: int) -> bool:
    """Whether the span ``[start, end)``, which opens with a bracket, is the end of the ``previous`` span that
    syntok cut before the bracket: the previous span is unfinished (no stop, semicolon, colon or comma at its end)
    and in the same paragraph, the bracket does not open a list item, and no new sentence starts after the bracket
    ("(43). Most native T cells ..." is a citation and the next sentence: not joined)."""
    if text[start] not in "([" or not _same_paragraph(text, previous, start):
        return False
    if text[previous[1] - 1] in ".!?;:," or _ENUMERATOR.match(text, start):
        return False
    return not _SENTENCE_BREAK.search(text, _bracket_end(text, start, end), end)


def split_sentences(text: str, offset: int = 0) -> list[tuple[int, int]]:
    """Sentence spans of ``text`` as (start, end) pairs, shifted by ``offset``.

    Uses syntok, which keeps abbreviations (e.g., Fig., et al.), decimals and
    citations inside sentences.  Leading and trailing whitespace is excluded.
    Two of syntok's cuts are mended.  Where it ends a sentence at a closing
    bracket and starts the next with that sentence's full stop (". Because
    ..."), the stop is given back to the sentence it ends (a stop after one of
    its own is dropped).  Where it cuts an unfinished sentence before a bracket
    ("... outpatient settings" "(e.g., clinics)."), the two are one sentence
    (not when the bracket opens a list item such as "(4)").  A span with no
    letter or digit is not a sentence.
    """
    spans: list[tuple[int, int]] = []
    for paragraph in syntok.analyze(text):
        for sentence in paragraph:
            tokens = list(sentence)
            if not tokens:
                continue
            start = tokens[0].offset
            end = tokens[-1].offset + len(tokens[-1].value)
            stray = _STRAY_END.match(text, start, end)
            if stray:
                if spans and _gives_back(text, spans[-1], start):
                    spans[-1] = (spans[-1][0], stray.end())
                start = stray.end()
                while start < end and text[start].isspace():
                    start += 1
            doubled = _DOUBLED_END.search(text, start, end)
            if doubled:  # "... (Fig. 2). ." ends at its first stop
                end = doubled.start()
            if end <= start or not any(c.isalnum() for c in text[start:end]):
                continue
            if spans and _joins_previous(text, spans[-1], start, end):
                spans[-1] = (spans[-1][0], end)
            else:
                spans.append((start, end))
    return [(start + offset, end + offset) for start, end in spans]


def _region_spans(page: ParsedPage, region: Region) -> list[Span]:
    if region.role in (Role.TABLE, Role.HEADING):
        # A table is cut into its rows, a heading is one span: never sentence-split.
        spans = []
        cursor = region.char_start
        for line in page.text[region.char_start : region.char_end].split("\n"):
            start, end = cursor, cursor + len(line)
            cursor = end + 1
            stripped = line.strip()
            if stripped:
                lead = len(line) - len(line.lstrip())
                spans.append(Span(page.number, start + lead, start + lead + len(stripped), region.role,
                                  region.section))
        return spans
    text = page.text[region.char_start : region.char_end]
    return [
        Span(page.number, s, e, region.role, region.section)
        for s, e in split_sentences(text, region.char_start)
    ]


def segment(
    source: ParsedSource,
    document_id: str,
    *,
    passage_max_words: int,
    first_sentence_id: int = 0,
    first_passage_id: int = 0,
) -> tuple[list[Sentence], list[Passage]]:
    """Cut a parsed source into sentences and passages with snapshot-wide ids.

    Passages gather consecutive sentences of the same page, role and section up
    to ``passage_max_words`` words (a single longer sentence forms its own
    passage).  Headings become sentences (for provenance) but not passages;
    references are left out altogether.
    """
    pages = {p.number: p for p in source.pages}
    regions = sorted(source.regions, key=lambda r: (r.page, r.char_start))
    spans = [
        span
        for region in regions
        if region.role not in EXCLUDED_ROLES
        for span in _region_spans(pages[region.page], region)
    ]

    sentences: list[Sentence] = []
    passages: list[Passage] = []
    group: list[Span] = []
    group_words = 0

    def flush() -> None:
        nonlocal group, group_words
        if not group:
            return
        passage_id = first_passage_id + len(passages)
        first_id = first_sentence_id + len(sentences)
        page = pages[group[0].page]
        for span in group:
            sentences.append(_sentence(first_sentence_id + len(sentences), document_id, page, span,
                                       len(sentences), passage_id))
        start, end = group[0].char_start, group[-1].char_end
        passages.append(
            Passage(
                id=passage_id,
                document_id=document_id,
                page=page.number,
                char_start=start,
                char_end=end,
                text=page.text[start:end],
                role=group[0].role,
                section=group[0].section,
                first_sentence_id=first_id,
                last_sentence_id=first_sentence_id + len(sentences) - 1,
            )
        )
        group, group_words = [], 0

    for span in spans:
        if span.role not in PASSAGE_ROLES:
            flush()
            sentences.append(
                _sentence(first_sentence_id + len(sentences), document_id, pages[span.page], span,
                          len(sentences), -1)
            )
            continue
        words = word_count(pages[span.page].text[span.char_start : span.char_end])
        if group and (
            span.page != group[0].page
            or span.role != group[0].role
            or span.section != group[0].section
            or group_words + words > passage_max_words
        ):
            flush()
        group.append(span)
        group_words += words
    flush()
    return sentences, passages


def _sentence(
    sentence_id: int, document_id: str, page: ParsedPage, span: Span, position: int, passage_id: int
) -> Sentence:
    return Sentence(
        id=sentence_id,
        document_id=document_id,
        page=page.number,
        char_start=span.char_start,
        char_end=span.char_end,
        text=page.text[span.char_start : span.char_end],
        role=span.role,
        section=span.section,
        position=position,
        passage_id=passage_id,
    )
