"""PDF parser: one PDF file to a ``ParsedSource`` of clean page text, line boxes and regions.

Pipeline (``parse_pdf``): open and vet the file (empty, not a PDF, corrupt, encrypted,
image-only); extract every page's lines with PyMuPDF; find running headers/footers and margin
line numbers across the document and drop them; carve out tables (``find_tables``, only on
pages that have a table caption and ruled or shaded cells); cut blocks at headings and blank
lines; put blocks in reading order (columns, bands); give each block a role (heading, body,
table, caption, reference) and the section it sits in; join continued paragraphs; and build
the page text, recording a ``LineBox`` for every emitted line and a ``Region`` per block.

This module holds the entry point, file vetting, per-page extraction and the document
assembly (de-hyphenation and text emission).  The passes live in their own modules:
``indexing.layout`` (line records, extraction, block splitting, reading order),
``indexing.margins`` (headers, footers, line numbers), ``indexing.tables`` (table detection),
``indexing.sections`` (roles, headings, sections, references), ``indexing.paragraphs``
(paragraph joining, reference splitting) and ``indexing.docinfo`` (title and metadata).
"""

from __future__ import annotations

import pathlib
import re
from dataclasses import dataclass, field

import pymupdf

from evsum.errors import UnreadableDocumentError
from evsum.records import LineBox, Role
from indexing.docinfo import find_metadata, find_title
from indexing.layout import (
    TEXT_FLAGS,
    WORD,
    Block,
    Line,
    body_font,
    extract_blocks,
    order_blocks,
    split_block,
    weighted_size,
)
from indexing.margins import drop_margins
from indexing.paragraphs import merge_paragraphs
from indexing.parsed import ParsedPage, ParsedSource, Region
from indexing.sections import assign_roles, is_known
from indexing.tables import Table, carve_tables, find_tables, table_rules

_URL_TAIL = re.compile(r"(?:https?://|www\.|doi\.)\S*$")
_HYPHENS = ("-", "\u2010", "\u2011")
_HYPHEN_WORD = re.compile(r"\b([A-Za-z]{2,})[-\u2010\u2011]([a-z]{2,})\b")


@dataclass(slots=True)
class _Page:
    """Working state of one page between the extraction and the emission passes."""

    number: int
    width: float
    height: float
    blocks: list[list[Line]]
    tables: list[Table] = field(default_factory=list)
    ordered: list[Block] = field(default_factory=list)


def parse_pdf(path: pathlib.Path, *, detect_tables: bool = True) -> ParsedSource:
    """Parse one PDF into clean page text with line boxes, roles, sections, title and metadata.

    Raises ``UnreadableDocumentError`` (with a one-line reason) for an empty file, a file that
    is not a PDF, a corrupt or truncated PDF, a PDF that needs a password, and a PDF whose pages
    have no text layer at all.  ``detect_tables=False`` skips PyMuPDF's (slow) table finder.
    """
    path = pathlib.Path(path)
    doc = _open(path)
    try:
        pages = _extract(doc, path, detect_tables)
        meta = dict(doc.metadata or {})
    finally:
        doc.close()
    return _assemble(pages, meta)


def _open(path: pathlib.Path) -> pymupdf.Document:
    """Open ``path`` with PyMuPDF, turning every way it can be unreadable into one error."""
    where = str(path)
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            head = fh.read(1024)
            fh.seek(max(size - 2048, 0))
            tail = fh.read()
    except OSError as exc:
        raise UnreadableDocumentError(where, f"cannot read file: {exc.strerror or exc}") from exc
    if size == 0:
        raise UnreadableDocumentError(where, "empty file (0 bytes)")
    if b"%PDF-" not in head:
        raise UnreadableDocumentError(where, "not a PDF file")
    try:
        doc = pymupdf.open(where, filetype="pdf")
    except Exception as exc:  # PyMuPDF raises several unrelated exception types
        raise UnreadableDocumentError(where, f"corrupt or truncated PDF: {_short(exc)}") from exc
    if doc.needs_pass and not doc.authenticate(""):
        doc.close()
        raise UnreadableDocumentError(where, "encrypted PDF (password required)")
    problem = None
    if doc.page_count == 0:
        problem = "corrupt or truncated PDF: no pages found"
    elif doc.is_repaired and b"%%EOF" not in tail:
        problem = "corrupt or truncated PDF: file ends before its end-of-file marker"
    if problem:
        doc.close()
        raise UnreadableDocumentError(where, problem)
    return doc


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:120]


def _extract(doc: pymupdf.Document, path: pathlib.Path, detect_tables: bool) -> list[_Page]:
    """Lines (and table grids) of every page; raises when no page has any text."""
    pages: list[_Page] = []
    chars = 0
    try:
        for index in range(doc.page_count):
            page = doc.load_page(index)
            rect = page.rect
            page_dict = page.get_text("dict", flags=TEXT_FLAGS)
            blocks = extract_blocks(page_dict)
            chars += sum(len(line.text) for lines in blocks for line in lines)
            if not chars:  # only rotated text so far? It is still a text layer.
                spans = (s for b in page_dict["blocks"] for ln in b.get("lines", ()) for s in ln["spans"])
                chars += sum(len(s["text"].strip()) for s in spans)
            item = _Page(page.number + 1, rect.width, rect.height, blocks)
            rules = table_rules(page, blocks) if detect_tables else []
            if rules:
                item.tables = find_tables(page, rules)
            pages.append(item)
    except Exception as exc:
        raise UnreadableDocumentError(str(path), f"corrupt or truncated PDF: {_short(exc)}") from exc
    if chars == 0:
        raise UnreadableDocumentError(str(path), "no text layer (image-only PDF; OCR is not supported)")
    return pages


# ------------------------------------------------------------------ document assembly


def _assemble(pages: list[_Page], meta: dict[str, str]) -> ParsedSource:
    """Run the document-level passes and build the ``ParsedSource``."""
    page1_raw = " ".join(line.text for lines in pages[0].blocks for line in lines)
    all_lines = [line for p in pages for lines in p.blocks for line in lines]
    body_size = weighted_size(ln for ln in all_lines if len(ln.text) >= 30) or weighted_size(all_lines)
    body_family = body_font(all_lines)
    words = _vocabulary(pages)
    for page, blocks in zip(pages, drop_margins([p.blocks for p in pages], [p.height for p in pages])):
        page.blocks = blocks
    for page in pages:
        page.ordered = _page_blocks(page, body_size, body_family)
    title = find_title(pages[0].ordered, meta)
    roles = assign_roles([p.ordered for p in pages], body_size, title)
    parsed_pages: list[ParsedPage] = []
    regions: list[Region] = []
    for page, page_roles in zip(pages, roles):
        merged = merge_paragraphs(page.ordered, page_roles)
        parsed, page_regions = _emit(page, merged, words)
        parsed_pages.append(parsed)
        regions.extend(page_regions)
    return ParsedSource(title=title, pages=parsed_pages, regions=regions, metadata=find_metadata(meta, page1_raw))


def _vocabulary(pages: list[_Page]) -> tuple[set[str], set[str]]:
    """(words, hyphenated compounds) used in the document, lower case, line-end fragments excluded."""
    vocab: set[str] = set()
    compounds: set[str] = set()
    for page in pages:
        for lines in page.blocks:
            hyphen_before = False
            for line in lines:
                found = WORD.findall(line.text)
                if hyphen_before and found:
                    found = found[1:]
                hyphen_before = line.text.endswith(_HYPHENS)
                if hyphen_before and found:
                    found = found[:-1]
                vocab.update(w.lower() for w in found)
                compounds.update(f"{a}-{b}".lower() for a, b in _HYPHEN_WORD.findall(line.text))
    return vocab, compounds


def _page_blocks(page: _Page, body_size: float, body_family: str = "") -> list[Block]:
    """Tables carved out, blocks split at headings and blank lines, in reading order."""
    lines_of_blocks, tables = carve_tables(page.blocks, page.tables)
    blocks = [
        Block(group)
        for lines in lines_of_blocks
        for group in split_block(lines, body_size, is_known, body_family)
    ]
    return order_blocks(blocks + tables, page.width)


def _emit(
    page: _Page, blocks: list[tuple[Block, Role, str | None]], words: tuple[set[str], set[str]]
) -> tuple[ParsedPage, list[Region]]:
    """Build the page text, one ``LineBox`` per emitted line and one ``Region`` per block."""
    parts: list[str] = []
    boxes: list[LineBox] = []
    regions: list[Region] = []
    pos = 0
    for block, role, section in blocks:
        if parts:
            parts.append("\n\n")
            pos += 2
        start = pos
        for i, line in enumerate(block.all_lines):
            text = line.text
            if i:
                sep = "\n" if block.table_rows else _joiner(parts[-1], text, words)
                if sep == "-":  # drop the hyphen that ended the previous line
                    parts[-1] = parts[-1][:-1]
                    pos -= 1
                    last = boxes[-1]
                    boxes[-1] = LineBox(
                        last.char_start, last.char_end - 1, last.x0, last.y0, last.x1, last.y1
                    )
                    sep = ""
                parts.append(sep)
                pos += len(sep)
            parts.append(text)
            boxes.append(LineBox(pos, pos + len(text), line.x0, line.y0, line.x1, line.y1))
            pos += len(text)
        regions.append(Region(page.number, start, pos, role, section))
    text = "".join(parts)
    return ParsedPage(page.number, text, page.width, page.height, tuple(boxes)), regions


def _joiner(prev: str, nxt: str, words: tuple[set[str], set[str]]) -> str:
    """How to join two lines of a paragraph: ' ', '' or '-' (meaning: drop prev's hyphen).

    A line-end hyphen before a lower-case word is dropped ("immuno-" + "logy") unless the
    document writes the hyphenated compound elsewhere, or both halves are words of the
    document and their concatenation is not ("glucose-" + "stimulated").
    """
    if len(prev) >= 2 and prev.endswith(_HYPHENS) and prev[-2].isalnum():
        if prev[-2].isalpha() and nxt[:1].islower():
            vocab, compounds = words
            left_match = re.search(r"[A-Za-z]+$", prev[:-1])
            right_match = re.match(r"[a-z]+", nxt)
            left = left_match.group(0).lower() if left_match else ""
            right = right_match.group(0) if right_match else ""
            if f"{left}-{right}" in compounds or (left_match and left_match.group(0).isupper()):
                return ""  # a compound the document writes elsewhere, or "S-phase", "DNA-binding"
            if left + right in vocab:
                return "-"
            keep = len(left) >= 3 and len(right) >= 3 and left in vocab and right in vocab
            return "" if keep else "-"
        return ""
    if len(prev) >= 2 and prev[-1] in "/–" and not prev[-2].isspace():
        return ""
    url_break = prev[-1:] == "/" or (prev[-1:] in "._-" and prev[-2:-1].isalnum() and nxt[:1].islower())
    if url_break and nxt[:1].isalnum() and _URL_TAIL.search(prev):
        return ""  # a URL or DOI broken across lines
    return " "
