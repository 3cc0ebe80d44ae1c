"""Review page: a reviewer (not the author) approves a draft, returns it with a comment, or releases it."""

from __future__ import annotations

import streamlit as st

from ui import formatting as fmt
from ui import workflow_format as wf
from ui.state import get_client
from ui.widgets import act, comments, draft_header, pick_draft, show_notice, shown_version, source_view


def main() -> None:
    """The Review page."""
    client = get_client()
    st.title("Review")
    show_notice()
    draft = pick_draft(client, ("in_review", "approved"), key="review_pick")
    if draft is None:
        return
    draft_header(draft)
    st.markdown(f"**Clinical bottom line:** {fmt.escape_markdown(draft.bottom_line) or '—'}")
    for number, sentence in enumerate(draft.sentences, start=1):
        with st.container(border=True):
            st.markdown(wf.sentence_line(number, sentence))
            source = st.expander(f"Source [{number}] — page {sentence.citation.page}", key=f"rsrc_{sentence.id}",
                                 on_change="rerun")
            if source.open:
                with source:
                    source_view(client, sentence)
    st.markdown(f"**Caveats:** {fmt.escape_markdown(draft.caveats) or '—'}")
    comments(draft)
    if draft.state == "in_review":
        remark = st.text_area("Comment (required to return)", key=f"review_comment_{draft.id}_{draft.version}")
        approve, give_back = st.columns(2)
        if approve.button("Approve", key="approve", type="primary"):
            act(client.transition, draft.id, "approve", shown_version(draft), remark.strip() or None, done="Approved.")
            st.rerun()
        if give_back.button("Return to author", key="return"):
            if remark.strip():
                act(client.transition, draft.id, "return", shown_version(draft), remark.strip(), done="Returned.")
                st.rerun()
            else:
                st.warning("Say what the author should change before returning the draft.")
    elif draft.state == "approved":
        st.success(f"Approved by {draft.reviewer}. Releasing creates an immutable, numbered version.")
        if st.button("Release", key="release", type="primary"):
            created = act(client.release_draft, draft.id, shown_version(draft))
            if created is not None:
                st.session_state["evsum_notice"] = ("success", f"Released as version {created.number}.")
            st.rerun()


main()
