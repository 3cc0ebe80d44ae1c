"""The query-side object graph: one loaded snapshot, its encoder, retriever and summariser.

Built once per process (service lifespan, CLI, evaluation) from ``Settings``.
"""

from __future__ import annotations

from dataclasses import dataclass

from evsum.errors import IndexNotReadyError
from evsum.retrieval import HybridRetriever
from evsum.settings import Settings
from evsum.summarizer import Summariser
from indexing.reader import IndexReader
from models.claim_scorer import default_claim_scorer
from models.encoders import Encoder, build_encoder
from models.scorer import SentenceScorer, default_scorer


@dataclass(slots=True)
class Engine:
    """Everything needed to answer search and summary requests over one snapshot."""

    reader: IndexReader
    encoder: Encoder
    retriever: HybridRetriever
    summariser: Summariser

    @classmethod
    def load(cls, settings: Settings, *, encoder: Encoder | None = None,
             scorer: SentenceScorer | None = None) -> Engine:
        """Open the current snapshot of ``settings.index.index_dir`` and warm the encoder up."""
        reader = IndexReader.open(settings.index.index_dir)
        encoder = encoder or build_encoder(settings.models)
        if reader.info.encoder != encoder.name:
            raise IndexNotReadyError(
                f"index snapshot {reader.snapshot_id} was built with {reader.info.encoder}, "
                f"but the configured encoder is {encoder.name}: re-run 'evsum index'"
            )
        encoder.warm_up()
        retriever = HybridRetriever(reader, encoder, settings.retrieval)
        summariser = Summariser(retriever, scorer or default_scorer(), settings.summary,
                                min_sentence_words=settings.index.min_sentence_words,
                                claim_scorer=default_claim_scorer())
        return cls(reader, encoder, retriever, summariser)
