"""Browser sessions (contract section 4, v1.1): signing up, staying signed in across a reload on
the HttpOnly refresh cookie alone, and logging out."""

from __future__ import annotations

import uuid

from playwright.sync_api import BrowserContext, expect

from tests.e2e.browser.pages import Dashboard
from tests.e2e.people import PASSWORD


def sign_up_in_browser(dashboard: Dashboard) -> str:
    page = dashboard.page
    email = f"browser-{uuid.uuid4().hex[:12]}@example.com"
    page.get_by_role("link", name="Create an account").click()
    page.get_by_label("Name").fill("Browser Person")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    return email


def test_a_new_person_signs_up_stays_signed_in_across_a_reload_and_logs_out(
    dashboard: Dashboard, context: BrowserContext
) -> None:
    # Given a new person at the login screen
    page = dashboard.page
    expect(page.get_by_role("heading", name="Log in to Railguard")).to_be_visible()
    dashboard.snap("login")

    # When they sign up
    email = sign_up_in_browser(dashboard)

    # Then they are signed in, and the refresh token is a cookie script cannot read
    expect(page.get_by_role("link", name=email)).to_be_visible()
    cookies = {cookie["name"]: cookie for cookie in context.cookies()}
    refresh = cookies["rg_refresh"]
    assert (refresh["httpOnly"], refresh["sameSite"], refresh["path"]) == (
        True,
        "Strict",
        "/api/v1/auth",
    )
    assert dashboard.exposed()["cookies"] == ""

    # When the page is reloaded, they are still signed in
    dashboard.load()
    expect(page.get_by_role("link", name=email)).to_be_visible()

    # When they log out, the cookie is gone and a reload shows the login
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Log in to Railguard")).to_be_visible()
    assert "rg_refresh" not in {cookie["name"] for cookie in context.cookies()}
    dashboard.load()
    expect(page.get_by_role("heading", name="Log in to Railguard")).to_be_visible()
