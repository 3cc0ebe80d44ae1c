"""Study-design classification: high-precision rules, then a small classifier trained here on open data.

``classify(title, text)`` returns a ``DocType`` with where it came from:

1. **rules** on the title (authors usually name the design: "a systematic review", "randomised
   controlled trial", "guideline", "case report", "cohort study") and then on the text
   ("we searched MEDLINE", "were randomly assigned", "a 54-year-old man presented");
2. else the **classifier**: multinomial logistic regression over word unigrams and bigrams
   (a fixed vocabulary of at most ``MAX_FEATURES`` terms, weights in
   ``models/weights/study_design.json``) when its probability reaches ``MIN_CONFIDENCE``;
3. else ``OTHER``.

Training data (``evsum train-study-design``), built from the shared open data sets:

* SciFact abstracts (ODC-By): the label comes from the *title* by the title rules, the
  classifier sees only the abstract text, so it learns design cues in the body of the text;
* PubMedQA abstracts (MIT): the label comes from the MeSH headings NLM indexers assigned
  (Random Allocation / Double-Blind Method -> RCT; Retrospective, Prospective, Cohort,
  Follow-Up, Longitudinal Studies -> cohort; Cross-Sectional / Case-Control -> other).

Items whose id falls in the ``dev`` split (``eval.splits``) are never trained on; a stratified
sample of them is kept as ``tests/data/study_design_sample.jsonl``, on which the accuracy is
reported and tested.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np

from evsum.records import DocType

WEIGHTS_FILE = Path(__file__).resolve().parent / "weights" / "study_design.json"
MAX_FEATURES = 600
MIN_CONFIDENCE = 0.5
CLASSES: tuple[DocType, ...] = tuple(DocType)

_TOKEN = re.compile(r"[a-z][a-z-]+")

TITLE_RULES: tuple[tuple[DocType, re.Pattern[str]], ...] = (
    (DocType.SYSTEMATIC_REVIEW, re.compile(r"systematic (?:literature )?review|meta-?\s?analys[ie]s|"
                                           r"umbrella review|cochrane review", re.I)),
    (DocType.GUIDELINE, re.compile(r"\bguidelines?\b|\bguidance\b|\brecommendations?\b|consensus statement|"
                                   r"\bguide to\b|position statement|practice parameter", re.I)),
    (DocType.RCT, re.compile(r"randomi[sz]ed|randomly assigned|controlled trial|\bRCT\b", re.I)),
    (DocType.CASE_REPORT, re.compile(r"case report|\ba case of\b|: a case\b|case presentation", re.I)),
    (DocType.COHORT, re.compile(r"\bcohort\b|prospective (?:study|analysis)|retrospective (?:study|analysis)|"
                                r"longitudinal study|follow-up study|population-based study", re.I)),
    (DocType.NARRATIVE_REVIEW, re.compile(r"\breview\b|\boverview\b|state of the art|update on", re.I)),
)
TEXT_RULES: tuple[tuple[DocType, re.Pattern[str]], ...] = (
    (DocType.SYSTEMATIC_REVIEW, re.compile(
        r"we (?:systematically )?searched (?:\w+ ){0,3}(?:medline|pubmed|embase|cochrane)|\bPRISMA\b|"
        r"this systematic review|we conducted a systematic review|random-effects meta-analysis", re.I)),
    (DocType.RCT, re.compile(r"(?:were|was) randomi[sz]ed to|randomly (?:assigned|allocated)|"
                             r"double-blind,? (?:randomi[sz]ed|placebo)|this randomi[sz]ed", re.I)),
    (DocType.CASE_REPORT, re.compile(r"we (?:report|describe|present) (?:a|the) case|"
                                     r"\ba \d{1,3}-year-old (?:man|woman|boy|girl|male|female|patient)", re.I)),
    (DocType.COHORT, re.compile(r"(?:prospective|retrospective|population-based) cohort|cohort study", re.I)),
)


@dataclass(frozen=True, slots=True)
class Prediction:
    """A document type, where it came from (``rules`` or ``classifier``) and the classifier's probability."""

    doc_type: DocType
    origin: str
    confidence: float = 1.0


def rule_type(title: str, text: str) -> DocType | None:
    """The design named by the title, else by an unmistakable phrase in the text; None if neither."""
    for doc_type, pattern in TITLE_RULES:
        if title and pattern.search(title):
            return doc_type
    for doc_type, pattern in TEXT_RULES:
        if text and pattern.search(text[:6000]):
            return doc_type
    return None


def classify(title: str, text: str, model: StudyDesignModel | None = None) -> Prediction:
    """The study design of a document from its title and opening text (rules, then the classifier)."""
    ruled = rule_type(title, text)
    if ruled is not None:
        return Prediction(ruled, "rules")
    model = model or load_model()
    if model is None:
        return Prediction(DocType.OTHER, "")
    doc_type, confidence = model.predict(f"{title}\n{text}")
    if confidence < MIN_CONFIDENCE:
        return Prediction(DocType.OTHER, "classifier", confidence)
    return Prediction(doc_type, "classifier", confidence)


def features(text: str) -> list[str]:
    """Lower-case word unigrams and bigrams of the first 6,000 characters."""
    tokens = _TOKEN.findall(text[:6000].lower())
    return tokens + [f"{a} {b}" for a, b in zip(tokens, tokens[1:])]


@dataclass(slots=True)
class StudyDesignModel:
    """Multinomial logistic regression over a fixed term vocabulary (binary term presence)."""

    vocabulary: dict[str, int]
    weights: np.ndarray  # (n_terms, n_classes)
    bias: np.ndarray  # (n_classes,)
    classes: tuple[DocType, ...] = CLASSES

    def vectorise(self, texts: Sequence[str]) -> np.ndarray:
        """Binary presence matrix (n_texts, n_terms)."""
        matrix = np.zeros((len(texts), len(self.vocabulary)), dtype=np.float32)
        for row, text in enumerate(texts):
            for term in set(features(text)):
                column = self.vocabulary.get(term)
                if column is not None:
                    matrix[row, column] = 1.0
        return matrix

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """Class probabilities (n_texts, n_classes)."""
        return _softmax(self.vectorise(texts) @ self.weights + self.bias)

    def predict(self, text: str) -> tuple[DocType, float]:
        """The most probable type and its probability."""
        probabilities = self.probabilities([text])[0]
        best = int(np.argmax(probabilities))
        return self.classes[best], float(probabilities[best])

    def to_json(self) -> dict[str, object]:
        """A small JSON document (terms, weights rounded to 2 decimals)."""
        terms = sorted(self.vocabulary, key=lambda t: self.vocabulary[t])
        return {"classes": [c.value for c in self.classes], "terms": terms,
                "weights": np.round(self.weights, 2).tolist(), "bias": np.round(self.bias, 2).tolist()}

    @classmethod
    def from_json(cls, raw: dict[str, object]) -> StudyDesignModel:
        """The model saved by ``to_json``."""
        terms = [str(t) for t in raw["terms"]]  # type: ignore[attr-defined]
        return cls(vocabulary={t: i for i, t in enumerate(terms)},
                   weights=np.asarray(raw["weights"], dtype=np.float32).reshape(len(terms), -1),
                   bias=np.asarray(raw["bias"], dtype=np.float32),
                   classes=tuple(DocType(c) for c in raw["classes"]))  # type: ignore[attr-defined]


@lru_cache(maxsize=1)
def load_model(path: Path = WEIGHTS_FILE) -> StudyDesignModel | None:
    """The shipped classifier (cached), or None when no weights file exists."""
    if not path.is_file():
        return None
    return StudyDesignModel.from_json(json.loads(path.read_text(encoding="utf-8")))


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


# --- open training data --------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class LabelledText:
    """One labelled abstract: ``text`` is what the classifier sees; ``label_from`` says how it was labelled."""

    id: str
    text: str
    label: DocType
    label_from: str


_MESH_RCT = {"Random Allocation", "Double-Blind Method", "Single-Blind Method"}
_MESH_COHORT = {"Retrospective Studies", "Prospective Studies", "Cohort Studies", "Follow-Up Studies",
                "Longitudinal Studies"}
_MESH_OTHER = {"Cross-Sectional Studies", "Case-Control Studies"}


def scifact_examples(corpus: Path) -> Iterator[LabelledText]:
    """SciFact abstracts labelled by their title; the text is the abstract alone (title withheld)."""
    with corpus.open(encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            label = rule_type(record["title"], "")
            text = " ".join(record["abstract"])
            if label is not None:
                yield LabelledText(f"scifact:{record['doc_id']}", text, label, "title")
            elif not TEXT_RULES_ANY.search(text) and int(record["doc_id"]) % 7 == 0:
                yield LabelledText(f"scifact:{record['doc_id']}", text, DocType.OTHER, "title")


TEXT_RULES_ANY = re.compile("|".join(f"(?:{p.pattern})" for _t, p in TEXT_RULES), re.I)


def pubmedqa_examples(path: Path) -> Iterator[LabelledText]:
    """PubMedQA abstracts labelled by their MeSH study-design headings (skipped when they have none)."""
    for pmid, item in json.loads(path.read_text(encoding="utf-8")).items():
        meshes = set(item.get("MESHES", []))
        if meshes & _MESH_RCT:
            label = DocType.RCT
        elif meshes & _MESH_COHORT:
            label = DocType.COHORT
        elif meshes & _MESH_OTHER:
            label = DocType.OTHER
        else:
            continue
        yield LabelledText(f"pubmedqa:{pmid}", " ".join(item["CONTEXTS"]), label, "mesh")


def train(examples: Iterable[LabelledText], *, max_features: int = MAX_FEATURES, epochs: int = 300,
          learning_rate: float = 0.5, l2: float = 1e-3, seed: int = 13) -> StudyDesignModel:
    """Fit the classifier (class-balanced softmax regression, full-batch gradient descent; seeded)."""
    items = list(examples)
    df: Counter[str] = Counter()
    for item in items:
        df.update(set(features(item.text)))
    common = [term for term, n in df.most_common() if n >= 3][: max_features * 4]
    model = _fit(items, {t: i for i, t in enumerate(common)}, epochs, learning_rate, l2, seed)
    strength = np.abs(model.weights).max(axis=1)
    keep = sorted(np.argsort(-strength)[:max_features].tolist())
    vocabulary = {common[i]: j for j, i in enumerate(keep)}
    return _fit(items, vocabulary, epochs, learning_rate, l2, seed)


def _fit(items: list[LabelledText], vocabulary: dict[str, int], epochs: int, learning_rate: float, l2: float,
         seed: int) -> StudyDesignModel:
    rng = np.random.default_rng(seed)
    model = StudyDesignModel(vocabulary, np.zeros((len(vocabulary), len(CLASSES)), dtype=np.float32),
                             np.zeros(len(CLASSES), dtype=np.float32))
    x = model.vectorise([item.text for item in items])
    y = np.array([CLASSES.index(item.label) for item in items])
    counts = np.bincount(y, minlength=len(CLASSES)).astype(np.float32)
    sample_weight = (len(y) / (len(CLASSES) * np.maximum(counts, 1)))[y]
    targets = np.eye(len(CLASSES), dtype=np.float32)[y]
    model.weights = rng.normal(0, 0.01, model.weights.shape).astype(np.float32)
    for _ in range(epochs):
        error = (_softmax(x @ model.weights + model.bias) - targets) * sample_weight[:, None]
        model.weights -= learning_rate * (x.T @ error / len(y) + l2 * model.weights)
        model.bias -= learning_rate * error.mean(axis=0)
    return model


def accuracy(sample: Sequence[LabelledText], *, use_rules: bool = True, use_model: bool = True,
             model: StudyDesignModel | None = None) -> float:
    """Share of ``sample`` classified right from its text alone (no title)."""
    model = model or load_model()
    right = 0
    for item in sample:
        ruled = rule_type("", item.text) if use_rules else None
        if ruled is not None:
            predicted = ruled
        elif use_model and model is not None:
            doc_type, confidence = model.predict(item.text)
            predicted = doc_type if confidence >= MIN_CONFIDENCE else DocType.OTHER
        else:
            predicted = DocType.OTHER
        right += predicted is item.label
    return right / len(sample) if sample else 0.0


def read_sample(path: Path) -> list[LabelledText]:
    """A labelled JSONL sample (``id``, ``text``, ``label``, ``label_from``)."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            raw = json.loads(line)
            out.append(LabelledText(raw["id"], raw["text"], DocType(raw["label"]), raw["label_from"]))
    return out


@dataclass(frozen=True, slots=True)
class TrainingReport:
    """What ``train_and_save`` did, with accuracies on the held-out labelled sample."""

    train_items: int
    sample_items: int
    accuracy: float  # rules, then the classifier (what indexing uses)
    rules_only: float  # rules alone, everything else OTHER
    majority: float  # always the most frequent label of the sample
    weights_file: Path


def train_and_save(scifact_corpus: Path, pubmedqa: Path, out: Path = WEIGHTS_FILE,
                   sample_out: Path | None = None, *, sample_per_class: int = 25, seed: int = 13) -> TrainingReport:
    """Train on the ``train`` split of both data sets, write the weights, and score the held-out sample.

    The sample (at most ``sample_per_class`` items per label, drawn with ``seed`` from the
    ``dev`` split) is written to ``sample_out`` when given, else read from there if it exists.
    """
    from eval.splits import split_of

    examples = [*scifact_examples(scifact_corpus), *pubmedqa_examples(pubmedqa)]
    training = [e for e in examples if split_of(e.id) == "train"]
    held_out = [e for e in examples if split_of(e.id) == "dev"]
    rng = np.random.default_rng(seed)
    sample: list[LabelledText] = []
    for label in CLASSES:
        of_label = [e for e in held_out if e.label is label]
        picked = rng.permutation(len(of_label))[:sample_per_class]
        sample.extend(of_label[i] for i in sorted(picked.tolist()))
    model = train(training, seed=seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(model.to_json(), separators=(",", ":")), encoding="utf-8")
    load_model.cache_clear()
    if sample_out is not None:
        sample_out.parent.mkdir(parents=True, exist_ok=True)
        sample_out.write_text("".join(json.dumps({"id": e.id, "label": e.label.value, "label_from": e.label_from,
                                                  "text": e.text}, ensure_ascii=False) + "\n" for e in sample),
                              encoding="utf-8")
    majority_label = Counter(e.label for e in sample).most_common(1)[0][0] if sample else DocType.OTHER
    return TrainingReport(
        train_items=len(training), sample_items=len(sample), accuracy=accuracy(sample, model=model),
        rules_only=accuracy(sample, use_model=False, model=model),
        majority=sum(e.label is majority_label for e in sample) / max(len(sample), 1), weights_file=out,
    )
