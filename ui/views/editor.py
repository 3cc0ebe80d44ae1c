"""Draft editor: verify each sentence against its highlighted source, edit, reorder, add, submit."""

from __future__ import annotations

import streamlit as st

from ui import formatting as fmt
from ui import workflow_format as wf
from ui.client import ApiClient, UIDraft
from ui.state import get_client
from ui.widgets import act, comments, draft_header, pick_draft, show_notice, shown_version, source_view, update

EDITABLE = ("draft", "returned", "released")


def sentence_controls(client: ApiClient, draft: UIDraft, editable: bool) -> None:
    """One bordered block per sentence: text, verdict buttons, order buttons, wording and source."""
    ids = [s.id for s in draft.sentences]
    for number, sentence in enumerate(draft.sentences, start=1):
        with st.container(border=True):
            st.markdown(wf.sentence_line(number, sentence))
            if not editable:
                continue
            cols = st.columns(6)
            for col, (label, status) in zip(cols[:3], (("Verify", "verified"), ("Reject", "rejected"),
                                                       ("Needs edit", "needs_edit")), strict=True):
                if col.button(label, key=f"{status}_{sentence.id}", disabled=sentence.status == status):
                    update(client, draft, {"sentences": [{"id": sentence.id, "status": status}]},
                           f"Sentence {number}: {label.lower()}.")
            if cols[3].button("↑", key=f"up_{sentence.id}", disabled=number == 1):
                update(client, draft, {"order": wf.move(ids, sentence.id, -1)}, "Moved up.")
            if cols[4].button("↓", key=f"down_{sentence.id}", disabled=number == len(ids)):
                update(client, draft, {"order": wf.move(ids, sentence.id, 1)}, "Moved down.")
            if cols[5].button("Remove", key=f"remove_{sentence.id}"):
                update(client, draft, {"remove": [sentence.id]}, f"Sentence {number} removed.")
            with st.expander("Edit wording"):
                text = st.text_area("Wording", value=sentence.text, key=f"text_{sentence.id}_{draft.version}")
                st.caption("The verbatim source is kept beside your edit; the sentence is marked as edited.")
                if st.button("Save wording", key=f"save_text_{sentence.id}"):
                    update(client, draft, {"sentences": [{"id": sentence.id, "text": text}]}, "Wording saved.")
            source = st.expander(f"Source [{number}] — page {sentence.citation.page}", key=f"src_{sentence.id}",
                                 on_change="rerun")
            if source.open:
                with source:
                    source_view(client, sentence)


def add_from_search(client: ApiClient, draft: UIDraft) -> None:
    """Search the index and add a passage (its verbatim text and citation) to the draft."""
    st.subheader("Add evidence from a search")
    query = st.text_input("Search the indexed sources", key="editor_query")
    if st.button("Search", key="editor_search") and query.strip():
        result = act(client.search, query.strip(), 5)
        st.session_state["editor_hits"] = (query.strip(), result.hits if result else ())
    query_used, hits = st.session_state.get("editor_hits", ("", ()))
    for hit in hits:
        with st.container(border=True):
            st.markdown(f"{fmt.escape_markdown(hit.text[:400])}")
            st.caption(f"{hit.citation.title} — page {hit.citation.page}")
            if st.button("Add to draft", key=f"add_{hit.passage_id}"):
                c = hit.citation
                update(client, draft, {"add": [{"citation": {"document_id": c.document_id, "page": c.page,
                                                             "char_start": c.char_start, "char_end": c.char_end},
                                                "query": query_used}]}, "Added from search.")


def main() -> None:
    """The Draft editor page."""
    client = get_client()
    st.title("Draft editor")
    show_notice()
    draft = pick_draft(client, EDITABLE, key="editor_pick")
    if draft is None:
        return
    draft_header(draft)
    editable = draft.state in EDITABLE
    if draft.state == "released":
        st.info("This draft is released; any change starts its next version.")
    sentence_controls(client, draft, editable)
    if not editable:
        return
    add_from_search(client, draft)
    st.subheader("Bottom line and caveats")
    bottom = st.text_area("Clinical bottom line", value=draft.bottom_line, key=f"bottom_{draft.id}_{draft.version}")
    caveats = st.text_area("Caveats", value=draft.caveats, key=f"caveats_{draft.id}_{draft.version}")
    if st.button("Save bottom line and caveats", key="save_summary"):
        update(client, draft, {"bottom_line": bottom, "caveats": caveats})
    st.subheader("Comments")
    comments(draft)
    remark = st.text_input("Add a comment", key=f"comment_{draft.id}_{draft.version}")
    if st.button("Add comment", key="add_comment") and remark.strip():
        act(client.comment_draft, draft.id, remark.strip(), done="Comment added.")
        st.rerun()
    st.subheader("Submit for review")
    for problem in draft.not_ready:
        st.caption(f"• {problem}")
    if st.button("Submit for review", key="submit_draft", type="primary", disabled=bool(draft.not_ready)):
        act(client.transition, draft.id, "submit", shown_version(draft), done="Submitted for review.")
        st.rerun()


main()
