"""The dashboard as a test drives it: open, screenshot at both widths, and check that the page
held under its CSP and kept every secret out of reach of script and the URL."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, Response, ViewportSize, expect

DESKTOP = ViewportSize(width=1440, height=900)
PHONE = ViewportSize(width=360, height=780)

# Recorded before any of the page's own script runs; Playwright's init scripts are not subject
# to the page's CSP.
_RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (event) => {
  window.__cspViolations.push(`${event.effectiveDirective} ${event.blockedURI}`);
});
"""
# What the API returns once and the page must never store or put in the URL.
_SECRET_FIELDS = ("access_token", "refresh_token", "mfa_token", "key", "token", "secret")


def _secrets_in(value: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(value, dict):
        for name, item in value.items():
            if name in _SECRET_FIELDS and isinstance(item, str) and len(item) >= 8:
                found.add(item)
            elif name == "recovery_codes" and isinstance(item, list):
                found.update(code for code in item if isinstance(code, str))
            else:
                found |= _secrets_in(item)
    elif isinstance(value, list):
        for item in value:
            found |= _secrets_in(item)
    return found


@dataclass
class Dashboard:
    page: Page
    screenshots_dir: Path
    _responses: list[Response] = field(default_factory=list)

    @classmethod
    def open(cls, page: Page, screenshots_dir: Path) -> Dashboard:
        dashboard = cls(page, screenshots_dir)
        page.add_init_script(_RECORD_VIOLATIONS)
        page.on("response", dashboard._record)
        dashboard.load()
        return dashboard

    def _record(self, response: Response) -> None:
        self._responses.append(response)

    def load(self) -> None:
        """(Re)load the page and wait until it has drawn its first screen."""
        self.page.goto("/")
        self.page.wait_for_selector("body[data-ready='true']")

    def log_in(self, email: str, password: str, code: str | None = None) -> None:
        """Log in from the login screen and wait for the shell; `code` answers the MFA step of
        an account with MFA on."""
        page = self.page
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Log in").click()
        if code is not None:
            page.get_by_label("Code").fill(code)
            page.get_by_role("button", name="Verify").click()
        expect(page.get_by_role("button", name="Log out")).to_be_visible()

    def snap(self, name: str) -> None:
        """Screenshots of the current screen at a desktop's and a phone's width."""
        for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
            self.page.set_viewport_size(size)
            self.page.screenshot(path=self.screenshots_dir / f"{name}-{label}.png", full_page=True)
        self.page.set_viewport_size(DESKTOP)

    def secrets_seen(self) -> set[str]:
        """Every secret value the API has handed this page so far."""
        found: set[str] = set()
        for response in self._responses:
            if "/api/v1/" not in response.url or response.request.method == "GET":
                continue
            try:
                found |= _secrets_in(response.json())
            except (json.JSONDecodeError, UnicodeDecodeError, PlaywrightError):
                continue  # no JSON body (204), or a body the browser no longer holds
        return found

    def exposed(self) -> dict[str, str]:
        """Where script or the URL could read something: storage, readable cookies, the URL."""
        readable: dict[str, str] = self.page.evaluate(
            """() => ({
              localStorage: JSON.stringify(Object.entries(localStorage)),
              sessionStorage: JSON.stringify(Object.entries(sessionStorage)),
              cookies: document.cookie,
              url: location.href,
            })"""
        )
        return readable

    def assert_held_up(self) -> None:
        violations = self.page.evaluate("() => window.__cspViolations")
        assert violations == []
        secrets = self.secrets_seen()
        for where, text in self.exposed().items():
            leaked = [secret[:6] + "…" for secret in secrets if secret in text]
            assert leaked == [], f"secrets readable in {where}"
