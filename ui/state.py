"""Where pages get their API client, and which service URL the UI talks to.

The URL comes from ``--api-url`` after ``--`` on the ``streamlit run`` command
line, else the ``EVSUM_UI__API_URL`` environment variable, else the default
(the service on this machine).  A test puts a client in
``st.session_state[CLIENT_KEY]`` before running the app, and every page then
uses it instead of a real one.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import streamlit as st

from ui.client import ApiClient, EvsumClient, PageView, UIRelease, UISummary

CLIENT_KEY = "evsum_client"
"""Session-state key a test (or a future login page) uses to supply the client."""

RESULT_KEY = "ask_result"
"""Session-state key of the Ask page's last ``AskResult``."""

API_URL_ENV = "EVSUM_UI__API_URL"
API_KEY_ENV = "EVSUM_UI__API_KEY"
API_KEY_KEY = "evsum_api_key"
"""Session-state key of the sidebar's API key field (prefilled from ``EVSUM_UI__API_KEY``)."""
DRAFT_KEY = "evsum_draft_id"
"""Session-state key of the draft the editor and review pages show."""
DEFAULT_API_URL = "http://127.0.0.1:8000"


def resolve_api_url(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> str:
    """The API base URL: ``--api-url`` in ``argv``, else ``$EVSUM_UI__API_URL``, else the default.

    ``argv`` defaults to ``sys.argv[1:]`` (what Streamlit passes after ``--``);
    arguments other than ``--api-url`` are ignored.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    env = os.environ if environ is None else environ
    url: str | None = None
    for index, arg in enumerate(args):
        if arg == "--api-url" and index + 1 < len(args):
            url = args[index + 1]
        elif arg.startswith("--api-url="):
            url = arg.split("=", 1)[1]
    url = url or env.get(API_URL_ENV) or DEFAULT_API_URL
    return str(url).rstrip("/")


def default_api_key(environ: Mapping[str, str] | None = None) -> str:
    """The API key from ``$EVSUM_UI__API_KEY`` (empty when unset)."""
    return (os.environ if environ is None else environ).get(API_KEY_ENV, "")


@st.cache_resource(show_spinner=False, max_entries=64)
def _shared_client(api_url: str, api_key: str | None = None) -> EvsumClient:
    """One pooled HTTP client per URL and key for the whole server process."""
    return EvsumClient(api_url, api_key=api_key)


def get_client() -> ApiClient:
    """The client pages must use: the one in session state if present, else the shared real one."""
    injected = st.session_state.get(CLIENT_KEY)
    if injected is not None:
        if not isinstance(injected, ApiClient):
            raise TypeError(f"st.session_state[{CLIENT_KEY!r}] is not an ApiClient: {injected!r}")
        return injected
    key = st.session_state.get(API_KEY_KEY, default_api_key()) or None
    return _shared_client(resolve_api_url(), key)


SourceKey = tuple[str, int, int, int]
"""A cited span: document id, page, char_start, char_end."""


@dataclass(frozen=True, slots=True)
class LoadedSource:
    """A cited page fetched for the source view: its text, its image (if any), or why the image is missing."""

    view: PageView
    image: bytes | None = None
    image_problem: str | None = None


@dataclass
class AskResult:
    """The outcome of the last question on the Ask page, kept in session state.

    A new question replaces it as a whole (a new ``generation``), so sources
    fetched for one answer are never shown for another.  It lives here, not in
    the page script, because Streamlit re-executes page scripts on every rerun
    and a class defined there would be a new class each time.
    """

    generation: int
    summary: UISummary | None = None
    release: UIRelease | None = None
    error: str | None = None
    sources: dict[SourceKey, LoadedSource] = field(default_factory=dict)


def source_key(generation: int, index: int) -> str:
    """Session-state key of the "Show source" expander of sentence ``index`` of answer ``generation``.

    Keys include the generation so that a new answer starts with every source closed.
    """
    return f"source-{generation}-{index}"
