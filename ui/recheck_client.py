"""The UI side of evidence options and re-checks: ask options, saved questions, review flags.

``AskOptions`` carries the optional structured question (PICO), filters and the
source-priority choice of the Ask form.  ``RecheckHttpMixin`` adds the saved-question and
re-check calls to ``EvsumClient``; ``FakeRecheckMixin`` gives ``FakeApiClient`` the same
behaviour in memory (the contract tests in ``tests/test_evidence_ui.py`` run both).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx

from evsum.records import DocType

DOC_TYPE_CHOICES: tuple[tuple[str, str], ...] = tuple((t.value, t.label) for t in DocType)
"""(value, label) of every document type, for filter widgets."""


@dataclass(frozen=True, slots=True)
class AskOptions:
    """What the Ask form may add to a question: PICO fields, filters and the source-priority choice."""

    population: str = ""
    intervention: str = ""
    comparison: str = ""
    outcome: str = ""
    year_from: int | None = None
    year_to: int | None = None
    doc_types: tuple[str, ...] = ()
    issuers: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    source_priority: bool | None = None

    def pico(self) -> dict[str, str] | None:
        """The PICO object of a request body, or None when every field is empty."""
        values = {"population": self.population, "intervention": self.intervention,
                  "comparison": self.comparison, "outcome": self.outcome}
        given = {k: v.strip() for k, v in values.items() if v.strip()}
        return given or None

    def filters(self) -> dict[str, Any] | None:
        """The filters object of a request body, or None when nothing restricts."""
        body: dict[str, Any] = {}
        if self.year_from:
            body["year_from"] = self.year_from
        if self.year_to:
            body["year_to"] = self.year_to
        for key in ("doc_types", "issuers", "languages"):
            values = [v for v in getattr(self, key) if v.strip()]
            if values:
                body[key] = values
        return body or None

    def body(self) -> dict[str, Any]:
        """The optional fields of a summary, draft or saved-question request."""
        out: dict[str, Any] = {}
        if self.pico():
            out["pico"] = self.pico()
        if self.filters():
            out["filters"] = self.filters()
        if self.source_priority is not None:
            out["source_priority"] = self.source_priority
        return out


@dataclass(frozen=True, slots=True)
class UIReviewFlag:
    """Why a release needs review."""

    id: int
    release_id: int
    draft_id: int
    document_id: str
    kind: str
    reason: str
    detected_at: str
    detected_by: str
    resolved_at: str | None = None
    resolved_by: str | None = None
    resolution: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class UISavedQuestion:
    """A saved question and what its last run cited."""

    id: int
    question: str
    owner: str
    created_at: str
    pico: dict[str, str] | None = None
    filters: dict[str, Any] = field(default_factory=dict)
    source_priority: bool | None = None
    last_run_at: str | None = None
    last_snapshot_id: str | None = None
    cited_document_ids: tuple[str, ...] = ()
    claim: bool = False  # a saved claim check, rerun through the claim cross-encoder
    last_claim_scorer: dict[str, str] | None = None  # the claim scorer {name, graph_sha256} of its last run
    last_sentence_scorer: dict[str, str] | None = None  # the sentence scorer {name, weights_sha256} of its last run


@dataclass(frozen=True, slots=True)
class UISavedRun:
    """One rerun of a saved question."""

    saved_question: UISavedQuestion
    status: str
    cited_document_ids: tuple[str, ...] = ()
    new_document_ids: tuple[str, ...] = ()
    new_titles: tuple[str, ...] = ()
    claim_scorer_changed_from: dict[str, str] | None = None  # a claim check whose claim scorer changed
    sentence_scorer_changed_from: dict[str, str] | None = None  # a saved question whose sentence scorer changed


@dataclass(frozen=True, slots=True)
class UIRecheck:
    """What ``POST /v1/recheck`` found."""

    snapshot_id: str | None
    open_flags: int
    new_flags: tuple[UIReviewFlag, ...] = ()
    saved_questions: tuple[UISavedRun, ...] = ()


@dataclass(frozen=True, slots=True)
class SavedQuestionList:
    """The ``GET /v1/saved-questions`` answer."""

    saved_questions: tuple[UISavedQuestion, ...] = ()


class _Requests(Protocol):
    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response: ...


class RecheckHttpMixin:
    """Saved questions and re-checks over HTTP (mixed into ``EvsumClient``)."""

    def save_question(self: _Requests, question: str, options: AskOptions | None = None, *,
                      claim: bool = False) -> UISavedQuestion:
        """``POST /v1/saved-questions`` (``claim: true`` saves a claim check)."""
        from ui.client import _parse

        body = {"question": question, **(options.body() if options else {})}
        if claim:
            body["claim"] = True
        return _parse(UISavedQuestion, self._request("POST", "/v1/saved-questions", json=body))

    def saved_questions(self: _Requests) -> tuple[UISavedQuestion, ...]:
        """``GET /v1/saved-questions``."""
        from ui.client import _parse

        return _parse(SavedQuestionList, self._request("GET", "/v1/saved-questions")).saved_questions

    def recheck(self: _Requests) -> UIRecheck:
        """``POST /v1/recheck``: flag releases that need review and rerun every saved question."""
        from ui.client import _parse

        return _parse(UIRecheck, self._request("POST", "/v1/recheck"))

    def resolve_flag(self: _Requests, flag_id: int, resolution: str) -> UIReviewFlag:
        """``POST /v1/review-flags/{id}/resolve``."""
        from ui.client import _parse

        return _parse(UIReviewFlag, self._request("POST", f"/v1/review-flags/{int(flag_id)}/resolve",
                                                  json={"resolution": resolution}))


FAKE_CLAIM_SCORER = {"name": "fake-claim-scorer", "graph_sha256": "f" * 64}
"""What the fake service records as the claim scorer of a saved claim check."""

FAKE_SENTENCE_SCORER = {"name": "fake-sentence-scorer", "weights_sha256": "e" * 64}
"""What the fake service records as the sentence scorer of every saved question's run."""


class FakeRecheckMixin:
    """In-memory saved questions and flags for ``FakeApiClient`` (reruns report nothing new)."""

    saved: dict[int, UISavedQuestion]
    flags: dict[int, UIReviewFlag]
    user: str

    def _record(self, name: str, *args: object) -> None:  # provided by FakeApiClient
        raise NotImplementedError

    def save_question(self, question: str, options: AskOptions | None = None, *,
                      claim: bool = False) -> UISavedQuestion:
        """Store a saved question (or claim check)."""
        self._record("save_question", question, options, *(("claim",) if claim else ()))
        from ui.client import ApiError

        if not question.strip():
            raise ApiError(422, "Invalid request", "question: must not be empty")
        number = max(self.saved, default=0) + 1
        options = options or AskOptions()
        saved = UISavedQuestion(id=number, question=question, owner=self.user, created_at=_now(),
                                pico=options.pico(), filters=options.filters() or {},
                                source_priority=options.source_priority, claim=claim,
                                last_claim_scorer=dict(FAKE_CLAIM_SCORER) if claim else None,
                                last_sentence_scorer=dict(FAKE_SENTENCE_SCORER))
        self.saved[number] = saved
        return saved

    def saved_questions(self) -> tuple[UISavedQuestion, ...]:
        """Saved questions, oldest first."""
        self._record("saved_questions")
        return tuple(self.saved[k] for k in sorted(self.saved))

    def recheck(self) -> UIRecheck:
        """Nothing changes in memory: every saved question reruns with no new documents."""
        self._record("recheck")
        runs = tuple(UISavedRun(saved_question=q, status="answered") for q in self.saved_questions())
        return UIRecheck(snapshot_id="fake-snapshot", open_flags=sum(f.resolved_at is None
                                                                     for f in self.flags.values()),
                         saved_questions=runs)

    def resolve_flag(self, flag_id: int, resolution: str) -> UIReviewFlag:
        """Resolve a flag once; 404 unknown, 409 when already resolved."""
        from dataclasses import replace

        from ui.client import ApiError

        self._record("resolve_flag", flag_id, resolution)
        if flag_id not in self.flags:
            raise ApiError(404, "Not found", f"no review flag with id {flag_id}")
        if self.flags[flag_id].resolved_at is not None:
            raise ApiError(409, "Conflict", f"review flag {flag_id} was already resolved")
        flag = replace(self.flags[flag_id], resolved_at=_now(), resolved_by=self.user, resolution=resolution)
        self.flags[flag_id] = flag
        return flag


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()
