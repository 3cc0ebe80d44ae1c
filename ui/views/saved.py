"""Saved questions page: a librarian's saved questions, and re-checking after an index update."""

from __future__ import annotations

import streamlit as st

from evsum.records import scorer_label
from ui import formatting as fmt
from ui import workflow_format as wf
from ui.client import ClientError
from ui.state import get_client

RECHECK_KEY = "recheck_report"


def main() -> None:
    """The Saved questions page."""
    client = get_client()
    st.title("Saved questions")
    st.caption("Saved questions are rerun after the index changes; the re-check also flags released summaries "
               "whose cited documents changed, were superseded by a newer guideline or were retracted.")
    if st.button("Re-check now", type="primary", key="recheck_button"):
        try:
            st.session_state[RECHECK_KEY] = client.recheck()
        except ClientError as error:
            st.error(fmt.describe_error(error), icon=":material/error:")
    report = st.session_state.get(RECHECK_KEY)
    if report is not None:
        st.info(f"Re-checked against index snapshot {report.snapshot_id or '—'}: {len(report.new_flags)} releases "
                f"newly flagged, {report.open_flags} flags open.", icon=":material/fact_check:")
        for flag in report.new_flags:
            st.warning(f"Release {flag.release_id} needs review: {fmt.escape_markdown(flag.reason)}")
        for run in report.saved_questions:
            if run.status == "claim_scorer_unavailable":
                st.warning(f"**{fmt.escape_markdown(run.saved_question.question)}** was not rerun: this claim "
                           "check needs the claim scorer, which the service does not have.")
            elif run.new_document_ids:
                st.success(f"**{fmt.escape_markdown(run.saved_question.question)}** would now also cite: "
                           + "; ".join(fmt.escape_markdown(t) for t in run.new_titles))
            for what, before, now in (
                    ("claim scorer", run.claim_scorer_changed_from, run.saved_question.last_claim_scorer),
                    ("sentence scorer", run.sentence_scorer_changed_from, run.saved_question.last_sentence_scorer)):
                if before is not None:
                    st.info(f"**{fmt.escape_markdown(run.saved_question.question)}**: the {what} changed since its "
                            f"last run ({fmt.escape_markdown(scorer_label(before))} → "
                            f"{fmt.escape_markdown(scorer_label(now))}), so what it cites may differ because of "
                            "the model rather than the evidence.", icon=":material/model_training:")
    try:
        saved = client.saved_questions()
    except ClientError as error:
        st.error(fmt.describe_error(error), icon=":material/error:")
        return
    if not saved:
        st.info("No saved questions yet: ask a question on the Ask page and press 'Save this question'.")
        return
    for question in saved:
        with st.container(border=True):
            st.markdown(f"{wf.kind_prefix(question.claim)}**{fmt.escape_markdown(question.question)}** — saved by "
                        f"{question.owner}, {question.created_at[:10]}")
            details = [f"{k}: {v}" for k, v in (question.pico or {}).items()]
            details += [f"{k}: {v}" for k, v in question.filters.items() if v]
            if details:
                st.caption(" · ".join(details))
            st.caption(f"Last run {str(question.last_run_at or '—')[:16]} on snapshot "
                       f"{question.last_snapshot_id or '—'}; cites {len(question.cited_document_ids)} documents."
                       + (f" Claim scorer: {fmt.escape_markdown(scorer_label(question.last_claim_scorer))}."
                          if question.claim and question.last_claim_scorer else "")
                       + (f" Sentence scorer: {fmt.escape_markdown(scorer_label(question.last_sentence_scorer))}."
                          if question.last_sentence_scorer else ""))


main()
