"""Answer type: a question asking for a quantity prefers sentences that state one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import make_settings

from evsum.answer_type import asks_for_quantity, states_quantity
from evsum.engine import Engine
from evsum.features import FEATURE_NAMES
from evsum.text import cites_figure
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


@pytest.mark.parametrize(("sentence", "points_to_one"), [
    ("The western blot showed that SNA binds to CD11b, but not MAL II (Fig. 6b).", True),
    ("KIR3DL1 and KIR2DL3 were the two major subtypes expressed by CD8+ T cells (fig. S1).", True),
    ("DNA-PKi strongly reduced the levels of HA-Apollo (Supplementary Figure S3A,B).", True),
    ("There were 778 differentially expressed genes between the groups (table S1).", True),
    ("Box 4 lists key criteria to be considered, including relapse rates.", True),
    ("Reads were aligned as in Extended Data Fig. 2.", True),
    ("Most notable among the many HSPs that co-purify with the Tud mutants is Hsc70-4.", False),
    ("The figure of 10 % of total energy intake is a ceiling, not a target.", False),
    ("We tabled 12 motions at the meeting.", False),
    ("The FIG1 promoter drove expression of the reporter.", False),  # a yeast gene, not a figure
    ("Transcription from FIG2p rose tenfold after mating pheromone.", False),
    ("Signals were quantified as in Fig.6b and Suppl. Table 3.", True),
])
def test_figure_references(sentence: str, points_to_one: bool) -> None:
    assert cites_figure(sentence) is points_to_one


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
    # The figure-reference feature is the sentence's stored trait, whatever the question.
    pointer = FEATURE_NAMES.index("figure_reference")
    assert np.array_equal(plain.features[:, pointer] > 0,
                          np.array([cites_figure(s.text) for s in engine.reader.sentences(plain.ids.tolist())]))
