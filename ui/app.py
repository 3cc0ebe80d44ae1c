"""Streamlit entry point of the evsum front end.

Run ``streamlit run ui/app.py -- --api-url http://127.0.0.1:8000`` (or set
``EVSUM_UI__API_URL``), or ``evsum ui --api-url URL``.  The navigation is built
with ``st.navigation`` so that further pages (Drafts, Review, Releases) slot in
as new ``st.Page`` entries and sections.
"""

from __future__ import annotations

import sys
from pathlib import Path

# ``streamlit run`` puts this file's folder on sys.path, not the project root that holds the
# ``ui`` package; add the root when evsum is not installed as a package.
_PROJECT_ROOT = str(Path(__file__).resolve().parent.parent)
if _PROJECT_ROOT not in sys.path:
    sys.path.insert(0, _PROJECT_ROOT)

import streamlit as st  # noqa: E402

from ui.state import API_KEY_KEY, default_api_key, get_client  # noqa: E402

PAGES_DIR = Path(__file__).resolve().parent / "views"


def pages() -> dict[str, list[st.Page]]:
    """The navigation: sections of pages (the first page of the first section is the default)."""
    return {
        "Evidence": [
            st.Page(PAGES_DIR / "ask.py", title="Ask", icon=":material/quick_reference_all:", default=True),
            st.Page(PAGES_DIR / "library.py", title="Library", icon=":material/library_books:"),
        ],
        "Workbench": [
            st.Page(PAGES_DIR / "drafts.py", title="Drafts", icon=":material/edit_note:"),
            st.Page(PAGES_DIR / "editor.py", title="Draft editor", icon=":material/rule:"),
            st.Page(PAGES_DIR / "review.py", title="Review", icon=":material/fact_check:"),
            st.Page(PAGES_DIR / "releases.py", title="Releases", icon=":material/verified:"),
            st.Page(PAGES_DIR / "saved.py", title="Saved questions", icon=":material/bookmarks:"),
        ],
    }


def sidebar_status() -> None:
    """Show which service the UI talks to and whether it is ready."""
    if API_KEY_KEY not in st.session_state:
        st.session_state[API_KEY_KEY] = default_api_key()
    client = get_client()
    with st.sidebar:
        if client.ready():
            st.caption(f":green[●] Evidence service ready · {client.base_url}")
        else:
            st.caption(f":red[●] Evidence service not ready · {client.base_url}")
        st.text_input("API key", key=API_KEY_KEY, type="password",
                      help="Your evsum API key (from your administrator or `evsum users add`).")


def main() -> None:
    """Configure the page, show the navigation and run the selected page."""
    # Centred text reads best for quoted evidence; a page may widen it (the Library table does).
    st.set_page_config(
        page_title="evsum — evidence summaries", page_icon=":material/menu_book:", layout="centered"
    )
    navigation = st.navigation(pages())
    sidebar_status()
    navigation.run()


main()
