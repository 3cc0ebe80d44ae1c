"""Margin clean-up for the PDF parser: running headers/footers, page numbers, line numbers.

* ``drop_margins`` removes, across the whole document, lines in the top or bottom margin that
  recur on many pages (``margin_key``) or read like furniture (``is_margin_furniture``: page
  numbers, DOIs, journal citations, licences), and the margin line numbers of preprints;
* ``line_number_edges`` finds a page's line-number columns (integers counting up by one down
  the page at a shared right edge) and ``strip_line_numbers`` removes them.
"""

from __future__ import annotations

import re
from collections import Counter

from indexing.layout import BARE_NUMBER, Line

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
        elif BARE_NUMBER.fullmatch(line.text):
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
            if BARE_NUMBER.fullmatch(line.text) and round(line.x1 / 3) in near:
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
