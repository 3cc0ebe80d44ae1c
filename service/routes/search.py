"""Hybrid passage search and extractive summaries."""

from __future__ import annotations

from fastapi import APIRouter

from service.deps import EngineDep
from service.schemas import SearchHitOut, SearchOut, SearchRequestIn, SummaryOut, SummaryRequestIn

router = APIRouter(prefix="/v1", tags=["evidence"])


@router.post("/search", response_model=SearchOut, summary="Hybrid dense + BM25 passage search")
def search(body: SearchRequestIn, engine: EngineDep) -> SearchOut:
    """Top-k passages fused by reciprocal rank, each with its citation and scores."""
    hits = engine.retriever.search(body.query, body.top_k)
    return SearchOut(query=body.query, snapshot_id=engine.reader.snapshot_id,
                     hits=[SearchHitOut.of(h) for h in hits])


@router.post("/summaries", response_model=SummaryOut, summary="Extractive summary for a question")
def summarise(body: SummaryRequestIn, engine: EngineDep) -> SummaryOut:
    """Verbatim sentences with citations, or an explicit no-evidence answer."""
    summary = engine.summariser.summarise(body.question, body.max_sentences, body.max_words)
    return SummaryOut.of(summary)
