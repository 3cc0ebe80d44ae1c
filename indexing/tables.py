"""Table detection for the PDF parser: a cheap per-page gate, PyMuPDF's table finder, carving.

* ``table_rules`` decides whether a page is worth the (slow) ``find_tables`` call: it needs a
  'Table N' caption and at least two ruled lines or shaded cells;
* ``find_tables`` runs PyMuPDF's finder (line-based for full grids, layout-model otherwise) and
  turns each table into its box plus one ``Line`` per row, cells joined with ' | ';
* ``carve_tables`` takes the lines that fall inside those boxes out of a page's text blocks and
  returns one table ``Block`` per table.
"""

from __future__ import annotations

import re
from typing import Any

import pymupdf

from indexing.layout import TEXT_FLAGS, Block, Line, clean_text

_TABLE_CAPTION = re.compile(
    r"(?:(?:Supplementary|Supplemental|Extended\s+Data)\s+)?(?:Table|TABLE)\s+[A-Z]?\d+(?:[.\-–]\d+)?[A-Za-z]?"
    r"(?:\s*[.:|—–-]|\s+[A-Z(]|$)"
)

Table = tuple[tuple[float, ...], list[Line]]  # table box, one Line per row


def table_rules(page: pymupdf.Page, blocks: list[list[Line]]) -> list[tuple[float, float, float, float]]:
    """Cheap gate for ``find_tables``: the ruled lines and shaded cells of a page that has a
    'Table N' caption (empty when there is no caption, or fewer than two such drawings)."""
    if not any(_TABLE_CAPTION.match(line.text) for lines in blocks for line in lines):
        return []
    height = page.rect.height
    rules = []
    for drawing in page.get_cdrawings():
        x0, y0, x1, y1 = drawing["rect"]
        w, h = x1 - x0, y1 - y0
        if y1 < 0.08 * height or y0 > 0.92 * height:
            continue
        ruled = (h < 2 and w > 40) or (w < 2 and h > 15)
        if ruled or (w > 20 and h > 5 and all(item[0] == "re" for item in drawing["items"])):
            rules.append((x0, y0, x1, y1))
    return rules if len(rules) >= 2 else []


def find_tables(page: pymupdf.Page, rules: list[tuple[float, float, float, float]]) -> list[Table]:
    """Tables found by PyMuPDF, each as its box and one ``Line`` per row ('cell | cell | ...').

    A page ruled as a full grid is first tried with the fast line-based finder; anything else
    (booktabs rules, shaded rows), or a grid result that covers too little of the rules, goes to
    the slower layout-model finder.
    """
    tables: list[Any] = []
    grid = sum(1 for r in rules if r[3] - r[1] < 2) >= 2 and sum(1 for r in rules if r[2] - r[0] < 2) >= 2
    if grid:
        tables = [t for t in page.find_tables(use_layout=False).tables if min(t.row_count, t.col_count) >= 2]
        extent = max(r[3] for r in rules) - min(r[1] for r in rules)
        if sum(t.bbox[3] - t.bbox[1] for t in tables) < 0.6 * extent:
            tables = []
    if not tables:
        tables = [t for t in page.find_tables().tables if min(t.row_count, t.col_count) >= 2]
    found: list[Table] = []
    for table in tables:
        bbox = tuple(table.bbox)
        words = page.get_text("words", clip=bbox, flags=TEXT_FLAGS)
        rows = [(row.bbox, [c for c in row.cells if c is not None]) for row in table.rows]
        cells: dict[tuple[int, int], list[tuple[Any, ...]]] = {}  # words: x0, y0, x1, y1, text, ...
        for word in words:
            r = _nearest((word[1] + word[3]) / 2, [(row[0][1], row[0][3]) for row in rows])
            c = _nearest((word[0] + word[2]) / 2, [(cell[0], cell[2]) for cell in rows[r][1]])
            cells.setdefault((r, c), []).append(word)
        lines: list[Line] = []
        for r in range(len(rows)):
            keys = sorted(k for k in cells if k[0] == r)
            texts = [clean_text(" ".join(w[4] for w in cells[k])) for k in keys]
            members = [w for k in keys for w in cells[k]]
            text = " | ".join(" ".join(t.split()) for t in texts if t.strip())
            if text:
                x0, y0 = min(w[0] for w in members), min(w[1] for w in members)
                x1, y1 = max(w[2] for w in members), max(w[3] for w in members)
                lines.append(Line(text, x0, y0, x1, y1, 0.0, False))
        if lines:
            found.append((bbox, lines))
    return found


def _nearest(v: float, spans: list[tuple[float, float]]) -> int:
    """Index of the interval that contains ``v`` or lies closest to it (0 when there is none)."""
    best, best_d = 0, float("inf")
    for i, (lo, hi) in enumerate(spans):
        d = 0.0 if lo <= v <= hi else min(abs(v - lo), abs(v - hi))
        if d < best_d:
            best, best_d = i, d
    return best


def carve_tables(blocks: list[list[Line]], tables: list[Table]) -> tuple[list[list[Line]], list[Block]]:
    """The page's text blocks without the lines inside any table box, and one ``Block`` per table."""
    carved: list[Block] = []
    lines_of_blocks = blocks
    for bbox, rows in tables:
        inside: list[Line] = []
        rest: list[list[Line]] = []
        for lines in lines_of_blocks:
            keep = []
            for ln in lines:
                cx, cy = (ln.x0 + ln.x1) / 2, ln.ymid
                if bbox[0] - 2 <= cx <= bbox[2] + 2 and bbox[1] - 2 <= cy <= bbox[3] + 2:
                    inside.append(ln)
                else:
                    keep.append(ln)
            if keep:
                rest.append(keep)
        lines_of_blocks = rest
        carved.append(Block(lines=inside, table_rows=rows))
    return lines_of_blocks, carved
