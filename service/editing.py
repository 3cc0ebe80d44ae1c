"""A librarian's change to a draft's content, and how it is applied (pure; no storage, no FastAPI).

New wording never replaces the verbatim source: it is kept as ``edited_text``
beside ``source_text``, the sentence is marked edited, and its verdict goes
back to ``unverified`` unless the same change sets one.  Added sentences come
from the index (by sentence id, or by a span such as a search hit's citation),
so their source text is verbatim by construction.  An added span that opens with
the end of a sentence cut by a page break, or closes with its first part, brings
the other part beside it (after the change's ``order``, with the next free keys),
and the two are tied by ``continues``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from evsum.errors import IndexNotReadyError, InvalidRequestError
from evsum.records import Citation
from service.domain import Draft, DraftSentence, SentenceStatus, sentence_snapshot
from service.evidence import Evidence, SentencePart


@dataclass(frozen=True, slots=True)
class SentenceChange:
    """A change to one sentence: a verdict, new wording (kept as a tracked change), or a note."""

    key: int
    status: SentenceStatus | None = None
    text: str | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class SentenceAddition:
    """A sentence to add: an indexed sentence by id, or a span of a page (e.g. a search hit's citation)."""

    sentence_id: int | None = None
    document_id: str | None = None
    page: int | None = None
    char_start: int | None = None
    char_end: int | None = None
    position: int | None = None  # 0-based index in the sentence list; None appends
    query: str | None = None  # the search that found it, kept in the draft's search strategy


@dataclass(frozen=True, slots=True)
class DraftChange:
    """Everything one edit may change, applied in this order: sentence edits, removals, additions, order."""

    sentences: tuple[SentenceChange, ...] = ()
    remove: tuple[int, ...] = ()
    add: tuple[SentenceAddition, ...] = ()
    order: tuple[int, ...] | None = None
    bottom_line: str | None = None
    caveats: str | None = None

    @property
    def empty(self) -> bool:
        """True when the change changes nothing."""
        return not (self.sentences or self.remove or self.add or self.order is not None
                    or self.bottom_line is not None or self.caveats is not None)


def _edit_sentence(sentence: DraftSentence, change: SentenceChange) -> DraftSentence:
    updated = sentence
    if change.text is not None:
        text = " ".join(change.text.split())
        if not text:
            raise InvalidRequestError(f"sentence {change.key}: the new wording is empty (remove the sentence instead)")
        edited = None if text == " ".join(sentence.source_text.split()) else text
        updated = replace(updated, edited_text=edited)
        if edited != sentence.edited_text:
            updated = replace(updated, status=SentenceStatus.UNVERIFIED)  # new wording needs checking again
    if change.status is not None:
        updated = replace(updated, status=change.status)
    if change.note is not None:
        updated = replace(updated, note=change.note.strip() or None)
    return updated


def _new_sentence(addition: SentenceAddition, key: int, evidence: Evidence | None) -> DraftSentence:
    if evidence is None:
        raise IndexNotReadyError("the index is not loaded: sentences cannot be added now")
    citation: Citation
    if addition.sentence_id is not None:
        citation, text = evidence.sentence(addition.sentence_id)
    elif None not in (addition.document_id, addition.page, addition.char_start, addition.char_end):
        citation, text = evidence.span(str(addition.document_id), int(addition.page or 0),
                                       int(addition.char_start or 0), int(addition.char_end or 0))
    else:
        raise InvalidRequestError("an added sentence needs a sentence_id, or a citation with document_id, "
                                  "page, char_start and char_end")
    return DraftSentence(key=key, citation=citation, source_text=text, origin="added",
                         sentence_id=addition.sentence_id)


def _span(citation: Citation) -> tuple[str, int, int, int]:
    return citation.document_id, citation.page, citation.char_start, citation.char_end


def _part_sentence(part: SentencePart, key: int) -> DraftSentence:
    return DraftSentence(key=key, citation=part.citation, source_text=part.text, origin="added",
                         sentence_id=part.sentence_id)


def _add_cut_parts(added_keys: list[int], by_key: dict[int, DraftSentence], order: list[int], next_key: int,
                   evidence: Evidence) -> int:
    """Put beside each added span the parts of sentences cut by a page break that it leaves out: the first part
    before it when it opens with a sentence's end, the end after it when it closes with a first part. A part
    already in the draft is not added again. New keys follow ``next_key`` (the explicitly added sentences keep
    theirs); ``added_keys``, ``by_key`` and ``order`` are updated in place. Returns the next free key."""
    for key in list(added_keys):
        parts = evidence.cut_sentence_parts(by_key[key].citation)
        for part, after in ((parts.head, False), (parts.tail, True)):
            if part is None or _span(part.citation) in {_span(s.citation) for s in by_key.values()}:
                continue
            by_key[next_key] = _part_sentence(part, next_key)
            order.insert(order.index(key) + after, next_key)
            added_keys.append(next_key)
            next_key += 1
    return next_key


def _runs_on(first: DraftSentence, second: DraftSentence, evidence: Evidence) -> bool:
    """Whether ``first`` closes with the first part of a sentence cut by a page break and ``second`` opens with
    its end."""
    tail = evidence.cut_sentence_parts(first.citation).tail
    return tail is not None and (tail.citation.document_id, tail.citation.page, tail.citation.char_start) == (
        second.citation.document_id, second.citation.page, second.citation.char_start)


def _tied_parts(draft: Draft, sentences: list[DraftSentence], added: set[int],
                evidence: Evidence | None) -> tuple[DraftSentence, ...]:
    """``sentences`` in their new order, each first part of a sentence cut by a page break still marked ``continues``
    only while its end follows it: an edit that removes, moves or separates the end unties the two parts. A
    sentence added by this edit is tied to a neighbour that the page break cut it from."""
    end_of = {s.key: draft.sentences[i + 1].key for i, s in enumerate(draft.sentences[:-1]) if s.continues}
    tied = []
    for i, s in enumerate(sentences):
        following = sentences[i + 1] if i + 1 < len(sentences) else None
        if following is None:
            continues = False
        elif evidence is not None and (s.key in added or following.key in added):
            continues = _runs_on(s, following, evidence)
        else:
            continues = s.continues and end_of.get(s.key) == following.key
        tied.append(s if continues == s.continues else replace(s, continues=continues))
    return tuple(tied)


def apply_change(draft: Draft, change: DraftChange,
                 evidence: Evidence | None) -> tuple[Draft, dict[str, Any], dict[str, Any]]:
    """The draft with ``change`` applied, and what changed (before and after) for the audit log."""
    if change.empty:
        raise InvalidRequestError("the change is empty: give sentences, remove, add, order, bottom_line or caveats")
    by_key = {s.key: s for s in draft.sentences}
    order = [s.key for s in draft.sentences]
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}

    def missing(key: int) -> InvalidRequestError:
        return InvalidRequestError(f"draft {draft.id} has no sentence {key}")

    for sentence_change in change.sentences:
        if sentence_change.key not in by_key:
            raise missing(sentence_change.key)
        old = by_key[sentence_change.key]
        new = _edit_sentence(old, sentence_change)
        if new != old:
            before.setdefault("sentences", []).append(sentence_snapshot(old))
            after.setdefault("sentences", []).append(sentence_snapshot(new))
            by_key[new.key] = new
    for key in change.remove:
        if key not in by_key:
            raise missing(key)
        before.setdefault("removed", []).append(sentence_snapshot(by_key.pop(key)))
        order.remove(key)
    next_key = draft.next_key
    search = dict(draft.search)
    added_keys: list[int] = []
    for addition in change.add:
        added = _new_sentence(addition, next_key, evidence)
        if _span(added.citation) in {_span(s.citation) for s in by_key.values()}:
            raise InvalidRequestError(f"that span of {added.citation.title!r} page {added.citation.page} "
                                      "is already in the draft")
        next_key += 1
        by_key[added.key] = added
        position = len(order) if addition.position is None else max(0, min(addition.position, len(order)))
        order.insert(position, added.key)
        added_keys.append(added.key)
        if addition.query and addition.query not in search.get("queries", []):
            search["queries"] = [*search.get("queries", []), addition.query]
    if change.order is not None:
        if sorted(change.order) != sorted(order) or len(set(change.order)) != len(change.order):
            raise InvalidRequestError(f"order must list each of the draft's sentences once: {sorted(order)}")
        before["order"], after["order"] = list(order), list(change.order)
        order = list(change.order)
    if added_keys:
        assert evidence is not None  # _new_sentence raised otherwise
        next_key = _add_cut_parts(added_keys, by_key, order, next_key, evidence)
    sentences = _tied_parts(draft, [by_key[k] for k in order], set(added_keys), evidence)
    if added_keys:
        after["added"] = [sentence_snapshot(s) for s in sentences if s.key in added_keys]
    updated = replace(draft, sentences=sentences, next_key=next_key, search=search)
    for field_name in ("bottom_line", "caveats"):
        value = getattr(change, field_name)
        if value is not None and value.strip() != getattr(draft, field_name):
            before[field_name], after[field_name] = getattr(draft, field_name), value.strip()
            updated = replace(updated, **{field_name: value.strip()})
    return updated, before, after
