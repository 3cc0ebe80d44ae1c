"""Document title and bibliographic metadata for the PDF parser.

* ``find_title``: the PDF's metadata title when it looks real (completed from page 1 when it is
  truncated), else the first run of page 1's largest type that reads like a title;
* ``find_metadata``: author (from the PDF metadata), DOI and year (from page 1's text, falling
  back to the metadata), when they can be found cheaply;
* ``squash``: text reduced to lower-case letters and digits, for comparing titles.
"""

from __future__ import annotations

import html
import re

from indexing.layout import WORD, Block, Line

_DOI = re.compile(r"\b10\.\d{4,9}/[^\s\"<>]+")
_YEAR_CUE = re.compile(
    r"(?:©|\(c\)|copyright|published|accepted|received|posted)\D{0,40}?\b((?:19|20)\d{2})\b", re.I
)
_BAD_TITLE = re.compile(
    r"^(?:microsoft\s+\w+\s*-|untitled|title|document\d*|slide\s*\d*)|\.(?:pdf|docx?|rtf|tex|indd|dvi|ps|qxd)$",
    re.I,
)
_BAD_AUTHOR = {"administrator", "admin", "user", "owner", "author", "unknown", "anonymous", "default"}


def find_title(first: list[Block], meta: dict[str, str]) -> str:
    """The metadata title when it looks real (completed from page 1 when truncated), else page 1's.

    ``first`` is page 1's blocks in reading order.
    """
    candidate = _largest_text(first)
    raw = html.unescape(meta.get("title") or "")
    raw = " ".join(raw.split())
    good = len(raw) >= 8 and " " in raw and not _BAD_TITLE.search(raw) and not raw.replace(" ", "").isdigit()
    if good:
        if candidate and len(candidate) > len(raw) and squash(candidate).startswith(squash(raw)):
            return candidate
        return raw
    return candidate


def squash(text: str) -> str:
    """``text`` in lower case with everything but letters, digits and underscores removed."""
    return re.sub(r"\W+", "", text.lower())


def _largest_text(first: list[Block]) -> str:
    """The first run of lines in page 1's largest (then boldest) type that reads like a title."""
    lines = [ln for b in first if not b.table_rows for ln in b.lines]
    for size, bold in sorted({(ln.size, ln.bold) for ln in lines}, reverse=True)[:5]:
        run: list[Line] = []
        for ln in lines:
            if ln.size == size and ln.bold == bold:
                run.append(ln)
            elif run:
                break
        text = re.sub(r"(\w)- (\w)", r"\1-\2", " ".join(ln.text for ln in run))
        if 8 <= len(text) <= 300 and len(WORD.findall(text)) >= 2:
            return text
    return ""


def find_metadata(meta: dict[str, str], page1_text: str) -> dict[str, str]:
    """Author, DOI and year when they can be found cheaply."""
    out: dict[str, str] = {}
    author = " ".join(html.unescape(meta.get("author") or "").split())
    if author and author.lower() not in _BAD_AUTHOR:
        out["author"] = author
    doi = _DOI.search(page1_text) or _DOI.search(f"{meta.get('subject', '')} {meta.get('keywords', '')}")
    if doi:
        out["doi"] = doi.group(0).rstrip(".,;:)]}")
    year = _YEAR_CUE.search(page1_text)
    if year:
        out["year"] = year.group(1)
    else:
        created = meta.get("creationDate") or ""
        if re.match(r"D:(19|20)\d\d", created):
            out["year"] = created[2:6]
    return out
