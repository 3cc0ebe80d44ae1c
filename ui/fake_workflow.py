"""The librarian-workflow half of ``FakeApiClient``: drafts, reviews and releases in memory.

It follows the service's rules closely enough for page tests: versions are checked
(a stale one is ``ApiError`` 409), transitions are checked (409), and nobody
approves their own draft (403).  ``user`` is who the fake is signed in as.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from ui.client import (
    ApiError,
    UICitation,
    UIDraft,
    UIDraftItem,
    UIDraftSentence,
    UIRelease,
    UIReleaseCreated,
    UIReleaseItem,
    UISummary,
    UIWithdrawal,
)
from ui.recheck_client import AskOptions

NOW = "2025-11-24T10:00:00Z"


class FakeWorkflowMixin:
    """Workflow calls over ``drafts_by_id`` and ``releases_by_id`` (fields of the fake)."""

    drafts_by_id: dict[int, UIDraft]
    releases_by_id: dict[int, UIRelease]
    user: str
    page_texts: dict[tuple[str, int], str]
    summarise: Callable[..., UISummary]  # (question, max_sentences, options, *, claim=False)
    _record: Callable[..., None]
    _citation: Callable[[str, int, int, int, str | None], UICitation]

    def drafts(self, state: str | None = None) -> tuple[UIDraftItem, ...]:
        """Drafts, newest first."""
        self._record("drafts", state)
        return tuple(UIDraftItem(id=d.id, version=d.version, state=d.state, question=d.question, author=d.author,
                                 claim=d.claim,
                                 updated_at=NOW, sentences=len(d.sentences), reviewer=d.reviewer,
                                 release_count=d.release_count)
                     for d in sorted(self.drafts_by_id.values(), key=lambda d: -d.id) if not state or d.state == state)

    def draft(self, draft_id: int) -> UIDraft:
        """One draft; 404 when unknown."""
        self._record("draft", draft_id)
        return self._draft(draft_id)

    def create_draft(self, question: str, max_sentences: int, options: AskOptions | None = None, *,
                     claim: bool = False) -> UIDraft:
        """A draft of the canned answer, every sentence unverified (a doc-type filter applies)."""
        summary = self.summarise(question, max_sentences, options, claim=claim)
        self._record("create_draft", question, max_sentences, *(("claim",) if claim else ()))
        sentences = tuple(UIDraftSentence(id=i + 1, text=s.text, source_text=s.text, status="unverified",
                                          citation=s.citation, sentence_id=s.sentence_id, continues=s.continues)
                          for i, s in enumerate(summary.sentences))
        draft = UIDraft(id=len(self.drafts_by_id) + 1, version=1, state="draft", question=question, author=self.user,
                        snapshot_id=summary.snapshot_id, sentences=sentences, claim=claim)
        return self._store(draft)

    def update_draft(self, draft_id: int, version: int, changes: Mapping[str, Any]) -> UIDraft:
        """Verdicts, wording, removals, order, bottom line and caveats (additions by citation too)."""
        self._record("update_draft", draft_id, version, dict(changes))
        draft = self._at(draft_id, version)
        if draft.state not in ("draft", "returned", "released"):
            raise ApiError(409, "Conflict", f"cannot edit draft {draft_id}: it is {draft.state}")
        by_id = {s.id: s for s in draft.sentences}
        for change in changes.get("sentences", []):
            s = by_id[change["id"]]
            if change.get("text") is not None:
                edited = change["text"] != s.source_text
                s = replace(s, text=change["text"], edited=edited, status="unverified")
            if change.get("status"):
                s = replace(s, status=change["status"])
            by_id[s.id] = s
        order = [s.id for s in draft.sentences if s.id not in changes.get("remove", [])]
        for addition in changes.get("add", []):
            new_id = max(by_id, default=0) + 1
            c = addition["citation"]
            citation = self._citation(c["document_id"], c["page"], c["char_start"], c["char_end"], None)
            text = self.page_texts[(c["document_id"], c["page"])][c["char_start"]:c["char_end"]]
            by_id[new_id] = UIDraftSentence(id=new_id, text=text, source_text=text, status="unverified",
                                            citation=citation, origin="added")
            order.append(new_id)
        order = list(changes.get("order") or order)
        updated = replace(draft, sentences=tuple(by_id[i] for i in order), version=draft.version + 1,
                          bottom_line=changes.get("bottom_line", draft.bottom_line),
                          caveats=changes.get("caveats", draft.caveats),
                          state="draft" if draft.state == "released" else draft.state)
        return self._store(updated)

    def comment_draft(self, draft_id: int, body: str) -> UIDraft:
        """Comments are shown but not modelled further."""
        self._record("comment_draft", draft_id, body)
        return self._draft(draft_id)

    def transition(self, draft_id: int, action: str, version: int, comment: str | None = None) -> UIDraft:
        """submit / approve / return with the service's state and people rules."""
        self._record("transition", draft_id, action, version, comment)
        draft = self._at(draft_id, version)
        allowed = {"submit": ("draft", "returned"), "approve": ("in_review",), "return": ("in_review", "approved")}
        if draft.state not in allowed[action]:
            raise ApiError(409, "Conflict", f"cannot {action} draft {draft_id}: it is {draft.state}")
        if action != "submit" and draft.author == self.user:
            raise ApiError(403, "Forbidden", f"{self.user} wrote draft {draft_id} and may not {action} it")
        if action == "submit" and any(s.status != "verified" for s in draft.sentences):
            raise ApiError(409, "Conflict", "not ready for review: some sentences are not verified")
        state = {"submit": "in_review", "approve": "approved", "return": "returned"}[action]
        reviewer = draft.reviewer if action == "submit" else self.user
        return self._store(replace(draft, state=state, version=draft.version + 1, reviewer=reviewer))

    def release_draft(self, draft_id: int, version: int) -> UIReleaseCreated:
        """Release an approved draft."""
        self._record("release_draft", draft_id, version)
        draft = self._at(draft_id, version)
        if draft.state != "approved":
            raise ApiError(409, "Conflict", f"cannot release draft {draft_id}: it is {draft.state}")
        number = draft.release_count + 1
        release = UIRelease(release_id=len(self.releases_by_id) + 1, draft_id=draft.id, number=number,
                            question=draft.question, released_at=NOW, released_by=self.user, author=draft.author,
                            reviewer=draft.reviewer, approved_at=NOW, bottom_line=draft.bottom_line,
                            caveats=draft.caveats, snapshot_id=draft.snapshot_id, sentences=draft.sentences,
                            claim=draft.claim)
        self.releases_by_id[release.release_id] = release
        self._store(replace(draft, state="released", version=draft.version + 1, release_count=number))
        return UIReleaseCreated(release_id=release.release_id, number=number, draft_id=draft.id)

    def releases(self, draft_id: int | None = None) -> tuple[UIReleaseItem, ...]:
        """Releases, newest first."""
        self._record("releases", draft_id)
        return tuple(UIReleaseItem(release_id=r.release_id, draft_id=r.draft_id, number=r.number,
                                   question=r.question, released_at=r.released_at, released_by=r.released_by,
                                   withdrawn=r.withdrawn, claim=r.claim)
                     for r in sorted(self.releases_by_id.values(), key=lambda r: -r.release_id)
                     if draft_id is None or r.draft_id == draft_id)

    def release(self, release_id: int) -> UIRelease:
        """One release; 404 when unknown."""
        self._record("release", release_id)
        if release_id not in self.releases_by_id:
            raise ApiError(404, "Not found", f"no release with id {release_id}")
        return self.releases_by_id[release_id]

    def find_release(self, question: str, *, claim: bool = False) -> UIRelease | None:
        """The newest current release with the same question (case and spacing ignored) and kind."""
        self._record("find_release", question)
        wanted = " ".join(question.lower().split())
        for r in sorted(self.releases_by_id.values(), key=lambda r: -r.release_id):
            if not r.withdrawn and r.claim is claim and " ".join(r.question.lower().split()) == wanted:
                return r
        return None

    def withdraw_release(self, release_id: int, reason: str) -> UIRelease:
        """Withdraw once; a second time is 409."""
        self._record("withdraw_release", release_id, reason)
        release = self.release(release_id)
        if release.withdrawn:
            raise ApiError(409, "Conflict", f"release {release_id} is already withdrawn")
        release = replace(release, withdrawn=True, withdrawal=UIWithdrawal(at=NOW, actor=self.user, reason=reason))
        self.releases_by_id[release_id] = release
        return release

    def export_release(self, release_id: int, fmt: str) -> bytes:
        """A stand-in document."""
        self._record("export_release", release_id, fmt)
        release = self.release(release_id)
        return f"{fmt}: {release.question} (version {release.number})".encode()

    # -- helpers

    def _draft(self, draft_id: int) -> UIDraft:
        if draft_id not in self.drafts_by_id:
            raise ApiError(404, "Not found", f"no draft with id {draft_id}")
        return self.drafts_by_id[draft_id]

    def _at(self, draft_id: int, version: int) -> UIDraft:
        draft = self._draft(draft_id)
        if draft.version != version:
            raise ApiError(409, "Conflict", f"draft {draft_id} is at version {draft.version}, not {version}")
        return draft

    def _store(self, draft: UIDraft) -> UIDraft:
        problems = [f"sentence {s.id} is not verified" for s in draft.sentences if s.status != "verified"]
        if not draft.bottom_line.strip():
            problems.append("the clinical bottom line is empty")
        draft = replace(draft, not_ready=tuple(problems))
        self.drafts_by_id[draft.id] = draft
        return draft
