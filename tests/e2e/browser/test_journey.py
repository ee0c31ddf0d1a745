"""The dashboard's first day, end to end, as issue 18 tells it: a new person signs up, stays
signed in across a reload on the HttpOnly refresh cookie alone, turns on MFA and logs back in
with a code, makes a key usable from 127.0.0.1 alone, uses it and revokes it, adds a credential
and sees only its mask, finds those acts in a verified audit trail, and invites a second person
as `user`, who is offered no key management. After each part, nothing secret is readable by
script or in the URL, and the page has reported no CSP violation."""

from __future__ import annotations

import time
import uuid

import pyotp
from playwright.sync_api import BrowserContext, expect

from tests.e2e.browser.pages import Dashboard
from tests.e2e.browser.steps import (
    add_member,
    confirm_with_code,
    eventually,
    go_to,
    saved_it,
    shown_key,
    shown_recovery_codes,
)
from tests.e2e.local_stack import StackProcess
from tests.e2e.people import PASSWORD, me_status_from, new_owner

CREDENTIAL_VALUE = "sk-proj-Journey7Xk2mW9pLr4TnV8bYc"


def _sign_up(dashboard: Dashboard, context: BrowserContext) -> str:
    page = dashboard.page
    expect(page.get_by_role("heading", name="Log in to Railguard")).to_be_visible()
    dashboard.snap("login")
    email = f"journey-{uuid.uuid4().hex[:12]}@example.com"
    page.get_by_role("link", name="Create an account").click()
    page.get_by_label("Name").fill("Journey Person")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    dashboard.snap("signup")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("link", name=email)).to_be_visible()

    # The refresh token is a cookie for the auth routes that script cannot read
    (refresh,) = [cookie for cookie in context.cookies() if cookie["name"] == "rg_refresh"]
    assert (refresh["httpOnly"], refresh["sameSite"], refresh["path"]) == (
        True,
        "Strict",
        "/api/v1/auth",
    )
    # ... and it alone keeps them signed in across a reload (the access token was in memory)
    dashboard.load()
    expect(page.get_by_role("link", name=email)).to_be_visible()
    return email


def _turn_on_mfa(dashboard: Dashboard, email: str) -> pyotp.TOTP:
    page = dashboard.page
    page.get_by_role("link", name=email).click()
    page.get_by_role("button", name="Turn on", exact=True).click()
    authenticator = pyotp.TOTP(page.locator(".totp-secret").inner_text().strip())
    confirm_with_code(
        page, "2. Enter a code to confirm", authenticator.now(), "Turn on two-factor authentication"
    )
    codes = shown_recovery_codes(page)
    saved_it(page, codes[0])
    expect(page.get_by_text("Two-factor authentication is on:")).to_be_visible()
    return authenticator


def _log_out_and_in_with_a_code(
    dashboard: Dashboard, context: BrowserContext, email: str, authenticator: pyotp.TOTP
) -> None:
    page = dashboard.page
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Log in to Railguard")).to_be_visible()
    assert "rg_refresh" not in {cookie["name"] for cookie in context.cookies()}
    dashboard.load()  # logged out for good: a reload does not bring the session back
    expect(page.get_by_role("heading", name="Log in to Railguard")).to_be_visible()
    # The code of the next step (within the one step of drift): the enabling spent this one
    dashboard.log_in(email, PASSWORD, authenticator.at(time.time() + 30))


def _make_use_and_revoke_a_key(dashboard: Dashboard, stack: StackProcess) -> None:
    page = dashboard.page
    go_to(page, "API keys")
    page.get_by_role("button", name="Create key").click()
    page.get_by_label("Name", exact=True).fill("Journey key")
    page.get_by_label("agents:read").check()
    page.get_by_label("Allowed IP addresses (optional)").fill("127.0.0.1")
    page.locator("form").get_by_role("button", name="Create key").click()
    key = shown_key(page)

    assert me_status_from(stack, "127.0.0.1", {"X-API-Key": key}) == 200
    assert me_status_from(stack, "127.0.0.2", {"X-API-Key": key}) == 403

    saved_it(page, key)
    row = page.get_by_role("row").filter(has_text="Journey key")
    row.get_by_role("button", name="Revoke").click()
    page.get_by_role("dialog").get_by_role("button", name="Revoke key").click()
    expect(row).to_contain_text("revoked")
    assert eventually(lambda: me_status_from(stack, "127.0.0.1", {"X-API-Key": key}) == 401)


def _add_a_credential(dashboard: Dashboard) -> None:
    page = dashboard.page
    go_to(page, "Credentials")
    page.get_by_role("button", name="Add credential").click()
    page.get_by_label("Name", exact=True).fill("Journey model key")
    page.get_by_label("Type", exact=True).fill("openai")
    page.get_by_label("Value", exact=True).fill(CREDENTIAL_VALUE)
    page.locator("form").get_by_role("button", name="Add credential").click()
    row = page.get_by_role("row").filter(has_text="Journey model key")
    expect(row).to_contain_text("sk-p...8bYc")
    assert CREDENTIAL_VALUE not in page.content()


def _audit_trail_shows_the_acts(dashboard: Dashboard) -> None:
    page = dashboard.page
    go_to(page, "Audit trail")
    events = page.get_by_role("table", name="Audit events")
    actions = events.locator("td[data-label='Action'] > span > span:first-child")
    expect(actions).to_have_text(
        ["Credential created", "API key revoked", "API key created", "Workspace created"]
    )
    expect(page.get_by_text("Verified: 4 events")).to_be_visible()


def test_a_new_persons_first_day_in_the_dashboard(
    dashboard: Dashboard,
    context: BrowserContext,
    stack: StackProcess,
    another_dashboard: Dashboard,
) -> None:
    # Given a new person at the dashboard: they sign up, and a reload keeps them signed in
    email = _sign_up(dashboard, context)
    dashboard.assert_held_up()

    # When they turn on MFA, log out, and log back in with a code
    authenticator = _turn_on_mfa(dashboard, email)
    _log_out_and_in_with_a_code(dashboard, context, email, authenticator)
    dashboard.assert_held_up()

    # When they make a key for 127.0.0.1, use it, see another address refused, and revoke it
    _make_use_and_revoke_a_key(dashboard, stack)
    dashboard.assert_held_up()

    # When they add a credential, only its mask is shown
    _add_a_credential(dashboard)
    dashboard.assert_held_up()

    # Then the audit trail lists those acts, and its chain is verified
    _audit_trail_shows_the_acts(dashboard)
    dashboard.assert_held_up()

    # When they invite a second person as `user`
    person = new_owner(stack)
    go_to(dashboard.page, "Members")
    add_member(dashboard.page, person.email, "user")
    expect(dashboard.page.get_by_role("row").filter(has_text=person.email)).to_contain_text("user")

    # Then that person, in their own browser, is offered no key management
    other = another_dashboard
    other.log_in(person.email, PASSWORD)
    other.page.get_by_role("combobox", name="Workspace").select_option(
        label="Journey Person's workspace (user)"
    )
    expect(other.page.get_by_role("link", name="Credentials")).to_be_visible()
    expect(other.page.get_by_role("link", name="API keys")).to_have_count(0)
    other.page.goto("/#/keys")
    expect(other.page.get_by_role("heading", name="API keys")).to_have_count(0)
