"""Gold-set adapters: PubMedQA, SciFact and a generic JSONL shape, read from the upstream files as they are.

Each loader returns typed items with a string ``id`` (the key ``eval.splits``
hashes) and raises ``GoldFormatError`` (an ``EvsumError``) with a one-line
message when a file cannot be used.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

from eval.splits import in_split
from evsum.errors import EvsumError


class GoldFormatError(EvsumError):
    """A gold file is missing, unreadable or not in the expected shape."""


@dataclass(frozen=True, slots=True)
class PubMedQAItem:
    """One PQA-L item: its abstract sections and the conclusion used as the gold summary."""

    id: str
    question: str
    contexts: tuple[str, ...]
    labels: tuple[str, ...]
    long_answer: str
    year: str = ""
    decision: str = ""


@dataclass(frozen=True, slots=True)
class SciFactClaim:
    """One SciFact claim with its gold rationale sentence indices per evidence document."""

    id: str
    claim: str
    rationales: dict[str, frozenset[int]]  # doc_id -> union of the evidence sets' sentence indices
    cited_doc_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class GenericItem:
    """One line of the generic gold JSONL."""

    id: str
    question: str
    gold_summary: str = ""
    gold_sources: tuple[str, ...] = ()
    gold_sentences: tuple[str, ...] = ()
    gold_doc_ids: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)


T = TypeVar("T")


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise GoldFormatError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise GoldFormatError(f"{path}: cannot read: {error}") from None
    except json.JSONDecodeError as error:
        raise GoldFormatError(f"{path}: invalid JSON ({error.msg}, line {error.lineno})") from None


def iter_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for every non-blank line; ``GoldFormatError`` on a bad line."""
    try:
        handle = path.open("r", encoding="utf-8")
    except FileNotFoundError:
        raise GoldFormatError(f"{path}: no such file") from None
    except OSError as error:
        raise GoldFormatError(f"{path}: cannot read: {error}") from None
    with handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except json.JSONDecodeError as error:
                raise GoldFormatError(f"{path}:{number}: invalid JSON ({error.msg})") from None
            if not isinstance(record, dict):
                raise GoldFormatError(f"{path}:{number}: expected a JSON object")
            yield number, record


def load_pubmedqa(path: Path) -> list[PubMedQAItem]:
    """Items of an ``ori_pqal.json``-shaped file (a dict keyed by PubMed id), in file order."""
    raw = _read_json(path)
    if not isinstance(raw, dict):
        raise GoldFormatError(f"{path}: expected a JSON object keyed by PubMed id (ori_pqal.json shape)")
    items: list[PubMedQAItem] = []
    for pmid, record in raw.items():
        if not isinstance(record, dict) or not isinstance(record.get("CONTEXTS"), list):
            raise GoldFormatError(f"{path}: item {pmid} has no CONTEXTS list")
        question = str(record.get("QUESTION") or "").strip()
        if not question:
            raise GoldFormatError(f"{path}: item {pmid} has no QUESTION")
        items.append(PubMedQAItem(
            id=str(pmid), question=question,
            contexts=tuple(str(c) for c in record["CONTEXTS"]),
            labels=tuple(str(label) for label in record.get("LABELS") or ()),
            long_answer=str(record.get("LONG_ANSWER") or ""),
            year=str(record.get("YEAR") or ""), decision=str(record.get("final_decision") or ""),
        ))
    return items


def pubmedqa_abstract(item: PubMedQAItem) -> dict[str, Any]:
    """The indexable abstract of an item: its CONTEXTS as sections headed by LABELS.

    The question is left out of the title on purpose (it is often the article title).
    """
    sections = [
        {"label": item.labels[i] if i < len(item.labels) else "", "text": text}
        for i, text in enumerate(item.contexts)
    ]
    record: dict[str, Any] = {"id": item.id, "title": f"PubMed {item.id}", "sections": sections}
    if item.year:
        record["year"] = item.year
    return record


def write_pubmedqa_abstracts(items: Sequence[PubMedQAItem], path: Path) -> Path:
    """Write one abstract per item as JSONL for ``run_index``; returns ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(pubmedqa_abstract(item), ensure_ascii=False) for item in items]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def load_scifact_claims(path: Path) -> list[SciFactClaim]:
    """Claims of a SciFact ``claims_*.jsonl`` file; rationales merge each document's evidence sets."""
    claims: list[SciFactClaim] = []
    for number, record in iter_jsonl(path):
        if "id" not in record or not str(record.get("claim") or "").strip():
            raise GoldFormatError(f"{path}:{number}: a claim needs 'id' and 'claim'")
        evidence = record.get("evidence") or {}
        if not isinstance(evidence, dict):
            raise GoldFormatError(f"{path}:{number}: 'evidence' must be an object keyed by doc_id")
        rationales: dict[str, frozenset[int]] = {}
        for doc_id, sets in evidence.items():
            indices = {int(i) for s in sets or () for i in (s.get("sentences") or ())}
            rationales[str(doc_id)] = frozenset(indices)
        claims.append(SciFactClaim(
            id=str(record["id"]), claim=str(record["claim"]).strip(), rationales=rationales,
            cited_doc_ids=tuple(str(d) for d in record.get("cited_doc_ids") or ()),
        ))
    return claims


def load_scifact_corpus(path: Path) -> dict[str, dict[str, Any]]:
    """SciFact corpus records keyed by ``doc_id`` as a string."""
    corpus: dict[str, dict[str, Any]] = {}
    for number, record in iter_jsonl(path):
        if "doc_id" not in record or not isinstance(record.get("abstract"), list):
            raise GoldFormatError(f"{path}:{number}: a corpus line needs 'doc_id' and an 'abstract' list")
        corpus[str(record["doc_id"])] = record
    return corpus


def _strings(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,) if value.strip() else ()
    if isinstance(value, list):
        return tuple(str(v) for v in value if str(v).strip())
    return (str(value),)


def load_generic(path: Path) -> list[GenericItem]:
    """Items of a generic gold JSONL: ``question`` plus optional ``gold_summary``, ``gold_sources``,
    ``gold_sentences`` and ``gold_doc_ids``; ``id`` defaults to the line number."""
    items: list[GenericItem] = []
    known = {"id", "question", "gold_summary", "gold_sources", "gold_sentences", "gold_doc_ids"}
    for number, record in iter_jsonl(path):
        question = str(record.get("question") or "").strip()
        if not question:
            raise GoldFormatError(f"{path}:{number}: every line needs a non-empty 'question'")
        items.append(GenericItem(
            id=str(record.get("id", number)), question=question,
            gold_summary=str(record.get("gold_summary") or ""),
            gold_sources=_strings(record.get("gold_sources")),
            gold_sentences=_strings(record.get("gold_sentences")),
            gold_doc_ids=_strings(record.get("gold_doc_ids")),
            extra={k: v for k, v in record.items() if k not in known},
        ))
    return items


def load_generic_files(paths: Sequence[Path]) -> list[GenericItem]:
    """Items of one or more generic gold files, in file order.

    With several files, each item also gets a ``file`` field (its file's path as given, unless the line gives one), so
    that the figures are broken down per file, and an id may appear in only one of them: predictions and
    ``evsum eval compare`` pair items by id. ``GoldFormatError`` names the first id found twice.
    """
    if len(paths) == 1:
        return load_generic(paths[0])
    items: list[GenericItem] = []
    first_seen: dict[str, Path] = {}
    for path in paths:
        for item in load_generic(path):
            if item.id in first_seen:
                raise GoldFormatError(f"{path}: id {item.id!r} is also in {first_seen[item.id]}: ids must be "
                                      "unique across the files of one run (a line without an id takes its line number)")
            first_seen[item.id] = path
            items.append(replace(item, extra={"file": str(path), **item.extra}))
    return items


def select(items: Sequence[T], ids: Sequence[str], split: str, limit: int | None, seed: int) -> list[T]:
    """Items of ``split`` (by id), then at most ``limit`` of them drawn with ``seed``, kept in file order."""
    chosen = [item for item, item_id in zip(items, ids) if in_split(item_id, split)]
    if limit is not None and 0 <= limit < len(chosen):
        keep = sorted(random.Random(seed).sample(range(len(chosen)), limit))
        chosen = [chosen[i] for i in keep]
    return chosen
