"""Exports of a released summary: Word (.docx), Markdown and RIS (the cited references).

The layout follows what NHS knowledge and library services deliver: the question
(with PICO), the clinical bottom line, the summary with numbered citations, caveats,
references, the sources and search strategy, and the sign-off (author, reviewer,
dates, version).  Every function reads only the release's frozen content.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from evsum.records import scorer_label, whole_sentence_groups
from service.domain import Release

EDITED_NOTE = "edited by the librarian; the verbatim source text is given in the notes"
PICO_LABELS = (("population", "Population"), ("intervention", "Intervention"), ("comparison", "Comparison"),
               ("outcome", "Outcome"))


@dataclass(frozen=True, slots=True)
class Reference:
    """One numbered reference: a page of a document."""

    number: int
    document_id: str
    title: str
    page: int
    metadata: dict[str, str]

    def line(self) -> str:
        """``Authors. Title, page 7. Issuer, year. [Type]. doi:… PMID:…`` (what the reference list shows)."""
        meta = self.metadata
        parts = [f"{meta['authors']}."] if meta.get("authors") else []
        parts.append(f"{self.title}, page {self.page}.")
        issuer = meta.get("issuer") or meta.get("publisher")
        dated = ", ".join(v for v in (issuer, meta.get("published") or meta.get("year")) if v)
        if dated:
            parts.append(f"{dated}.")
        if meta.get("version"):
            parts.append(f"Version {meta['version']}.")
        if meta.get("doc_type_label"):
            parts.append(f"[{meta['doc_type_label']}]")
        if meta.get("doi"):
            parts.append(f"doi:{meta['doi']}")
        if meta.get("pmid"):
            parts.append(f"PMID:{meta['pmid']}")
        if self.metadata.get("licence"):
            parts.append(f"Licence: {self.metadata['licence']}.")
        return " ".join(parts)


def number_references(release: Release) -> tuple[list[int], list[Reference]]:
    """Number the cited pages in order of first citation; returns each sentence's number and the list."""
    documents: dict[str, dict[str, str]] = release.content.get("documents", {})
    seen: dict[tuple[str, int], int] = {}
    references: list[Reference] = []
    numbers = []
    for sentence in release.content.get("sentences", []):
        c = sentence["citation"]
        key = (c["document_id"], int(c["page"]))
        if key not in seen:
            seen[key] = len(references) + 1
            references.append(Reference(seen[key], c["document_id"], c["title"], int(c["page"]),
                                        dict(documents.get(c["document_id"], {}))))
        numbers.append(seen[key])
    return numbers, references


def summary_items(release: Release) -> list[list[tuple[dict[str, Any], int]]]:
    """The summary's bullets: each a list of (sentence, reference number), one sentence alone, or the two parts of a
    sentence cut by a page break (the first marked ``continues``), which are shown together."""
    numbers, _references = number_references(release)
    sentences = release.content.get("sentences", [])
    return [[(sentences[i], numbers[i]) for i in group]
            for group in whole_sentence_groups([bool(s.get("continues")) for s in sentences])]


def _markers(item: list[tuple[dict[str, Any], int]]) -> str:
    return "".join(f"[{n}]" for n in dict.fromkeys(number for _sentence, number in item))


def _signoff(release: Release) -> list[tuple[str, str]]:
    c = release.content
    rows = [("Version", f"{release.number} (draft {release.draft_id}, revision {release.draft_version})"),
            ("Author (librarian)", f"{c.get('author', '')} — submitted {_date(c.get('submitted_at'))}"),
            ("Reviewer", f"{c.get('reviewer') or ''} — approved {_date(c.get('approved_at'))}"),
            ("Released", f"{release.released_by} — {_date(release.released_at.isoformat())}")]
    if release.withdrawal:
        rows.append(("WITHDRAWN", f"{_date(release.withdrawal.at.isoformat())} by {release.withdrawal.actor}: "
                                  f"{release.withdrawal.reason}"))
    return rows


def question_heading(release: Release) -> str:
    """The heading of the drafted text: "Claim checked" for a claim check, else "Question"."""
    return "Claim checked" if release.claim else "Question"


def _strategy(release: Release) -> list[tuple[str, str]]:
    c = release.content
    search: dict[str, Any] = c.get("search", {})
    filters = search.get("filters", {})
    pico = ", ".join(f"{label}: {value}" for label, value in _pico(release))
    return [("Index snapshot", str(c.get("snapshot_id", ""))),
            ("Date searched", _date(search.get("searched_at"))),
            ("Searches", "; ".join(search.get("queries", [])) or c.get("question", "")),
            ("Structured question (PICO)", pico or "not given"),
            ("Method", str(search.get("method", ""))),
            ("Filters", ", ".join(f"{k} = {v}" for k, v in filters.items()) or "none"),
            ("Source priority", "national guidelines, then systematic reviews, then primary studies"
             if search.get("source_priority") else "off (ranked by relevance alone)"),
            ("Documents retrieved", str(len(search.get("retrieved_document_ids", [])))), *_scorer_rows(release)]


def _scorer_rows(release: Release) -> list[tuple[str, str]]:
    """The sentence scorer that ranked the machine draft (name, and the start of its weights' SHA-256; drafts
    from before it was recorded have none) and, for a claim check, the claim scorer that chose its quotes."""
    search = release.content.get("search", {})
    rows: list[tuple[str, str]] = []
    if search.get("sentence_scorer"):
        rows.append(("Sentence scorer", scorer_label(search["sentence_scorer"])))
    if release.claim and search.get("claim_scorer"):
        rows.append(("Claim scorer", scorer_label(search["claim_scorer"])))
    return rows


def _source_type(release: Release, sentence: dict[str, Any]) -> str:
    """The type of a sentence's source ("Guideline", "RCT" ...), from the release's frozen documents."""
    documents: dict[str, dict[str, str]] = release.content.get("documents", {})
    return documents.get(sentence["citation"]["document_id"], {}).get("doc_type_label", "")


def _date(value: str | None) -> str:
    return value[:10] if value else "—"


def _pico(release: Release) -> list[tuple[str, str]]:
    pico = release.content.get("pico") or {}
    return [(label, pico[key]) for key, label in PICO_LABELS if pico.get(key)]


def to_markdown(release: Release) -> str:
    """The release as Markdown."""
    c = release.content
    _numbers, references = number_references(release)
    out = [f"# Evidence summary (version {release.number})", ""]
    if release.withdrawal:
        out += [f"> **WITHDRAWN** on {_date(release.withdrawal.at.isoformat())}: {release.withdrawal.reason}", ""]
    out += [f"## {question_heading(release)}", "", c.get("question", ""), ""]
    out += [f"- **{label}:** {value}" for label, value in _pico(release)]
    out += ["", "## Clinical bottom line", "", c.get("bottom_line", "") or "—", "", "## Summary of the evidence", ""]
    for item in summary_items(release):
        mark = f" *({EDITED_NOTE})*" if any(sentence.get("edited") for sentence, _n in item) else ""
        kind = _source_type(release, item[0][0])
        text = " ".join(sentence["text"] for sentence, _n in item)
        out.append(f"- {text}{f' ({kind})' if kind else ''} {_markers(item)}{mark}")
    edited = [s for s in c.get("sentences", []) if s.get("edited")]
    if edited:
        out += ["", "**Verbatim source text of edited sentences:**", ""]
        out += [f"- “{s['source_text']}”" for s in edited]
    out += ["", "## Caveats", "", c.get("caveats", "") or "—", "", "## References", ""]
    out += [f"{r.number}. {r.line()}" for r in references]
    out += ["", "## Sources and search strategy", ""]
    out += [f"- **{label}:** {value}" for label, value in _strategy(release)]
    out += ["", "## Sign-off", ""]
    out += [f"- **{label}:** {value}" for label, value in _signoff(release)]
    out += ["", "_Each sentence is quoted verbatim from its source unless marked as edited._", ""]
    return "\n".join(out)


def to_docx(release: Release) -> bytes:
    """The release as a Word document."""
    from docx import Document
    from docx.shared import Pt, RGBColor

    c = release.content
    _numbers, references = number_references(release)
    doc = Document()
    doc.core_properties.title = f"Evidence summary: {c.get('question', '')}"[:250]
    doc.core_properties.author = str(c.get("author", ""))
    doc.add_heading(f"Evidence summary (version {release.number})", level=0)
    if release.withdrawal:
        run = doc.add_paragraph().add_run(f"WITHDRAWN on {_date(release.withdrawal.at.isoformat())}: "
                                          f"{release.withdrawal.reason}")
        run.bold = True
        run.font.color.rgb = RGBColor(0xC0, 0x00, 0x00)
    doc.add_heading(question_heading(release), level=1)
    doc.add_paragraph(c.get("question", ""))
    _table(doc, _pico(release))
    doc.add_heading("Clinical bottom line", level=1)
    doc.add_paragraph(c.get("bottom_line", "") or "—")
    doc.add_heading("Summary of the evidence", level=1)
    for item in summary_items(release):
        paragraph = doc.add_paragraph(style="List Bullet")
        paragraph.add_run(" ".join(sentence["text"] for sentence, _n in item))
        kind = _source_type(release, item[0][0])
        if kind:
            paragraph.add_run(f" ({kind})").italic = True
        paragraph.add_run(f" {_markers(item)}").bold = True
        for sentence, _n in item:
            if sentence.get("edited"):
                note = paragraph.add_run(f" ({EDITED_NOTE}: “{sentence['source_text']}”)")
                note.italic = True
                note.font.size = Pt(9)
    doc.add_heading("Caveats", level=1)
    doc.add_paragraph(c.get("caveats", "") or "—")
    doc.add_heading("References", level=1)
    for reference in references:
        doc.add_paragraph(f"[{reference.number}] {reference.line()}")
    doc.add_heading("Sources and search strategy", level=1)
    _table(doc, _strategy(release))
    doc.add_heading("Sign-off", level=1)
    _table(doc, _signoff(release))
    doc.add_paragraph("Each sentence is quoted verbatim from its source unless marked as edited.").runs[0].italic = True
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()


def _table(doc: Any, rows: list[tuple[str, str]]) -> None:
    if not rows:
        return
    table = doc.add_table(rows=0, cols=2)
    table.style = "Table Grid"
    for label, value in rows:
        cells = table.add_row().cells
        cells[0].text = label
        cells[1].text = value


RIS_TYPES = {"paper": "JOUR", "guideline": "RPRT", "abstract": "JOUR"}


def to_ris(release: Release) -> str:
    """The cited documents as RIS records (one per document, cited pages in a note)."""
    _numbers, references = number_references(release)
    by_document: dict[str, list[Reference]] = {}
    for reference in references:
        by_document.setdefault(reference.document_id, []).append(reference)
    lines: list[str] = []
    for refs in by_document.values():
        meta = refs[0].metadata
        kind = meta.get("kind") or meta.get("source_kind", "")
        ris_type = RIS_TYPES.get(kind) or ("RPRT" if meta.get("doc_type") == "guideline" else
                                           "JOUR" if meta.get("doc_type") else "GEN")
        lines.append(f"TY  - {ris_type}")
        lines.append(f"TI  - {meta.get('title') or refs[0].title}")
        lines.extend(f"AU  - {author.strip()}" for author in meta.get("authors", "").split(";") if author.strip())
        if meta.get("year"):
            lines.append(f"PY  - {meta['year']}")
        if meta.get("issuer") and kind != "guideline" and meta.get("doc_type") != "guideline":
            lines.append(f"JO  - {meta['issuer']}")
        if meta.get("publisher"):
            lines.append(f"PB  - {meta['publisher']}")
        if meta.get("doc_type_label"):
            lines.append(f"M3  - {meta['doc_type_label']}")
        if meta.get("version"):
            lines.append(f"ET  - {meta['version']}")
        if meta.get("pmid"):
            lines.append(f"AN  - {meta['pmid']}")
        if meta.get("doi"):
            lines.append(f"DO  - {meta['doi']}")
            lines.append(f"UR  - https://doi.org/{meta['doi']}")
        if meta.get("url"):
            lines.append(f"UR  - {meta['url']}")
        if meta.get("file") or meta.get("source_path"):
            lines.append(f"L1  - {meta.get('file') or meta.get('source_path')}")
        if meta.get("licence"):
            lines.append(f"N1  - Licence: {meta['licence']}")
        pages = ", ".join(str(r.page) for r in refs)
        lines.append(f"N1  - Cited pages: {pages} (evsum document {refs[0].document_id})")
        lines.append("ER  - ")
        lines.append("")
    return "\r\n".join(lines)


FORMATS: dict[str, tuple[str, str]] = {
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx"),
    "md": ("text/markdown; charset=utf-8", "md"),
    "ris": ("application/x-research-info-systems; charset=utf-8", "ris"),
}


def export(release: Release, fmt: str) -> bytes:
    """The release in ``fmt`` (docx, md or ris) as bytes."""
    if fmt == "docx":
        return to_docx(release)
    if fmt == "md":
        return to_markdown(release).encode("utf-8")
    return to_ris(release).encode("utf-8")
