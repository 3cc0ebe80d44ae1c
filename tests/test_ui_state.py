"""Where the UI finds its API: command line, environment, default; and client injection."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from ui.state import API_URL_ENV, DEFAULT_API_URL, resolve_api_url


@pytest.mark.parametrize(
    ("argv", "environ", "expected"),
    [
        ([], {}, DEFAULT_API_URL),
        ([], {API_URL_ENV: "http://env:9000/"}, "http://env:9000"),
        (["--api-url", "http://arg:1"], {API_URL_ENV: "http://env:9000"}, "http://arg:1"),
        (["--other", "x", "--api-url=http://arg:2/"], {}, "http://arg:2"),
        (["--api-url"], {API_URL_ENV: "http://env:9000"}, "http://env:9000"),
    ],
    ids=["default", "env", "argv-beats-env", "equals-form", "dangling-flag"],
)
def test_resolve_api_url_precedence(argv: list[str], environ: dict[str, str], expected: str) -> None:
    assert resolve_api_url(argv, environ) == expected


def _show_client() -> None:
    import streamlit as st

    from ui.state import get_client

    client = get_client()
    st.text(f"{type(client).__name__} {client.base_url}")


def test_get_client_builds_the_real_client_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(API_URL_ENV, "http://service.test:8123")

    at = AppTest.from_function(_show_client).run()

    assert at.text[0].value == "EvsumClient http://service.test:8123"


def test_get_client_prefers_an_injected_client_and_rejects_junk() -> None:
    from ui.fakes import FakeApiClient

    at = AppTest.from_function(_show_client)
    at.session_state["evsum_client"] = FakeApiClient.sample()
    assert at.run().text[0].value == "FakeApiClient fake://evsum"

    at.session_state["evsum_client"] = "not a client"
    assert "not an ApiClient" in at.run().exception[0].message
