"""``evsum eval scifact``: abstract retrieval over the whole corpus and rationale selection in gold abstracts.

Retrieval: nDCG@10 and recall@10 of the system's document ranking (the
``retrieved_document_ids`` of its summary), with BM25-only and dense-only
document rankings (documents ordered by their best passage) in the same run.
The main keys count claims with evidence, their evidence documents relevant;
the ``*_beir`` keys count every claim with cited documents, those relevant
(the BEIR SciFact qrels), so they compare with published BEIR numbers.
Rationales: see ``eval.rationale``; the selection rule is tuned on training
claims only, whatever ``--split`` evaluates.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from eval.backends import EvalSummary, SummaryBackend
from eval.baselines import SentencePools
from eval.common import (
    EvalOptions,
    build_encoder_for,
    ensure_index,
    load_engine,
    make_backend,
    progress_bar,
    run_info,
    summary_stats,
    write_json,
    write_jsonl,
)
from eval.gold import SciFactClaim, load_scifact_claims, load_scifact_corpus, select
from eval.metrics import PRF, citation_is_valid, mean, ndcg_at_k, recall_at_k
from eval.rationale import (
    DocumentScopeRetriever,
    PairScores,
    SelectionRule,
    evaluate,
    index_map,
    predict,
    score_claim,
    tune,
)
from eval.report import Section, bar_chart, distributions, histogram, metric_table, note, write_report
from eval.splits import split_of

RANKING_DEPTH = 100  # passages searched by the single-retriever baselines


@dataclass(slots=True)
class ClaimResult:
    """Retrieval results of one claim."""

    claim: SciFactClaim
    summary: EvalSummary
    valid: list[bool]
    rankings: dict[str, list[str]]

    def scores(self, name: str, beir: bool = False) -> dict[str, float]:
        """nDCG@10 and recall@10 of one ranking against the evidence (or, for BEIR, the cited) documents."""
        relevant = list(self.claim.cited_doc_ids if beir else self.claim.rationales)
        return {"ndcg_at_10": ndcg_at_k(self.rankings[name], relevant, 10),
                "recall_at_10": recall_at_k(self.rankings[name], relevant, 10)}


def documents_by_best_passage(reader: Any, passage_ids: np.ndarray) -> list[str]:
    """Document ids in the order of their best-ranked passage."""
    ranking: list[str] = []
    seen: set[str] = set()
    for row in reader.passage_doc[passage_ids].tolist():
        doc_id = reader.document_ids[row]
        if doc_id not in seen:
            seen.add(doc_id)
            ranking.append(doc_id)
    return ranking


def evaluate_claim(claim: SciFactClaim, backend: SummaryBackend, engine: Any, k: int) -> ClaimResult:
    """Ask the system, check its citations, and rank documents with BM25 and dense search alone."""
    summary = backend.summarise(claim.claim, k)
    valid = [citation_is_valid(s.span(), backend.page_text) for s in summary.sentences]
    reader = engine.reader
    query_vector = engine.retriever.embed_query(claim.claim)
    rankings = {
        "system": list(summary.retrieved_document_ids),
        "bm25": documents_by_best_passage(reader, reader.bm25_passages(claim.claim, RANKING_DEPTH).ids),
        "dense": documents_by_best_passage(reader, reader.dense_passages(query_vector, RANKING_DEPTH).ids),
    }
    return ClaimResult(claim, summary, valid, rankings)


def _prf(prf: PRF) -> dict[str, float]:
    return {"rationale_precision": prf.precision, "rationale_recall": prf.recall, "rationale_f1": prf.f1}


@dataclass(slots=True)
class _PairCache:
    """Scored pairs per claim and the sentence-index maps per abstract, shared by the tuning and eval sets."""

    corpus: dict[str, dict[str, Any]]
    maps: dict[str, dict[int, int]]
    how: dict[str, str]
    claims: dict[str, list[PairScores]]


def _score_pairs(claims: list[SciFactClaim], engine: Any, pools: SentencePools, cache: _PairCache, desc: str,
                 progress: bool) -> list[PairScores]:
    retriever = DocumentScopeRetriever(engine.reader, engine.encoder, engine.retriever.settings)
    corpus, maps, how = cache.corpus, cache.maps, cache.how
    pairs: list[PairScores] = []
    todo = [c for c in claims if c.id not in cache.claims]
    for claim in progress_bar(todo, len(todo), desc, progress):
        for doc_id in claim.rationales:
            if doc_id not in maps and doc_id in pools.row_of and doc_id in corpus:
                maps[doc_id], how[doc_id] = index_map(pools, doc_id, corpus[doc_id])
        wanted = {d: g for d, g in claim.rationales.items() if d in maps or d not in pools.row_of}
        cache.claims[claim.id] = score_claim(engine, retriever, pools, claim.id, claim.claim, wanted, maps)
    for claim in claims:
        pairs.extend(cache.claims[claim.id])
    return pairs


def _report(path: Path, metrics: dict[str, Any], results: list[ClaimResult]) -> None:
    system, baselines = metrics["system"], metrics["baselines"]
    retrieval = {"system": system, "bm25": baselines["bm25"], "dense": baselines["dense"]}
    columns = ["ndcg_at_10", "recall_at_10", "ndcg_at_10_beir", "recall_at_10_beir"]
    rationale = {"system": system, "cosine": baselines["cosine"]}
    rule = metrics.get("run", {}).get("rationale_rules", {})
    sections = [
        Section("Abstract retrieval", [
            metric_table(retrieval, columns),
            note(f"Claims with evidence (n = {metrics['n']}): evidence abstracts relevant. BEIR columns: every "
                 f"claim with cited abstracts (n = {metrics['n_beir']}), cited abstracts relevant."),
            bar_chart(retrieval, columns, "Document ranking: system vs single retrievers"),
            distributions({name: [r.scores(name)["ndcg_at_10"] for r in results if r.claim.rationales]
                           for name in retrieval}, "Per-claim nDCG@10 (claims with evidence)", "nDCG@10"),
        ]),
        Section("Rationale sentence selection (gold abstracts)", [
            metric_table(rationale, ["rationale_precision", "rationale_recall", "rationale_f1",
                                     "rationale_f1_unseen_abstracts"]),
            note(f"Selection rules tuned on training claims only: {rule}. The last column counts only the "
                 f"{metrics['n_rationale_pairs_unseen']} (claim, abstract) pairs whose abstract is evidence "
                 "for no train claim."),
            bar_chart(rationale, ["rationale_precision", "rationale_recall", "rationale_f1"],
                      "Summariser scorer vs cosine"),
        ]),
        Section("Citations and latency", [
            metric_table({"system": system}, ["citation_valid", "answered", "latency_ms_p50", "latency_ms_p95"]),
            histogram([r.summary.latency_ms for r in results], "Summary latency", "milliseconds"),
        ]),
    ]
    write_report(path, "evsum evaluation: SciFact", metrics.get("run", {}), sections, metrics)


def _row(result: ClaimResult, pairs: list[PairScores], rules: dict[str, Any]) -> dict[str, Any]:
    claim = result.claim
    return {
        "id": claim.id, "split": split_of(claim.id), "claim": claim.claim, "status": result.summary.status,
        "latency_ms": round(result.summary.latency_ms, 2),
        "sentences": [{"text": s.text, "document_id": s.document_id, "page": s.page, "char_start": s.char_start,
                       "char_end": s.char_end, "score": s.score, "citation_valid": ok}
                      for s, ok in zip(result.summary.sentences, result.valid)],
        "retrieved_document_ids": result.rankings["system"][:20],
        "gold_document_ids": list(claim.rationales), "cited_doc_ids": list(claim.cited_doc_ids),
        "retrieval": {name: result.scores(name) for name in result.rankings} if claim.rationales else None,
        "retrieval_beir": {name: result.scores(name, beir=True) for name in result.rankings},
        "rationales": {p.document_id: {"gold": sorted(p.gold), "system": sorted(predict(p, rules["system"])),
                                       "cosine": sorted(predict(p, rules["cosine"], use_cosine=True))}
                       for p in pairs},
    }


def _retrieval(results: list[ClaimResult], names: tuple[str, ...], main_ids: set[str],
               beir_ids: set[str]) -> dict[str, dict[str, float]]:
    evidence = [r for r in results if r.claim.id in main_ids]
    cited = [r for r in results if r.claim.id in beir_ids]
    out: dict[str, dict[str, float]] = {}
    for name in names:
        out[name] = {m: mean(r.scores(name)[m] for r in evidence) for m in ("ndcg_at_10", "recall_at_10")}
        out[name].update({f"{m}_beir": mean(r.scores(name, beir=True)[m] for r in cited)
                          for m in ("ndcg_at_10", "recall_at_10")})
    return out


def _aggregate(results: list[ClaimResult], main_ids: set[str], beir_ids: set[str], eval_pairs: list[PairScores],
               rules: dict[str, SelectionRule], tune_pairs: list[PairScores],
               train_evidence: set[str]) -> dict[str, Any]:
    """metrics.json's numbers, including rationale F1 on abstracts that are evidence for no train claim.

    Splitting SciFact by claim leaves some evaluation abstracts that are also evidence for train
    claims (``train_evidence``); a scorer that can memorise sentences looks better on those than it
    is, so ``rationale_f1_unseen_abstracts`` counts only the others (``n_rationale_pairs_unseen``).
    It is left out when there are none (``--split train``).
    """
    retrieval = _retrieval(results, ("system", "bm25", "dense"), main_ids, beir_ids)
    unseen = [p for p in eval_pairs if p.document_id not in train_evidence]
    system = retrieval.pop("system")
    system.update(_prf(evaluate(eval_pairs, rules["system"])))
    system.update(summary_stats([r.summary for r in results], [ok for r in results for ok in r.valid]))
    cosine = _prf(evaluate(eval_pairs, rules["cosine"], use_cosine=True))
    if unseen:
        system["rationale_f1_unseen_abstracts"] = evaluate(unseen, rules["system"]).f1
        cosine["rationale_f1_unseen_abstracts"] = evaluate(unseen, rules["cosine"], use_cosine=True).f1
    baselines: dict[str, dict[str, float]] = {**retrieval, "cosine": cosine}
    rule_info: dict[str, Any] = {
        name: {"k_max": rule.k_max, "tau": rule.tau,
               "train_f1": evaluate(tune_pairs, rule, use_cosine=name == "cosine").f1}
        for name, rule in rules.items()
    }
    return {"n": len(main_ids), "n_beir": len(beir_ids), "n_rationale_pairs": len(eval_pairs),
            "n_rationale_pairs_unseen": len(unseen), "system": system, "baselines": baselines,
            "rationale_rules": rule_info}


def run_scifact(corpus_path: Path, claims_path: Path, options: EvalOptions, *, encoder: Any = None,
                http_client: Any = None, claim_check: bool = True) -> dict[str, Any]:
    """Index the corpus, evaluate retrieval and rationales, and write the three output files.

    Summaries are asked for the claims with evidence of the split (main metrics and
    rationales) and for its claims with cited documents (BEIR metrics); ``--limit``
    samples each of the two sets. Rationales are scored as the service scores a claim,
    through the claim cross-encoder when one is installed, unless ``claim_check`` is false.
    """
    started = time.perf_counter()
    corpus = load_scifact_corpus(corpus_path)
    all_claims = load_scifact_claims(claims_path)
    claims = [c for c in all_claims if c.rationales]
    cited = [c for c in all_claims if c.cited_doc_ids]
    chosen = select(claims, [c.id for c in claims], options.split, options.limit, options.seed)
    beir = select(cited, [c.id for c in cited], options.split, options.limit, options.seed)
    main_ids, beir_ids = {c.id for c in chosen}, {c.id for c in beir}
    asked = chosen + [c for c in beir if c.id not in main_ids]
    tuning = select(claims, [c.id for c in claims], "train", options.limit, options.seed)
    options.out.mkdir(parents=True, exist_ok=True)
    settings = options.settings(options.out / "index")
    encoder = build_encoder_for(settings, encoder)
    index_line = ensure_index([corpus_path], settings, encoder, options.progress)
    engine = load_engine(settings, encoder)
    if not claim_check:
        engine.summariser.claim_scorer = None
    backend = make_backend(options, engine, http_client)
    pools = SentencePools(engine.reader, engine.summariser.min_sentence_words)

    results = [evaluate_claim(c, backend, engine, options.max_sentences)
               for c in progress_bar(asked, len(asked), "scifact retrieval", options.progress)]
    cache = _PairCache(corpus, {}, {}, {})
    tune_pairs = _score_pairs(tuning, engine, pools, cache, "scifact tune", options.progress)
    eval_pairs = _score_pairs(chosen, engine, pools, cache, "scifact rationale", options.progress)
    rules = {"system": tune(tune_pairs)[0], "cosine": tune(tune_pairs, use_cosine=True)[0]}
    train_evidence = {d for c in claims if split_of(c.id) == "train" for d in c.rationales}
    metrics = _aggregate(results, main_ids, beir_ids, eval_pairs, rules, tune_pairs, train_evidence)
    rule_info = metrics.pop("rationale_rules")
    rule_info.update({"tuned_on": "train", "tune_claims": len(tuning), "tune_pairs": len(tune_pairs)})
    metrics["run"] = run_info(
        options, "scifact", engine, backend, started, corpus=str(corpus_path), claims=str(claims_path),
        claims_in_file=len(all_claims), claims_with_evidence=len(claims), index=index_line,
        rationale_rules=rule_info, overlaps_tuning=options.split != "dev",
        sentence_mapping={m: sum(1 for v in cache.how.values() if v == m) for m in ("order", "offsets")},
    )
    write_json(options.out / "metrics.json", metrics)
    by_claim: dict[str, list[PairScores]] = {}
    for pair in eval_pairs:
        by_claim.setdefault(pair.claim_id, []).append(pair)
    write_jsonl(options.out / "predictions.jsonl", (_row(r, by_claim.get(r.claim.id, []), rules) for r in results))
    _report(options.out / "report.html", metrics, results)
    return metrics
