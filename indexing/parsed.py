"""Intermediate records produced by the parsers and consumed by the segmenter.

A parser turns one source (a PDF file, or one abstract of a JSONL file) into a
``ParsedSource``: the text of each page, plus ``Region``s that say which spans
of that text are body text, headings, tables, captions or references, and under
which section heading they sit.  Regions never overlap and always satisfy
``0 <= char_start < char_end <= len(page.text)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from evsum.records import LineBox, Role


@dataclass(frozen=True, slots=True)
class ParsedPage:
    """Extracted text of one page (1-based ``number``) and its line boxes."""

    number: int
    text: str
    width: float = 0.0
    height: float = 0.0
    lines: tuple[LineBox, ...] = ()


@dataclass(frozen=True, slots=True)
class Region:
    """A span of one page's text with its role and enclosing section heading."""

    page: int
    char_start: int
    char_end: int
    role: Role
    section: str | None = None


@dataclass(slots=True)
class ParsedSource:
    """Everything a parser extracts from one source document."""

    title: str
    pages: list[ParsedPage]
    regions: list[Region]
    metadata: dict[str, str] = field(default_factory=dict)
