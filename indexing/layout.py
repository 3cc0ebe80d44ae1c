"""Page-layout helpers for the PDF parser: line and block records, clean lines, reading order.

Everything here works on plain records built from PyMuPDF's ``get_text("dict")`` output:

* ``Line`` and ``Block`` are the records every pass of the parser works on, and
  ``weighted_size`` the font size most of their characters use;
* ``extract_blocks`` turns one page's dict into blocks of cleaned ``Line``s: ligatures expanded
  (by the extraction flags and a fallback table), soft hyphens, control, zero-width and
  private-use characters dropped, odd spaces normalised, spacing accents composed, spans put
  left to right with a space wherever the glyphs leave a word gap, rotated text dropped;
* ``split_block`` cuts a PyMuPDF block where a heading starts or ends or a blank line falls
  (including a heading marked only by a change of font family, see ``font_family``);
* ``find_gutters`` / ``order_blocks`` put blocks in reading order (one, two or three columns,
  with full-width blocks splitting the page into bands).

Margin clean-up lives in ``indexing.margins`` and paragraph assembly in ``indexing.paragraphs``.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import pymupdf

#: get_text flags: ligatures expanded (no TEXT_PRESERVE_LIGATURES), no image data.
TEXT_FLAGS = pymupdf.TEXT_PRESERVE_WHITESPACE | pymupdf.TEXT_MEDIABOX_CLIP

_CHAR_MAP = {
    **{c: " " for c in "\t\n\r\x0b\x0c\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"},
    **{c: " " for c in "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"},
    **{c: "" for c in "\xad\u200b\u200c\u200d\u2060\ufeff\ufffd"},
    "\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi", "\ufb04": "ffl",
    "\ufb05": "st", "\ufb06": "st",
}
_TRANSLATE = str.maketrans(
    {**{chr(i): " " for i in range(32)}, chr(127): " ", **_CHAR_MAP}
    | {chr(i): "" for i in range(0xE000, 0xF900)}  # private-use glyphs (icon fonts)
)
_MULTISPACE = re.compile(r" {2,}")
_SUBSET_PREFIX = re.compile(r"^[A-Z]{6}\+")
_BOLD_NAME = re.compile(r"bold|black|heavy|semibold|demi|[.,_-](?:B|BI|Bd|SB)$", re.IGNORECASE)
_ACCENTS = {"´": "\u0301", "`": "\u0300", "¨": "\u0308", "˜": "\u0303", "ˆ": "\u0302", "¸": "\u0327",
            "˚": "\u030a", "ˇ": "\u030c"}
_SPACING_ACCENT = re.compile(r"([A-Za-z])([´`¨˜ˆ¸˚ˇ]) (?=[a-z])")
_LEAD_NUMBER = re.compile(r"(\d{1,5}) +(?=\S)")
#: a bare integer (page or line number), shared with the line-number checks in ``indexing.margins``.
BARE_NUMBER = re.compile(r"\d{1,5}")
#: a word of two or more letters (vocabulary, heading and title checks).
WORD = re.compile(r"[A-Za-z]{2,}")
_TERMINAL = (".", "!", "?", ":", ".)", ".]", '."', ".”")  # as ``indexing.paragraphs.TERMINAL``


def font_family(name: str) -> str:
    """Family part of a PDF font name: "ABCDEF+AGaramondPro-Italic" -> "AGaramondPro"."""
    name = _SUBSET_PREFIX.sub("", name)
    return re.split(r"[-,]", name, maxsplit=1)[0]


def body_font(lines: Iterable[Line]) -> str:
    """The font family most characters of the (long) ``lines`` use; "" when none is known."""
    counts: Counter[str] = Counter()
    for line in lines:
        if line.font and len(line.text) >= 30:
            counts[line.font] += len(line.text)
    return counts.most_common(1)[0][0] if counts else ""


def clean_text(text: str) -> str:
    """Normalise one span of PDF text: odd spaces to ' ', soft hyphens and controls removed."""
    return text.translate(_TRANSLATE)


@dataclass(slots=True)
class Line:
    """One cleaned text line of a page with its box and dominant style."""

    text: str
    x0: float
    y0: float
    x1: float
    y1: float
    size: float
    bold: bool
    lead_number: tuple[int, float, float] | None = None  # (value, x0, x1) of a leading integer
    lead_bold: str = ""  # bold words that open an otherwise regular line (a run-in heading)
    font: str = ""  # font family of (at least 80% of) the characters; "" for a mixed line
    font_heading: bool = False  # set by ``split_block``: a heading set apart only by its font family

    @property
    def height(self) -> float:
        """Height of the line box in points."""
        return self.y1 - self.y0

    @property
    def ymid(self) -> float:
        """Vertical centre of the line box."""
        return (self.y0 + self.y1) / 2


@dataclass(slots=True)
class Block:
    """A group of lines read as one unit (a paragraph, heading, caption or table)."""

    lines: list[Line]
    table_rows: list[Line] = field(default_factory=list)  # set for table blocks only

    @property
    def x0(self) -> float:
        """Left edge."""
        return min(line.x0 for line in self.all_lines)

    @property
    def y0(self) -> float:
        """Top edge."""
        return min(line.y0 for line in self.all_lines)

    @property
    def x1(self) -> float:
        """Right edge."""
        return max(line.x1 for line in self.all_lines)

    @property
    def y1(self) -> float:
        """Bottom edge."""
        return max(line.y1 for line in self.all_lines)

    @property
    def all_lines(self) -> list[Line]:
        """The lines that make up the block (table rows for a table block)."""
        return self.table_rows or self.lines

    @property
    def text(self) -> str:
        """Lines joined with single spaces (no de-hyphenation; for classification only)."""
        return " ".join(line.text for line in self.all_lines)

    @property
    def size(self) -> float:
        """Character-weighted median font size."""
        return weighted_size(self.lines or self.table_rows)

    @property
    def bold(self) -> bool:
        """True when (almost) every character is bold."""
        total = sum(len(line.text) for line in self.lines)
        return total > 0 and sum(len(ln.text) for ln in self.lines if ln.bold) >= 0.8 * total


def weighted_size(lines: Iterable[Line]) -> float:
    """The font size that most characters of ``lines`` use."""
    counts: Counter[float] = Counter()
    for line in lines:
        counts[line.size] += len(line.text)
    return counts.most_common(1)[0][0] if counts else 0.0


def _line_from_spans(spans: list[dict[str, Any]], bbox: tuple[float, float, float, float]) -> Line | None:
    """Join the spans of one PyMuPDF line into a cleaned ``Line`` (None when empty)."""
    spans = sorted(spans, key=lambda s: s["bbox"][0]) if len(spans) > 1 else spans
    parts: list[str] = []
    sizes: Counter[float] = Counter()
    fonts: Counter[str] = Counter()
    bold_chars = 0
    total = 0
    prev_x1: float | None = None
    lead: tuple[int, float, float] | None = None
    prev_size = 0.0
    lead_bold = ""
    for span in spans:
        text = clean_text(span["text"])
        stripped = text.strip()
        if not stripped:  # whitespace-only spans: decided by the gap between the words around them
            continue
        size = round(span["size"] * 2) / 2
        sx0, _, sx1, _ = span["bbox"]
        if (
            prev_x1 is not None
            and sx0 - prev_x1 > 0.12 * max(size, prev_size)
            and not parts[-1].endswith(" ")
            and not text.startswith(" ")
        ):
            parts.append(" ")
        if not parts and lead is None and BARE_NUMBER.fullmatch(stripped) and len(spans) > 1:
            lead = (int(stripped), sx0, sx1)
        parts.append(text)
        n = len(stripped)
        sizes[size] += n
        fonts[font_family(span.get("font", ""))] += n
        total += n
        if span["flags"] & 16 or _BOLD_NAME.search(span["font"]):
            bold_chars += n
            if bold_chars == total:
                lead_bold = "".join(parts)
        prev_x1 = sx1
        prev_size = size
    text = _MULTISPACE.sub(" ", "".join(parts)).strip()
    if not text:
        return None
    if _SPACING_ACCENT.search(text):  # "Gonza´ lez" -> "González"
        text = unicodedata.normalize(
            "NFC", _SPACING_ACCENT.sub(lambda m: m.group(1) + _ACCENTS[m.group(2)], text)
        )
    x0, y0, x1, y1 = bbox
    if lead is None:
        match = _LEAD_NUMBER.match(text)
        if match:
            width = (x1 - x0) * len(match.group(1)) / max(len(text), 1)
            lead = (int(match.group(1)), x0, x0 + width)
    bold = bold_chars >= max(total - 2, 0.8 * total)
    run_in = "" if bold else " ".join(lead_bold.split())
    size = sizes.most_common(1)[0][0]
    if y1 - y0 < 0.8 * size:  # glyphs scaled down by the text matrix (figure labels): trust the box
        size = round((y1 - y0) * 2) / 2
    family, family_chars = fonts.most_common(1)[0]
    font = family if family_chars >= 0.8 * total else ""
    return Line(text, x0, y0, x1, y1, size, bold, lead, run_in, font)


def extract_blocks(page_dict: dict[str, Any]) -> list[list[Line]]:
    """PyMuPDF text blocks of one page as lists of cleaned, horizontal, non-empty lines."""
    blocks: list[list[Line]] = []
    for block in page_dict["blocks"]:
        if block.get("type", 0) != 0:
            continue
        lines: list[Line] = []
        for raw in block["lines"]:
            dx, dy = raw["dir"]
            if abs(dy) > 0.1 or dx <= 0:  # rotated or vertical text: margin furniture
                continue
            line = _line_from_spans(raw["spans"], raw["bbox"])
            if line is not None:
                lines.append(line)
        if lines:
            blocks.append(_rows_in_order(lines))
    return blocks


def _rows_in_order(lines: list[Line]) -> list[Line]:
    """Lines top to bottom; lines that share a row (overlap by half their height) left to right."""
    if len(lines) < 2:
        return lines
    ordered = sorted(lines, key=lambda ln: ln.ymid)
    rows: list[list[Line]] = [[ordered[0]]]
    for line in ordered[1:]:
        anchor = rows[-1][0]
        if line.ymid - anchor.ymid < 0.5 * min(line.height, anchor.height):
            rows[-1].append(line)
        else:
            rows.append([line])
    return [line for row in rows for line in sorted(row, key=lambda ln: ln.x0)]


# --------------------------------------------------------------------- block splitting


def split_block(
    lines: list[Line],
    body_size: float,
    known: Callable[[str], bool] = lambda text: False,
    body_family: str = "",
) -> list[list[Line]]:
    """Cut one PyMuPDF block where a heading line starts or ends, or at a blank-line gap.

    A heading line is bold or set larger than the body text, or is a short line that ``known``
    accepts (a known section name set in the body font, as some journals do), or a short line
    set apart only by its font family: a different family from the lines that follow it, which
    are in the document's body family ``body_family``.  Such a line gets ``font_heading`` set.
    """
    groups: list[list[Line]] = [[lines[0]]]
    width = max(ln.x1 for ln in lines) - min(ln.x0 for ln in lines)
    for line, flag in zip(lines, _font_headings(lines, body_size, body_family)):
        line.font_heading = flag
    styles = [
        _heading_style(ln, body_size)
        or ln.font_heading
        or (len(ln.text) <= 40 and ln.size >= body_size - 1 and known(ln.text))
        for ln in lines
    ]
    for i, (prev, line) in enumerate(zip(lines, lines[1:])):
        same_row = line.y0 < prev.y1 - 0.5 * min(line.height, prev.height)
        gap = line.y0 - prev.y1
        styled_prev, styled = styles[i], styles[i + 1]
        restyled = styled != styled_prev or (
            styled and (abs(line.size - prev.size) >= 0.5 or line.bold != prev.bold)
        )
        # A long bold heading that wraps and runs into the text ("... ATP sen-" / "sitivity We ...").
        run_in = styled_prev and bool(line.lead_bold) and prev.x1 - prev.x0 >= 0.7 * width
        if not same_row and (gap > 0.8 * max(prev.height, 1.0) or (restyled and not run_in)):
            groups.append([line])
        else:
            groups[-1].append(line)
    return groups


def _font_headings(lines: list[Line], body_size: float, body_family: str) -> list[bool]:
    """Which of ``lines`` are a heading set apart from the text below only by its font family.

    A heading is one or two short lines (each at most 60 characters, starting with a capital or
    digit, not a bold run-in) in one family other than the body family, at about the body size,
    that start the block or follow a finished sentence, do not end in punctuation, and are
    followed by (up to three) lines all in the body family.  Whole-line families are compared,
    so italic words, symbols and superscripts inside a paragraph never count.
    """
    flags = [False] * len(lines)
    if not body_family:
        return flags
    for i in range(len(lines) - 2, -1, -1):
        line, nxt = lines[i], lines[i + 1]
        text = line.text
        if (
            not line.font
            or line.font == body_family
            or line.lead_bold
            or len(text) > 60
            or not (text[:1].isupper() or text[:1].isdigit())
            or abs(line.size - body_size) > 1.0
            or nxt.y0 < line.y1 - 0.5 * min(line.height, nxt.height)  # same row
            or (i and not lines[i - 1].text.endswith(_TERMINAL))
        ):
            continue
        if flags[i + 1]:  # the first line of a two-line heading
            flags[i] = nxt.font == line.font and not (i + 2 < len(lines) and flags[i + 2])
        else:
            flags[i] = text[-1] not in ".,;:!?)]" and all(ln.font == body_family for ln in lines[i + 1 : i + 4])
    return flags


def _heading_style(line: Line, body_size: float) -> bool:
    return (line.bold or line.size >= body_size + 1.0) and len(line.text) <= 120


# ------------------------------------------------------------------------ reading order


def find_gutters(blocks: list[Block], width: float) -> list[float]:
    """x positions of the gutters between text columns (empty when the page has one column).

    A gutter is a vertical strip that few column-width lines cross while plenty of text lies
    wholly on either side of it; lines wider than 60% of the text area (full-width paragraphs,
    titles) are ignored, since they become band separators.  Three columns are found by
    looking for a second gutter on each side of the first.
    """
    lines = [line for block in blocks if not block.table_rows for line in block.lines]
    if len(lines) < 4:
        return []
    left = min(line.x0 for line in lines)
    right = max(line.x1 for line in lines)
    if right - left < 0.3 * width:
        return []
    total = sum(len(line.text) for line in lines)
    return _gutters_in(lines, left, right, max(0.12 * total, 80.0), depth=2)


def _gutters_in(lines: list[Line], left: float, right: float, need: float, depth: int) -> list[float]:
    span = right - left
    if depth == 0 or span < 100 or len(lines) < 4:
        return []
    nbins = int(span // 2) + 2
    cross = [0] * (nbins + 1)
    ends = [0] * (nbins + 1)  # weight of lines ending in bin i
    starts = [0] * (nbins + 1)  # weight of lines starting in bin i
    for line in lines:
        w = len(line.text)
        a = min(max(int((line.x0 - left) // 2), 0), nbins)
        b = min(max(int((line.x1 - left) // 2), 0), nbins)
        ends[b] += w
        starts[a] += w
        if line.x1 - line.x0 <= 0.6 * span and b - 1 > a + 1:
            cross[a + 1] += w
            cross[b - 1] -= w
    suffix = [0] * (nbins + 2)
    for i in range(nbins, -1, -1):
        suffix[i] = suffix[i + 1] + starts[i]
    best: tuple[float, int] | None = None
    running = 0
    before = 0
    for i in range(nbins):
        running += cross[i]
        before += ends[i]
        if i < 0.2 * nbins or i > 0.8 * nbins:
            continue
        after = suffix[i + 1]
        side = min(before, after)
        if side >= need and running <= 0.6 * side:
            score = (running / side, abs(i - nbins / 2))
            if best is None or score < (best[0], abs(best[1] - nbins / 2)):
                best = (score[0], i)
    if best is None:
        return []
    gutter = left + 2 * best[1] + 1
    lefts = [ln for ln in lines if ln.x1 <= gutter + 2]
    rights = [ln for ln in lines if ln.x0 >= gutter - 2]
    return [
        *_gutters_in(lefts, left, gutter, need, depth - 1),
        gutter,
        *_gutters_in(rights, gutter, right, need, depth - 1),
    ]


def order_blocks(blocks: list[Block], width: float) -> list[Block]:
    """Blocks in reading order.

    With columns: blocks that cross a gutter split the page into horizontal bands; within a
    band each column is read top to bottom, left column first.  Without columns: top to
    bottom, blocks side by side on one row left to right.
    """
    gutters = find_gutters(blocks, width)
    if not gutters:
        return sorted(blocks, key=lambda b: (round(b.y0 / 4), b.x0))
    bounds = [float("-inf"), *gutters, float("inf")]
    columns: list[tuple[int, Block]] = []
    spanning: list[Block] = []
    for block in blocks:
        col = _column_of(block, bounds)
        if col is None:
            spanning.append(block)
        else:
            columns.append((col, block))
    spanning.sort(key=lambda b: b.y0)
    mids = [(b.y0 + b.y1) / 2 for b in spanning]
    bands: dict[tuple[int, int], list[Block]] = {}
    for col, block in columns:
        ymid = (block.y0 + block.y1) / 2
        band = sum(1 for m in mids if m < ymid)
        bands.setdefault((band, col), []).append(block)
    ordered: list[Block] = []
    for band in range(len(spanning) + 1):
        for col in range(len(bounds) - 1):
            ordered.extend(sorted(bands.get((band, col), []), key=lambda b: b.y0))
        if band < len(spanning):
            ordered.append(spanning[band])
    return ordered


def _column_of(block: Block, bounds: list[float]) -> int | None:
    """Index of the column that holds (at least 85% of the width of) ``block``, else None."""
    x0, x1 = block.x0, block.x1
    w = max(x1 - x0, 1.0)
    for i in range(len(bounds) - 1):
        inside = min(x1, bounds[i + 1]) - max(x0, bounds[i])
        if inside >= 0.85 * w or (x0 >= bounds[i] - 3 and x1 <= bounds[i + 1] + 3):
            return i
    return None
