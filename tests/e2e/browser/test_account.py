"""The account screen (contract section 4): two-factor authentication from setup to turning it
off, with its recovery codes shown once, the login's MFA step, the person's own security events,
and a password change that ends the session."""

from __future__ import annotations

import time

import pyotp
import requests
from playwright.sync_api import expect

from railguard.crypto import totp
from tests.e2e.browser.pages import Dashboard
from tests.e2e.browser.steps import confirm_with_code, shown_recovery_codes, signed_in_owner
from tests.e2e.local_stack import StackProcess
from tests.e2e.people import PASSWORD

NEW_PASSWORD = "green-lamp-harbour-77"


def test_a_person_turns_on_two_factor_logs_in_with_it_renews_codes_and_turns_it_off(
    dashboard: Dashboard, stack: StackProcess
) -> None:
    # Given an owner signed in, on their account screen
    owner = signed_in_owner(dashboard, stack)
    page = dashboard.page
    page.get_by_role("link", name=owner.email).click()
    expect(page.get_by_role("heading", name="Account", exact=True)).to_be_visible()
    events = page.get_by_role("table", name="Your security events")
    expect(events.get_by_text("Logged in").first).to_be_visible()
    dashboard.snap("account")

    # When they turn two-factor authentication on: a QR code and the key to type in are shown
    page.get_by_role("button", name="Turn on", exact=True).click()
    expect(
        page.get_by_role("img", name="QR code to scan with your authenticator app")
    ).to_be_visible()
    authenticator = pyotp.TOTP(page.locator(".totp-secret").inner_text().strip())
    dashboard.snap("account-mfa-setup")
    confirm_with_code(
        page, "2. Enter a code to confirm", authenticator.now(), "Turn on two-factor authentication"
    )

    # Then ten recovery codes are shown, once, and can be downloaded
    first_codes = shown_recovery_codes(page)
    dashboard.snap("account-recovery-codes")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download (.txt)").click()
    saved = download.value.path().read_text()
    assert all(code in saved for code in first_codes)
    page.get_by_role("button", name="I have saved it").click()
    expect(page.locator("[data-secret='recovery code']")).to_have_count(0)
    expect(page.get_by_text("Two-factor authentication is on:")).to_be_visible()
    dashboard.snap("account-mfa-on")

    # When they log out and back in: the login asks for a code (the next step's, within drift)
    page.get_by_role("button", name="Log out").click()
    page.get_by_role("heading", name="Log in to Railguard").wait_for()
    dashboard.log_in(owner.email, PASSWORD, authenticator.at(time.time() + 30))

    # When they make new recovery codes, confirming with one of the first set
    page.get_by_role("link", name=owner.email).click()
    confirm_with_code(page, "New recovery codes", first_codes[0], "Regenerate recovery codes")

    # Then ten other codes are shown once
    second_codes = shown_recovery_codes(page)
    assert set(second_codes).isdisjoint(first_codes)
    dashboard.snap("account-new-recovery-codes")
    page.get_by_role("button", name="I have saved it").click()

    # When they turn it off with a code of the new set
    confirm_with_code(page, "Turn off", second_codes[0], "Turn off two-factor authentication")

    # Then it is off, here and for the API (a password alone logs in), and the acts are listed
    expect(page.get_by_role("button", name="Turn on", exact=True)).to_be_visible()
    login = requests.post(
        f"{stack.url}/api/v1/auth/login",
        json={"email": owner.email, "password": PASSWORD},
        timeout=10,
    )
    assert login.status_code == 200
    assert "access_token" in login.json()["data"]
    events = page.get_by_role("table", name="Your security events")
    for act in (
        "Two-factor authentication turned off",
        "Recovery code used",
        "Two-factor authentication turned on",
    ):
        expect(events.get_by_text(act, exact=True).first).to_be_visible()
    dashboard.snap("account-security-events")

    # When they change their password
    page.get_by_label("Current password").fill(PASSWORD)
    page.get_by_label("New password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()

    # Then they are logged out, and log in with the new password
    expect(page.get_by_role("heading", name="Log in to Railguard")).to_be_visible()
    expect(page.get_by_text("Your password was changed")).to_be_visible()
    dashboard.log_in(owner.email, NEW_PASSWORD)


def test_the_qr_policy_lets_through_only_the_svg_the_server_draws(dashboard: Dashboard) -> None:
    # Given the server's QR code, and markup that could run script or load something
    drawn = totp.qr_svg(totp.provisioning_uri(totp.new_secret(), "ada@example.com"))
    hostile = [
        '<svg width="10" height="10"><script>alert(1)</script></svg>',
        '<svg width="10" height="10" onload="alert(1)"></svg>',
        '<svg width="10" height="10"><foreignObject><p>x</p></foreignObject></svg>',
        '<svg width="10" height="10"><path d="M0 0" style="fill:red"/></svg>',
        '<svg width="10" height="10"><a href="javascript:alert(1)"><path d="M0 0"/></a></svg>',
        '<svg width="10" height="10"><rect fill="url(https://example.com/x)"/></svg>',
        '<svg width="10" height="10">text</svg>',
        '<svg width="10" height="10"></svg><svg width="10" height="10"></svg>',
        '<svg width="10" height="10"><path d="M0 0"></svg>',
    ]

    # When the page's QR module is given each
    outcomes: list[str] = dashboard.page.evaluate(
        """async (markups) => {
          const { qrCode } = await import('/js/qr.js');
          return markups.map((markup) => {
            try {
              const svg = qrCode(markup, 'QR code');
              return `${svg.namespaceURI} ${svg.querySelectorAll('path').length}`;
            } catch (error) {
              return error.name;
            }
          });
        }""",
        [drawn, *hostile],
    )

    # Then the server's drawing becomes one SVG element, and everything else is refused
    assert outcomes == ["http://www.w3.org/2000/svg 1"] + ["TypeError"] * len(hostile)
