"""Ask page: a clinician asks a question and gets a cited, extractive draft summary.

The page keeps the last answer in session state (replaced by every new
question, never cached across questions) so that opening a source does not
ask the service again.
"""

from __future__ import annotations

import streamlit as st

from evsum.records import whole_sentence_groups
from ui import formatting as fmt
from ui import workflow_format as wf
from ui.client import ApiClient, ClientError, UIRelease, UISentence, UISummary
from ui.evidence_widgets import ask_options_form, show_review_flags, source_badge, strategy_caption
from ui.recheck_client import AskOptions
from ui.state import RESULT_KEY, AskResult, LoadedSource, get_client, source_key


def ask(client: ApiClient, question: str, max_sentences: int, options: AskOptions | None = None, *,
        claim: bool = False) -> None:
    """Ask the service (``claim``: check the text as a claim) and store the outcome, replacing any previous one."""
    previous = st.session_state.get(RESULT_KEY)
    generation = previous.generation + 1 if isinstance(previous, AskResult) else 1
    result = AskResult(generation=generation)
    try:
        result.release = client.find_release(question, claim=claim)
    except ClientError:
        result.release = None  # no key, or no access to releases: fall back to the machine draft
    if result.release is not None:
        st.session_state[RESULT_KEY] = result
        return
    try:
        with st.spinner("Finding and quoting the evidence…"):
            result.summary = client.summarise(question, max_sentences, options, claim=claim)
    except ClientError as error:
        result.error = fmt.describe_error(error)
    st.session_state[RESULT_KEY] = result


def load_source(client: ApiClient, sentence: UISentence) -> LoadedSource:
    """Fetch the cited page's text and, if the service can render it, its image."""
    citation = sentence.citation
    view = client.page(citation.document_id, citation.page, citation.char_start, citation.char_end)
    try:
        image = client.page_image(citation.document_id, citation.page, citation.char_start, citation.char_end)
    except ClientError as error:
        return LoadedSource(view=view, image_problem=fmt.describe_error(error))
    return LoadedSource(view=view, image=image)


def show_source(client: ApiClient, result: AskResult, sentence: UISentence, number: int) -> None:
    """Show the cited page text with the span highlighted, and the rendered page if there is one."""
    citation = sentence.citation
    key = (citation.document_id, citation.page, citation.char_start, citation.char_end)
    if key not in result.sources:
        try:
            result.sources[key] = load_source(client, sentence)
        except ClientError as error:
            st.error(fmt.describe_error(error), icon=":material/error:")
            return
    loaded = result.sources[key]

    st.caption(f"{fmt.citation_marker(number)} {citation.title} — page {citation.page}")
    if loaded.image is None:
        show_cited_text(loaded, sentence)
        if loaded.image_problem is not None:
            st.caption(f"The page image is not available. {loaded.image_problem}")
        else:
            st.caption("No page image: this source has no PDF (for example, an abstract).")
        return
    text_tab, image_tab = st.tabs(["Cited text", f"Page {citation.page} as printed"])
    with text_tab:
        show_cited_text(loaded, sentence)
    with image_tab:
        st.image(
            loaded.image,
            caption=f"Page {citation.page} as printed, cited passage highlighted",
            width="stretch",
            output_format="PNG",
        )


def show_cited_text(loaded: LoadedSource, sentence: UISentence) -> None:
    """The page text around the cited span, the span highlighted (or a warning if it cannot be placed)."""
    view = loaded.view
    highlight = view.highlight
    if highlight is None:
        st.warning("The cited passage could not be located on this page; the page text is shown unmarked.")
        st.html(fmt.plain_text_html(view.text))
        return
    quoted = view.text[highlight.char_start : highlight.char_end]
    if " ".join(quoted.split()) != " ".join(sentence.text.split()):
        st.warning("The page text at the cited position differs from the quoted sentence.")
    st.html(fmt.highlight_html(view.text, highlight.char_start, highlight.char_end))


def show_summary(client: ApiClient, result: AskResult, summary: UISummary) -> None:
    """Render a summary: banner, quoted sentences with citation markers, sources and references."""
    if summary.redaction_notice:
        st.info(summary.redaction_notice, icon=":material/shield_person:")
    if not summary.answered:
        st.warning(summary.message or "No sufficient evidence was found in the indexed sources.")
        return
    if summary.draft:
        st.warning(f"**{fmt.DRAFT_BANNER}.** {fmt.DRAFT_ADVICE}", icon=":material/warning:")
    else:
        st.info("This summary was reviewed and released by a librarian.", icon=":material/verified:")

    if summary.claim:
        st.markdown(f"**Claim checked:** {fmt.escape_markdown(summary.question)}")
        st.caption("Quoted: the sentences that report this finding, for or against, as ranked by the claim "
                   "cross-encoder. Read each one: a quote can contradict the claim.")
    else:
        st.markdown(f"**Question:** {fmt.escape_markdown(summary.question)}")
    numbers, references = fmt.number_citations(summary.sentences)
    for item in whole_sentence_groups([s.continues for s in summary.sentences]):
        parts = [(index, summary.sentences[index], numbers[index]) for index in item]
        with st.container(border=True):
            text = " ".join(fmt.escape_markdown(sentence.text) for _i, sentence, _n in parts)
            markers = "".join(fmt.citation_marker(n) for n in dict.fromkeys(n for _i, _s, n in parts))
            st.markdown(f"{text} **{markers}**")
            if len(parts) > 1:
                pages = " and ".join(str(sentence.citation.page) for _i, sentence, _n in parts)
                st.caption(f"One sentence across a page break: quoted from pages {pages}.")
            badge = source_badge(parts[0][1].citation)
            if badge:
                st.caption(f"Source type: {badge}")
            for index, sentence, number in parts:
                source = st.expander(
                    fmt.source_label(number, sentence.citation),
                    key=source_key(result.generation, index),
                    on_change="rerun",
                )
                if source.open:
                    with source:
                        show_source(client, result, sentence, number)

    st.subheader("References")
    for reference in references:
        st.markdown(fmt.reference_markdown(reference))
    matched = len(summary.retrieved_document_ids)
    st.caption(
        f"Index snapshot {summary.snapshot_id or 'unknown'} · "
        f"{matched} {'source' if matched == 1 else 'sources'} among the best-matching passages"
    )
    strategy = strategy_caption(summary.filters, summary.query, summary.question, summary.source_priority)
    if strategy:
        st.caption(strategy)


def show_release(release: UIRelease, client: ApiClient | None = None) -> None:
    """A released summary: signed off by a librarian and a reviewer, shown before any machine draft."""
    if client is not None:
        show_review_flags(client, release, can_resolve=False)
    st.success(f"**Reviewed evidence summary** — version {release.number}, released {release.released_at[:10]}, "
               f"written by {release.author}, reviewed by {release.reviewer or '—'}.", icon=":material/verified:")
    st.markdown(f"**{wf.text_label(release.claim)}:** {fmt.escape_markdown(release.question)}")
    st.markdown(f"**Clinical bottom line:** {fmt.escape_markdown(release.bottom_line)}")
    for group in whole_sentence_groups([s.continues for s in release.sentences]):
        parts = [release.sentences[i] for i in group]
        edited = " *(edited by the librarian — not a verbatim quote)*" if any(p.edited for p in parts) else ""
        text = " ".join(fmt.escape_markdown(p.text) for p in parts)
        st.markdown(f"{text} **{''.join(f'[{i + 1}]' for i in group)}**{edited}")
    if release.caveats:
        st.markdown(f"**Caveats:** {fmt.escape_markdown(release.caveats)}")
    st.subheader("References")
    for number, sentence in enumerate(release.sentences, start=1):
        st.markdown(f"**[{number}]** {fmt.escape_markdown(sentence.citation.title)} — page {sentence.citation.page}")


def main() -> None:
    """The Ask page."""
    client = get_client()
    st.title("Ask a clinical question")
    st.caption(
        "Answers are sentences quoted word for word from the indexed guidelines and papers, "
        "each with its source."
    )
    question = st.text_area(
        "Question",
        key="ask_question",
        placeholder="e.g. Does hand hygiene before patient contact reduce infections in outpatient care?",
        max_chars=2000,
    )
    claim = st.checkbox("Check a claim instead (\"Vitamin D reduces fractures\"): quote the sentences that "
                        "report this finding, for or against", key="ask_claim")
    max_sentences = st.slider("Maximum sentences in the answer", 1, 10, 3, key="ask_max_sentences")
    options = ask_options_form()
    if st.button("Ask", type="primary", key="ask_button"):
        if question.strip():
            ask(client, question.strip(), max_sentences, options, claim=claim)
        else:
            st.warning("Please type a question first.")
    if question.strip() and st.button("Save this claim check" if claim else "Save this question",
                                      key="save_question_button",
                                      help="Librarians: saved questions and claim checks are rerun after index "
                                      "updates (Saved questions page) to report new documents."):
        try:
            saved = client.save_question(question.strip(), options, claim=claim)
        except ClientError as error:
            st.error(fmt.describe_error(error), icon=":material/error:")
        else:
            st.success(f"Saved as {'claim check' if saved.claim else 'question'} {saved.id}, with its filters.",
                       icon=":material/bookmark_added:")

    result = st.session_state.get(RESULT_KEY)
    if not isinstance(result, AskResult):
        return
    if result.release is not None:
        show_release(result.release, client)
    elif result.error is not None:
        st.error(result.error, icon=":material/error:")
    elif result.summary is not None:
        show_summary(client, result, result.summary)


main()
