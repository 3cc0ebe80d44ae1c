"""Releases page: released versions, the diff between versions, downloads, and withdrawal."""

from __future__ import annotations

import streamlit as st

from evsum.records import whole_sentence_groups
from ui import formatting as fmt
from ui import workflow_format as wf
from ui.client import ClientError, UIRelease
from ui.evidence_widgets import show_review_flags
from ui.state import get_client
from ui.widgets import act, show_notice

FORMATS = (("docx", "Word (.docx)", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
           ("md", "Markdown", "text/markdown"), ("ris", "References (RIS)", "application/x-research-info-systems"))


def show_release(release: UIRelease) -> None:
    """The frozen content of one release."""
    if release.withdrawal:
        st.error(f"Withdrawn {release.withdrawal.at[:10]} by {release.withdrawal.actor}: "
                 f"{release.withdrawal.reason}")
    st.caption(f"Version {release.number} of draft #{release.draft_id} · released {release.released_at[:10]} by "
               f"{release.released_by} · author {release.author} · reviewer {release.reviewer or '—'}")
    st.markdown(f"**{wf.text_label(release.claim)}:** {fmt.escape_markdown(release.question)}")
    st.markdown(f"**Clinical bottom line:** {fmt.escape_markdown(release.bottom_line) or '—'}")
    for group in whole_sentence_groups([s.continues for s in release.sentences]):
        st.markdown(wf.whole_sentence_line([i + 1 for i in group], [release.sentences[i] for i in group]))
    st.markdown(f"**Caveats:** {fmt.escape_markdown(release.caveats) or '—'}")


def main() -> None:
    """The Releases page."""
    client = get_client()
    st.title("Releases")
    show_notice()
    try:
        items = client.releases()
    except ClientError as error:
        st.error(fmt.describe_error(error), icon=":material/error:")
        return
    if not items:
        st.info("Nothing has been released yet.")
        return
    labels = {i.release_id: f"#{i.draft_id} v{i.number}{' (withdrawn)' if i.withdrawn else ''}"
              f"{' (needs review)' if i.needs_review else ''} · {i.question[:70]}" for i in items}
    chosen = st.selectbox("Release", list(labels), format_func=lambda i: labels[i], key="release_pick")
    release = client.release(int(chosen))
    show_review_flags(client, release, can_resolve=True)
    show_release(release)
    columns = st.columns(len(FORMATS))
    for column, (fmt_id, label, mime) in zip(columns, FORMATS, strict=True):
        data = act(client.export_release, release.release_id, fmt_id)
        if data is not None:
            column.download_button(label, data, file_name=f"evidence-summary-{release.draft_id}-v{release.number}"
                                   f".{fmt_id}", mime=mime, key=f"download_{fmt_id}")
    others = [i for i in items if i.draft_id == release.draft_id and i.release_id != release.release_id]
    if others:
        st.subheader("Compare with another version")
        other_id = st.selectbox("Version", [i.release_id for i in others], key="diff_pick",
                                format_func=lambda i: labels[i])
        other = client.release(int(other_id))
        old, new = sorted((other, release), key=lambda r: r.number)
        st.code("\n".join(wf.diff_releases(old, new)) or "No differences.", language="diff")
    if not release.withdrawn:
        st.subheader("Withdraw")
        reason = st.text_input("Reason", key=f"withdraw_reason_{release.release_id}")
        if st.button("Withdraw this release", key="withdraw") and reason.strip():
            act(client.withdraw_release, release.release_id, reason.strip(), done="Release withdrawn.")
            st.rerun()


main()
