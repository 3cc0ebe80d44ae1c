"""Pure helpers for the workbench pages: labels, sentence lines and diffs (no Streamlit, no I/O)."""

from __future__ import annotations

import difflib
from collections.abc import Sequence

from evsum.records import DocType
from ui.client import UIDraftSentence, UIRelease

_DOC_TYPES = {t.value for t in DocType}

STATE_LABELS = {"draft": "Draft", "in_review": "In review", "returned": "Returned to author",
                "approved": "Approved", "released": "Released"}
STATUS_ICONS = {"unverified": "⬜", "verified": "✅", "rejected": "❌", "needs_edit": "✏️"}
STATES = tuple(STATE_LABELS)


def state_label(state: str) -> str:
    """A reader-friendly name of a draft state."""
    return STATE_LABELS.get(state, state)


def sentence_line(number: int, sentence: UIDraftSentence) -> str:
    """One line for a sentence: verdict icon, text, citation marker, the source's type and an edited flag."""
    return whole_sentence_line([number], [sentence])


def whole_sentence_line(numbers: list[int], parts: list[UIDraftSentence]) -> str:
    """One line for a sentence of a release: one part, or the parts of a sentence cut by a page break (its text
    joined, every citation marker and page given once), with the first part's verdict icon and source type and an edited
    flag if either part was edited."""
    first = parts[0]
    flag = " *(edited — not verbatim)*" if any(p.edited for p in parts) else ""
    kind = f" ({DocType(first.citation.doc_type).label})" if first.citation.doc_type in _DOC_TYPES else ""
    markers = "".join(f"[{n}]" for n in numbers)
    numbered = list(dict.fromkeys(p.citation.page for p in parts))
    pages = f"p. {numbered[0]}" if len(numbered) == 1 else f"pp. {' and '.join(str(n) for n in numbered)}"
    return (f"{STATUS_ICONS.get(first.status, '')} {' '.join(p.text for p in parts)} "
            f"**{markers}** — {first.citation.title}, {pages}{kind}{flag}")


def text_label(claim: bool) -> str:
    """How a draft's or release's text is labelled: "Claim checked" for a claim check, else "Question"."""
    return "Claim checked" if claim else "Question"


def kind_prefix(claim: bool) -> str:
    """What goes before a listed draft's, release's or saved question's text: "Claim check: " or nothing."""
    return "Claim check: " if claim else ""


def release_text(release: UIRelease) -> list[str]:
    """A release as lines (for diffs): question, bottom line, sentences, caveats."""
    lines = [f"{text_label(release.claim)}: {release.question}", f"Bottom line: {release.bottom_line}"]
    lines += [f"- {s.text} ({s.citation.title}, p. {s.citation.page})" + (" [edited]" if s.edited else "")
              for s in release.sentences]
    lines.append(f"Caveats: {release.caveats}")
    return lines


def diff_releases(old: UIRelease, new: UIRelease) -> list[str]:
    """A unified diff between two releases' content (empty when the same)."""
    return list(difflib.unified_diff(release_text(old), release_text(new), fromfile=f"version {old.number}",
                                     tofile=f"version {new.number}", lineterm="", n=1))


def move(ids: Sequence[int], item: int, step: int) -> list[int]:
    """``ids`` with ``item`` moved ``step`` places (clamped to the ends)."""
    order = list(ids)
    index = order.index(item)
    target = max(0, min(len(order) - 1, index + step))
    order.insert(target, order.pop(index))
    return order
