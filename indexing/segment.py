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
#: the next sentence is given back (``split_sentences``). Documents an index split with an older version are split
#: again when ``evsum index`` is given their files (``indexing.pipeline``).
SEGMENTATION_VERSION = 2

#: A sentence that syntok starts with the full stop of the sentence before: "(see Fig. 2)" ". We next ...".
_STRAY_END = re.compile(r"[.!?;:]+(?=\s|$)")
#: Stops repeated after a sentence's own, separated by spaces ("(Fig. 2). ."): not part of the sentence.
_DOUBLED_END = re.compile(r"(?<=[.!?;:])(?:\s+[.!?;:]+)+$")


def _gives_back(text: str, previous: tuple[int, int], stray_start: int) -> bool:
    """Whether a stray stop at ``stray_start`` ends the ``previous`` span: it follows on the same line, and the
    span does not already end with a stop of its own."""
    gap = text[previous[1]:stray_start]
    return not gap.strip() and "\n" not in gap and text[previous[1] - 1] not in ".!?;:"


def split_sentences(text: str, offset: int = 0) -> list[tuple[int, int]]:
    """Sentence spans of ``text`` as (start, end) pairs, shifted by ``offset``.

    Uses syntok, which keeps abbreviations (e.g., Fig., et al.), decimals and
    citations inside sentences.  Leading and trailing whitespace is excluded.
    Where syntok ends a sentence at a closing bracket and starts the next with
    that sentence's full stop (". Because ..."), the stop is given back to the
    sentence it ends, so neither is quoted with stray punctuation (a stop after
    one of its own, or on a new line, is dropped).  A span with no letter or
    digit is not a sentence.
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
            if end > start and any(c.isalnum() for c in text[start:end]):
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
