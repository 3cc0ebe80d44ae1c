"""Filters, the source-priority prior and PICO: over the API on the sample corpus, and in the export."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import add_keys, bearer, make_settings
from fastapi.testclient import TestClient

from evsum.engine import Engine
from evsum.records import SearchFilters
from evsum.retrieval import SourcePriority
from evsum.settings import SourcePrioritySettings
from models.encoders import HashEncoder
from service.app import create_app

USERS = {"doc": "clinician", "lib": "librarian", "rev": "reviewer"}


@pytest.fixture(scope="module")
def api(sample_index: Path) -> Iterator[Any]:
    settings = make_settings(sample_index)
    keys = add_keys(settings.database_url, USERS)
    with TestClient(create_app(settings, encoder=HashEncoder())) as client:
        def call(user: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
            headers = {**bearer(keys[user]), **kwargs.pop("headers", {})}
            return client.request(method, path, headers=headers, **kwargs)
        yield call


def _types(hits: list[dict[str, Any]]) -> set[str]:
    return {h["citation"]["doc_type"] for h in hits}


def test_filters_restrict_search_exactly(api: Any) -> None:
    query = {"query": "insulin secretion in diabetes, hand hygiene and a healthy diet", "top_k": 20}
    everything = api("doc", "POST", "/v1/search", json=query).json()
    assert len(_types(everything["hits"])) >= 2 and everything["filters"] == {}
    guidelines = api("doc", "POST", "/v1/search", json={**query, "filters": {"doc_types": ["guideline"]}}).json()
    assert _types(guidelines["hits"]) == {"guideline"} and len(guidelines["hits"]) == 20
    assert guidelines["filters"] == {"document types": "Guideline"}
    recent = api("doc", "POST", "/v1/search", json={**query, "filters": {"year_from": 2020}}).json()
    assert recent["hits"] and {h["citation"]["year"] for h in recent["hits"]} == {2024}
    who = api("doc", "POST", "/v1/search", json={**query, "filters": {"issuers": ["world health"]}}).json()
    assert {h["citation"]["title"] for h in who["hits"]} == {"Healthy diet (WHO-EM/NUT/282/E)"}
    nothing = api("doc", "POST", "/v1/search", json={**query, "filters": {"languages": ["fr"]}}).json()
    assert nothing["hits"] == []
    bad = api("doc", "POST", "/v1/search", json={**query, "filters": {"doc_types": ["blog"]}})
    assert bad.status_code == 422 and "doc_types" in bad.text


def test_filters_restrict_summaries_and_say_so(api: Any) -> None:
    body = {"question": "What should adults eat for a healthy diet?", "max_sentences": 4}
    summary = api("doc", "POST", "/v1/summaries", json={**body, "filters": {"year_to": 2019,
                                                                           "doc_types": ["guideline"]}}).json()
    assert summary["status"] == "answered" and summary["filters"] == {"years": "…–2019",
                                                                       "document types": "Guideline"}
    assert {s["citation"]["doc_type"] for s in summary["sentences"]} == {"guideline"}
    assert all(s["citation"]["year"] <= 2019 for s in summary["sentences"])


def test_source_priority_is_a_documented_prior(sample_index: Path) -> None:
    settings = make_settings(sample_index)
    engine = Engine.load(settings, encoder=HashEncoder())
    priority = SourcePriority.of(SourcePrioritySettings(weight=1.0))
    tiers = {d.title[:12]: priority.tier(d) for d in engine.reader.documents.values()}
    assert tiers["Healthy diet"] == "national_guideline" and tiers["Guide to Inf"] == "guideline"
    priors = {d.title[:12]: priority.prior(d) for d in engine.reader.documents.values()}
    assert priors["Healthy diet"] == 1.0 and priors["Guide to Inf"] == pytest.approx(1 - 1 / 7)
    assert priors["Healthy diet"] > priors["Guide to Inf"] > priors["A loss-of-fu"] > priors["REV1 Coordin"]
    by_row = priority.document_prior(engine.reader)
    assert by_row.tolist() == [priority.prior(engine.reader.documents[d]) for d in engine.reader.document_ids]
    assert priority.document_prior(engine.reader) is by_row, "computed once per snapshot, not per request"
    assert SourcePriority.of(SourcePrioritySettings(weight=0.5)).document_prior(engine.reader) is not by_row
    assert not by_row.flags.writeable
    query = "insulin secretion in diabetes"
    plain = engine.retriever.search(query, 10)
    boosted = engine.retriever.search(query, 10, priority=priority)
    assert plain[0].citation.doc_type != "guideline"  # relevance alone: the diabetes paper
    assert boosted[0].citation.doc_type == "guideline"  # weight 1.0 doubles a national guideline's fused score
    for hit in boosted:  # every score is the fused score times (1 + weight * prior)
        prior = priority.prior(engine.reader.documents[hit.citation.document_id])
        assert hit.score == pytest.approx(_fused(engine, query, hit.passage.id) * (1 + prior))
    quiet = engine.summariser.summarise(query, 3)
    ranked = engine.summariser.summarise(query, 3, priority=priority)
    assert not quiet.source_priority and ranked.source_priority
    assert sum(s.citation.doc_type == "guideline" for s in ranked.sentences) > \
        sum(s.citation.doc_type == "guideline" for s in quiet.sentences)


def _fused(engine: Engine, query: str, passage_id: int) -> float:
    ranking = engine.retriever.fused_passages(query, engine.retriever.embed_query(query))
    return float(ranking.scores[list(ranking.ids).index(passage_id)])


def test_priority_over_the_api_shows_each_sentence_source_type(api: Any) -> None:
    body = {"question": "insulin secretion in diabetes", "max_sentences": 3}
    default = api("doc", "POST", "/v1/summaries", json=body).json()
    assert default["source_priority"] is False  # off unless configured or asked for
    asked = api("doc", "POST", "/v1/summaries", json={**body, "source_priority": True}).json()
    assert asked["source_priority"] is True
    assert all(s["citation"]["doc_type_label"] for s in asked["sentences"])


def test_pico_fields_are_searched(api: Any) -> None:
    vague = {"question": "What is recommended for adults?", "max_sentences": 3}
    plain = api("doc", "POST", "/v1/summaries", json=vague).json()
    pico = {"population": "adults with early-onset diabetes", "intervention": "sulfonylurea",
            "outcome": "insulin secretion"}
    widened = api("doc", "POST", "/v1/summaries", json={**vague, "pico": pico}).json()
    assert plain["query"] == vague["question"]
    assert widened["query"] == f"{vague['question']} {pico['population']} {pico['intervention']} {pico['outcome']}"
    titles = {s["citation"]["title"][:20] for s in widened["sentences"]}
    assert "A loss-of-function m" in titles
    assert titles != {s["citation"]["title"][:20] for s in plain["sentences"]}


def test_export_search_strategy_records_pico_filters_and_priority(api: Any) -> None:
    pico = {"population": "outpatients", "intervention": "hand hygiene"}
    created = api("lib", "POST", "/v1/drafts", json={
        "question": "hand hygiene before patient contact", "max_sentences": 2, "pico": pico,
        "filters": {"doc_types": ["guideline"], "year_from": 2010}, "source_priority": True})
    assert created.status_code == 201, created.text
    draft = created.json()
    assert draft["search"]["queries"] == ["hand hygiene before patient contact outpatients"]
    assert draft["search"]["filters"]["document types"] == "Guideline"
    assert {s["citation"]["doc_type"] for s in draft["sentences"]} == {"guideline"}
    edited = api("lib", "PATCH", f"/v1/drafts/{draft['id']}", headers={"If-Match": "1"}, json={
        "sentences": [{"id": s["id"], "status": "verified"} for s in draft["sentences"]], "bottom_line": "Clean."})
    assert edited.status_code == 200, edited.text
    assert api("lib", "POST", f"/v1/drafts/{draft['id']}/submit").status_code == 200
    assert api("rev", "POST", f"/v1/drafts/{draft['id']}/approve").status_code == 200
    release = api("rev", "POST", f"/v1/drafts/{draft['id']}/release").json()
    markdown = api("doc", "GET", f"/v1/releases/{release['release_id']}/export", params={"format": "md"}).text
    assert "- **Structured question (PICO):** Population: outpatients, Intervention: hand hygiene" in markdown
    assert "document types = Guideline" in markdown and "years = 2010–…" in markdown
    assert "- **Source priority:** national guidelines, then systematic reviews, then primary studies" in markdown
    assert "(Guideline) [1]" in markdown and "[Guideline]" in markdown  # each sentence and reference shows its type
    ris = api("doc", "GET", f"/v1/releases/{release['release_id']}/export", params={"format": "ris"}).text
    assert "TY  - RPRT" in ris and "M3  - Guideline" in ris and "PY  - 2016" in ris


def test_unfiltered_requests_are_unchanged(sample_index: Path) -> None:
    engine = Engine.load(make_settings(sample_index), encoder=HashEncoder())
    question = "hand hygiene before patient contact"
    plain = engine.summariser.summarise(question, 3)
    empty = engine.summariser.summarise(question, 3, filters=SearchFilters())
    assert [s.sentence_id for s in plain.sentences] == [s.sentence_id for s in empty.sentences]
