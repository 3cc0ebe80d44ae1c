"""Streamlit pieces shared by the workbench pages (thin: every decision is the service's)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import streamlit as st

from ui import formatting as fmt
from ui import workflow_format as wf
from ui.client import ApiClient, ApiError, ClientError, UIDraft, UIDraftSentence
from ui.state import DRAFT_KEY

NOTICE_KEY = "evsum_notice"
SEEN_KEY = "evsum_seen_versions"
EDIT_VERSION_KEY = "evsum_edit_version"
"""The draft version the user saw when they clicked (the one shown by the previous run): edits send it."""


def notice(text: str, kind: str = "success") -> None:
    """Show ``text`` once, after the next rerun."""
    st.session_state[NOTICE_KEY] = (kind, text)


def show_notice() -> None:
    """Show (and forget) the pending notice."""
    pending = st.session_state.pop(NOTICE_KEY, None)
    if pending:
        kind, text = pending
        (st.success if kind == "success" else st.warning)(text)


def act(action: Any, *args: Any, done: str | None = None) -> Any:
    """Call the client; a stale version or refused action is shown instead of raised. Returns the result."""
    try:
        result = action(*args)
    except ApiError as error:
        if error.status == 409:
            notice(f"Not saved: {error.detail or error.title}. The page shows the current version.", "warning")
        else:
            notice(fmt.describe_error(error), "warning")
        return None
    except ClientError as error:
        notice(fmt.describe_error(error), "warning")
        return None
    if done:
        notice(done)
    return result


def shown_version(draft: UIDraft) -> int:
    """The version the user was looking at when they acted (a newer one on the server means a 409)."""
    return int(st.session_state.get(EDIT_VERSION_KEY, {}).get(draft.id, draft.version))


def update(client: ApiClient, draft: UIDraft, changes: Mapping[str, Any], done: str = "Saved.") -> None:
    """PATCH the draft at the version the user saw, then rerun to show the new version."""
    act(client.update_draft, draft.id, shown_version(draft), changes, done=done)
    st.rerun()


def pick_draft(client: ApiClient, states: tuple[str, ...], key: str) -> UIDraft | None:
    """A selectbox of drafts in ``states`` (the one chosen elsewhere preselected); the chosen draft."""
    try:
        items = [item for state in states for item in client.drafts(state)]
    except ClientError as error:
        st.error(fmt.describe_error(error), icon=":material/error:")
        return None
    if not items:
        st.info("No drafts here yet.")
        return None
    ids = [item.id for item in items]
    labels = {item.id: f"#{item.id} · {wf.state_label(item.state)} · {wf.kind_prefix(item.claim)}{item.question[:80]}"
              for item in items}
    wanted = st.session_state.get(DRAFT_KEY)
    chosen = st.selectbox("Draft", ids, index=ids.index(wanted) if wanted in ids else 0,
                          format_func=lambda i: labels[i], key=key)
    st.session_state[DRAFT_KEY] = chosen
    try:
        draft = client.draft(int(chosen))
    except ClientError as error:
        st.error(fmt.describe_error(error), icon=":material/error:")
        return None
    seen = st.session_state.setdefault(SEEN_KEY, {})
    st.session_state[EDIT_VERSION_KEY] = {draft.id: seen.get(draft.id, draft.version)}
    seen[draft.id] = draft.version
    return draft


def draft_header(draft: UIDraft) -> None:
    """Question (or the claim checked), state, version and people."""
    st.markdown(f"**{wf.text_label(draft.claim)}:** {fmt.escape_markdown(draft.question)}")
    reviewer = f" · reviewer {draft.reviewer}" if draft.reviewer else ""
    st.caption(f"Draft #{draft.id} · {wf.state_label(draft.state)} · version {draft.version} · "
               f"author {draft.author}{reviewer} · releases {draft.release_count}")


def source_view(client: ApiClient, sentence: UIDraftSentence) -> None:
    """The cited page with the span highlighted: the PDF page image when there is one, else the text."""
    c = sentence.citation
    st.caption(f"{c.title} — page {c.page}, characters {c.char_start}–{c.char_end}")
    if sentence.continues:
        st.caption(f"The sentence runs on past page {c.page}: its end is the next sentence of the draft.")
    if sentence.edited:
        st.markdown(f"**Verbatim source:** {fmt.escape_markdown(sentence.source_text)}")
    try:
        image = client.page_image(c.document_id, c.page, c.char_start, c.char_end)
        if image:
            st.image(image, caption=f"Page {c.page}, cited span highlighted", width="stretch", output_format="PNG")
            return
        view = client.page(c.document_id, c.page, c.char_start, c.char_end)
    except ClientError as error:
        st.warning(fmt.describe_error(error))
        return
    if view.highlight:
        st.html(fmt.highlight_html(view.text, view.highlight.char_start, view.highlight.char_end))
    else:
        st.html(fmt.plain_text_html(view.text))


def comments(draft: UIDraft) -> None:
    """The draft's comments, oldest first."""
    for comment in draft.comments:
        st.markdown(f"**{comment.author}** ({comment.kind}, {comment.at[:16].replace('T', ' ')}): "
                    f"{fmt.escape_markdown(comment.body)}")
