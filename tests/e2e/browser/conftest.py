"""The dashboard in a real browser: Debian's Chromium, driven by Playwright, against the e2e
session's local stack.

Every page records the Content Security Policy violations it reports, and each test ends by
checking there were none, and that no secret the page received (access tokens, new keys,
webhook tokens and secrets) is in its storage, its script-readable cookies or its URL.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Playwright, sync_playwright

from tests.e2e.browser.pages import Dashboard
from tests.e2e.local_stack import StackProcess

REPO = Path(__file__).resolve().parents[3]


def chromium_path() -> str:
    """Debian's Chromium (`apt-get install chromium`); CHROMIUM names another binary."""
    path = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).is_file():
        pytest.fail(
            f"no Chromium at {path}: apt-get install -y chromium (as root), or set CHROMIUM"
        )
    return path


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    launched = playwright.chromium.launch(executable_path=chromium_path())
    yield launched
    launched.close()


def _new_context(browser: Browser, stack: StackProcess) -> BrowserContext:
    """A browser profile of its own: its own cookies and storage."""
    created = browser.new_context(
        base_url=stack.url, viewport={"width": 1440, "height": 900}, accept_downloads=True
    )
    created.grant_permissions(["clipboard-read", "clipboard-write"], origin=stack.url)
    return created


@pytest.fixture
def context(browser: Browser, stack: StackProcess) -> Iterator[BrowserContext]:
    created = _new_context(browser, stack)
    yield created
    created.close()


@pytest.fixture
def screenshots_dir() -> Path:
    """Where screenshots go: .screenshots/ (ignored by git; `make screenshots` copies the
    README's into docs/screenshots)."""
    directory = REPO / ".screenshots"
    directory.mkdir(exist_ok=True)
    return directory


def _checked_dashboard(context: BrowserContext, screenshots_dir: Path) -> Iterator[Dashboard]:
    """A page at the dashboard; after the test: no CSP violation, no secret exposed."""
    opened = Dashboard.open(context.new_page(), screenshots_dir)
    yield opened
    opened.assert_held_up()


@pytest.fixture
def dashboard(context: BrowserContext, screenshots_dir: Path) -> Iterator[Dashboard]:
    yield from _checked_dashboard(context, screenshots_dir)


@pytest.fixture
def another_dashboard(
    browser: Browser, stack: StackProcess, screenshots_dir: Path
) -> Iterator[Dashboard]:
    """A second person's browser (cookies and storage of its own), checked the same way."""
    created = _new_context(browser, stack)
    yield from _checked_dashboard(created, screenshots_dir)
    created.close()
