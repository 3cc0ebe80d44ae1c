"""Golden summaries: the summariser's output on fixed questions is pinned, so quality changes show in review.

When a change is meant to alter these summaries, regenerate the file and review its diff:
``EVSUM_UPDATE_GOLDEN=1 ./scripts/test.sh tests/test_summary_golden.py``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import make_settings

from evsum.engine import Engine
from models.encoders import MiniLMEncoder

GOLDEN = Path(__file__).parent / "golden" / "summaries.json"
QUESTIONS = (
    "How much free sugar should adults eat each day?",
    "When should healthcare personnel perform hand hygiene?",
    "How long can an opened multi-dose medication vial be used?",
    "What should be done with used needles and syringes?",
    "Who won the football world cup in 1966?",
)


def _summaries(engine: Engine) -> list[dict[str, object]]:
    out = []
    for question in QUESTIONS:
        summary = engine.summariser.summarise(question, max_sentences=3)
        out.append({
            "question": question,
            "status": summary.status,
            "sentences": [{"text": s.text, "document": Path(s.citation.source_path).name, "page": s.citation.page,
                           "char_start": s.citation.char_start, "char_end": s.citation.char_end,
                           **({"continues": True} if s.continues else {})}
                          for s in summary.sentences],
        })
    return out


def test_summaries_match_the_golden_file(minilm_index: Path, minilm_encoder: MiniLMEncoder) -> None:
    engine = Engine.load(make_settings(minilm_index, "minilm"), encoder=minilm_encoder)
    actual = _summaries(engine)
    if os.environ.get("EVSUM_UPDATE_GOLDEN") == "1":
        GOLDEN.write_text(json.dumps(actual, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        pytest.skip("golden file regenerated: review its diff")
    expected = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert [a["question"] for a in actual] == [e["question"] for e in expected]
    for got, want in zip(actual, expected):
        assert got == want, f"summary changed for {got['question']!r}"
