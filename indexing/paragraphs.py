"""Paragraph assembly for the PDF parser: joining split paragraphs and cutting reference lists.

* ``merge_paragraphs`` drops figure text and joins blocks of one paragraph that PyMuPDF split
  (column and page-area breaks, double spacing, captions or tables placed mid-column), then
  cuts reference blocks one reference per block;
* ``continues`` says whether one block carries on the paragraph another ends;
* ``TERMINAL`` lists the endings that close a sentence (shared with the heading checks).
"""

from __future__ import annotations

import re

from evsum.records import Role
from indexing.layout import Block, Line

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
