"""Question pairs for the cross-encoder: the dev questions' answer sentences against the sentences that beat them today.

The claim cross-encoder learns relevance from SciFact's claims, but a claim states the finding it is about
and a question does not: trained on claims alone, it ranks the answer sentences of our long-document
questions worse than the served prior (docs/quality.md, fifth session). Trained on questions alone, a few
hundred of them teach it too little (eleventh session). Together they do better: the claim pairs teach
relevance, and the question pairs teach what a question asks for.

For each question of the given generic gold files (``eval/dev_questions*.jsonl``: a question, its source
file and its answer sentences), the positives are its ``gold_sentences`` and the negatives are the
``negatives`` best candidates by the served prior that are not an answer sentence: the sentences on the
question's topic that the summary quotes instead of the answer. Those candidates come from the served
summariser over an index of the corpus the questions were written about (``../shared/corpus``), so the
pairs depend on that index and the prior, both of which are pinned; the description of the trained graph
records the index snapshot.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

if TYPE_CHECKING:
    from evsum.summarizer import Summariser
    from models.claim_training import ClaimPair, QuestionPairs

#: Non-answer candidates per question, best by the prior first (the eleventh session's experiments used 10).
DEFAULT_NEGATIVES = 10


def question_pairs(question_files: Sequence[Path], summariser: Summariser,
                   negatives: int = DEFAULT_NEGATIVES) -> QuestionPairs:
    """``question_training_pairs`` with the files and the index snapshot they were drawn from."""
    from models.claim_training import QuestionPairs

    pairs = question_training_pairs(question_files, summariser, negatives)
    return QuestionPairs(pairs, tuple(question_files), summariser.retriever.reader.snapshot_id, negatives)


def question_training_pairs(question_files: Sequence[Path], summariser: Summariser,
                            negatives: int = DEFAULT_NEGATIVES) -> list[ClaimPair]:
    """(question, sentence) pairs of every question with answer sentences in ``question_files``.

    Each question's pairs share its id as ``document_id``, so ``abstract_batches`` keeps them in one
    group and the listwise loss ranks the answers above the question's own topic sentences. A candidate
    counts as an answer when it equals, contains or is contained in a gold sentence (as ``evsum eval
    jsonl`` scores it), and is then not a negative.
    """
    from eval.generic import sentence_matches
    from eval.gold import load_generic_files
    from evsum.features import FEATURE_NAMES
    from models.claim_training import ClaimPair

    reader = summariser.retriever.reader
    pairs: list[ClaimPair] = []
    for item in load_generic_files(list(question_files)):
        if not item.gold_sentences:
            continue
        pairs.extend(ClaimPair(item.question, gold.strip(), 1, item.id) for gold in item.gold_sentences)
        candidates = summariser.candidates(item.question)
        if not len(candidates.ids):
            continue
        scores = summariser.scorer.score(candidates.features, FEATURE_NAMES)
        order = np.argsort(-scores, kind="stable")
        # Enough candidates to find ``negatives`` non-answers even when every answer ranks near the top.
        ranked = [int(candidates.ids[i]) for i in order[:negatives + len(item.gold_sentences)]]
        # As the cross-encoder reads them when serving: both parts of a sentence cut by a page break.
        texts = reader.unit_texts(ranked)
        chosen = [text for text in dict.fromkeys(texts)
                  if not any(sentence_matches(g, text) for g in item.gold_sentences)]
        pairs.extend(ClaimPair(item.question, text, 0, item.id) for text in chosen[:negatives])
    return pairs
