"""The development question files: well-formed, and (slow) every gold sentence is a body sentence of its source."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pytest

from evsum.records import Role

EVAL_DIR = Path(__file__).resolve().parents[1] / "eval"
SHARED_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
FILES = {"dev_questions.jsonl": "dq-", "dev_questions_2.jsonl": "dq2-", "dev_questions_3.jsonl": "dq3-",
         "dev_questions_4.jsonl": "dq4-", "dev_questions_5.jsonl": "dq5-",
         "dev_questions_6.jsonl": "dq6-", "dev_questions_7.jsonl": "dq7-",
         "dev_questions_8.jsonl": "dq8-", "dev_questions_9.jsonl": "dq9-",
         "dev_questions_10.jsonl": "dq10-", "dev_questions_11.jsonl": "dq11-",
         "dev_questions_12.jsonl": "dq12-", "dev_questions_13.jsonl": "dq13-"}
FIELDS = {"id", "question", "gold_sources", "gold_sentences", "gold_summary", "page", "kind"}


def _items(name: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in (EVAL_DIR / name).read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.mark.parametrize("name", sorted(FILES))
def test_question_file_is_well_formed(name: str) -> None:
    items = _items(name)
    ids = [str(item["id"]) for item in items]
    assert len(set(ids)) == len(ids) and all(i.startswith(FILES[name]) for i in ids)
    for item in items:
        assert set(item) == FIELDS, item["id"]
        gold = item["gold_sentences"]
        assert isinstance(gold, list) and gold and item["gold_summary"] == gold[0]
        assert item["kind"] in {"paper", "guideline"}
        assert all(str(s) not in str(item["question"]) for s in gold), "the question must not contain its answer"


def test_the_sets_share_no_gold_sentence() -> None:
    sets = [{s for item in _items(name) for s in item["gold_sentences"]} for name in sorted(FILES)]  # type: ignore[union-attr]
    for i, one in enumerate(sets):
        for other in sets[i + 1:]:
            assert not one & other


@cache
def _body_sentences(file_name: str) -> frozenset[str]:
    from indexing.pdf import parse_pdf
    from indexing.segment import segment

    path = next(SHARED_CORPUS.rglob(file_name), None)
    assert path is not None, f"{file_name} is not in {SHARED_CORPUS}"
    sentences, _ = segment(parse_pdf(path), "x", passage_max_words=130)
    return frozenset(s.text for s in sentences if s.role == Role.BODY)


@pytest.mark.slow
@pytest.mark.skipif(not SHARED_CORPUS.is_dir(), reason="needs ../shared/corpus")
@pytest.mark.parametrize("name", sorted(FILES))
def test_gold_sentences_are_body_sentences_of_their_sources(name: str) -> None:
    """Fails when the parser or segmenter changes how a gold sentence is split (see eval/README_dev_questions.md)."""
    for item in _items(name):
        sources = [str(s) for s in item["gold_sources"]]  # type: ignore[union-attr]
        body = frozenset().union(*(_body_sentences(s) for s in sources))
        missing = [s for s in item["gold_sentences"] if s not in body]  # type: ignore[union-attr]
        assert not missing, f"{item['id']}: {missing[0][:80]}"
