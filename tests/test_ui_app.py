"""The Streamlit pages, driven with ``AppTest`` against ``FakeApiClient`` (no server, no browser)."""

from __future__ import annotations

import html
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from ui import formatting as fmt
from ui.client import ApiError, ApiUnavailable
from ui.fakes import (
    ABSTRACT_ID,
    GUIDELINE_ID,
    NO_EVIDENCE_MESSAGE,
    SAMPLE_QUESTION,
    SAMPLE_SENTENCES,
    FakeApiClient,
)
from ui.state import CLIENT_KEY, RESULT_KEY, AskResult, source_key

APP = Path(__file__).resolve().parent.parent / "ui" / "app.py"


def start(fake: FakeApiClient) -> AppTest:
    """Run the app once with ``fake`` as its API client."""
    at = AppTest.from_file(str(APP), default_timeout=15)
    at.session_state[CLIENT_KEY] = fake
    at.run()
    assert not at.exception, at.exception
    return at


def ask(at: AppTest, question: str, max_sentences: int | None = None) -> AppTest:
    at.text_area(key="ask_question").input(question)
    if max_sentences is not None:
        at.slider(key="ask_max_sentences").set_value(max_sentences)
    at.button(key="ask_button").click().run()
    assert not at.exception, at.exception
    return at


def open_source(at: AppTest, index: int) -> AppTest:
    """Expand the "Show source" expander of sentence ``index`` (as a click on it would)."""
    result = at.session_state[RESULT_KEY]
    assert isinstance(result, AskResult)
    at.session_state[source_key(result.generation, index)] = True
    at.run()
    assert not at.exception, at.exception
    return at


def markdown_texts(at: AppTest) -> list[str]:
    return [element.value for element in at.markdown]


def sentence_markdowns(at: AppTest) -> list[str]:
    """The rendered summary sentences (Markdown blocks ending in a citation marker)."""
    return [text for text in markdown_texts(at) if text.endswith("]**") and not text.startswith("**[")]


def html_bodies(at: AppTest) -> list[str]:
    return [str(element.proto.body) for element in at.get("html")]


@pytest.fixture
def fake() -> FakeApiClient:
    return FakeApiClient.sample()


# --------------------------------------------------------------------------- Ask page


def test_ask_page_is_the_default_page_and_shows_the_form(fake: FakeApiClient) -> None:
    at = start(fake)

    assert at.title[0].value == "Ask a clinical question"
    assert at.slider(key="ask_max_sentences").value == 3
    assert (at.slider(key="ask_max_sentences").min, at.slider(key="ask_max_sentences").max) == (1, 10)
    assert not at.warning
    assert not at.error
    assert not [call for call in fake.calls if call[0] == "summarise"]


def test_checking_a_claim_asks_for_a_claim_and_says_so(fake: FakeApiClient) -> None:
    at = start(fake)
    at.text_area(key="ask_question").input(SAMPLE_QUESTION).run()
    assert [b for b in at.button if b.key == "save_question_button"]  # a typed question can be saved
    at.checkbox(key="ask_claim").check()
    at = ask(at, SAMPLE_QUESTION, max_sentences=2)
    assert ("summarise", (SAMPLE_QUESTION, 2, "claim")) in fake.calls
    assert any(text.startswith("**Claim checked:**") for text in markdown_texts(at))
    assert not any(text.startswith("**Question:**") for text in markdown_texts(at))
    save = [b for b in at.button if b.key == "save_question_button"]
    assert save and save[0].label == "Save this claim check"  # a claim check can be saved too ...
    save[0].click().run()
    assert not at.exception, at.exception
    assert any(name == "save_question" and args[0] == SAMPLE_QUESTION and args[-1] == "claim"
               for name, args in fake.calls)
    assert any("Saved as claim check" in str(s.value) for s in at.success)  # ... and says it is one
    at.checkbox(key="ask_claim").uncheck()
    at = ask(at, SAMPLE_QUESTION, max_sentences=2)
    assert ("summarise", (SAMPLE_QUESTION, 2)) in fake.calls
    assert any(text.startswith("**Question:**") for text in markdown_texts(at))


def test_saved_claim_checks_show_their_claim_scorer_and_say_when_it_changed(fake: FakeApiClient) -> None:
    from dataclasses import replace

    from ui.recheck_client import FAKE_CLAIM_SCORER, UIRecheck, UISavedRun

    saved = fake.save_question("Alcohol rub beats soap.", claim=True)
    fake.save_question("Is alcohol rub better than soap?")
    at = start(fake)
    at.switch_page("views/saved.py").run()
    assert not at.exception, at.exception
    captions = [str(c.value) for c in at.caption]
    label = fmt.escape_markdown("fake-claim-scorer (graph SHA-256 ffffffffffff)")
    assert sum(f"Claim scorer: {label}." in c for c in captions) == 1
    retrained = {"name": "fake-claim-scorer", "graph_sha256": "0" * 64}
    fake.recheck = lambda: UIRecheck(  # type: ignore[method-assign]
        "snap", 0, (), (UISavedRun(replace(saved, last_claim_scorer=retrained), "answered",
                                   claim_scorer_changed_from=FAKE_CLAIM_SCORER),))
    at.button(key="recheck_button").click().run()
    assert not at.exception, at.exception
    changed = [str(i.value) for i in at.info if "claim scorer changed" in str(i.value)]
    assert len(changed) == 1
    assert f"({label} → {fmt.escape_markdown('fake-claim-scorer (graph SHA-256 000000000000)')})" in changed[0]


def test_a_rerun_says_when_new_sentence_scorer_weights_made_it(fake: FakeApiClient) -> None:
    from dataclasses import replace

    from ui.recheck_client import UIRecheck, UISavedRun

    saved = fake.save_question("Is alcohol rub better than soap?")
    old = {"name": "linear-prior-9e072f5a", "weights_sha256": "a" * 64}
    new = {"name": "linear-prior-1234abcd", "weights_sha256": "b" * 64}
    fake.recheck = lambda: UIRecheck(  # type: ignore[method-assign]
        "snap", 0, (), (UISavedRun(replace(saved, last_sentence_scorer=new), "answered",
                                   sentence_scorer_changed_from=old),))
    at = start(fake)
    at.switch_page("views/saved.py").run()
    at.button(key="recheck_button").click().run()
    assert not at.exception, at.exception
    changed = [str(i.value) for i in at.info if "sentence scorer changed" in str(i.value)]
    assert len(changed) == 1 and not [i for i in at.info if "claim scorer changed" in str(i.value)]
    before = fmt.escape_markdown("linear-prior-9e072f5a (weights SHA-256 aaaaaaaaaaaa)")
    after = fmt.escape_markdown("linear-prior-1234abcd (weights SHA-256 bbbbbbbbbbbb)")
    assert f"({before} → {after})" in changed[0]


def test_asking_shows_banner_then_sentences_with_markers_and_references(fake: FakeApiClient) -> None:
    at = ask(start(fake), SAMPLE_QUESTION, max_sentences=4)

    assert ("summarise", (SAMPLE_QUESTION, 4)) in fake.calls
    banner = at.warning[0].value
    assert fmt.DRAFT_BANNER in banner
    # The banner comes before the answer.
    main_order = [getattr(node, "value", None) for node in at.main]
    assert main_order.index(banner) < main_order.index(sentence_markdowns(at)[0])

    sentences = sentence_markdowns(at)
    assert len(sentences) == 4
    # Guideline p2 is cited first, the abstract's Results second, then guideline p2 again,
    # then the abstract's Conclusions: same document, page and section share a number.
    assert [text.rsplit(" ", 1)[1] for text in sentences] == ["**[1]**", "**[2]**", "**[1]**", "**[3]**"]
    for text, expected in zip(sentences, SAMPLE_SENTENCES, strict=True):
        assert text.startswith(fmt.escape_markdown(expected))

    assert [s.value for s in at.subheader] == ["References"]
    references = [text for text in markdown_texts(at) if text.startswith("**[")]
    assert references == [
        "**[1]** Guide to Infection Prevention for Outpatient Settings — page 2, section: Hand Hygiene",
        "**[2]** Alcohol\\-based hand rub and infection rates in primary care\\: a cluster trial — page 1, "
        "section: Results",
        "**[3]** Alcohol\\-based hand rub and infection rates in primary care\\: a cluster trial — page 1, "
        "section: Conclusions",
    ]
    assert [e.label for e in at.expander] == [
        "Show source [1] — page 2",
        "Show source [2] — page 1",
        "Show source [1] — page 2",
        "Show source [3] — page 1",
    ]
    # Sources are fetched only when opened.
    assert not [call for call in fake.calls if call[0] in ("page", "page_image")]


def test_the_default_is_three_sentences(fake: FakeApiClient) -> None:
    at = ask(start(fake), SAMPLE_QUESTION)

    assert ("summarise", (SAMPLE_QUESTION, 3)) in fake.calls
    assert len(sentence_markdowns(at)) == 3


def test_no_evidence_shows_the_message_and_no_sentences(fake: FakeApiClient) -> None:
    at = ask(start(fake), "Is homeopathy effective for sepsis?")

    assert [w.value for w in at.warning] == [NO_EVIDENCE_MESSAGE]
    assert sentence_markdowns(at) == []
    assert not at.subheader
    assert not at.expander
    assert not any(fmt.DRAFT_BANNER in text for text in markdown_texts(at))


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (ApiError(503, "Index not ready", "No index snapshot is loaded."), "No index snapshot is loaded."),
        (ApiError(422, "Invalid request", "question: too long"), "The request was not accepted"),
        (ApiUnavailable("http://127.0.0.1:8000", "connection refused"), "cannot be reached"),
    ],
    ids=["503", "422", "unreachable"],
)
def test_api_errors_show_a_clear_error_and_no_traceback(
    fake: FakeApiClient, error: ApiError | ApiUnavailable, expected: str
) -> None:
    at = ask(start(fake.with_error(error)), SAMPLE_QUESTION)

    assert len(at.error) == 1
    assert expected in at.error[0].value
    assert not at.exception
    assert sentence_markdowns(at) == []


def test_an_empty_question_is_not_sent(fake: FakeApiClient) -> None:
    at = ask(start(fake), "   ")

    assert [w.value for w in at.warning] == ["Please type a question first."]
    assert not [call for call in fake.calls if call[0] == "summarise"]


def test_show_source_highlights_the_cited_span_escaped_with_context(fake: FakeApiClient) -> None:
    at = open_source(ask(start(fake), SAMPLE_QUESTION), 1)  # the abstract's "... p < 0.01)." sentence

    sentence = SAMPLE_SENTENCES[1]
    citation = fake.summarise(SAMPLE_QUESTION, 3).sentences[1].citation
    assert ("page", (ABSTRACT_ID, 1, citation.char_start, citation.char_end)) in fake.calls
    (body,) = html_bodies(at)
    marked = body.split("<mark", 1)[1].split(">", 1)[1].split("</mark>", 1)[0]
    assert marked == html.escape(sentence)
    assert "p &lt; 0.01" in marked
    assert "<0.01" not in body
    # Context on both sides of the span.
    assert "randomised to a hand-rub programme" in body.split("<mark", 1)[0]
    assert "Adherence to hand hygiene rose" in body.split("</mark>", 1)[1]
    # An abstract has no page image; the page says so instead of failing.
    assert not at.image
    assert not at.tabs
    assert any("No page image" in c.value for c in at.caption)


def test_show_source_shows_the_rendered_page_for_a_pdf(fake: FakeApiClient) -> None:
    at = open_source(ask(start(fake), SAMPLE_QUESTION), 0)

    assert len(at.image) == 1
    assert [tab.label for tab in at.tabs] == ["Cited text", "Page 2 as printed"]
    assert ("page_image", (GUIDELINE_ID, 2, *_span(fake, 0))) in fake.calls
    assert len(html_bodies(at)) == 1


def test_an_opened_source_is_fetched_once_across_reruns(fake: FakeApiClient) -> None:
    at = open_source(ask(start(fake), SAMPLE_QUESTION), 0)
    at.run()
    at.run()

    assert len([call for call in fake.calls if call[0] == "page"]) == 1
    assert len(html_bodies(at)) == 1


def test_a_source_that_fails_to_load_shows_an_error_and_keeps_the_answer(fake: FakeApiClient) -> None:
    at = ask(start(fake), SAMPLE_QUESTION)
    fake.fail_with = ApiUnavailable("http://127.0.0.1:8000", "connection refused")
    at = open_source(at, 0)

    assert len(at.error) == 1
    assert "cannot be reached" in at.error[0].value
    assert len(sentence_markdowns(at)) == 3


def test_a_span_that_does_not_match_the_quote_is_flagged(fake: FakeApiClient) -> None:
    at = ask(start(fake), SAMPLE_QUESTION)
    key = (GUIDELINE_ID, 2)
    fake.page_texts[key] = "XX" + fake.page_texts[key]  # the page changed under the citation
    at = open_source(at, 0)

    assert any("differs from the quoted sentence" in w.value for w in at.warning)


def test_a_span_outside_the_page_is_shown_unmarked_with_a_warning(fake: FakeApiClient) -> None:
    at = ask(start(fake), SAMPLE_QUESTION)
    fake.page_texts[(GUIDELINE_ID, 2)] = "Short page."
    at = open_source(at, 0)

    assert any("could not be located" in w.value for w in at.warning)
    (body,) = html_bodies(at)
    assert "<mark" not in body
    assert "Short page." in body


def test_a_new_question_replaces_the_answer_and_closes_sources(fake: FakeApiClient) -> None:
    at = open_source(ask(start(fake), SAMPLE_QUESTION), 0)
    assert html_bodies(at)

    at = ask(at, "Is homeopathy effective for sepsis?")
    assert sentence_markdowns(at) == []
    assert not html_bodies(at)

    at = ask(at, SAMPLE_QUESTION)
    assert len(sentence_markdowns(at)) == 3
    assert not html_bodies(at), "a new answer must start with every source closed"
    assert len([call for call in fake.calls if call[0] == "summarise"]) == 3


def _span(fake: FakeApiClient, index: int) -> tuple[int, int]:
    citation = fake.summarise(SAMPLE_QUESTION, 4).sentences[index].citation
    return citation.char_start, citation.char_end


# --------------------------------------------------------------------------- Library page and sidebar


def test_library_lists_documents_with_metadata(fake: FakeApiClient) -> None:
    at = start(fake)
    at.switch_page("views/library.py").run()
    assert not at.exception

    table = at.dataframe[0].value
    assert list(table.columns) == list(fmt.LIBRARY_COLUMNS)
    rows = table.to_dict("records")
    assert [row["Title"] for row in rows] == [
        "Alcohol-based hand rub and infection rates in primary care: a cluster trial",
        "Guide to Infection Prevention for Outpatient Settings",
    ]
    assert rows[0]["Publisher"] == "BMJ Open"
    assert rows[0]["Licence"] == "CC BY 4.0"
    assert rows[1]["Publisher"] == "Centers for Disease Control and Prevention"
    assert [row["Pages"] for row in rows] == [1, 2]
    assert any(c.value.startswith("2 of 2 documents · 3 pages") for c in at.caption)


def test_library_filter_narrows_the_list(fake: FakeApiClient) -> None:
    at = start(fake)
    at.switch_page("views/library.py").run()
    at.text_input(key="library_filter").input("cdc public").run()

    rows = at.dataframe[0].value.to_dict("records")
    assert [row["Title"] for row in rows] == ["Guide to Infection Prevention for Outpatient Settings"]


def test_library_shows_an_error_when_the_service_fails(fake: FakeApiClient) -> None:
    at = start(fake.with_error(ApiError(500, "Internal Server Error", "database locked")))
    at.switch_page("views/library.py").run()

    assert not at.exception
    assert "database locked" in at.error[0].value
    assert not at.dataframe


def test_sidebar_shows_whether_the_service_is_ready(fake: FakeApiClient) -> None:
    ready = start(fake).sidebar.caption[0].value
    assert "Evidence service ready" in ready
    assert "fake://evsum" in ready
    fake.is_ready = False
    assert "not ready" in start(fake).sidebar.caption[0].value


def test_a_sentence_cut_by_a_page_break_is_shown_whole_with_both_citations(fake: FakeApiClient) -> None:
    from dataclasses import replace

    (answer,) = [a for a in fake.answers.values() if [s.text for s in a[:4]] == list(SAMPLE_SENTENCES)]
    fake.add_answer(SAMPLE_QUESTION, (replace(answer[0], continues=True), *answer[1:]))
    at = ask(start(fake), SAMPLE_QUESTION, max_sentences=4)

    sentences = sentence_markdowns(at)
    assert len(sentences) == 3, "the two parts are one sentence"
    joined = f"{fmt.escape_markdown(SAMPLE_SENTENCES[0])} {fmt.escape_markdown(SAMPLE_SENTENCES[1])}"
    assert sentences[0] == f"{joined} **[1][2]**"
    assert "One sentence across a page break: quoted from pages 2 and 1." in [c.value for c in at.caption]
    # Each part keeps its own source view.
    assert [e.label for e in at.expander][:2] == ["Show source [1] — page 2", "Show source [2] — page 1"]
