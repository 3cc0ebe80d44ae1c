"""The librarian workflow: who may do what to a draft, and in which state (no FastAPI imports).

    draft ──submit──► in_review ──approve──► approved ──release──► released
      ▲                  │                                            │
      └──(edit)── returned ◄──return──┘          edit starts the next version

* librarians create and edit drafts; only the author submits;
* reviewers approve, return (with a comment) and release; nobody approves or releases their own draft;
* admin may do everything a librarian or reviewer may (but still not review their own draft);
* every change is a compare-and-set on the draft's version and is written with its audit event.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from evsum.errors import ConflictError, InvalidRequestError, NotFoundError, PermissionDeniedError
from evsum.records import Pico, SearchFilters
from evsum.retrieval import SourcePriority
from service.domain import (
    EDITABLE_STATES,
    AuditAction,
    AuditEntry,
    Draft,
    DraftSentence,
    DraftState,
    NewComment,
    Principal,
    Release,
    Role,
    SentenceStatus,
    Withdrawal,
    draft_snapshot,
    normalise_question,
    role_allows,
    utcnow,
)
from service.editing import DraftChange, SentenceAddition, SentenceChange, apply_change
from service.evidence import Evidence
from service.redaction import redact
from service.store import AuditLog, DraftRepository

LIBRARIAN = frozenset({Role.LIBRARIAN})
REVIEWER = frozenset({Role.REVIEWER})
STAFF = frozenset({Role.LIBRARIAN, Role.REVIEWER})
CLAIM_METHOD = ("checked as a claim: the best candidates re-scored by the claim cross-encoder, so that the "
                "sentences quoted are those that report the finding, for or against")
QUESTION_METHOD = ("the best candidates re-scored by the cross-encoder trained on claims and questions, which reads "
                   "the question and each sentence together")


def require(who: Principal, allowed: frozenset[Role], action: str) -> None:
    """``PermissionDeniedError`` unless ``who``'s role may do ``action``."""
    if not role_allows(who.role, allowed):
        roles = " or ".join(sorted(str(r) for r in allowed))
        raise PermissionDeniedError(f"{action} needs the {roles} role; {who.name} is a {who.role}")


def _check_version(draft: Draft, expected: int | None) -> int:
    if expected is not None and expected != draft.version:
        raise ConflictError(f"draft {draft.id} is at version {draft.version}, not {expected}: reload it",
                            current_version=draft.version, state=str(draft.state))
    return draft.version


def _illegal(draft: Draft, action: str, allowed: str) -> ConflictError:
    return ConflictError(f"cannot {action} draft {draft.id}: it is {draft.state}, and {action} needs it {allowed}",
                         current_version=draft.version, state=str(draft.state))


class Workflow:
    """The rules of the draft → review → release workflow over a ``DraftRepository``."""

    def __init__(self, drafts: DraftRepository, audit: AuditLog) -> None:
        self.drafts = drafts
        self.audit = audit

    # --- drafting -----------------------------------------------------------------------------

    def create_draft(self, who: Principal, question: str, max_sentences: int, evidence: Evidence,
                     pico: dict[str, str] | None = None, filters: SearchFilters | None = None,
                     priority: SourcePriority | None = None, claim: bool = False) -> Draft:
        """Ask the summariser for a machine draft and store it as version 1, every sentence unverified.

        PICO fields widen the search, ``filters`` restrict it; both go into the search strategy. With
        ``claim`` the text is checked as a claim (the claim cross-encoder re-scores the best candidates, so
        the draft quotes the sentences that report the finding, for or against); the search strategy
        records it, and the draft is reviewed and released like any other.
        """
        require(who, LIBRARIAN, "creating a draft")
        question = redact(question).text  # no patient details in the store or the audit log, whoever calls
        summary = evidence.summarise(question, max_sentences, pico=Pico(**pico) if pico else None, filters=filters,
                                     priority=priority, claim=claim)
        now = utcnow()
        sentences = tuple(
            DraftSentence(key=i + 1, citation=s.citation, source_text=s.text, sentence_id=s.sentence_id,
                          continues=s.continues)
            for i, s in enumerate(summary.sentences))
        search = {"snapshot_id": summary.snapshot_id, "searched_at": now.isoformat(), "searched_by": who.name,
                  "filters": {"max_sentences": max_sentences, **summary.filters},
                  "method": "hybrid dense + BM25, extractive summary"
                  + (f"; {CLAIM_METHOD}" if summary.claim else f"; {QUESTION_METHOD}" if summary.cross_encoded else "")
                  + ("; source priority: national guidelines, then systematic reviews, then primary studies"
                     if summary.source_priority else ""),
                  "claim": summary.claim,
                  **({"claim_scorer": evidence.claim_scorer()} if summary.claim else {}),
                  # what ranked this draft: a claim's cross-encoder is recorded as its claim scorer, above
                  "sentence_scorer": evidence.sentence_scorer(summary.cross_encoded and not summary.claim),
                  "retrieved_document_ids": list(summary.retrieved_document_ids),
                  "queries": [summary.query or question], "status": summary.status,
                  "source_priority": summary.source_priority}
        draft = Draft(id=0, question=question, pico=pico or None, state=DraftState.DRAFT, version=1,
                      author=who.name, max_sentences=max_sentences, snapshot_id=summary.snapshot_id,
                      search=search, sentences=sentences, next_key=len(sentences) + 1, created_at=now,
                      updated_at=now)
        entry = AuditEntry(actor=who.name, action=AuditAction.CREATE, at=now,
                           after={"question": question, "sentences": len(sentences), "state": "draft",
                                  **({"claim": True} if summary.claim else {})})
        return self.drafts.create_draft(draft, entry)

    def get_draft(self, who: Principal, draft_id: int) -> Draft:
        """One draft (librarians and reviewers)."""
        require(who, STAFF, "reading drafts")
        return self.drafts.get_draft(draft_id)

    def list_drafts(self, who: Principal, state: str | None = None) -> list[Draft]:
        """Drafts, optionally in one state."""
        require(who, STAFF, "listing drafts")
        if state is not None and state not in {s.value for s in DraftState}:
            raise InvalidRequestError(f"state must be one of {', '.join(s.value for s in DraftState)}")
        return self.drafts.list_drafts(state)

    def versions(self, who: Principal, draft_id: int) -> list[dict[str, object]]:
        """Every version of a draft, oldest first (for history and diffs)."""
        require(who, STAFF, "reading drafts")
        return self.drafts.draft_versions(draft_id)

    def edit(self, who: Principal, draft_id: int, expected_version: int | None, change: DraftChange,
             evidence: Evidence | None) -> Draft:
        """Apply a librarian's change; editing a released draft starts its next version."""
        require(who, LIBRARIAN, "editing a draft")
        draft = self.drafts.get_draft(draft_id)
        version = _check_version(draft, expected_version)
        if draft.state not in EDITABLE_STATES:
            raise _illegal(draft, "edit", "draft, returned or released")
        edited, before, after = apply_change(draft, change, evidence)
        if draft.state is DraftState.RELEASED:
            edited = replace(edited, state=DraftState.DRAFT, reviewer=None, submitted_at=None, approved_at=None)
            before["state"], after["state"] = str(draft.state), "draft"
        only_verdicts = not (change.remove or change.add or change.order is not None
                             or change.bottom_line is not None or change.caveats is not None
                             or any(c.text is not None or c.note is not None for c in change.sentences))
        action = AuditAction.VERIFY if only_verdicts else AuditAction.EDIT
        entry = AuditEntry(actor=who.name, action=action, before=before, after=after)
        return self.drafts.save_draft(replace(edited, updated_at=entry.at), version, entry)

    def comment(self, who: Principal, draft_id: int, body: str, sentence_key: int | None = None) -> Draft:
        """Add a comment (librarians and reviewers); comments do not change the draft's content."""
        require(who, STAFF, "commenting")
        draft = self.drafts.get_draft(draft_id)
        if sentence_key is not None and sentence_key not in {s.key for s in draft.sentences}:
            raise NotFoundError(f"draft {draft_id} has no sentence {sentence_key}")
        entry = AuditEntry(actor=who.name, action=AuditAction.COMMENT, after={"comment": body,
                                                                            "sentence": sentence_key})
        return self.drafts.save_draft(replace(draft, updated_at=entry.at), draft.version, entry,
                                      NewComment(author=who.name, kind="comment", body=body,
                                                 sentence_key=sentence_key))

    # --- review and release -------------------------------------------------------------------

    def submit(self, who: Principal, draft_id: int, expected_version: int | None = None) -> Draft:
        """The author sends a complete, fully verified draft for review."""
        require(who, LIBRARIAN, "submitting a draft")
        draft = self.drafts.get_draft(draft_id)
        if who.name != draft.author and who.role is not Role.ADMIN:
            raise PermissionDeniedError(f"only the author ({draft.author}) may submit draft {draft_id}")
        version = _check_version(draft, expected_version)
        if draft.state not in (DraftState.DRAFT, DraftState.RETURNED):
            raise _illegal(draft, "submit", "draft or returned")
        problems = readiness_problems(draft)
        if problems:
            raise ConflictError(f"draft {draft_id} is not ready for review: " + "; ".join(problems),
                                current_version=draft.version, state=str(draft.state))
        now = utcnow()
        entry = AuditEntry(actor=who.name, action=AuditAction.SUBMIT, at=now,
                           before={"state": str(draft.state)}, after={"state": "in_review"})
        return self.drafts.save_draft(replace(draft, state=DraftState.IN_REVIEW, submitted_at=now, updated_at=now,
                                              reviewer=None, approved_at=None), version, entry)

    def approve(self, who: Principal, draft_id: int, expected_version: int | None = None,
                comment: str | None = None) -> Draft:
        """A reviewer other than the author approves a draft in review."""
        draft = self._reviewable(who, draft_id, "approve")
        version = _check_version(draft, expected_version)
        if draft.state is not DraftState.IN_REVIEW:
            raise _illegal(draft, "approve", "in_review")
        now = utcnow()
        entry = AuditEntry(actor=who.name, action=AuditAction.APPROVE, at=now,
                           before={"state": str(draft.state)}, after={"state": "approved", "comment": comment})
        note = NewComment(author=who.name, kind="approve", body=comment) if comment else None
        return self.drafts.save_draft(replace(draft, state=DraftState.APPROVED, reviewer=who.name, approved_at=now,
                                              updated_at=now), version, entry, note)

    def return_draft(self, who: Principal, draft_id: int, comment: str,
                     expected_version: int | None = None) -> Draft:
        """A reviewer other than the author returns a draft in review (or approved) with a comment."""
        draft = self._reviewable(who, draft_id, "return")
        version = _check_version(draft, expected_version)
        if draft.state not in (DraftState.IN_REVIEW, DraftState.APPROVED):
            raise _illegal(draft, "return", "in_review or approved")
        if not comment.strip():
            raise InvalidRequestError("returning a draft needs a comment saying what to change")
        now = utcnow()
        entry = AuditEntry(actor=who.name, action=AuditAction.RETURN, at=now,
                           before={"state": str(draft.state)}, after={"state": "returned", "comment": comment})
        return self.drafts.save_draft(replace(draft, state=DraftState.RETURNED, reviewer=who.name, approved_at=None,
                                              updated_at=now), version, entry,
                                      NewComment(author=who.name, kind="return", body=comment))

    def release(self, who: Principal, draft_id: int, expected_version: int | None = None,
                evidence: Evidence | None = None) -> Release:
        """Release an approved draft as its next immutable, numbered version."""
        draft = self._reviewable(who, draft_id, "release")
        version = _check_version(draft, expected_version)
        if draft.state is not DraftState.APPROVED:
            raise _illegal(draft, "release", "approved")
        now = utcnow()
        number = draft.release_count + 1
        released = replace(draft, state=DraftState.RELEASED, release_count=number, updated_at=now)
        content: dict[str, Any] = {**draft_snapshot(released), "number": number, "released_at": now.isoformat(),
                                   "released_by": who.name, "documents": _documents(draft, evidence)}
        entry = AuditEntry(actor=who.name, action=AuditAction.RELEASE, at=now,
                           before={"state": str(draft.state)}, after={"state": "released", "number": number})
        return self.drafts.add_release(released, version, content, entry)

    def withdraw(self, who: Principal, release_id: int, reason: str) -> Release:
        """Withdraw a release, with a reason; the release itself stays as it was."""
        require(who, REVIEWER, "withdrawing a release")
        if not reason.strip():
            raise InvalidRequestError("withdrawing a release needs a reason")
        release = self.drafts.get_release(release_id)
        if release.withdrawal is not None:
            raise ConflictError(f"release {release_id} is already withdrawn")
        now = utcnow()
        entry = AuditEntry(actor=who.name, action=AuditAction.WITHDRAW, at=now, release_id=release_id,
                           draft_id=release.draft_id, before={"withdrawn": False, "number": release.number},
                           after={"withdrawn": True, "reason": reason})
        return self.drafts.withdraw_release(release_id, Withdrawal(at=now, actor=who.name, reason=reason), entry)

    def _reviewable(self, who: Principal, draft_id: int, action: str) -> Draft:
        require(who, REVIEWER, f"{action} a draft" if action != "approve" else "approving a draft")
        draft = self.drafts.get_draft(draft_id)
        if who.name == draft.author:
            raise PermissionDeniedError(f"{who.name} wrote draft {draft_id} and may not {action} it: "
                                        "a different reviewer must")
        return draft

    # --- releases for readers -----------------------------------------------------------------

    def releases(self, draft_id: int | None = None, question: str | None = None,
                 include_withdrawn: bool = True, claim: bool | None = None) -> list[Release]:
        """Releases, newest first; with ``question``, the current releases that answer it. ``claim`` keeps
        only claim checks (true) or only question summaries (false), so a question is never answered by a
        released claim check with the same words, nor a claim by a question's summary."""
        found = [r for r in self.drafts.list_releases(draft_id=draft_id) if claim is None or r.claim is claim]
        if question is None:
            return [r for r in found if include_withdrawn or r.withdrawal is None]
        # stored questions are redacted, so match the redacted form
        return matching_releases(found, redact(question).text)


def matching_releases(releases: list[Release], question: str, threshold: float = 0.6) -> list[Release]:
    """Current (not withdrawn) latest releases whose question matches: same words, or similar enough."""
    wanted = normalise_question(question)
    wanted_words = set(wanted.split())
    latest: dict[int, Release] = {}
    for release in releases:
        current = latest.get(release.draft_id)
        if release.withdrawal is None and (current is None or release.number > current.number):
            latest[release.draft_id] = release
    scored = []
    for release in latest.values():
        words = set(normalise_question(release.question).split())
        score = 1.0 if normalise_question(release.question) == wanted else (
            len(words & wanted_words) / len(words | wanted_words) if words | wanted_words else 0.0)
        if score >= threshold:
            scored.append((score, release.id, release))
    return [release for _score, _id, release in sorted(scored, key=lambda t: (-t[0], -t[1]))]


def readiness_problems(draft: Draft) -> list[str]:
    """Why a draft cannot go to review yet (empty when it can)."""
    problems = []
    if not draft.sentences:
        problems.append("it has no sentences")
    pending = [s.key for s in draft.sentences if s.status is not SentenceStatus.VERIFIED]
    if pending:
        problems.append(f"sentences {', '.join(map(str, pending))} are not verified "
                        "(verify them, or remove rejected ones)")
    if not draft.bottom_line.strip():
        problems.append("the clinical bottom line is empty")
    return problems


def _documents(draft: Draft, evidence: Evidence | None) -> dict[str, dict[str, str]]:
    documents: dict[str, dict[str, str]] = {}
    for sentence in draft.sentences:
        doc_id = sentence.citation.document_id
        if doc_id not in documents:
            metadata = evidence.metadata(doc_id) if evidence is not None else {}
            documents[doc_id] = {"title": sentence.citation.title, **metadata}
    return documents


__all__ = ["DraftChange", "SentenceAddition", "SentenceChange", "Workflow", "matching_releases",
           "readiness_problems", "require"]
