"""PDF parser: one PDF file to a ``ParsedSource`` of clean page text, line boxes and regions.

Pipeline (``parse_pdf``): open and vet the file (empty, not a PDF, corrupt, encrypted,
image-only); extract every page's lines with PyMuPDF; find running headers/footers and margin
line numbers across the document and drop them; carve out tables (``find_tables``, only on
pages that have a table caption and ruled or shaded cells); cut blocks at headings and blank
lines; put blocks in reading order (columns, bands); give each block a role (heading, body,
table, caption, reference) and the section it sits in; join continued paragraphs; and build
the page text, recording a ``LineBox`` for every emitted line and a ``Region`` per block.
"""

from __future__ import annotations

import html
import pathlib
import re
import statistics
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pymupdf

from evsum.errors import UnreadableDocumentError
from evsum.records import LineBox, Role
from indexing.layout import (
    TERMINAL,
    TEXT_FLAGS,
    Block,
    Line,
    clean_text,
    drop_margins,
    extract_blocks,
    merge_paragraphs,
    order_blocks,
    split_block,
    weighted_size,
)
from indexing.parsed import ParsedPage, ParsedSource, Region

_TABLE_CAPTION = re.compile(
    r"(?:(?:Supplementary|Supplemental|Extended\s+Data)\s+)?(?:Table|TABLE)\s+[A-Z]?\d+(?:[.\-–]\d+)?[A-Za-z]?"
    r"(?:\s*[.:|—–-]|\s+[A-Z(]|$)"
)
_DOI = re.compile(r"\b10\.\d{4,9}/[^\s\"<>]+")
_YEAR_CUE = re.compile(
    r"(?:©|\(c\)|copyright|published|accepted|received|posted)\D{0,40}?\b((?:19|20)\d{2})\b", re.I
)
_WORD = re.compile(r"[A-Za-z]{2,}")
_URL_TAIL = re.compile(r"(?:https?://|www\.|doi\.)\S*$")
_HYPHENS = ("-", "\u2010", "\u2011")
_HYPHEN_WORD = re.compile(r"\b([A-Za-z]{2,})[-\u2010\u2011]([a-z]{2,})\b")
_BAD_TITLE = re.compile(
    r"^(?:microsoft\s+\w+\s*-|untitled|title|document\d*|slide\s*\d*)|\.(?:pdf|docx?|rtf|tex|indd|dvi|ps|qxd)$",
    re.I,
)
_BAD_AUTHOR = {"administrator", "admin", "user", "owner", "author", "unknown", "anonymous", "default"}


_Table = tuple[tuple[float, ...], list[Line]]  # table box, one Line per row


@dataclass(slots=True)
class _Page:
    """Working state of one page between the extraction and the emission passes."""

    number: int
    width: float
    height: float
    blocks: list[list[Line]]
    tables: list[_Table] = field(default_factory=list)
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
            rules = _table_rules(page, blocks) if detect_tables else []
            if rules:
                item.tables = _find_tables(page, rules)
            pages.append(item)
    except Exception as exc:
        raise UnreadableDocumentError(str(path), f"corrupt or truncated PDF: {_short(exc)}") from exc
    if chars == 0:
        raise UnreadableDocumentError(str(path), "no text layer (image-only PDF; OCR is not supported)")
    return pages


def _table_rules(page: pymupdf.Page, blocks: list[list[Line]]) -> list[tuple[float, float, float, float]]:
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


def _find_tables(page: pymupdf.Page, rules: list[tuple[float, float, float, float]]) -> list[_Table]:
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
    found: list[_Table] = []
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


# ------------------------------------------------------------------ document assembly


def _assemble(pages: list[_Page], meta: dict[str, str]) -> ParsedSource:
    """Run the document-level passes and build the ``ParsedSource``."""
    page1_raw = " ".join(line.text for lines in pages[0].blocks for line in lines)
    all_lines = [line for p in pages for lines in p.blocks for line in lines]
    body_size = weighted_size(ln for ln in all_lines if len(ln.text) >= 30) or weighted_size(all_lines)
    words = _vocabulary(pages)
    for page, blocks in zip(pages, drop_margins([p.blocks for p in pages], [p.height for p in pages])):
        page.blocks = blocks
    for page in pages:
        page.ordered = _page_blocks(page, body_size)
    title = _title(pages[0], meta)
    roles = _assign_roles([p.ordered for p in pages], body_size, title)
    parsed_pages: list[ParsedPage] = []
    regions: list[Region] = []
    for page, page_roles in zip(pages, roles):
        merged = merge_paragraphs(page.ordered, page_roles)
        parsed, page_regions = _emit(page, merged, words)
        parsed_pages.append(parsed)
        regions.extend(page_regions)
    return ParsedSource(title=title, pages=parsed_pages, regions=regions, metadata=_metadata(meta, page1_raw))


def _vocabulary(pages: list[_Page]) -> tuple[set[str], set[str]]:
    """(words, hyphenated compounds) used in the document, lower case, line-end fragments excluded."""
    vocab: set[str] = set()
    compounds: set[str] = set()
    for page in pages:
        for lines in page.blocks:
            hyphen_before = False
            for line in lines:
                found = _WORD.findall(line.text)
                if hyphen_before and found:
                    found = found[1:]
                hyphen_before = line.text.endswith(_HYPHENS)
                if hyphen_before and found:
                    found = found[:-1]
                vocab.update(w.lower() for w in found)
                compounds.update(f"{a}-{b}".lower() for a, b in _HYPHEN_WORD.findall(line.text))
    return vocab, compounds


def _page_blocks(page: _Page, body_size: float) -> list[Block]:
    """Tables carved out, blocks split at headings and blank lines, in reading order."""
    tables: list[Block] = []
    lines_of_blocks = page.blocks
    for bbox, rows in page.tables:
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
        tables.append(Block(lines=inside, table_rows=rows))
    blocks = [Block(group) for lines in lines_of_blocks for group in split_block(lines, body_size, _is_known)]
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


# ------------------------------------------------------------------ roles and sections

# Known section names: canonical name -> other spellings (the lower-cased name always matches).
_SECTION_ALIASES: dict[str, tuple[str, ...]] = {
    "Abstract": (), "Summary": (), "Background": (), "Introduction": (),
    "Methods": ("method", "methodology", "online methods"),
    "Materials and Methods": ("material and methods", "methods and materials"), "Patients and Methods": (),
    "Experimental Procedures": (), "Experimental Section": (), "STAR Methods": (), "Results": (),
    "Results and Discussion": (), "Discussion": (), "Conclusions": ("conclusion", "concluding remarks"),
    "Discussion and Conclusions": (), "Recommendations": ("recommendation",),
    "Summary of Recommendations": (), "Limitations": ("limitations of the study", "study limitations"),
    "Strengths and Limitations": (),
    "Acknowledgements": ("acknowledgments", "acknowledgement", "acknowledgment"), "Funding": (),
    "References": (
        "bibliography", "reference", "literature cited", "works cited", "references and notes",
        "reference list", "references cited",
    ),
    "Further Reading": (), "Supporting Information": (),
    "Author Contributions": ("authors contributions", "contributions", "contribution statement"),
    "Competing Interests": (), "Conflict of Interest": ("conflicts of interest",),
    "Declaration of Interests": ("declaration of competing interest",), "Declarations": (),
    "Data Availability": ("data availability statement",), "Code Availability": (), "Abbreviations": (),
    "Keywords": ("key words",), "Highlights": (), "Significance": (), "Author Summary": (),
    "Key Points": (), "Key Messages": (), "Executive Summary": (), "Glossary": (),
    "Resource Availability": (), "Key Resources Table": (), "Ethics Statement": (), "Ethics": (),
    "Quantification and Statistical Analysis": (), "Statistical Analysis": ("statistical analyses",),
    "Case Report": (), "Case Presentation": (), "Objectives": ("objective",), "Aims": (), "Purpose": (),
    "Scope": (), "Foreword": (), "Preface": (), "Contents": ("table of contents",),
    "Figure Legends": ("figure captions",), "Figures": (), "Tables": (), "Additional Information": (),
    "Disclosures": (), "Research in Context": (), "Study Design": (), "Notes": (), "Open Access": (),
}
_SECTION_NAMES = {
    alias: name for name, aliases in _SECTION_ALIASES.items() for alias in (name.lower(), *aliases)
}
_REFERENCE_SECTIONS = {"References", "Further Reading"}
# Known names that open a section even as a bold run-in ("Funding This work was ..."); others
# ("Ethics statement", "Statistical analysis") are subsections of the section they sit in.
_RUN_IN_SECTIONS = {
    "Abstract", "Background", "Introduction", "Methods", "Materials and Methods", "Results", "Discussion",
    "Conclusions", "Limitations", "Recommendations", "Acknowledgements", "Funding", "Author Contributions",
    "Competing Interests", "Conflict of Interest", "Declaration of Interests", "Data Availability",
    "Code Availability", "References", "Open Access",
}
_PREFIX_SECTIONS = re.compile(r"^(supplementa(?:ry|l)|appendix|appendices|annex|annexes|annexe)\b")
_NUMBERING = re.compile(r"^(?:\d+(?:\.\d+)*\.?|[IVXLC]+[.)]|[A-Z][.)])\s+")
_CAPTION = re.compile(
    r"(?:(?:Supplementary|Supplemental|Extended\s+Data|Appendix)\s+)?"
    r"(?:Figure|Fig\.?|FIGURE|FIG\.?|Table|TABLE|Box|BOX|Scheme|Chart|Panel|Exhibit)\s*[A-Z]{0,2}\d+"
    r"(?:[.\-–]\d+)?[A-Za-z]?(?:\s*[.:|—–-]|\s+(?=[A-Z(\[])|$)"
)
_REF_START = re.compile(
    r"\[?\d{1,3}[.)\]]?\s|[A-Z][\w'’-]+,?\s+(?:[A-Z]\.?\s?-?){1,3}[,.]|[A-Z][\w'’-]+,\s+[A-Z]"
)
_REF_YEAR = re.compile(r"\b(?:19|20)\d{2}[a-z]?\b")
_REF_CUE = re.compile(r"et al|\d+\s*(?:\(\d+\))?\s*:\s*\d+|\d+\s*[-–]\s*\d+|doi|pmid|https?://|\bvol\b", re.I)
_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_SMALL_WORDS = {"a", "an", "and", "as", "at", "by", "for", "from", "in", "of", "on", "or", "per", "the",
                "to", "via", "vs", "with"}


def _heading_name(text: str) -> tuple[str, str | None]:
    """(clean title-case heading text, canonical section name when it is a known section)."""
    clean, key = _section_key(text)
    if key in _SECTION_NAMES:
        return _SECTION_NAMES[key], _SECTION_NAMES[key]
    title = _title_case(clean)
    if _PREFIX_SECTIONS.match(key) and len(key.split()) <= 8 and not re.search(r"[()\[\]]", clean):
        return title, title  # "Supplementary information", "Annex 2. ..."
    return title, None


def _section_key(text: str) -> tuple[str, str]:
    """The heading without numbering and end punctuation, and its lower-case lookup key."""
    clean = _NUMBERING.sub("", text.strip()).strip().rstrip(":.").strip()
    return clean, " ".join(_NON_ALNUM.sub(" ", clean.lower().replace("&", " and ")).split())


def _is_known(text: str) -> bool:
    """A line that is just a known section name ("Methods", "2. Results")."""
    if not (text[:1].isupper() or text[:1].isdigit()):
        return False
    return _section_key(text)[1] in _SECTION_NAMES


def _title_case(text: str) -> str:
    words = (text.lower() if text.isupper() else text).split()
    out = []
    for i, word in enumerate(words):
        if i and word.lower() in _SMALL_WORDS:
            out.append(word.lower())
        elif word[:1].islower() and not any(c.isupper() or c.isdigit() for c in word[1:]):
            out.append(word[:1].upper() + word[1:])
        else:
            out.append(word)
    return " ".join(out)[:120]


def _is_ref_like(text: str) -> bool:
    """A reference-list entry: numbered or 'Author, A.' start, a year and a citation cue."""
    return len(text) >= 30 and bool(
        _REF_START.match(text) and _REF_YEAR.search(text) and _REF_CUE.search(text)
    )


def _heading_candidate(block: Block, body_size: float) -> tuple[str, str | None] | None:
    """(clean name, canonical known section or None) when ``block`` can be a heading, else None."""
    if block.table_rows or len(block.lines) > 3:
        return None
    text = block.text
    if len(text) > 150 or _CAPTION.match(text):
        return None
    words = text.split()
    if not words or len(words) > 20:
        return None
    letters = sum(c.isalpha() for c in text)
    if letters < 2 or letters < 0.5 * len(text.replace(" ", "")):
        return None
    first = _NUMBERING.sub("", text)[:1]
    if not (first.isupper() or first.isdigit()):
        return None
    name, known = _heading_name(text)
    if known and len(words) <= 8:
        return name, known
    styled = block.bold or block.size >= body_size + 1.0
    if (
        not styled
        or text[-1] in ",;"
        or (text.endswith(".") and len(words) > 6)
        or "@" in text
        or text.count(",") > 2  # an author list
        or not re.search(r"[A-Za-z]{3,}", text)  # figure panel labels: "A B", "RH RD"
    ):
        return None
    return name, None


_Labelled = tuple[Role | None, str | None]  # (role or None = figure text to drop, section)


def _assign_roles(pages: list[list[Block]], body_size: float, title: str) -> list[list[_Labelled]]:
    """Role and section of every block, carrying the section (and the references state) across pages.

    Section headings are the known names ("Results", "Methods"), headings set larger than those,
    and headings in the same style as those when that style is all capitals or the document has
    fewer than three known names (guidelines).  Other styled headings are subheadings: they get
    ``Role.HEADING`` but leave the section alone.
    """
    candidates = [[_heading_candidate(b, body_size) for b in blocks] for blocks in pages]
    known = [b for blocks, cands in zip(pages, candidates) for b, c in zip(blocks, cands) if c and c[1]]
    styles = Counter(_style(b) for b in known)
    l1_styles = {style for style, n in styles.items() if n >= max(2, 0.3 * len(known))}
    l1_styles.update(style for style, _ in styles.most_common(1))
    l1_size = statistics.median(b.size for b in known) + 0.3 if known else body_size + 1.2
    paper = len(known) >= 3
    squashed_title = _squash(title)
    section: str | None = None
    in_refs = False
    out: list[list[_Labelled]] = []
    prev_role: Role | None = Role.BODY
    prev_block: Block | None = None
    small_print: tuple[str | None, bool, float] | None = None  # state before a small-type run-in
    caption_size = 0.0
    for blocks, cands in zip(pages, candidates):
        roles: list[_Labelled] = []
        for block, cand in zip(blocks, cands):
            name, known_name = cand or ("", None)
            level = 0
            if cand is not None:
                style = _style(block)
                larger = block.size > l1_size + (0.7 if paper else 0.0)
                major = known_name or larger or (style in l1_styles and (style[2] or not paper))
                level = 1 if major and len(_WORD.findall(name)) >= (1 if known_name else 2) else 2
            text = block.text
            role: Role | None = Role.BODY
            if block.table_rows:
                role = Role.TABLE
            elif level and _part_of_title(text, squashed_title):
                role = Role.HEADING
            elif level:
                role = Role.HEADING
                if level == 1 and (not in_refs or known_name or block.size > l1_size):
                    section, in_refs, small_print = name, name in _REFERENCE_SECTIONS, None
            elif prev_role is Role.HEADING and prev_block is not None and _heading_goes_on(prev_block, block):
                role = Role.HEADING  # the second line of a heading, set as its own block
                if roles and roles[-1][1] == section and section == _heading_name(prev_block.text)[0]:
                    section = _heading_name(f"{prev_block.text} {text}")[0]
                    roles[-1] = (Role.HEADING, section)
            elif _CAPTION.match(text):
                role, caption_size = Role.CAPTION, block.size
            elif _is_figure_text(block, body_size):
                role = None
            elif prev_role is Role.CAPTION and (
                (in_refs and not _is_ref_like(text))
                or (abs(block.size - caption_size) < 0.3 and caption_size < body_size - 0.4)
            ):
                role = Role.CAPTION
            else:
                if small_print and block.size > small_print[2] + 0.5:  # back from footnotes to body text
                    section, in_refs, _ = small_print
                    small_print = None
                run_in = _heading_name(block.lines[0].lead_bold)[1] if block.lines[0].lead_bold else None
                if run_in in _RUN_IN_SECTIONS:  # "Conclusions We report ..." opens a section
                    if block.size < body_size - 0.5 and small_print is None:
                        small_print = (section, in_refs, block.size)  # ... unless it is a footnote
                    section, in_refs = run_in, run_in in _REFERENCE_SECTIONS
                if in_refs or (prev_role is Role.REFERENCE and _is_ref_like(text)):
                    role = Role.REFERENCE
            roles.append((role, section))
            if role is not None:
                prev_role, prev_block = role, block
        out.append(roles)
    _mark_reference_tail(pages, out)
    return out


def _heading_goes_on(heading: Block, block: Block) -> bool:
    """True when ``block`` is a short lower-case continuation of ``heading`` in the same type."""
    return (
        len(block.lines) <= 2
        and block.text[:1].islower()
        and _style(block)[:2] == _style(heading)[:2]
        and not heading.text.endswith(TERMINAL)
        and 0 <= block.y0 - heading.y1 < 2 * heading.lines[-1].height
    )


def _part_of_title(text: str, squashed_title: str) -> bool:
    squashed = _squash(text)
    return len(squashed_title) >= 10 and len(squashed) >= 8 and squashed in squashed_title


def _style(block: Block) -> tuple[float, bool, bool]:
    return round(block.size * 2) / 2, block.bold, block.text.isupper()


def _is_figure_text(block: Block, body_size: float) -> bool:
    """Labels inside figures: a few words, no sentence, small type or no lower-case word."""
    text = block.text
    head = text[:120]
    letters = sum(c.isalpha() for c in head)
    numeric_end = text.endswith(TERMINAL) and re.search(r"\d", text)
    if letters < 0.3 * len(head.replace(" ", "")) and not numeric_end:
        return True  # dot leaders, axis ticks, numbers without words (but keep "2019).")
    if len(text) > 40 or len(text.split()) > 4 or text.endswith(TERMINAL):
        return False
    return block.size < body_size - 0.5 or not re.search(r"[a-z]{3,}", text)


def _mark_reference_tail(pages: list[list[Block]], roles: list[list[_Labelled]]) -> None:
    """In the second half of a document, pages mostly made of reference-like blocks are references."""
    for index in range(len(pages) // 2, len(pages)):
        body = [(i, b) for i, b in enumerate(pages[index]) if roles[index][i][0] is Role.BODY]
        refs = [(i, b) for i, b in body if _is_ref_like(b.text)]
        body_chars = sum(len(b.text) for _, b in body)
        if len(refs) >= 3 and sum(len(b.text) for _, b in refs) >= 0.5 * body_chars:
            for i, _ in refs:
                roles[index][i] = (Role.REFERENCE, roles[index][i][1])


# ------------------------------------------------------------------ title and metadata


def _title(first: _Page, meta: dict[str, str]) -> str:
    """The metadata title when it looks real (completed from page 1 when truncated), else page 1's."""
    candidate = _largest_text(first)
    raw = html.unescape(meta.get("title") or "")
    raw = " ".join(raw.split())
    good = len(raw) >= 8 and " " in raw and not _BAD_TITLE.search(raw) and not raw.replace(" ", "").isdigit()
    if good:
        if candidate and len(candidate) > len(raw) and _squash(candidate).startswith(_squash(raw)):
            return candidate
        return raw
    return candidate


def _squash(text: str) -> str:
    return re.sub(r"\W+", "", text.lower())


def _largest_text(first: _Page) -> str:
    """The first run of lines in page 1's largest (then boldest) type that reads like a title."""
    lines = [ln for b in first.ordered if not b.table_rows for ln in b.lines]
    for size, bold in sorted({(ln.size, ln.bold) for ln in lines}, reverse=True)[:5]:
        run: list[Line] = []
        for ln in lines:
            if ln.size == size and ln.bold == bold:
                run.append(ln)
            elif run:
                break
        text = re.sub(r"(\w)- (\w)", r"\1-\2", " ".join(ln.text for ln in run))
        if 8 <= len(text) <= 300 and len(_WORD.findall(text)) >= 2:
            return text
    return ""


def _metadata(meta: dict[str, str], page1_text: str) -> dict[str, str]:
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
