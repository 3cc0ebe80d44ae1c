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

import pymupdf

from evsum.errors import UnreadableDocumentError
from evsum.records import LineBox, Role
from indexing.layout import (
    TEXT_FLAGS,
    Block,
    Line,
    clean_text,
    extract_blocks,
    in_margin,
    is_margin_furniture,
    line_number_edges,
    margin_key,
    order_blocks,
    split_block,
    strip_line_numbers,
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
_NUMERIC_KEY = re.compile(r"(?:page |p )?(?:0 )*0|[ivxlc]+|")
_WORD = re.compile(r"[A-Za-z]{2,}")
_HYPHEN_WORD = re.compile(r"\b([A-Za-z]{2,})-([a-z]{2,})\b")
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
        for page in doc:
            rect = page.rect
            blocks = extract_blocks(page.get_text("dict", flags=TEXT_FLAGS))
            chars += sum(len(line.text) for lines in blocks for line in lines)
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
        if (h < 2 and w > 40) or (w < 2 and h > 15) or (w > 20 and h > 5 and all(i[0] == "re" for i in drawing["items"])):
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
        tables = [t for t in page.find_tables(use_layout=False).tables if t.row_count >= 2 and t.col_count >= 2]
        extent = max(r[3] for r in rules) - min(r[1] for r in rules)
        if sum(t.bbox[3] - t.bbox[1] for t in tables) < 0.6 * extent:
            tables = []
    if not tables:
        tables = [t for t in page.find_tables().tables if t.row_count >= 2 and t.col_count >= 2]
    found: list[_Table] = []
    for table in tables:
        bbox = tuple(table.bbox)
        words = page.get_text("words", clip=bbox, flags=TEXT_FLAGS)
        rows = [(row.bbox, [c for c in row.cells if c is not None]) for row in table.rows]
        cells: dict[tuple[int, int], list[tuple[float, ...]]] = {}
        for word in words:
            cx, cy = (word[0] + word[2]) / 2, (word[1] + word[3]) / 2
            r = min(range(len(rows)), key=lambda i: _distance(cy, rows[i][0][1], rows[i][0][3]))
            row_cells = rows[r][1]
            c = min(range(len(row_cells)), key=lambda j: _distance(cx, row_cells[j][0], row_cells[j][2])) if row_cells else 0
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


def _distance(v: float, lo: float, hi: float) -> float:
    return 0.0 if lo <= v <= hi else min(abs(v - lo), abs(v - hi))


# ------------------------------------------------------------------ document assembly


def _assemble(pages: list[_Page], meta: dict[str, str]) -> ParsedSource:
    """Run the document-level passes and build the ``ParsedSource``."""
    page1_raw = " ".join(line.text for lines in pages[0].blocks for line in lines)
    all_lines = [line for p in pages for lines in p.blocks for line in lines]
    body_size = weighted_size(ln for ln in all_lines if len(ln.text) >= 30) or weighted_size(all_lines)
    words = _vocabulary(pages)
    _drop_margins(pages)
    for page in pages:
        page.ordered = _page_blocks(page, body_size)
    title = _title(pages[0], meta)
    roles = _assign_roles([p.ordered for p in pages], body_size, title)
    parsed_pages: list[ParsedPage] = []
    regions: list[Region] = []
    for page, page_roles in zip(pages, roles):
        merged = _merge_continuations(page.ordered, page_roles)
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
                hyphen_before = line.text.endswith("-")
                if hyphen_before and found:
                    found = found[:-1]
                vocab.update(w.lower() for w in found)
                if "-" in line.text:
                    compounds.update(f"{a}-{b}".lower() for a, b in _HYPHEN_WORD.findall(line.text))
    return vocab, compounds


def _drop_margins(pages: list[_Page]) -> None:
    """Remove running headers/footers, page numbers and margin line numbers from every page."""
    counts: dict[str, int] = {}
    for page in pages:
        keys = {margin_key(ln.text) for lines in page.blocks for ln in lines if in_margin(ln, page.height, 0.12)}
        for key in keys:
            counts[key] = counts.get(key, 0) + 1
    need = max(2, round(0.25 * len(pages)))
    repeated = {key for key, n in counts.items() if n >= need}
    numbered = [line_number_edges([ln for lines in p.blocks for ln in lines]) for p in pages]
    doc_edges = set().union(*numbered) if sum(1 for e in numbered if e) >= min(2, len(pages)) else set()
    for page in pages:
        kept_blocks: list[list[Line]] = []
        for lines in page.blocks:
            block_in_margin = all(in_margin(ln, page.height) for ln in lines)
            kept = []
            for ln in lines:
                if in_margin(ln, page.height, 0.12):
                    key = margin_key(ln.text)
                    # Page-number-like keys ("#", "page #") repeat trivially: only in a margin block.
                    if (key in repeated and (block_in_margin or not _NUMERIC_KEY.fullmatch(key))) or (
                        block_in_margin and is_margin_furniture(ln.text)
                    ):
                        continue
                kept.append(ln)
            if kept:
                kept_blocks.append(kept)
        page.blocks = strip_line_numbers(kept_blocks, doc_edges)


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
    blocks = [Block(group) for lines in lines_of_blocks for group in split_block(lines, body_size)]
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
                    boxes[-1] = LineBox(last.char_start, last.char_end - 1, last.x0, last.y0, last.x1, last.y1)
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
    if len(prev) >= 2 and prev[-1] in "-‐" and prev[-2].isalnum():
        if prev[-2].isalpha() and nxt[:1].islower():
            vocab, compounds = words
            left_match = re.search(r"[A-Za-z]+$", prev[:-1])
            right_match = re.match(r"[a-z]+", nxt)
            left = left_match.group(0).lower() if left_match else ""
            right = right_match.group(0) if right_match else ""
            if f"{left}-{right}" in compounds:
                return ""
            if left + right in vocab:
                return "-"
            keep = len(left) >= 3 and len(right) >= 3 and left in vocab and right in vocab
            return "" if keep else "-"
        return ""
    if len(prev) >= 2 and prev[-1] in "/–" and not prev[-2].isspace():
        return ""
    if prev[-1:] in "./_-" and re.search(r"(?:https?://|www\.|doi\.)\S*$", prev) and nxt[:1].isalnum():
        return ""  # a URL or DOI broken across lines
    return " "


# ------------------------------------------------------------------ roles and sections

_SECTION_NAMES = {
    "abstract": "Abstract", "summary": "Summary", "background": "Background", "introduction": "Introduction",
    "methods": "Methods", "method": "Methods", "methodology": "Methods", "online methods": "Methods",
    "materials and methods": "Materials and Methods", "material and methods": "Materials and Methods",
    "methods and materials": "Materials and Methods", "patients and methods": "Patients and Methods",
    "experimental procedures": "Experimental Procedures", "experimental section": "Experimental Section",
    "star methods": "STAR Methods", "results": "Results", "results and discussion": "Results and Discussion",
    "discussion": "Discussion", "conclusion": "Conclusions", "conclusions": "Conclusions",
    "discussion and conclusions": "Discussion and Conclusions", "concluding remarks": "Conclusions",
    "recommendations": "Recommendations", "recommendation": "Recommendations",
    "summary of recommendations": "Summary of Recommendations", "limitations": "Limitations",
    "strengths and limitations": "Strengths and Limitations", "acknowledgements": "Acknowledgements",
    "acknowledgments": "Acknowledgements", "acknowledgement": "Acknowledgements",
    "acknowledgment": "Acknowledgements", "funding": "Funding", "references": "References",
    "bibliography": "References", "reference": "References", "literature cited": "References", "works cited": "References",
    "references and notes": "References", "reference list": "References", "references cited": "References",
    "further reading": "Further Reading", "supporting information": "Supporting Information",
    "author contributions": "Author Contributions", "authors contributions": "Author Contributions",
    "contributions": "Author Contributions", "competing interests": "Competing Interests",
    "conflict of interest": "Conflict of Interest", "conflicts of interest": "Conflict of Interest",
    "declaration of interests": "Declaration of Interests", "declarations": "Declarations",
    "declaration of competing interest": "Declaration of Interests", "data availability": "Data Availability",
    "data availability statement": "Data Availability", "code availability": "Code Availability",
    "abbreviations": "Abbreviations", "keywords": "Keywords", "key words": "Keywords",
    "highlights": "Highlights", "significance": "Significance", "author summary": "Author Summary",
    "key points": "Key Points", "key messages": "Key Messages", "executive summary": "Executive Summary",
    "glossary": "Glossary", "resource availability": "Resource Availability",
    "key resources table": "Key Resources Table", "ethics statement": "Ethics Statement",
    "ethics": "Ethics", "quantification and statistical analysis": "Quantification and Statistical Analysis",
    "statistical analysis": "Statistical Analysis", "statistical analyses": "Statistical Analysis",
    "case report": "Case Report", "case presentation": "Case Presentation", "objectives": "Objectives",
    "objective": "Objectives", "aims": "Aims", "purpose": "Purpose", "scope": "Scope",
    "foreword": "Foreword", "preface": "Preface", "contents": "Contents", "table of contents": "Contents",
    "figure legends": "Figure Legends", "figures": "Figures", "figure captions": "Figure Legends",
    "tables": "Tables", "additional information": "Additional Information", "disclosures": "Disclosures",
    "research in context": "Research in Context", "study design": "Study Design", "notes": "Notes",
    "contribution statement": "Author Contributions", "open access": "Open Access",
    "limitations of the study": "Limitations", "study limitations": "Limitations",
}
_REFERENCE_SECTIONS = {"References", "Further Reading"}
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
    clean = _NUMBERING.sub("", text.strip()).strip().rstrip(":.").strip()
    key = " ".join(_NON_ALNUM.sub(" ", clean.lower().replace("&", " and ")).split())
    if key in _SECTION_NAMES:
        return _SECTION_NAMES[key], _SECTION_NAMES[key]
    title = _title_case(clean)
    if _PREFIX_SECTIONS.match(key) and len(key.split()) <= 8:
        return title, title
    return title, None


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
    return len(text) >= 30 and bool(_REF_START.match(text) and _REF_YEAR.search(text) and _REF_CUE.search(text))


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
    """Role and section of every block, carrying the section (and the references state) across pages."""
    candidates = [[_heading_candidate(b, body_size) for b in blocks] for blocks in pages]
    known = [b for blocks, cands in zip(pages, candidates) for b, c in zip(blocks, cands) if c and c[1]]
    # Section headings look like the known ones ("Results", "Methods"); other styled headings are
    # subheadings unless they are set larger than the known ones.
    styles = Counter(_style(b) for b in known)
    l1_styles = {style for style, n in styles.items() if n >= max(2, 0.25 * len(known)) or len(known) < 4}
    l1_size = statistics.median(b.size for b in known) + 0.3 if known else body_size + 1.2
    squashed_title = _squash(title)
    section: str | None = None
    in_refs = False
    out: list[list[_Labelled]] = []
    prev_role: Role | None = Role.BODY
    caption_size = 0.0
    for blocks, cands in zip(pages, candidates):
        roles: list[_Labelled] = []
        for block, cand in zip(blocks, cands):
            name, known_name = cand or ("", None)
            level = 0
            if cand is not None:
                major = known_name or _style(block) in l1_styles or block.size > l1_size
                level = 1 if major and len(_WORD.findall(name)) >= (1 if known_name else 2) else 2
            text = block.text
            role: Role | None = Role.BODY
            if block.table_rows:
                role = Role.TABLE
            elif level and len(squashed_title) >= 10 and len(_squash(text)) >= 8 and _squash(text) in squashed_title:
                role = Role.HEADING
            elif level:
                role = Role.HEADING
                if level == 1 and (not in_refs or known_name or block.size > l1_size):
                    section, in_refs = name, name in _REFERENCE_SECTIONS
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
                run_in = _heading_name(block.lines[0].lead_bold)[1] if block.lines[0].lead_bold else None
                if run_in:  # "Conclusions We report ..." opens a new section without a heading line
                    section, in_refs = run_in, run_in in _REFERENCE_SECTIONS
                if in_refs or (prev_role is Role.REFERENCE and _is_ref_like(text)):
                    role = Role.REFERENCE
            roles.append((role, section))
            if role is not None:
                prev_role = role
        out.append(roles)
    _mark_reference_tail(pages, out)
    return out


def _style(block: Block) -> tuple[float, bool, bool]:
    return round(block.size * 2) / 2, block.bold, block.text.isupper()


def _is_figure_text(block: Block, body_size: float) -> bool:
    """Labels inside figures: a few words, no sentence, small type or no lower-case word."""
    text = block.text
    head = text[:120]
    letters = sum(c.isalpha() for c in head)
    if letters < 0.3 * len(head.replace(" ", "")) and not (text.endswith(_TERMINAL) and re.search(r"\d", text)):
        return True  # dot leaders, axis ticks, numbers without words (but keep "2019).")
    if len(text) > 40 or len(text.split()) > 4 or text.endswith(_TERMINAL):
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


_TERMINAL = (".", "!", "?", ":", ".)", ".]", '."', ".”")
_LIST_START = re.compile(r"[•◦▪▫●○■□◆◇►▶➢✓✔*·∙–—-]|\(?\d{1,3}[.)]\s|\(?[a-z][.)]\s|\(?[ivx]+[.)]\s")
_ABBREVIATION = re.compile(
    r"(?:\bet al|\b[A-Z]|\bFigs?|\be\.g|\bi\.e|\bvs|\bcf|\bapprox|\bca|\bNo|\bDr|\bSt|\bRef|\bEqs?|\bpp?)\.$"
)
_REF_NUMBER = re.compile(r"\[?(\d{1,3})[.\]]\s")


def _merge_continuations(blocks: list[Block], roles: list[_Labelled]) -> list[tuple[Block, Role, str | None]]:
    """Drop figure text, join blocks of one paragraph split by PyMuPDF (column breaks, double
    spacing, a caption placed mid-column), and cut reference blocks into single references."""
    out: list[tuple[Block, Role, str | None]] = []
    for block, (role, section) in zip(blocks, roles):
        if role is None:
            continue
        if out and role in (Role.BODY, Role.REFERENCE, Role.CAPTION):
            j = len(out) - 1
            while j > 0 and role is not Role.CAPTION and out[j][1] in (Role.CAPTION, Role.TABLE):
                j -= 1
            prev, prev_role, prev_section = out[j]
            if prev_role is role and prev_section == section and _continues(prev, block):
                out[j] = (Block(prev.lines + block.lines), role, section)
                continue
        out.append((block, role, section))
    result: list[tuple[Block, Role, str | None]] = []
    for block, role, section in out:
        parts = _split_references(block) if role is Role.REFERENCE else [block]
        result.extend((part, role, section) for part in parts)
    return result


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
            starts = bool(match) and (expected is None or int(match.group(1)) == expected)
            if match and starts:
                expected = int(match.group(1)) + 1
        else:
            starts = line.x0 <= left + 3
        if starts:
            groups.append([line])
        else:
            groups[-1].append(line)
    return [Block(group) for group in groups]


def _continues(prev: Block, nxt: Block) -> bool:
    last, first = prev.lines[-1], nxt.lines[0]
    tail, head = last.text, first.text
    if (tail.endswith(_TERMINAL) and not _ABBREVIATION.search(tail)) or _LIST_START.match(head) or first.lead_bold:
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
    """The largest-font text in the top 60% of page 1 that reads like a title."""
    blocks = first.ordered or [Block(lines) for lines in first.blocks]
    lines = [ln for b in blocks if not b.table_rows for ln in b.lines if ln.y0 < 0.6 * first.height]
    for size in sorted({ln.size for ln in lines}, reverse=True)[:4]:
        chosen = [ln for ln in lines if abs(ln.size - size) < 0.3]
        text = " ".join(ln.text for ln in chosen)
        text = re.sub(r"(\w)- (\w)", r"\1-\2", text)
        if 8 <= len(text) <= 300 and len(text.split()) >= 2:
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
