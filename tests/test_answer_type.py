"""Answer type: a question asking for a quantity prefers sentences that state one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import make_settings

from evsum.answer_type import asks_for_quantity, states_quantity
from evsum.engine import Engine
from evsum.features import FEATURE_NAMES
from models.encoders import HashEncoder


@pytest.mark.parametrize("question", [
    "How quickly should I taper opioids in a patient who has been taking them for several years?",
    "How much slower does an E. coli strain lacking ten rRNA modification enzymes grow?",
    "Above what daily dose does the opioid guideline ask clinicians to reassess benefits and risks?",
    "What percentage of patients relapsed within a year?",
    "For how long should primaquine be given?",
    "how many hospital beds per infection preventionist?",
    "After starting opioids for chronic pain, how soon should the patient be seen again?",
    "What is the IC50 of the nanobody against SARS-CoV-2?",
    "What upper limits of intake are advised?",
])
def test_questions_that_ask_for_a_quantity(question: str) -> None:
    assert asks_for_quantity(question)


@pytest.mark.parametrize("question", [
    "Does metformin reduce mortality in type 2 diabetes?",
    "Which transposon family drives new insertions in sweet orange?",
    "Is depleting RNA polymerase II more toxic than depleting Pol I?",
    "Vitamin D supplementation prevents fractures in older adults.",
    "What did microstimulation of the cingulate cortex do to decisions?",
    "How strong is the evidence for statins in older adults?",
    "What age-related changes occur in the brain?",
    "Which level of evidence supports the recommendation?",
])
def test_questions_that_do_not(question: str) -> None:
    assert not asks_for_quantity(question)


@pytest.mark.parametrize("sentence", [
    "Tapers of 10% per month or slower are likely to be better tolerated.",
    "A SNV increases affinity 8-fold creating an almost consensus site.",
    "The deletion strain had 4.7 times longer doubling times at 37°C.",
    "Only 1 out of 211 sequences had matches to the virus.",
    "Mortality was lower with treatment (OR 0.71, 95% CI 0.55 to 0.92).",
    "Mature cells harbour less than half the open chromatin of progenitors.",
    "Give 0.75 mg/kg once a week for 8 weeks.",
    "Eat at least 400 g of fruit and vegetables a day.",
    "Doses of 50 MME/day or more need reassessment.",
])
def test_sentences_that_state_a_quantity(sentence: str) -> None:
    assert states_quantity(sentence)


@pytest.mark.parametrize("sentence", [
    "Opioids should be tapered slowly (55,56).",
    "These results are shown in Figure 2 and Table 3.",
    "Clinicians should discuss the risks with patients [12].",
    "Here we engineer yeast to produce cholesterol.",
    "Patients with or without diabetes were included, most of them women.",
    "USF1/2 binding was lost in the double mutant.",
    "Reads were mapped with version v1.8.1454 (doi 10.1186/s13059).",
    "Acetaminophen was not associated with improvement in pain or function.",
])
def test_sentences_that_do_not(sentence: str) -> None:
    assert not states_quantity(sentence)


def test_answer_type_feature_marks_quantity_sentences_only_for_quantity_questions(sample_index: Path,
                                                                                  hash_encoder: HashEncoder) -> None:
    """The served feature is the sentence's stored quantity trait, and zero for a question not asking for one."""
    settings = make_settings(sample_index)
    engine = Engine.load(settings, encoder=hash_encoder)
    column = FEATURE_NAMES.index("answer_type")
    asked = engine.summariser.candidates("How much free sugar should adults eat each day?")
    texts = [s.text for s in engine.reader.sentences(asked.ids.tolist())]
    assert np.array_equal(asked.features[:, column] > 0, np.array([states_quantity(t) for t in texts]))
    assert 0 < asked.features[:, column].sum() < len(texts)
    plain = engine.summariser.candidates("Should adults eat less free sugar?")
    assert len(plain.ids) and not plain.features[:, column].any()
