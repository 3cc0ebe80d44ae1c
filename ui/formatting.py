"""Pure formatting helpers for the Streamlit pages (no Streamlit import, no I/O).

Everything that turns API records into text or HTML lives here, so that pages
stay thin and this logic is unit-tested without a browser.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ui.client import ApiError, ApiUnavailable, ClientError, UICitation, UIDocument, UISentence

DRAFT_BANNER = "Unreviewed machine draft — not signed off by a librarian"
"""The banner shown above every summary that a librarian has not released."""

DRAFT_ADVICE = (
    "Every sentence below is quoted word for word from an indexed source, but the selection was made "
    "by software. Check each sentence against its source before relying on it for patient care."
)

SOURCE_CONTEXT_CHARS = 400
"""Characters of page text shown either side of a cited span."""

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>$~&:])")


def escape_markdown(text: str) -> str:
    """Escape ``text`` so Streamlit's Markdown shows it literally (no emphasis, links, HTML or LaTeX).

    Newlines become spaces: a quoted sentence is one paragraph.
    """
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(text.split()))


# --------------------------------------------------------------------------- citations


@dataclass(frozen=True, slots=True)
class Reference:
    """One entry of a summary's numbered reference list."""

    number: int
    document_id: str
    title: str
    page: int
    section: str | None


def number_citations(sentences: Sequence[UISentence]) -> tuple[list[int], list[Reference]]:
    """Number the sources of ``sentences`` in order of first citation.

    Sentences citing the same document, page and section share a number.
    Returns the number of each sentence (same order as ``sentences``) and the
    reference list.
    """
    numbers: list[int] = []
    references: list[Reference] = []
    seen: dict[tuple[str, int, str | None], int] = {}
    for sentence in sentences:
        citation = sentence.citation
        key = (citation.document_id, citation.page, citation.section)
        if key not in seen:
            seen[key] = len(references) + 1
            references.append(
                Reference(
                    number=seen[key],
                    document_id=citation.document_id,
                    title=citation.title,
                    page=citation.page,
                    section=citation.section,
                )
            )
        numbers.append(seen[key])
    return numbers, references


def citation_marker(number: int) -> str:
    """The inline marker placed after a quoted sentence, e.g. ``[2]``."""
    return f"[{number}]"


def reference_markdown(reference: Reference) -> str:
    """A reference-list line: number, title, page and (if known) section, Markdown-escaped."""
    line = f"**{citation_marker(reference.number)}** {escape_markdown(reference.title or 'Untitled')}"
    line += f" — page {reference.page}"
    if reference.section:
        line += f", section: {escape_markdown(reference.section)}"
    return line


def source_label(number: int, citation: UICitation) -> str:
    """The label of a sentence's "Show source" control."""
    return f"Show source {citation_marker(number)} — page {citation.page}"


# --------------------------------------------------------------------------- source view


@dataclass(frozen=True, slots=True)
class Excerpt:
    """A window of page text around a span: ``before + marked + after``, with truncation flags."""

    before: str
    marked: str
    after: str
    cut_start: bool
    cut_end: bool


def excerpt(text: str, char_start: int, char_end: int, context: int = SOURCE_CONTEXT_CHARS) -> Excerpt:
    """Cut ``text`` around ``[char_start, char_end)`` with up to ``context`` characters either side.

    Window edges move to the nearest whitespace so words are not cut in half.
    Raises ``ValueError`` when the span is not inside ``text``.
    """
    if not 0 <= char_start < char_end <= len(text):
        raise ValueError(f"span [{char_start}, {char_end}) is outside a text of {len(text)} characters")
    lo = max(0, char_start - context)
    if lo > 0:
        space = text.find(" ", lo, char_start)
        lo = space + 1 if space != -1 else lo
    hi = min(len(text), char_end + context)
    if hi < len(text):
        space = text.rfind(" ", char_end, hi)
        hi = space if space != -1 else hi
    return Excerpt(
        before=text[lo:char_start],
        marked=text[char_start:char_end],
        after=text[char_end:hi],
        cut_start=lo > 0,
        cut_end=hi < len(text),
    )


_SOURCE_STYLE = (
    "white-space: pre-wrap; font-family: Georgia, 'Times New Roman', serif; font-size: 1rem; "
    "line-height: 1.55; padding: 0.75rem 1rem; border-left: 4px solid #d0d7de; "
    "background: rgba(127, 127, 127, 0.06); border-radius: 0.25rem;"
)
_MARK_STYLE = "background: #ffe066; color: #1a1a1a; padding: 0.05rem 0.1rem; border-radius: 0.15rem;"


def highlight_html(text: str, char_start: int, char_end: int, context: int = SOURCE_CONTEXT_CHARS) -> str:
    """HTML of the page text around a span, the span wrapped in ``<mark>``; all text HTML-escaped."""
    part = excerpt(text, char_start, char_end, context)
    return (
        f'<div class="evsum-source" style="{_SOURCE_STYLE}">'
        f"{'… ' if part.cut_start else ''}{html.escape(part.before)}"
        f'<mark style="{_MARK_STYLE}">{html.escape(part.marked)}</mark>'
        f"{html.escape(part.after)}{' …' if part.cut_end else ''}"
        "</div>"
    )


def plain_text_html(text: str, limit: int = 2 * SOURCE_CONTEXT_CHARS) -> str:
    """HTML of the start of a page's text without any highlight (used when a span cannot be placed)."""
    shown = text[:limit]
    return (
        f'<div class="evsum-source" style="{_SOURCE_STYLE}">{html.escape(shown)}'
        f"{' …' if len(text) > limit else ''}</div>"
    )


# --------------------------------------------------------------------------- library


LIBRARY_COLUMNS = ("Title", "Publisher", "Year", "Licence", "Pages", "Type", "DOI", "Indexed")


def _meta(document: UIDocument, *keys: str) -> str:
    for key in keys:
        value = document.metadata.get(key)
        if value:
            return value
    return ""


def document_row(document: UIDocument) -> dict[str, str | int]:
    """One row of the library table for ``document``; missing metadata shows as an empty cell."""
    return {
        "Title": document.title or document.source_path,
        "Publisher": str(document.source.get("issuer") or "") or _meta(document, "publisher", "journal", "source"),
        "Year": str(document.source.get("year") or "") or _meta(document, "year"),
        "Licence": _meta(document, "licence", "license"),
        "Pages": document.pages,
        "Type": str(document.source.get("doc_type_label") or "") or _meta(document, "kind") or document.source_kind,
        "DOI": str(document.source.get("doi") or "") or _meta(document, "doi"),
        "Indexed": document.indexed_at[:10],
    }


def filter_documents(documents: Iterable[UIDocument], text: str) -> list[UIDocument]:
    """Documents whose title, publisher or licence contains every word of ``text`` (case-insensitive)."""
    words = text.lower().split()
    kept = []
    for document in documents:
        haystack = " ".join(
            (document.title, document.source_path, *(str(value) for value in document.metadata.values()))
        ).lower()
        if all(word in haystack for word in words):
            kept.append(document)
    return kept


# --------------------------------------------------------------------------- errors


def describe_error(error: ClientError) -> str:
    """One or two plain sentences telling the user what went wrong and what to do."""
    if isinstance(error, ApiUnavailable):
        return (
            f"The evidence service at {error.base_url} cannot be reached ({error.reason}). "
            "Please try again shortly; if it persists, contact your knowledge and library service."
        )
    if isinstance(error, ApiError):
        if 400 <= error.status < 500:
            return f"The request was not accepted: {error.title}." + (
                f" {error.detail}" if error.detail else ""
            )
        return f"The evidence service reported an error: {error.title} (HTTP {error.status})." + (
            f" {error.detail}" if error.detail else ""
        )
    return f"Unexpected problem talking to the evidence service: {error}"
