"""Document title and bibliographic metadata for the PDF parser.

* ``find_title``: the PDF's metadata title when it looks real (completed from page 1 when it is
  truncated), else the first run of page 1's largest type that reads like a title;
* ``find_metadata``: author (from the PDF metadata), DOI and year (from page 1's text, falling
  back to the metadata), when they can be found cheaply;
* ``squash``: text reduced to lower-case letters and digits, for comparing titles;
* ``source_info``: the typed ``SourceInfo`` of a document from its merged metadata (PDF values
  overridden by sidecar values), with the study design from the sidecar, else rules, else the
  trained classifier (``models.study_design``).
"""

from __future__ import annotations

import html
import re

from evsum.records import DocType, SourceInfo
from evsum.text import squash
from indexing.layout import WORD, Block, Line

_DOI = re.compile(r"\b10\.\d{4,9}/[^\s\"<>]+")
_YEAR_CUE = re.compile(
    r"(?:©|\(c\)|copyright|published|accepted|received|posted)\D{0,40}?\b((?:19|20)\d{2})\b", re.I
)
_BAD_TITLE = re.compile(
    r"^(?:microsoft\s+\w+\s*-|untitled|title|document\d*|slide\s*\d*)|\.(?:pdf|docx?|rtf|tex|indd|dvi|ps|qxd)$",
    re.I,
)
_DOI_PREFIX = re.compile(r"^(?:https?://(?:dx\.)?doi\.org/|doi:\s*)", re.I)
_PMID = re.compile(r"\bPMID:?\s*(\d{6,9})\b")
_JOURNAL_LINE = re.compile(r"^\s*([A-Z][\w .&,'-]{2,80}?)\s*\((?:19|20)\d{2}\)\s*\d+\s*[:(]", re.M)
_VERSION = re.compile(r"\bVersion\s+(\d+(?:\.\d+)*)\b(?:\s*[-–,]\s*(?:(\w+)\s+)?((?:19|20)\d{2}))?", re.I)
_MONTHS = {m: i for i, m in enumerate(("january", "february", "march", "april", "may", "june", "july", "august",
                                        "september", "october", "november", "december"), start=1)}
_STOPWORDS = {
    "en": {"the", "and", "of", "to", "in", "is", "with", "for", "that", "are"},
    "fr": {"le", "la", "les", "et", "des", "du", "est", "une", "dans", "pour"},
    "es": {"el", "la", "los", "las", "y", "del", "que", "una", "para", "con"},
    "de": {"der", "die", "das", "und", "ist", "mit", "von", "den", "für", "nicht"},
}
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
    out.update(find_source_fields(meta, page1_text))
    return out


def find_source_fields(meta: dict[str, str], page1_text: str) -> dict[str, str]:
    """PMID, journal, guideline version and date, and language, from the PDF metadata and page 1."""
    out: dict[str, str] = {}
    pmid = _PMID.search(page1_text)
    if pmid:
        out["pmid"] = pmid.group(1)
    subject = " ".join((meta.get("subject") or "").split())
    journal = _JOURNAL_LINE.search(page1_text)
    if subject and _DOI.search(subject) and "," in subject:
        out["journal"] = subject.split(",")[0].strip()
    elif journal:
        out["journal"] = journal.group(1).strip()
    version = _VERSION.search(page1_text)
    if version:
        out["version"] = version.group(1)
        if version.group(3):
            month = _MONTHS.get((version.group(2) or "").lower())
            out["published"] = f"{version.group(3)}-{month:02d}" if month else version.group(3)
    language = guess_language(page1_text)
    if language:
        out["language"] = language
    return out


def guess_language(text: str) -> str:
    """ISO 639-1 code of the language whose common words are most frequent in ``text`` ('' if unsure)."""
    words = re.findall(r"[^\W\d_]+", text.lower())
    if len(words) < 20:
        return ""
    counts = {lang: sum(w in stop for w in words) for lang, stop in _STOPWORDS.items()}
    best = max(counts, key=lambda lang: counts[lang])
    return best if counts[best] >= max(3, 0.05 * len(words)) else ""


#: Sidecar and manifest column names accepted for each ``SourceInfo`` field (first found wins).
FIELD_ALIASES: dict[str, tuple[str, ...]] = {
    "authors": ("authors", "author"),
    "year": ("year",),
    "issuer": ("issuer", "journal", "publisher", "issuing_body"),
    "doi": ("doi",),
    "pmid": ("pmid",),
    "doc_type": ("doc_type", "document_type", "study_design", "type", "kind"),
    "version": ("version",),
    "published": ("published", "date", "version_date"),
    "licence": ("licence", "license"),
    "language": ("language", "lang"),
}
_TYPE_WORDS = {
    "guideline": DocType.GUIDELINE, "guidance": DocType.GUIDELINE, "systematic review": DocType.SYSTEMATIC_REVIEW,
    "systematic_review": DocType.SYSTEMATIC_REVIEW, "meta-analysis": DocType.SYSTEMATIC_REVIEW,
    "rct": DocType.RCT, "randomised controlled trial": DocType.RCT, "randomized controlled trial": DocType.RCT,
    "cohort": DocType.COHORT, "cohort study": DocType.COHORT, "case report": DocType.CASE_REPORT,
    "case_report": DocType.CASE_REPORT, "narrative review": DocType.NARRATIVE_REVIEW,
    "narrative_review": DocType.NARRATIVE_REVIEW, "review": DocType.NARRATIVE_REVIEW, "other": DocType.OTHER,
}


def parse_doc_type(value: str) -> DocType | None:
    """A document type from a sidecar value ('guideline', 'RCT', 'Systematic review' ...); None if unknown.

    'paper' or 'article' (the sample manifest's ``kind``) say nothing about design: None.
    """
    return _TYPE_WORDS.get(" ".join(value.lower().replace("-", " ").split()).replace("meta analysis",
                                                                                      "meta-analysis"))


def _first(metadata: dict[str, str], field_name: str) -> str:
    for key in FIELD_ALIASES[field_name]:
        value = (metadata.get(key) or "").strip()
        if value:
            return value
    return ""


def _year(metadata: dict[str, str], published: str) -> int | None:
    for raw in (_first(metadata, "year"), published):
        match = re.search(r"\b(19|20)\d{2}\b", raw)
        if match:
            return int(match.group(0))
    return None


def source_info(found: dict[str, str], sidecar: dict[str, str], title: str, text: str) -> SourceInfo:
    """The typed source metadata of a document.

    ``found`` is what the parser read from the file (PDF metadata, page 1; JSONL fields),
    ``sidecar`` what a manifest, JSON or RIS sidecar says: field by field, sidecar values win.
    ``title`` and ``text`` (title page and abstract) feed the study-design rules and
    classifier when neither gives the type.
    """
    from models.study_design import classify

    metadata = dict(found)
    for field_name in FIELD_ALIASES:
        value = _first(sidecar, field_name)
        if value:
            for key in FIELD_ALIASES[field_name]:
                metadata.pop(key, None)
            metadata[FIELD_ALIASES[field_name][0]] = value
    published = _first(metadata, "published")
    authors_raw = _first(metadata, "authors")
    authors = tuple(a.strip() for a in authors_raw.split(";") if a.strip())
    declared = parse_doc_type(_first(metadata, "doc_type"))
    if declared is not None:
        doc_type, origin = declared, "sidecar"
    else:
        prediction = classify(title, text)
        doc_type, origin = prediction.doc_type, prediction.origin
    return SourceInfo(
        authors=authors, year=_year(metadata, published), issuer=_first(metadata, "issuer"),
        doi=_DOI_PREFIX.sub("", _first(metadata, "doi")), pmid=_first(metadata, "pmid"), doc_type=doc_type,
        doc_type_origin=origin,
        version=_first(metadata, "version"), published=published, licence=_first(metadata, "licence"),
        language=_first(metadata, "language") or guess_language(text),
    )
