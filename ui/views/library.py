"""Library page: the documents in the loaded index, with publisher, licence and page count."""

from __future__ import annotations

import streamlit as st

from ui import formatting as fmt
from ui.client import ClientError
from ui.state import get_client


def main() -> None:
    """The Library page."""
    st.set_page_config(layout="wide")  # the table has seven columns
    client = get_client()
    st.title("Library")
    st.caption("The guidelines, papers and abstracts that answers are quoted from.")
    try:
        documents = client.documents()
    except ClientError as error:
        st.error(fmt.describe_error(error), icon=":material/error:")
        return
    if not documents:
        st.info("No documents are indexed yet. A librarian can add sources with `evsum index`.")
        return

    query = st.text_input("Filter by title, publisher or licence", key="library_filter")
    shown = fmt.filter_documents(documents, query)
    total_pages = sum(document.pages for document in documents)
    st.caption(f"{len(shown)} of {len(documents)} documents · {total_pages:,} pages indexed")
    if not shown:
        st.info("No document matches the filter.")
        return
    st.dataframe(
        [fmt.document_row(document) for document in shown],
        hide_index=True,
        column_order=fmt.LIBRARY_COLUMNS,
        column_config={
            "Title": st.column_config.TextColumn(width=380),
            "Publisher": st.column_config.TextColumn(width=200),
            "Licence": st.column_config.TextColumn(width=170),
            "Pages": st.column_config.NumberColumn(width=60, format="%d"),
            "Type": st.column_config.TextColumn(width=80),
        },
    )


main()
