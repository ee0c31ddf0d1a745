"""Contract section 4's browser sessions (v1.1) end to end: a `requests.Session` standing in for
the dashboard's browser keeps the refresh cookie over real HTTP to the local stack on 127.0.0.1,
where the cookie is not `Secure` (plain HTTP to a loopback address)."""

from __future__ import annotations

import re
import uuid

import pytest
import requests

from tests.e2e.local_stack import StackProcess
from tests.e2e.people import PASSWORD, sign_up

pytestmark = pytest.mark.e2e
THIRTY_DAYS = 30 * 24 * 3600
_COOKIE = re.compile(
    r"rg_refresh=(rgr_[A-Za-z0-9_-]{43}); Path=/api/v1/auth; Max-Age=(\d+); HttpOnly; "
    r"SameSite=Strict"
)


def _set_refresh_cookie(response: requests.Response) -> str:
    """The refresh token the response set, after checking every attribute (and no Secure)."""
    match = _COOKIE.fullmatch(response.headers["Set-Cookie"])
    assert match is not None, response.headers["Set-Cookie"]
    assert THIRTY_DAYS - 60 <= int(match[2]) <= THIRTY_DAYS
    return match[1]


def test_a_browser_keeps_its_refresh_token_in_the_cookie_from_login_to_logout(
    stack: StackProcess,
) -> None:
    # Given an account, and a browser that sends the browser-session header
    email = f"e2e-{uuid.uuid4().hex[:12]}@example.com"
    sign_up(stack, email)
    browser = requests.Session()
    browser.headers["X-Railguard-Client"] = "browser"
    auth = f"{stack.url}/api/v1/auth"
    # When it logs in
    login = browser.post(f"{auth}/login", json={"email": email, "password": PASSWORD}, timeout=10)
    # Then its refresh token is the cookie, without Secure over plain HTTP to 127.0.0.1
    assert login.status_code == 200, login.text
    first = _set_refresh_cookie(login)
    assert set(login.json()["data"]) == {"access_token", "token_type", "expires_in"}
    assert browser.cookies.get("rg_refresh", path="/api/v1/auth") == first
    # When it refreshes with no body: the browser sends the cookie by itself
    refreshed = browser.post(f"{auth}/refresh", timeout=10)
    # Then it gets a new access token and a new cookie, which replaces the old one
    assert refreshed.status_code == 200, refreshed.text
    second = _set_refresh_cookie(refreshed)
    assert second != first
    assert browser.cookies.get("rg_refresh", path="/api/v1/auth") == second
    me = requests.get(
        f"{stack.url}/api/v1/me",
        headers={"Authorization": f"Bearer {refreshed.json()['data']['access_token']}"},
        timeout=10,
    )
    assert me.status_code == 200
    # And the cookie without the header (as a forged cross-site request would send it) is 403
    forged = requests.post(f"{auth}/refresh", cookies={"rg_refresh": second}, timeout=10)
    assert (forged.status_code, forged.json()["error"]["code"]) == (403, "csrf")
    # When it logs out
    logout = browser.post(f"{auth}/logout", timeout=10)
    # Then the cookie is cleared from the browser, and its token no longer refreshes
    assert logout.status_code == 204
    assert logout.headers["Set-Cookie"] == (
        "rg_refresh=; Path=/api/v1/auth; Max-Age=0; HttpOnly; SameSite=Strict"
    )
    assert "rg_refresh" not in browser.cookies
    spent = requests.post(f"{auth}/refresh", json={"refresh_token": second}, timeout=10)
    assert spent.status_code == 401
