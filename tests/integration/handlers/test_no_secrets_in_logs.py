"""Nothing secret reaches the logs, at the most verbose level, across a whole login life."""

from __future__ import annotations

import hashlib

import pytest

from railguard.store import Table
from railguard.store import keys as item_keys
from tests.support import accounts as a


@pytest.mark.usefixtures("identity_env")
def test_login_refresh_and_password_change_log_no_secret(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    table: Table,
) -> None:
    # Given every function logging at DEBUG
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "DEBUG")
    a.reset_instances()
    caplog.set_level("DEBUG")
    email = a.new_email()
    new_password = "green-lamp-harbor-77"
    # When a user signs up, fails a login, logs in, refreshes, reads /me, changes the password
    # and logs out
    user = a.sign_up(email)["user"]
    assert a.log_in(email, "a-wrong-password-9").status == 401
    first = a.tokens_for(email)
    refreshed = a.post("/api/v1/auth/refresh", {"refresh_token": first["refresh_token"]})
    assert refreshed.status == 200, refreshed.body
    second = refreshed.json()["data"]
    me = a.call_me(second["access_token"])
    assert not isinstance(me, int), f"the authorizer refused: {me}"
    assert (me.status, me.json()["data"]["id"]) == (200, user["id"])
    changed = a.call_me(
        second["access_token"],
        "POST",
        "/api/v1/me/password",
        {"current_password": a.STRONG_PASSWORD, "new_password": new_password},
    )
    assert not isinstance(changed, int), f"the authorizer refused: {changed}"
    assert (changed.status, changed.body) == (204, "")
    # (the change ended every session: logging one of them out again is still 204)
    logged_out = a.post("/api/v1/auth/logout", {"refresh_token": second["refresh_token"]})
    assert (logged_out.status, logged_out.body) == (204, "")
    login_item = table.get(item_keys.login(email))
    assert login_item is not None
    # Then the logs were written, but hold no password, token, token part, digest or hash
    captured = capsys.readouterr()
    logs = captured.out + captured.err + caplog.text
    assert "request handled" in logs
    secrets = [
        a.STRONG_PASSWORD,
        new_password,
        "a-wrong-password-9",
        first["access_token"],
        first["refresh_token"],
        second["access_token"],
        second["refresh_token"],
        first["access_token"].split(".")[2],
        hashlib.sha256(first["refresh_token"].encode()).hexdigest(),
        login_item["password_hash"],
        login_item["password_hash"].split("$")[-1],
    ]
    for secret in secrets:
        assert secret not in logs


@pytest.mark.usefixtures("identity_env")
def test_a_browser_session_logs_no_token_of_its_cookie(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given every function logging at DEBUG
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "DEBUG")
    a.reset_instances()
    caplog.set_level("DEBUG")
    email = a.new_email()
    a.sign_up(email)
    # When a browser logs in, refreshes by its cookie, is refused without the header, logs out
    first = a.cookie_token(a.browser_login(email))
    refreshed = a.by_cookie("/api/v1/auth/refresh", first, a.BROWSER)
    assert refreshed.status == 200, refreshed.body
    second = a.cookie_token(refreshed)
    assert a.by_cookie("/api/v1/auth/logout", second).status == 403
    assert a.by_cookie("/api/v1/auth/logout", second, a.BROWSER).status == 204
    # Then the logs were written, but hold neither cookie's token nor its digest
    captured = capsys.readouterr()
    logs = captured.out + captured.err + caplog.text
    assert "request handled" in logs
    for token in (first, second):
        assert token not in logs
        assert hashlib.sha256(token.encode()).hexdigest() not in logs
