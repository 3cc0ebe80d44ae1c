"""Drafts page: start a draft from a question (or a claim to check), and list drafts by state."""

from __future__ import annotations

import functools

import streamlit as st

from ui import formatting as fmt
from ui import workflow_format as wf
from ui.client import ClientError
from ui.evidence_widgets import ask_options_form
from ui.state import DRAFT_KEY, get_client
from ui.widgets import act, notice, show_notice


def main() -> None:
    """The Drafts page."""
    client = get_client()
    st.title("Drafts")
    show_notice()
    options = ask_options_form(prefix="new_draft")
    with st.form("new_draft"):
        question = st.text_area("Question", key="new_draft_question", max_chars=2000,
                                placeholder="The clinical question to summarise the evidence for")
        max_sentences = st.slider("Sentences in the machine draft", 1, 10, 4, key="new_draft_max")
        claim = st.checkbox("Check a claim instead (\"Vitamin D reduces fractures\"): quote the sentences that "
                            "report this finding, for or against", key="new_draft_claim")
        if st.form_submit_button("Create draft", type="primary") and question.strip():
            draft = act(functools.partial(client.create_draft, claim=claim), question.strip(), max_sentences, options)
            if draft is None:
                st.rerun()  # show the refusal (act queued it as a notice) now, not on the next interaction
            else:
                st.session_state[DRAFT_KEY] = draft.id
                notice(f"Draft #{draft.id} created: check each sentence against its source."
                       + (f" {draft.redaction_notice}" if draft.redaction_notice else ""))
                st.switch_page("views/editor.py")
    state = st.selectbox("State", ("all", *wf.STATES), format_func=lambda s: "All" if s == "all"
                         else wf.state_label(s), key="drafts_state")
    try:
        drafts = client.drafts(None if state == "all" else state)
    except ClientError as error:
        st.error(fmt.describe_error(error), icon=":material/error:")
        return
    if not drafts:
        st.info("No drafts in this state.")
    for item in drafts:
        with st.container(border=True):
            st.markdown(f"**#{item.id}** {wf.kind_prefix(item.claim)}{fmt.escape_markdown(item.question)}")
            st.caption(f"{wf.state_label(item.state)} · version {item.version} · {item.sentences} sentences · "
                       f"author {item.author} · updated {item.updated_at[:16].replace('T', ' ')}")
            if st.button("Open", key=f"open_{item.id}"):
                st.session_state[DRAFT_KEY] = item.id
                st.switch_page("views/review.py" if item.state in ("in_review", "approved") else "views/editor.py")


main()
