"""Steps that more than one browser test takes: signing a new owner in, reading a value shown
once, confirming a dialog, answering a form with a code and the password, and waiting for a
change to apply."""

from __future__ import annotations

import time
from collections.abc import Callable

from playwright.sync_api import Page, expect

from tests.e2e.browser.pages import Dashboard
from tests.e2e.local_stack import StackProcess
from tests.e2e.people import PASSWORD, Owner, new_owner

CHANGE_BOUND_SECONDS = 5.0  # the contract's bound for changes and revocations to take effect


def signed_in_owner(dashboard: Dashboard, stack: StackProcess) -> Owner:
    """A new owner (see `new_owner`), logged in on `dashboard`."""
    owner = new_owner(stack)
    dashboard.log_in(owner.email, PASSWORD)
    return owner


def eventually(check: Callable[[], bool]) -> bool:
    """Whether `check` holds within the contract's 5 seconds for changes to take effect."""
    deadline = time.monotonic() + CHANGE_BOUND_SECONDS
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.25)
    return check()


def shown_key(page: Page) -> str:
    """The key in the secret panel, after checking its Copy button copies exactly that."""
    key = page.locator("[data-secret='API key']").inner_text()
    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == key
    return key


def saved_it(page: Page, secret: str) -> None:
    """Dismiss the secret panel: the value is then gone from the page."""
    page.get_by_role("button", name="I have saved it").click()
    expect(page.locator(".secret-panel")).to_have_count(0)
    assert secret not in page.content()


def confirm_with_code(page: Page, form_name: str, code: str, button: str) -> None:
    """An MFA change's form: a code (TOTP or recovery) and the password."""
    form = page.get_by_role("form", name=form_name)
    form.get_by_label("Code", exact=True).fill(code)
    form.get_by_label("Password", exact=True).fill(PASSWORD)
    form.get_by_role("button", name=button).click()


def shown_recovery_codes(page: Page) -> list[str]:
    codes = page.locator("[data-secret='recovery code']")
    expect(codes).to_have_count(10)
    return codes.all_inner_texts()


def add_member(page: Page, email: str, role: str) -> None:
    """On the members screen: add a person by email with a role."""
    page.get_by_label("Email").fill(email)
    page.get_by_label("Role", exact=True).select_option(role)
    page.get_by_role("button", name="Add member").click()


def go_to(page: Page, screen: str) -> None:
    """Open a workspace screen from the navigation and wait for its heading."""
    page.get_by_role("navigation", name="Workspace").get_by_role("link", name=screen).click()
    expect(page.get_by_role("heading", name=screen, level=1)).to_be_visible()
