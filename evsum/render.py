"""Render a cited PDF page to PNG with the quoted span highlighted.

The highlight is drawn from the stored line boxes of the page text: every line
whose character span overlaps ``[char_start, char_end)`` gets a box over the
part of the line the span covers (proportional to characters), so no string
is ever searched for on the page.
"""

from __future__ import annotations

from pathlib import Path

from evsum.errors import NotFoundError
from evsum.records import LineBox, Page

HIGHLIGHT_RGB = (1.0, 0.85, 0.0)


def highlight_boxes(page: Page, char_start: int, char_end: int) -> list[tuple[float, float, float, float]]:
    """Rectangles (x0, y0, x1, y1) in PDF points covering the span on the page."""
    boxes: list[tuple[float, float, float, float]] = []
    for line in page.lines:
        if line.char_end <= char_start or line.char_start >= char_end:
            continue
        boxes.append(_partial_box(line, max(char_start, line.char_start), min(char_end, line.char_end)))
    return boxes


def _partial_box(line: LineBox, start: int, end: int) -> tuple[float, float, float, float]:
    length = max(line.char_end - line.char_start, 1)
    width = line.x1 - line.x0
    x0 = line.x0 + width * (start - line.char_start) / length
    x1 = line.x0 + width * (end - line.char_start) / length
    return (x0, line.y0, x1, line.y1)


def render_page_png(pdf_path: Path, page: Page, char_start: int | None, char_end: int | None,
                    zoom: float = 1.5) -> bytes:
    """PNG bytes of the page, with the span highlighted when offsets are given."""
    import pymupdf

    if not pdf_path.is_file():
        raise NotFoundError(f"the source PDF is no longer at {pdf_path}")
    with pymupdf.open(pdf_path) as document:
        if not 1 <= page.number <= document.page_count:
            raise NotFoundError(f"the source PDF has no page {page.number}")
        pdf_page = document[page.number - 1]
        if char_start is not None and char_end is not None:
            for x0, y0, x1, y1 in highlight_boxes(page, char_start, char_end):
                annot = pdf_page.add_highlight_annot(pymupdf.Rect(x0, y0, x1, y1))
                annot.set_colors(stroke=HIGHLIGHT_RGB)
                annot.update()
        pixmap = pdf_page.get_pixmap(matrix=pymupdf.Matrix(zoom, zoom), annots=True)
        return bytes(pixmap.tobytes("png"))
