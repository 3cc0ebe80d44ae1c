"""Block classification for the PDF parser: headings, sections, captions, figure text, references.

* the known section names (``Methods``, ``Results``, ``References`` ...) with their spellings,
  and ``is_known`` for a line that is just one of them (used when cutting blocks at headings);
* ``assign_roles`` gives every block of the document, in reading order, a ``Role`` (heading,
  body, table, caption, reference; ``None`` for figure text to drop) and the section it sits in,
  telling section headings from subheadings by their style, following run-in headings
  ("Funding This work ...") and footnote-sized text, and marking reference lists (including
  trailing pages that are mostly reference-like entries).
"""

from __future__ import annotations

import re
import statistics
from collections import Counter

from evsum.records import Role
from evsum.text import squash
from indexing.layout import WORD, Block
from indexing.paragraphs import TERMINAL

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


def is_known(text: str) -> bool:
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
    font_heading = all(line.font_heading for line in block.lines)  # set apart only by its font family
    styled = block.bold or block.size >= body_size + 1.0 or font_heading
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


Labelled = tuple[Role | None, str | None]  # (role or None = figure text to drop, section)


def assign_roles(pages: list[list[Block]], body_size: float, title: str) -> list[list[Labelled]]:
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
    squashed_title = squash(title)
    section: str | None = None
    in_refs = False
    out: list[list[Labelled]] = []
    prev_role: Role | None = Role.BODY
    prev_block: Block | None = None
    small_print: tuple[str | None, bool, float] | None = None  # state before a small-type run-in
    caption_size = 0.0
    for blocks, cands in zip(pages, candidates):
        roles: list[Labelled] = []
        for block, cand in zip(blocks, cands):
            name, known_name = cand or ("", None)
            level = 0
            if cand is not None:
                style = _style(block)
                larger = block.size > l1_size + (0.7 if paper else 0.0)
                major = known_name or larger or (style in l1_styles and (style[2] or not paper))
                if all(ln.font_heading for ln in block.lines) and not (known_name or block.bold or larger):
                    major = False  # a heading marked only by its font family: a subheading
                level = 1 if major and len(WORD.findall(name)) >= (1 if known_name else 2) else 2
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
    squashed = squash(text)
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


def _mark_reference_tail(pages: list[list[Block]], roles: list[list[Labelled]]) -> None:
    """In the second half of a document, pages mostly made of reference-like blocks are references."""
    for index in range(len(pages) // 2, len(pages)):
        body = [(i, b) for i, b in enumerate(pages[index]) if roles[index][i][0] is Role.BODY]
        refs = [(i, b) for i, b in body if _is_ref_like(b.text)]
        body_chars = sum(len(b.text) for _, b in body)
        if len(refs) >= 3 and sum(len(b.text) for _, b in refs) >= 0.5 * body_chars:
            for i, _ in refs:
                roles[index][i] = (Role.REFERENCE, roles[index][i][1])
