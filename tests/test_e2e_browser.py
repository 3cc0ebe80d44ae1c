"""One real end-to-end run in a browser: uvicorn + Streamlit + headless Chromium driven by Selenium.

Ask a question (an unreviewed, cited machine draft), then check it as a claim -> create a draft as the
librarian -> verify every sentence, add a bottom line, submit -> switch the sidebar key to the reviewer ->
approve -> release -> the Releases page shows version 1; the API then confirms the release and the
audit trail.  Every step is driven through the UI.  Screenshots go to ``test-artifacts/e2e/`` (with both servers' logs).

Run with ``pytest -m e2e``; skipped when /usr/bin/chromium, /usr/bin/chromedriver or selenium is missing.
"""

from __future__ import annotations

import importlib.util
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import REPO, bearer

from ui.launch import build_command

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = REPO / "test-artifacts" / "e2e"
QUESTION = "When should healthcare personnel perform hand hygiene in outpatient settings?"
BOTTOM_LINE = "Perform hand hygiene with alcohol-based hand rub or soap and water before and after patient contact."
WAIT_S = 30.0

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is not installed (apt-get install chromium)"),
    pytest.mark.skipif(not CHROMEDRIVER.exists(),
                       reason=f"{CHROMEDRIVER} is not installed (apt-get install chromium-driver)"),
    pytest.mark.skipif(importlib.util.find_spec("selenium") is None,
                       reason="selenium is not installed (pip install selenium)"),
]


@dataclass(frozen=True)
class Stack:
    """The running API and UI, and the users' API keys."""

    api_url: str
    ui_url: str
    librarian_key: str
    reviewer_key: str


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


def _wait_http_ok(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 60.0) -> None:
    """Poll ``url`` until it answers 200; fail with the server's log if it exits or never does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"server exited with {process.returncode} before {url} answered:\n{_tail(log)}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    pytest.fail(f"{url} did not answer 200 within {timeout:.0f} s:\n{_tail(log)}")


def _add_user(name: str, role: str, env: dict[str, str]) -> str:
    """``evsum users add NAME --role ROLE`` in a subprocess; the new key is stdout's last line."""
    done = subprocess.run([sys.executable, "-m", "evsum.cli", "users", "add", name, "--role", role],
                          env=env, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1].strip()


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@pytest.fixture()
def stack(sample_index: Path, tmp_path: Path) -> Iterator[Stack]:
    """A fresh database with a librarian and a reviewer, `evsum serve` and the Streamlit UI."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    database_url = f"sqlite:///{tmp_path / 'evsum.sqlite'}"
    env = {**os.environ, "PYTHONPATH": str(REPO), "EVSUM_MODELS__ENCODER": "hash",
           "EVSUM_DATABASE_URL": database_url}
    librarian_key = _add_user("lib-lucy", "librarian", env)
    reviewer_key = _add_user("rev-ray", "reviewer", env)
    assert librarian_key != reviewer_key

    api_port, ui_port = _free_port(), _free_port()
    api_url, ui_url = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{ui_port}"
    api_log, ui_log = ARTIFACTS / "api.log", ARTIFACTS / "ui.log"
    ui_env = {**env, "EVSUM_UI__API_KEY": librarian_key, "STREAMLIT_SERVER_FILE_WATCHER_TYPE": "none"}
    processes: list[subprocess.Popen[bytes]] = []
    try:
        with api_log.open("wb") as api_out, ui_log.open("wb") as ui_out:
            api = subprocess.Popen(
                [sys.executable, "-m", "evsum.cli", "serve", "--index-dir", str(sample_index), "--port", str(api_port)],
                env=env, cwd=REPO, stdout=api_out, stderr=subprocess.STDOUT)
            processes.append(api)
            ui = subprocess.Popen(build_command(api_url, ui_port), env=ui_env, cwd=REPO, stdout=ui_out,
                                  stderr=subprocess.STDOUT)
            processes.append(ui)
        _wait_http_ok(f"{api_url}/readyz", api, api_log)
        _wait_http_ok(f"{ui_url}/_stcore/health", ui, ui_log)
        yield Stack(api_url, ui_url, librarian_key, reviewer_key)
    finally:
        for process in reversed(processes):
            _stop(process)


class Browser:
    """Thin helpers over a Selenium driver for a Streamlit app: explicit waits on what is shown."""

    def __init__(self, driver: Any) -> None:
        from selenium.webdriver.support.ui import WebDriverWait

        self.driver = driver
        self.wait = WebDriverWait(driver, WAIT_S, poll_frequency=0.2)
        self.shots = 0

    def until(self, condition: Callable[[Any], Any], what: str) -> Any:
        from selenium.common.exceptions import StaleElementReferenceException, TimeoutException

        def safe(driver: Any) -> Any:
            try:
                return condition(driver)
            except StaleElementReferenceException:  # Streamlit replaced the element mid-check
                return False

        try:
            return self.wait.until(safe)
        except TimeoutException:
            self.screenshot("failure")
            raise AssertionError(f"timed out after {WAIT_S:.0f} s waiting for {what}; page text:\n"
                                 f"{self.main_text()[-3000:]}") from None

    def main_text(self) -> str:
        from selenium.webdriver.common.by import By

        return str(self.driver.find_element(By.TAG_NAME, "body").text)

    def fresh(self, css: str) -> list[Any]:
        """Displayed elements matching ``css`` that are not left over from a previous run (stale)."""
        from selenium.webdriver.common.by import By

        return [e for e in self.driver.find_elements(By.CSS_SELECTOR, css)
                if e.is_displayed() and not e.find_elements(By.XPATH, "./ancestor::*[@data-stale='true']")]

    def see(self, *texts: str) -> None:
        """Wait until every text is visible on the page."""
        self.until(lambda d: all(t in self.main_text() for t in texts), f"text {texts!r}")

    @staticmethod
    def idle_now(driver: Any) -> bool:
        """No script run shows as in progress: no 'running' indicator and no stale (faded) elements."""
        from selenium.webdriver.common.by import By

        running = driver.find_elements(By.CSS_SELECTOR, "[data-testid='stStatusWidget'] [data-testid*='Running']")
        return not running and not driver.find_elements(By.CSS_SELECTOR, "[data-stale='true']")

    def idle(self) -> None:
        """Wait until the script run has finished."""
        self.until(self.idle_now, "the Streamlit run to finish")

    def one(self, css: str, enabled: bool = True) -> Any:
        """Wait for one fresh, displayed (and by default enabled) element matching ``css``."""
        def found(_: Any) -> Any:
            hits = [e for e in self.fresh(css) if not enabled or e.is_enabled()]
            return hits[0] if hits else False

        return self.until(found, f"{'an enabled ' if enabled else ''}{css}")

    def click(self, css: str) -> None:
        self.one(css).click()

    def type_text(self, css: str, text: str, submit_keys: tuple[str, ...]) -> None:
        """Replace the text of an input or text area and commit it (Enter or Ctrl+Enter), as a user does."""
        from selenium.webdriver.common.keys import Keys

        field = self.one(css)
        field.click()
        field.send_keys(Keys.CONTROL, "a")
        field.send_keys(Keys.BACKSPACE)
        field.send_keys(text)
        field.send_keys(*submit_keys)
        self.until(lambda d: field.get_attribute("value") == text, f"{css} to hold the typed text")
        self.idle()

    def nav(self, title: str) -> None:
        """Open a page from the sidebar navigation (keeps the session, so the sidebar key stays)."""
        from selenium.webdriver.common.by import By

        links = self.driver.find_elements(By.CSS_SELECTOR, "a[data-testid='stSidebarNavLink']")
        link = next((a for a in links if a.text.strip().splitlines()[-1:] == [title]), None)  # icon, then title
        assert link is not None, f"no sidebar link {title!r} among {[a.text for a in links]}"
        link.click()
        self.until(lambda d: any(h.text.strip() == _TITLES[title] for h in self.fresh("h1")), f"the {title} page")

    def screenshot(self, name: str) -> Path:
        self.shots += 1
        path = ARTIFACTS / (name if name == "failure" else f"{self.shots:02d}-{name}")
        path = path.with_suffix(".png")
        self.driver.save_screenshot(str(path))
        return path


_TITLES = {"Ask": "Ask a clinical question", "Drafts": "Drafts", "Draft editor": "Draft editor", "Review": "Review",
           "Releases": "Releases"}

VERIFY_BUTTONS = "[class*='st-key-verified_'] button"


@pytest.fixture()
def browser() -> Iterator[Browser]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--disable-dev-shm-usage", "--window-size=1400,1800"):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    try:
        yield Browser(driver)
    finally:
        driver.quit()


CLAIM = "Hand hygiene before patient contact prevents health-care-associated infections."


def test_ask_draft_verify_submit_review_release_in_the_browser(stack: Stack, browser: Browser) -> None:
    started = time.monotonic()
    for old in ARTIFACTS.glob("*.png"):
        old.unlink()
    b = browser
    b.driver.get(stack.ui_url)
    b.see("Ask a clinical question", "Evidence service ready")

    # 1. Ask: an unreviewed machine draft of quoted, cited sentences.
    b.type_text(".st-key-ask_question textarea", QUESTION, submit_keys=_ctrl_enter())
    b.click(".st-key-ask_button button")
    b.see("Unreviewed machine draft", "References", "[1]", "Show source [1] — page", "Guide to Infection Prevention")
    b.idle()
    # The quoted sentences shown are the ones the service quotes for this question (slider default: 3).
    summary = httpx.post(f"{stack.api_url}/v1/summaries", json={"question": QUESTION, "max_sentences": 3},
                         headers=bearer(stack.librarian_key), timeout=30).json()
    shown = _squash(b.main_text())
    assert summary["sentences"] and all(_squash(s["text"]) in shown for s in summary["sentences"])
    b.screenshot("ask")

    # 1b. The same page checks a claim: the claim cross-encoder re-ranks, and the answer says it was a claim.
    b.click(".st-key-ask_claim label")
    b.click(".st-key-ask_button button")
    b.see("Claim checked", "a quote can contradict the claim", "References")
    b.idle()
    b.screenshot("claim")

    # 2. Drafts: create a draft from the same question (as the librarian, the UI's default key).
    b.nav("Drafts")
    b.type_text(".st-key-new_draft_question textarea", QUESTION, submit_keys=())
    b.click("[data-testid='stFormSubmitButton'] button")
    b.see("Draft editor", "created: check each sentence against its source", "author lib-lucy")
    b.idle()
    b.screenshot("draft-created")

    # 3. Draft editor: verify every sentence, one click each; each click saves a new version.
    total = len(b.fresh(VERIFY_BUTTONS))
    assert total >= 2, "the machine draft should quote several sentences"
    for number in range(1, total + 1):
        pending = [e for e in b.fresh(VERIFY_BUTTONS) if e.is_enabled()]
        assert len(pending) == total - number + 1
        pending[0].click()

        def one_fewer(driver: Any, left: int = len(pending) - 1) -> bool:
            return b.idle_now(driver) and len([e for e in b.fresh(VERIFY_BUTTONS) if e.is_enabled()]) == left

        b.until(one_fewer, f"sentence {number} to be verified")
        b.see(f"Sentence {number}: verify.")
    b.see("the clinical bottom line is empty")  # the one thing still missing before it can be submitted
    assert "are not verified" not in b.main_text()
    b.screenshot("verified")

    # 4. Bottom line, then submit for review.
    b.type_text("[class*='st-key-bottom_'] textarea", BOTTOM_LINE, submit_keys=_ctrl_enter())
    b.click(".st-key-save_summary button")
    b.see("Saved.")
    b.idle()
    b.click(".st-key-submit_draft button")
    b.see("Submitted for review.")
    b.idle()
    b.screenshot("submitted")

    # 5. Switch user: paste the reviewer's key into the sidebar, then review, approve and release.
    from selenium.webdriver.common.keys import Keys

    b.type_text(".st-key-evsum_api_key input", stack.reviewer_key, submit_keys=(Keys.ENTER,))
    b.nav("Review")
    b.see("In review", "author lib-lucy", BOTTOM_LINE)
    b.idle()
    b.screenshot("review")
    b.click(".st-key-approve button")
    b.see("Approved.", "Approved by rev-ray")
    b.idle()
    b.screenshot("approved")
    b.click(".st-key-release button")
    b.see("Released as version 1.")
    b.idle()
    b.screenshot("released")

    # 6. Releases page: release number 1, reviewed by the reviewer.
    b.nav("Releases")
    b.see("Version 1 of draft #", "reviewer rev-ray", BOTTOM_LINE)
    b.idle()
    b.screenshot("releases")

    # The same final state through the API.
    releases = httpx.get(f"{stack.api_url}/v1/releases", headers=bearer(stack.reviewer_key), timeout=10)
    assert releases.status_code == 200
    items = releases.json()["releases"]
    assert len(items) == 1 and items[0]["number"] == 1
    draft_id = items[0]["draft_id"]
    audit = httpx.get(f"{stack.api_url}/v1/audit", params={"draft_id": draft_id},
                      headers=bearer(stack.librarian_key), timeout=10)
    assert audit.status_code == 200
    events = [(e["action"], e["actor"]) for e in audit.json()["events"]]
    assert events == ([("create", "lib-lucy")] + [("verify", "lib-lucy")] * total
                      + [("edit", "lib-lucy"), ("submit", "lib-lucy"), ("approve", "rev-ray"),
                         ("release", "rev-ray")]), events

    # 7. A claim check drafted in the browser (back to the librarian's key): the Drafts page's claim box, and
    #    the editor heads the text "Claim checked".
    b.type_text(".st-key-evsum_api_key input", stack.librarian_key, submit_keys=(Keys.ENTER,))
    b.nav("Drafts")
    b.type_text(".st-key-new_draft_question textarea", CLAIM, submit_keys=())
    b.click(".st-key-new_draft_claim label")
    b.click("[data-testid='stFormSubmitButton'] button")
    b.see("Draft editor", "Claim checked:", "author lib-lucy")
    b.idle()
    b.screenshot("claim-draft")
    drafts = httpx.get(f"{stack.api_url}/v1/drafts", headers=bearer(stack.librarian_key), timeout=10).json()
    newest = drafts["drafts"][0]
    assert newest["question"] == CLAIM and newest["claim"] is True
    elapsed = time.monotonic() - started
    print(f"browser flow took {elapsed:.1f} s")


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _ctrl_enter() -> tuple[str, ...]:
    from selenium.webdriver.common.keys import Keys

    return (Keys.CONTROL, Keys.ENTER)
