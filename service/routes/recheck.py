"""Re-checking released summaries (review flags, retractions) and saved questions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, status

from evsum.records import SearchFilters
from evsum.retrieval import priority_for
from service.deps import (
    Admin,
    DocumentsDep,
    FlagId,
    Librarian,
    OptionalEvidenceDep,
    RecheckerDep,
    ReleaseIdFilter,
    Reviewer,
    SettingsDep,
    Staff,
)
from service.recheck import parse_retraction_csv, parse_retractions
from service.recheck_schemas import (
    RecheckOut,
    ResolveIn,
    RetractionIn,
    RetractionOut,
    RetractionsOut,
    ReviewFlagListOut,
    ReviewFlagOut,
    SavedQuestionIn,
    SavedQuestionListOut,
    SavedQuestionOut,
)

router = APIRouter(prefix="/v1", tags=["re-check"])


@router.post("/recheck", response_model=RecheckOut, summary="Re-check releases and rerun saved questions")
def recheck(who: Staff, rechecker: RecheckerDep, evidence: OptionalEvidenceDep, documents: DocumentsDep,
            settings: SettingsDep) -> RecheckOut:
    """Flag releases citing changed, removed, superseded or retracted documents; rerun every saved question."""
    return RecheckOut.of(rechecker.recheck(evidence, documents, who.name, settings.priority))


@router.get("/review-flags", response_model=ReviewFlagListOut, summary="'Needs review' flags on releases")
def list_flags(who: Staff, rechecker: RecheckerDep,
               open_only: Annotated[bool, Query(alias="open", description="Only unresolved flags.")] = False,
               release_id: ReleaseIdFilter = None) -> ReviewFlagListOut:
    """Flags, oldest first."""
    return ReviewFlagListOut(flags=[ReviewFlagOut.of(f) for f in
                                    rechecker.store.flags(release_id=release_id, open_only=open_only)])


@router.post("/review-flags/{flag_id}/resolve", response_model=ReviewFlagOut, summary="Resolve a flag",
             responses={409: {"description": "Already resolved"}})
def resolve_flag(flag_id: FlagId, body: ResolveIn, who: Reviewer, rechecker: RecheckerDep) -> ReviewFlagOut:
    """A reviewer records how the flag was dealt with (withdrawing or re-releasing the summary is separate)."""
    return ReviewFlagOut.of(rechecker.store.resolve_flag(flag_id, who.name, body.resolution))


@router.get("/retractions", response_model=RetractionsOut, summary="Documents marked retracted")
def list_retractions(who: Staff, rechecker: RecheckerDep) -> RetractionsOut:
    """Every retraction, oldest first."""
    return RetractionsOut(retractions=[RetractionOut.of(r) for r in rechecker.store.retractions()])


@router.post("/retractions", response_model=RetractionsOut, status_code=status.HTTP_201_CREATED,
             summary="Mark a document retracted")
def retract(body: RetractionIn, who: Admin, rechecker: RecheckerDep, documents: DocumentsDep) -> RetractionsOut:
    """Record the retraction and flag every release that cites the document."""
    added, flags = rechecker.retract(parse_retractions(body.rows(), "request"), "admin", who.name, documents)
    return RetractionsOut(retractions=[RetractionOut.of(r) for r in added],
                          new_flags=[ReviewFlagOut.of(f) for f in flags])


@router.post("/retractions/import", response_model=RetractionsOut, status_code=status.HTTP_201_CREATED,
             summary="Import a retraction list (CSV)")
def import_retractions(who: Admin, rechecker: RecheckerDep, documents: DocumentsDep,
                       body: Annotated[str, Body(media_type="text/csv", description="CSV with a doi, pmid or "
                                                 "document_id column and an optional reason column.")],
                       source: Annotated[str, Query(max_length=200)] = "retraction list") -> RetractionsOut:
    """Record every row and flag the releases citing them."""
    added, flags = rechecker.retract(parse_retraction_csv(body, source), source, who.name, documents)
    return RetractionsOut(retractions=[RetractionOut.of(r) for r in added],
                          new_flags=[ReviewFlagOut.of(f) for f in flags])


@router.post("/saved-questions", response_model=SavedQuestionOut, status_code=status.HTTP_201_CREATED,
             summary="Save a question with its filters")
def save_question(body: SavedQuestionIn, who: Librarian, rechecker: RecheckerDep, evidence: OptionalEvidenceDep,
                  settings: SettingsDep) -> SavedQuestionOut:
    """Saved with what it cites today, so a rerun after an index update can report new documents."""
    filters = body.filters.to_record() if body.filters else SearchFilters()
    pico = {k: v for k, v in body.pico.model_dump().items() if v} if body.pico else None
    saved = rechecker.save_question(who.name, body.question, pico, filters, body.source_priority, evidence,
                                    priority_for(settings.priority, body.source_priority), claim=body.claim)
    return SavedQuestionOut.of(saved)


@router.get("/saved-questions", response_model=SavedQuestionListOut, summary="Saved questions")
def list_saved(who: Staff, rechecker: RecheckerDep,
               owner: Annotated[str | None, Query(max_length=100)] = None) -> SavedQuestionListOut:
    """Saved questions, oldest first, optionally one librarian's."""
    return SavedQuestionListOut(saved_questions=[SavedQuestionOut.of(q) for q in
                                                 rechecker.store.saved_questions(owner)])
