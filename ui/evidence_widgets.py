"""Widgets for the evidence options (PICO, filters, source priority), source types and review flags.

Pages call these; they hold no business logic: the options become the request fields the API
documents, and flags are shown as the API returns them.
"""

from __future__ import annotations

from collections.abc import Mapping

import streamlit as st

from evsum.records import DocType
from ui import formatting as fmt
from ui.client import ApiClient, ClientError, UICitation, UIRelease
from ui.recheck_client import DOC_TYPE_CHOICES, AskOptions

LANGUAGES = (("en", "English"), ("fr", "French"), ("es", "Spanish"), ("de", "German"))
_LABELS = dict(DOC_TYPE_CHOICES)


def ask_options_form(prefix: str = "ask") -> AskOptions:
    """The "Refine" part of the Ask form: PICO fields, filters and the source-priority choice.

    Shown when its toggle is on; with the toggle off nothing refines the question.
    """
    if not st.toggle("Refine: structured question (PICO), filters, source priority", key=f"{prefix}_refine"):
        return AskOptions()
    with st.container(border=True):
        st.caption("Each PICO field is added to the search and recorded in the search strategy.")
        left, right = st.columns(2)
        population = left.text_input("Population", key=f"{prefix}_pico_population", max_chars=500)
        intervention = right.text_input("Intervention", key=f"{prefix}_pico_intervention", max_chars=500)
        comparison = left.text_input("Comparison", key=f"{prefix}_pico_comparison", max_chars=500)
        outcome = right.text_input("Outcome", key=f"{prefix}_pico_outcome", max_chars=500)
        st.caption("Filters: only documents that match are searched and quoted.")
        left, right = st.columns(2)
        year_from = left.number_input("From year", min_value=0, max_value=2200, value=0, step=1,
                                      key=f"{prefix}_year_from", help="0: no lower bound")
        year_to = right.number_input("To year", min_value=0, max_value=2200, value=0, step=1,
                                     key=f"{prefix}_year_to", help="0: no upper bound")
        doc_types = st.multiselect("Document types", [v for v, _ in DOC_TYPE_CHOICES], key=f"{prefix}_doc_types",
                                   format_func=lambda v: _LABELS.get(v, v))
        issuers = st.text_input("Source or issuer (comma-separated, e.g. NICE, WHO)", key=f"{prefix}_issuers")
        languages = st.multiselect("Languages", [code for code, _ in LANGUAGES], key=f"{prefix}_languages",
                                   format_func=lambda code: dict(LANGUAGES).get(code, code))
        priority = st.checkbox("Put national guidelines first, then systematic reviews, then primary studies",
                               key=f"{prefix}_source_priority")
    return AskOptions(population=population, intervention=intervention, comparison=comparison, outcome=outcome,
                      year_from=int(year_from) or None, year_to=int(year_to) or None, doc_types=tuple(doc_types),
                      issuers=tuple(i.strip() for i in issuers.split(",") if i.strip()), languages=tuple(languages),
                      source_priority=True if priority else None)


def source_badge(citation: UICitation) -> str:
    """``Guideline · World Health Organization · 2019``: the kind of source a quote comes from."""
    parts = [DocType(citation.doc_type).label if citation.doc_type in _LABELS else ""]
    parts += [citation.issuer, str(citation.year) if citation.year else ""]
    return " · ".join(p for p in parts if p)


def strategy_caption(filters: Mapping[str, str], query: str, question: str, source_priority: bool) -> str:
    """What was searched: the PICO-widened query, the filters and the prior, for the answer's footer."""
    parts = []
    if query and query != question:
        parts.append(f"searched for: {query}")
    if filters:
        parts.append("filters: " + "; ".join(f"{k} {v}" for k, v in filters.items()))
    if source_priority:
        parts.append("national guidelines and systematic reviews ranked first")
    return " · ".join(parts)


def show_review_flags(client: ApiClient, release: UIRelease, *, can_resolve: bool) -> None:
    """A "needs review" banner listing why (open flags), with a resolve form for reviewers."""
    open_flags = [f for f in release.review_flags if f.resolved_at is None]
    if not open_flags:
        return
    st.error("**Needs review:** " + " ".join(f"{fmt.escape_markdown(f.reason)}." for f in open_flags),
             icon=":material/report:")
    if not can_resolve:
        return
    for flag in open_flags:
        with st.form(f"resolve_flag_{flag.id}", border=False):
            note = st.text_input(f"How was flag {flag.id} ({flag.kind}) dealt with?", key=f"resolution_{flag.id}")
            if st.form_submit_button("Mark resolved") and note.strip():
                try:
                    client.resolve_flag(flag.id, note.strip())
                except ClientError as error:
                    st.error(fmt.describe_error(error), icon=":material/error:")
                else:
                    st.rerun()
