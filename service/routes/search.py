"""Hybrid passage search and extractive summaries."""

from __future__ import annotations

from fastapi import APIRouter

from evsum.retrieval import priority_for
from service.deps import EngineDep, SettingsDep
from service.schemas import SearchHitOut, SearchOut, SearchRequestIn, SummaryOut, SummaryRequestIn

router = APIRouter(prefix="/v1", tags=["evidence"])


@router.post("/search", response_model=SearchOut, summary="Hybrid dense + BM25 passage search")
def search(body: SearchRequestIn, engine: EngineDep, settings: SettingsDep) -> SearchOut:
    """Top-k passages fused by reciprocal rank, each with its citation and scores; optionally filtered."""
    filters = body.filters.to_record() if body.filters else None
    hits = engine.retriever.search(body.query, body.top_k, filters=filters,
                                   priority=priority_for(settings.priority, body.source_priority))
    return SearchOut(query=body.query, snapshot_id=engine.reader.snapshot_id,
                     hits=[SearchHitOut.of(h) for h in hits], filters=filters.describe() if filters else {})


@router.post("/summaries", response_model=SummaryOut, summary="Extractive summary for a question")
def summarise(body: SummaryRequestIn, engine: EngineDep, settings: SettingsDep) -> SummaryOut:
    """Verbatim sentences with citations, or an explicit no-evidence answer; PICO widens the search."""
    summary = engine.summariser.summarise(
        body.question, body.max_sentences, body.max_words,
        filters=body.filters.to_record() if body.filters else None,
        pico=body.pico.to_record() if body.pico else None,
        priority=priority_for(settings.priority, body.source_priority), claim=body.claim)
    return SummaryOut.of(summary).with_redactions(body.redactions)
