"""Page-layout helpers for the PDF parser: clean lines, margins, line numbers, reading order.

Everything here works on plain records built from PyMuPDF's ``get_text("dict")`` output:

* ``extract_blocks`` turns one page's dict into blocks of cleaned ``Line``s: ligatures expanded
  (by the extraction flags and a fallback table), soft hyphens, control, zero-width and
  private-use characters dropped, odd spaces normalised, spacing accents composed, spans put
  left to right with a space wherever the glyphs leave a word gap, rotated text dropped;
* ``drop_margins`` removes running headers/footers, page numbers and the line numbers that
  preprints print in the margin (``line_number_edges`` / ``strip_line_numbers``);
* ``split_block`` cuts a PyMuPDF block where a heading starts or ends or a blank line falls;
* ``find_gutters`` / ``order_blocks`` put blocks in reading order (one, two or three columns,
  with full-width blocks splitting the page into bands);
* ``merge_paragraphs`` joins blocks of one paragraph that PyMuPDF split (column and page-area
  breaks, double spacing, captions placed mid-column) and cuts reference lists one per entry.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import pymupdf

from evsum.records import Role

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
_BOLD_NAME = re.compile(r"bold|black|heavy|semibold|demi|[.,_-](?:B|BI|Bd|SB)$", re.IGNORECASE)
_ACCENTS = {"´": "\u0301", "`": "\u0300", "¨": "\u0308", "˜": "\u0303", "ˆ": "\u0302", "¸": "\u0327",
            "˚": "\u030a", "ˇ": "\u030c"}
_SPACING_ACCENT = re.compile(r"([A-Za-z])([´`¨˜ˆ¸˚ˇ]) (?=[a-z])")
_LEAD_NUMBER = re.compile(r"(\d{1,5}) +(?=\S)")
_BARE_NUMBER = re.compile(r"\d{1,5}")


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
        if not parts and lead is None and _BARE_NUMBER.fullmatch(stripped) and len(spans) > 1:
            lead = (int(stripped), sx0, sx1)
        parts.append(text)
        n = len(stripped)
        sizes[size] += n
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
    return Line(text, x0, y0, x1, y1, size, bold, lead, run_in)


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


# --------------------------------------------------------------------------- margins

_DIGITS = re.compile(r"\d+")
_NUMERIC_KEY = re.compile(r"(?:page |p )?(?:0 )*0|[ivxlc]+|")  # also the empty key
_NON_WORD = re.compile(r"[\W_]+")
_FURNITURE = re.compile(
    r"^(?:page\s*)?[0-9ivxlc]{1,5}(?:\s*(?:of|/|\|)\s*\d{1,5})?$"  # 7, iii, Page 3, 3 of 12
    r"|doi|https?://|www\.|©|\(c\)\s*\d{4}|copyright|all rights reserved|issn|downloaded from"
    r"|\bvol(?:ume)?\b[\s:.(]*\d|\(\d{4}\)\s*\d+\s*[:(]|\d{4}\s*;\s*\d+|\bpage\s+\d+|\bpp?\.\s*\d"
    r"|licen[cs]e|preprint|peer review|journal|proceedings|published by"
    r"|\b\d{1,4},\s*\d{1,6}\s*[–-]\s*\d{1,6}\b",  # "Cell 187, 1762–1768"
    re.IGNORECASE,
)


def margin_key(text: str) -> str:
    """Normalise a margin line so that running headers match across pages (digits dropped)."""
    return _NON_WORD.sub(" ", _DIGITS.sub("0", text.lower())).strip()


def in_margin(line: Line, height: float, frac: float = 0.1) -> bool:
    """True when ``line`` lies wholly in the top or bottom ``frac`` of the page."""
    return line.y1 <= frac * height or line.y0 >= (1 - frac) * height


def is_margin_furniture(text: str) -> bool:
    """True for typical header/footer text: page numbers, DOIs, journal citations, licences."""
    return len(text) <= 160 and bool(_FURNITURE.search(text.strip()))


def drop_margins(pages: list[list[list[Line]]], heights: list[float]) -> list[list[list[Line]]]:
    """Every page's blocks without running headers/footers, page numbers and line numbers.

    A line in the top or bottom 12% of its page goes when its digit-free text (``margin_key``)
    recurs on at least a quarter of the pages (and two), or when its whole block sits in the
    margin and reads like furniture (page number, DOI, journal citation, licence).  Margin line
    numbers go when the document numbers its lines on at least two pages.
    """
    counts: Counter[str] = Counter()
    for blocks, height in zip(pages, heights):
        counts.update({margin_key(ln.text) for ls in blocks for ln in ls if in_margin(ln, height, 0.12)})
    need = max(2, round(0.25 * len(pages)))
    repeated = {key for key, n in counts.items() if n >= need}
    numbered = [line_number_edges([ln for lines in blocks for ln in lines]) for blocks in pages]
    edges = set().union(*numbered) if sum(1 for e in numbered if e) >= min(2, len(pages)) else set()
    out: list[list[list[Line]]] = []
    for blocks, height in zip(pages, heights):
        kept_blocks: list[list[Line]] = []
        for lines in blocks:
            block_in_margin = all(in_margin(ln, height) for ln in lines)
            kept = [ln for ln in lines if not _is_running(ln, height, block_in_margin, repeated)]
            if kept:
                kept_blocks.append(kept)
        out.append(strip_line_numbers(kept_blocks, edges))
    return out


def _is_running(line: Line, height: float, block_in_margin: bool, repeated: set[str]) -> bool:
    if not in_margin(line, height, 0.12):
        return False
    key = margin_key(line.text)
    if key in repeated and (block_in_margin or not _NUMERIC_KEY.fullmatch(key)):
        return True  # page-number-like keys ("0", "page 0") recur trivially: only whole margin blocks
    return block_in_margin and is_margin_furniture(line.text)


# ---------------------------------------------------------------------- line numbers


def line_number_edges(lines: list[Line]) -> set[int]:
    """Right edges (rounded, points) of margin line-number columns found on one page.

    A candidate is a bare integer line or a line's leading integer token.  Candidates that
    share a right edge and count up by one from line to line down the page are line numbers.
    """
    groups: dict[int, list[tuple[float, int]]] = {}
    for line in lines:
        if line.lead_number is not None:
            value, _, nx1 = line.lead_number
        elif _BARE_NUMBER.fullmatch(line.text):
            value, nx1 = int(line.text), line.x1
        else:
            continue
        groups.setdefault(round(nx1 / 3), []).append((line.ymid, value))
    edges: set[int] = set()
    for key, members in groups.items():
        members = sorted(set(members))
        if len(members) < 5:
            continue
        steps = [b[1] - a[1] for a, b in zip(members, members[1:])]
        if sum(1 for s in steps if s == 1) >= 0.6 * len(steps):
            edges.add(key)
    return edges


def strip_line_numbers(blocks: list[list[Line]], edges: set[int]) -> list[list[Line]]:
    """Remove line-number lines and leading line-number tokens whose right edge is in ``edges``."""
    if not edges:
        return blocks
    near = {e + d for e in edges for d in (-1, 0, 1)}
    out: list[list[Line]] = []
    for lines in blocks:
        kept: list[Line] = []
        for line in lines:
            if _BARE_NUMBER.fullmatch(line.text) and round(line.x1 / 3) in near:
                continue
            if line.lead_number is not None and round(line.lead_number[2] / 3) in near:
                rest = line.text[len(str(line.lead_number[0])):].lstrip()
                if not rest:
                    continue
                line.text, line.x0, line.lead_number = rest, line.lead_number[2], None
            kept.append(line)
        if kept:
            out.append(kept)
    return out


# --------------------------------------------------------------------- block splitting


def split_block(
    lines: list[Line], body_size: float, known: Callable[[str], bool] = lambda text: False
) -> list[list[Line]]:
    """Cut one PyMuPDF block where a heading line starts or ends, or at a blank-line gap.

    A heading line is bold or set larger than the body text, or is a short line that ``known``
    accepts (a known section name set in the body font, as some journals do).
    """
    groups: list[list[Line]] = [[lines[0]]]
    width = max(ln.x1 for ln in lines) - min(ln.x0 for ln in lines)
    styles = [
        _heading_style(ln, body_size) or (len(ln.text) <= 40 and ln.size >= body_size - 1 and known(ln.text))
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


# ------------------------------------------------------------------ paragraph assembly

TERMINAL = (".", "!", "?", ":", ".)", ".]", '."', ".”")
_LIST_START = re.compile(r"[•◦▪▫●○■□◆◇►▶➢✓✔*·∙–—-]|\(?\d{1,3}[.)]\s|\(?[a-z][.)]\s|\(?[ivx]+[.)]\s")
_ABBREVIATION = re.compile(
    r"(?:\bet al|\b[A-Z]|\bFigs?|\be\.g|\bi\.e|\bvs|\bcf|\bapprox|\bca|\bNo|\bDr|\bSt|\bRef|\bEqs?|\bpp?)\.$"
)
_REF_NUMBER = re.compile(r"\[?(\d{1,3})[.\]]\s")


def merge_paragraphs(
    blocks: list[Block], roles: list[tuple[Role | None, str | None]]
) -> list[tuple[Block, Role, str | None]]:
    """Drop figure text, join blocks of one paragraph split by PyMuPDF (column breaks, double
    spacing, a caption placed mid-column), and cut reference blocks into single references."""
    out: list[tuple[Block, Role, str | None]] = []
    for block, (role, section) in zip(blocks, roles):
        if role is None:
            continue
        if out and role in (Role.BODY, Role.REFERENCE, Role.CAPTION):
            # Look back over captions, tables and stray fragments placed mid-column.
            j = len(out) - 1
            while j > 0 and role is not Role.CAPTION and _skippable(out[j], block):
                j -= 1
            prev, prev_role, prev_section = out[j]
            if prev_role is role and prev_section == section and continues(prev, block):
                out[j] = (Block(prev.lines + block.lines), role, section)
                continue
        out.append((block, role, section))
    result: list[tuple[Block, Role, str | None]] = []
    for block, role, section in out:
        parts = _split_references(block) if role is Role.REFERENCE else [block]
        result.extend((part, role, section) for part in parts)
    return result


def _skippable(item: tuple[Block, Role, str | None], nxt: Block) -> bool:
    block, role = item[0], item[1]
    if role in (Role.CAPTION, Role.TABLE):
        return True
    text = block.text
    return nxt.lines[0].text[:1].islower() and len(text) < 40 and not text.endswith(TERMINAL)


def _split_references(block: Block) -> list[Block]:
    """Cut a block holding several references where a numbered or out-dented line starts one."""
    lines = block.lines
    left = min(ln.x0 for ln in lines)
    hanging = sum(1 for ln in lines if ln.x0 > left + 3) >= len(lines) / 3
    numbered = sum(1 for ln in lines if _REF_NUMBER.match(ln.text)) >= 2
    if not (hanging or numbered):
        return [block]
    groups: list[list[Line]] = [[lines[0]]]
    first = _REF_NUMBER.match(lines[0].text)
    expected = int(first.group(1)) + 1 if first else None
    for line in lines[1:]:
        if numbered:
            match = _REF_NUMBER.match(line.text)
            starts = match is not None and (expected is None or int(match.group(1)) == expected)
            if match is not None and starts:
                expected = int(match.group(1)) + 1
        else:
            starts = line.x0 <= left + 3
        if starts:
            groups.append([line])
        else:
            groups[-1].append(line)
    return [Block(group) for group in groups]


def continues(prev: Block, nxt: Block) -> bool:
    """True when ``nxt`` carries on the paragraph that ``prev`` ends (same role assumed)."""
    last, first = prev.lines[-1], nxt.lines[0]
    tail, head = last.text, first.text
    ends_sentence = tail.endswith(TERMINAL) and not _ABBREVIATION.search(tail)
    if ends_sentence or _LIST_START.match(head) or first.lead_bold:
        return False
    if head[:1].islower() or tail[-1] in "-,(/–" or head[:1] in "([":
        return True
    if _REF_NUMBER.match(prev.lines[0].text) and not _REF_NUMBER.match(head):
        return True  # a numbered reference (or list entry) running on into the next column
    widest = max(ln.x1 - ln.x0 for ln in prev.lines + nxt.lines)
    return (
        abs(prev.size - nxt.size) < 0.3
        and last.x1 - last.x0 >= 0.85 * widest
        and abs(first.x0 - last.x0) < 2 * last.height
        and -2 < first.y0 - last.y1 < 2.5 * last.height
    )
