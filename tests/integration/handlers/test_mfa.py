"""Contract section 4's MFA and section 5's `require_mfa`, through the gateway logic with every
function in-process, on a frozen clock: setup and enabling, login with a second factor, each
code once, recovery codes, MFA token misuse, throttling, disabling, and workspace enforcement."""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pyotp
import pytest

from railguard.core.clock import SystemClock
from railguard.core.errors import RateLimited
from railguard.crypto.envelope import DataKeyCache, Envelope
from railguard.identity.mfa import SecondFactors
from railguard.identity.mfa_repository import recovery_codes_key, totp_key
from railguard.identity.sessions import Sessions
from railguard.store import Table
from tests.support import accounts as a
from tests.support.audit import RecordingAuditTrail, logged_events
from tests.support.emulator import AwsEndpoint, Provisioning
from tests.support.fake_time import FakeClock
from tests.support.inprocess import InProcessClient, Reply
from tests.support.plaintexts import remember

_ADDRESSES = (
    f"127.0.{high}.{low}" for high, low in itertools.product(range(10, 250), range(1, 250))
)


# A table per test: moto's transactions slow down with the size of the table.
pytestmark = [pytest.mark.table_per_test, pytest.mark.usefixtures("cheap_passwords")]


@dataclass
class Person:
    """A user of one test: their email, current tokens, and (once enrolled) authenticator."""

    client: InProcessClient
    clock: FakeClock
    email: str
    user_id: str
    workspace_id: str
    access_token: str
    refresh_token: str
    source_ip: str
    secret: str = ""
    recovery_codes: tuple[str, ...] = ()

    def call(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Reply:
        return self.client.request(
            method, path, token=self.access_token, body=body, source_ip=self.source_ip, **kwargs
        )

    def enable(self, code: str) -> Reply:
        """Turning on the pending authenticator with `code` (and the password)."""
        body = {"code": code, "password": a.STRONG_PASSWORD}
        return self.call("POST", "/api/v1/me/mfa/totp/enable", body)

    def code(self, offset_steps: int = 0) -> str:
        """What the authenticator app shows now (or `offset_steps` steps away)."""
        return pyotp.TOTP(self.secret).at(self.clock.now() + 30 * offset_steps)

    def next_code(self) -> str:
        """The code of the next step, after waiting for it: each step is accepted once."""
        self.clock.advance(30)
        return self.code()

    def log_in(self, password: str = a.STRONG_PASSWORD, **kwargs: Any) -> Reply:
        return self.client.request(
            "POST",
            "/api/v1/auth/login",
            body={"email": self.email, "password": password},
            source_ip=self.source_ip,
            **kwargs,
        )

    def verify(self, mfa_token: str, code: str, **kwargs: Any) -> Reply:
        return self.client.request(
            "POST",
            "/api/v1/auth/mfa/verify",
            body={"mfa_token": mfa_token, "code": code},
            source_ip=self.source_ip,
            **kwargs,
        )

    def challenge(self) -> str:
        reply = self.log_in()
        assert reply.status == 200, reply.body
        data = reply.json()["data"]
        assert data["mfa_required"] is True
        return str(data["mfa_token"])


def _person(client: InProcessClient, clock: FakeClock) -> Person:
    account = a.new_account()
    return Person(
        client,
        clock,
        account.email,
        account.user_id,
        account.workspace,
        account.token,
        account.refresh_token,
        next(_ADDRESSES),
    )


def _enrolled(client: InProcessClient, clock: FakeClock) -> Person:
    person = _person(client, clock)
    setup = person.call("POST", "/api/v1/me/mfa/totp/setup")
    assert setup.status == 200, setup.body
    person.secret = remember(setup.json()["data"]["secret"])
    enabled = person.enable(person.code())
    assert enabled.status == 200, enabled.body
    person.recovery_codes = tuple(enabled.json()["data"]["recovery_codes"])
    for code in person.recovery_codes:
        remember(code)
    return person


@pytest.fixture
def person(client: InProcessClient, clock: FakeClock) -> Person:
    return _person(client, clock)


@pytest.fixture
def enrolled(client: InProcessClient, clock: FakeClock) -> Person:
    return _enrolled(client, clock)


def _audited(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The audit events the functions logged during the test."""
    return logged_events(caplog.records)


def _error_code(reply: Reply) -> str:
    return str(reply.json()["error"]["code"])


# -- setup and enabling ------------------------------------------------------------------------
def test_setup_gives_a_secret_uri_and_qr_code_and_stays_pending(person: Person) -> None:
    # When the user sets up an authenticator
    reply = person.call("POST", "/api/v1/me/mfa/totp/setup")
    # Then the secret, its otpauth URI and a QR code, and MFA is not on yet
    assert reply.status == 200
    data = reply.json()["data"]
    remember(data["secret"])
    assert len(data["secret"]) == 32
    assert pyotp.parse_uri(data["otpauth_uri"]).secret == data["secret"]
    assert data["qr_svg"].startswith("<svg")
    assert person.call("GET", "/api/v1/me").json()["data"]["mfa_enabled"] is False
    # And logging in still needs the password only
    assert "access_token" in person.log_in().json()["data"]


def test_enabling_needs_a_correct_code_and_returns_ten_recovery_codes(
    person: Person, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a pending authenticator
    person.secret = remember(
        person.call("POST", "/api/v1/me/mfa/totp/setup").json()["data"]["secret"]
    )
    wrong = f"{(int(person.code()) + 1) % 1_000_000:06d}"
    # When a wrong code, then the right one, is sent
    refused = person.enable(wrong)
    enabled = person.enable(person.code())
    # Then the wrong one is 403 and the right one turns MFA on with ten recovery codes
    assert (refused.status, _error_code(refused)) == (403, "invalid_mfa_code")
    assert enabled.status == 200
    codes = enabled.json()["data"]["recovery_codes"]
    assert len(codes) == len(set(codes)) == 10
    assert person.call("GET", "/api/v1/me").json()["data"]["mfa_enabled"] is True
    assert _audited(caplog) == ["mfa.enabled"]
    # And a second setup, or enabling again, is a conflict: turning it off needs a code
    assert person.call("POST", "/api/v1/me/mfa/totp/setup").status == 409
    again = person.enable(person.next_code())
    assert again.status == 409


def test_finding_7_mfa_changes_need_the_password_and_enabling_ends_other_sessions(
    person: Person,
) -> None:
    """Issue 16 finding 7: an access token alone (a stolen one lives 15 minutes) can neither
    enrol an authenticator, nor read out new recovery codes, nor turn MFA off; and enabling
    ends the user's other sessions (contract v1.1 section 4)."""
    # Given another session of the user, and a pending authenticator
    other = a.tokens_for(person.email)
    setup = person.call("POST", "/api/v1/me/mfa/totp/setup")
    person.secret = remember(setup.json()["data"]["secret"])
    enable = "/api/v1/me/mfa/totp/enable"
    # When enabling without the password, with a wrong one, then with the right one
    without = person.call("POST", enable, {"code": person.code()})
    wrong = person.call("POST", enable, {"code": person.code(), "password": "not-the-password-1"})
    right = person.call("POST", enable, {"code": person.code(), "password": a.STRONG_PASSWORD})
    # Then only the last turns MFA on
    assert (without.status, _error_code(without)) == (400, "validation_error")
    assert (wrong.status, _error_code(wrong)) == (401, "invalid_credentials")
    assert right.status == 200
    # And the other session has ended (its access and refresh tokens), this one has not
    person.clock.advance(3)
    assert person.client.request("GET", "/api/v1/me", token=other["access_token"]).status == 401
    refreshed = person.client.request(
        "POST", "/api/v1/auth/refresh", body={"refresh_token": other["refresh_token"]}
    )
    assert (refreshed.status, _error_code(refreshed)) == (401, "invalid_refresh_token")
    assert person.call("GET", "/api/v1/me").status == 200
    # And new recovery codes, and turning MFA off, need the password just the same
    for path in ("/api/v1/me/mfa/recovery-codes", "/api/v1/me/mfa/totp/disable"):
        without = person.call("POST", path, {"code": person.next_code()})
        wrong = person.call(
            "POST", path, {"code": person.next_code(), "password": "not-the-password-1"}
        )
        assert (without.status, _error_code(without)) == (400, "validation_error")
        assert (wrong.status, _error_code(wrong)) == (401, "invalid_credentials")
    assert person.call("GET", "/api/v1/me").json()["data"]["mfa_enabled"] is True


def _pending(person: Person) -> None:
    setup = person.call("POST", "/api/v1/me/mfa/totp/setup")
    assert setup.status == 200, setup.body
    person.secret = remember(setup.json()["data"]["secret"])


def _enable(person: Person) -> Reply:
    return person.enable(person.code())


def _acts(person: Person, access_token: str, refresh_token: str) -> tuple[int, int]:
    """The statuses of `/me` with the access token, and of a refresh with the refresh token."""
    me = person.client.request("GET", "/api/v1/me", token=access_token)
    refreshed = person.client.request(
        "POST", "/api/v1/auth/refresh", body={"refresh_token": refresh_token}
    )
    return me.status, refreshed.status


def test_finding_7_a_password_login_racing_the_enabling_gets_no_session(
    person: Person, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 16 finding 7 (second review): a login that read the profile while MFA was off and
    starts its session after the enabling committed (and after its revocations) gets none."""
    # Given a pending authenticator, and a password login that will start its session only
    # after the owner has turned MFA on
    _pending(person)
    start = Sessions.start
    enabled: list[Reply] = []

    def after_the_enabling(sessions: Sessions, *args: Any, **kwargs: Any) -> Any:
        if not enabled:
            enabled.append(_enable(person))
        return start(sessions, *args, **kwargs)

    monkeypatch.setattr(Sessions, "start", after_the_enabling)
    # When that login (someone holding the password) goes on
    raced = person.client.request(
        "POST",
        "/api/v1/auth/login",
        body={"email": person.email, "password": a.STRONG_PASSWORD},
        source_ip=next(_ADDRESSES),
    )
    monkeypatch.setattr(Sessions, "start", start)
    # Then the enabling succeeded, and the login got no session
    assert enabled[0].status == 200, enabled[0].body
    assert raced.status == 401, raced.body
    assert _error_code(raced) == "invalid_credentials"
    # And the owner's own session acts and refreshes, while a new login needs the code
    person.clock.advance(3)
    assert _acts(person, person.access_token, person.refresh_token) == (200, 200)
    assert person.log_in().json()["data"]["mfa_required"] is True


def test_finding_7_enabling_cut_short_still_ends_the_other_sessions(
    person: Person, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 16 finding 7 (second review): the enabling ends the other sessions in its own
    transaction (a new session generation), so revoking them one by one afterwards only
    tidies; the caller's session goes on, refresh included."""
    # Given another session of the user, and a pending authenticator
    other = a.tokens_for(person.email)
    _pending(person)

    # When the enabling commits, then stops before revoking sessions one by one
    def cut_short(*_args: object, **_kwargs: object) -> int:
        raise RuntimeError("the function stopped here")

    end_all = Sessions.end_all
    monkeypatch.setattr(Sessions, "end_all", cut_short)
    assert _enable(person).status == 500
    monkeypatch.setattr(Sessions, "end_all", end_all)
    # Then MFA is on, the other session neither acts nor refreshes, and this one does both
    person.clock.advance(3)
    assert _acts(person, other["access_token"], other["refresh_token"]) == (401, 401)
    assert _acts(person, person.access_token, person.refresh_token) == (200, 200)
    assert person.call("GET", "/api/v1/me").json()["data"]["mfa_enabled"] is True


def test_enabling_before_setup_is_a_conflict(person: Person) -> None:
    reply = person.enable("123456")
    assert (reply.status, _error_code(reply)) == (409, "conflict")


def test_a_new_setup_replaces_a_pending_secret(person: Person) -> None:
    # Given two setups in a row
    first = person.call("POST", "/api/v1/me/mfa/totp/setup").json()["data"]["secret"]
    second = person.call("POST", "/api/v1/me/mfa/totp/setup").json()["data"]["secret"]
    remember(first)
    remember(second)
    # When the first secret's code is sent / Then only the second secret enables
    person.secret = first
    assert person.enable(person.code()).status == 403
    person.secret = second
    assert person.enable(person.code()).status == 200


def test_the_secret_is_stored_encrypted_and_never_shown_again(
    enrolled: Person, table: Table
) -> None:
    # Given an enrolled user / When the stored factor is read
    item = table.get(totp_key(enrolled.user_id))
    # Then it holds ciphertext only (the session's final scan checks every table for plaintext)
    assert item is not None
    assert enrolled.secret.encode() not in bytes(item["secret"])
    assert enrolled.secret not in str(enrolled.call("GET", "/api/v1/me").body)
    # And the recovery codes are kept as digests only
    stored = table.get(recovery_codes_key(enrolled.user_id))
    assert stored is not None
    assert len(stored["codes"]) == 10
    assert not set(enrolled.recovery_codes) & set(stored["codes"])


def test_api_keys_cannot_reach_mfa_settings(enrolled: Person) -> None:
    key = enrolled.call(
        "POST",
        "/api/v1/api-keys",
        {"name": "all", "scopes": ["credentials:read"]},
        headers={"X-Workspace-ID": enrolled.workspace_id},
    ).json()["data"]["key"]
    reply = enrolled.client.request("POST", "/api/v1/me/mfa/totp/setup", headers={"X-API-Key": key})
    assert reply.status == 403


# -- login with a second factor ----------------------------------------------------------------
def test_login_with_mfa_returns_a_challenge_answered_by_a_code(enrolled: Person) -> None:
    # When the user logs in with the password
    reply = enrolled.log_in()
    # Then no tokens yet, but an MFA token for five minutes
    data = reply.json()["data"]
    assert reply.status == 200
    assert set(data) == {"mfa_required", "mfa_token", "expires_in"}
    assert (data["mfa_required"], data["expires_in"]) == (True, 300)
    # And the next code exchanges it for working tokens
    verified = enrolled.verify(data["mfa_token"], enrolled.next_code())
    assert verified.status == 200, verified.body
    tokens = verified.json()["data"]
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == 900
    assert enrolled.client.request("GET", "/api/v1/me", token=tokens["access_token"]).status == 200


def test_a_browser_gets_the_challenge_then_the_refresh_token_as_a_cookie(enrolled: Person) -> None:
    """Contract section 4, v1.1: the MFA step of a browser login sets the cookie, as login does."""
    browser = {"X-Railguard-Client": "browser"}
    # When a browser logs in with the password
    login = enrolled.log_in(headers=browser)
    # Then it gets the challenge as any client does, and no cookie
    assert login.status == 200
    assert set(login.json()["data"]) == {"mfa_required", "mfa_token", "expires_in"}
    assert "set-cookie" not in login.headers
    # When it answers with a code
    verified = enrolled.verify(
        login.json()["data"]["mfa_token"], enrolled.next_code(), headers=browser
    )
    # Then the refresh token is the session's cookie, living 30 days, and not in the body
    assert verified.status == 200
    data = verified.json()["data"]
    assert set(data) == {"access_token", "token_type", "expires_in"}
    cookie = verified.headers["set-cookie"]
    token = cookie.removeprefix("rg_refresh=").partition(";")[0]
    assert token.startswith("rgr_")
    assert cookie == (
        f"rg_refresh={token}; Path=/api/v1/auth; Max-Age=2592000; HttpOnly; Secure; SameSite=Strict"
    )
    refreshed = enrolled.client.request(
        "POST", "/api/v1/auth/refresh", body={"refresh_token": token}
    )
    assert refreshed.status == 200


@pytest.mark.parametrize(
    ("offsets", "accepted"), [((-1, 0, 1), True), ((2,), False), ((-2,), False)]
)
def test_one_step_of_drift_either_way_is_accepted_at_login(
    enrolled: Person, offsets: tuple[int, ...], accepted: bool
) -> None:
    # Given a clock moved well past the enabling code's step
    enrolled.clock.advance(120)
    for offset in offsets:
        # When a login is answered with the code of T + offset (in increasing order)
        reply = enrolled.verify(enrolled.challenge(), enrolled.code(offset))
        # Then T-1, T and T+1 are accepted; T+2 and T-2 are not
        assert reply.status == (200 if accepted else 401), (offset, reply.body)


def test_a_code_is_accepted_once(enrolled: Person) -> None:
    # Given a code that answered one login
    code = enrolled.next_code()
    assert enrolled.verify(enrolled.challenge(), code).status == 200
    # When it answers another login / Then it is refused as replayed
    replay = enrolled.verify(enrolled.challenge(), code)
    assert (replay.status, _error_code(replay)) == (401, "invalid_mfa_code")
    # And so is the previous step's code: accepted steps only move forward
    assert enrolled.verify(enrolled.challenge(), enrolled.code(-1)).status == 401


def test_concurrent_uses_of_one_code_succeed_exactly_once(
    enrolled: Person, table: Table, aws: AwsEndpoint, provisioned: Provisioning
) -> None:
    # Given twenty checks of the same code racing, each with its own instance and clients
    code = enrolled.next_code()
    key_id = provisioned.intrinsics.physical["DataKey"].ref

    def spend(_: int) -> str | None:
        kms = aws.client("kms")
        factors = SecondFactors(
            Table(aws.client("dynamodb"), table.name),
            Envelope(kms, key_id, DataKeyCache(SystemClock())),
            SystemClock(),
            RecordingAuditTrail(),
        )
        try:
            return factors.spend(enrolled.user_id, code)
        except RateLimited:
            return "throttled"  # over the user's budget of attempts in flight: not checked

    with ThreadPoolExecutor(max_workers=20) as pool:
        outcomes = list(pool.map(spend, range(20)))
    # Then exactly one was accepted, and every other was refused or throttled
    assert outcomes.count("totp") == 1
    assert outcomes.count(None) + outcomes.count("throttled") == 19


# -- recovery codes ----------------------------------------------------------------------------
def test_a_recovery_code_answers_a_login_once(
    enrolled: Person, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a recovery code, typed in lower case
    code = enrolled.recovery_codes[3]
    # When it answers a login, and then another
    first = enrolled.verify(enrolled.challenge(), code.lower())
    second = enrolled.verify(enrolled.challenge(), code)
    # Then once only
    assert first.status == 200
    assert (second.status, _error_code(second)) == (401, "invalid_mfa_code")
    # And the other codes still work
    assert enrolled.verify(enrolled.challenge(), enrolled.recovery_codes[4]).status == 200
    # And each use was audited, without the code, with the login it made (the replay is a
    # failed login)
    assert _audited(caplog) == [
        "mfa.recovery_code_used",
        "auth.login_succeeded",
        "auth.login_failed",
        "mfa.recovery_code_used",
        "auth.login_succeeded",
    ]
    logged = str([record.__dict__ for record in caplog.records])
    assert code not in logged
    assert code.lower() not in logged


def test_new_recovery_codes_replace_the_old_set(enrolled: Person) -> None:
    # When the user asks for a new set with a current code
    reply = enrolled.call(
        "POST",
        "/api/v1/me/mfa/recovery-codes",
        {"code": enrolled.next_code(), "password": a.STRONG_PASSWORD},
    )
    assert reply.status == 200
    fresh = reply.json()["data"]["recovery_codes"]
    for code in fresh:
        remember(code)
    # Then the old codes stop working and the new ones work
    assert len(fresh) == 10
    assert not set(fresh) & set(enrolled.recovery_codes)
    assert enrolled.verify(enrolled.challenge(), enrolled.recovery_codes[0]).status == 401
    assert enrolled.verify(enrolled.challenge(), fresh[0]).status == 200


def test_new_recovery_codes_need_a_correct_code(enrolled: Person) -> None:
    reply = enrolled.call(
        "POST",
        "/api/v1/me/mfa/recovery-codes",
        {"code": enrolled.code(), "password": a.STRONG_PASSWORD},
    )
    assert (reply.status, _error_code(reply)) == (403, "invalid_mfa_code")  # spent at enabling
    assert enrolled.verify(enrolled.challenge(), enrolled.recovery_codes[0]).status == 200


# -- the MFA token -----------------------------------------------------------------------------
def test_an_mfa_token_is_not_an_access_or_refresh_token(enrolled: Person) -> None:
    # Given an MFA token
    mfa_token = enrolled.challenge()
    # When it is used as an access token, an API key or a refresh token
    as_bearer = enrolled.client.request("GET", "/api/v1/me", token=mfa_token)
    as_key = enrolled.client.request("GET", "/api/v1/me", headers={"X-API-Key": mfa_token})
    as_refresh = enrolled.client.request(
        "POST", "/api/v1/auth/refresh", body={"refresh_token": mfa_token}
    )
    # Then it is refused everywhere
    assert (as_bearer.status, as_key.status, as_refresh.status) == (401, 401, 401)
    # And an access or refresh token is not an MFA token
    for token in (enrolled.access_token, enrolled.refresh_token):
        reply = enrolled.verify(token, enrolled.code())
        assert (reply.status, _error_code(reply)) == (401, "invalid_mfa_token")


def test_an_mfa_token_works_once_and_for_five_minutes(enrolled: Person) -> None:
    # Given a challenge answered once
    mfa_token = enrolled.challenge()
    assert enrolled.verify(mfa_token, enrolled.next_code()).status == 200
    # When it is answered again / Then refused
    reused = enrolled.verify(mfa_token, enrolled.next_code())
    assert (reused.status, _error_code(reused)) == (401, "invalid_mfa_token")
    # And a challenge left for five minutes expires
    stale = enrolled.challenge()
    enrolled.clock.advance(301)
    expired = enrolled.verify(stale, enrolled.code())
    assert (expired.status, _error_code(expired)) == (401, "invalid_mfa_token")


def test_a_wrong_code_leaves_the_challenge_usable(enrolled: Person) -> None:
    mfa_token = enrolled.challenge()
    wrong = enrolled.verify(mfa_token, "000000" if enrolled.next_code() != "000000" else "111111")
    assert (wrong.status, _error_code(wrong)) == (401, "invalid_mfa_code")
    assert enrolled.verify(mfa_token, enrolled.code()).status == 200


def test_a_tampered_or_foreign_mfa_token_is_refused(
    enrolled: Person, client: InProcessClient, clock: FakeClock
) -> None:
    # Given two enrolled users, each with a challenge
    other = _enrolled(client, clock)
    mine = enrolled.challenge()
    # When my token is tampered with, or answered with the other user's code
    tampered = enrolled.verify(mine[:-1] + ("A" if mine[-1] != "A" else "B"), enrolled.next_code())
    foreign_code = enrolled.verify(mine, other.code(1))
    # Then both are refused, and the other user's code still works for them
    assert (tampered.status, _error_code(tampered)) == (401, "invalid_mfa_token")
    assert (foreign_code.status, _error_code(foreign_code)) == (401, "invalid_mfa_code")
    assert other.verify(other.challenge(), other.code(1)).status == 200


def test_a_password_change_voids_pending_challenges(enrolled: Person) -> None:
    # Given a challenge, then a password change
    mfa_token = enrolled.challenge()
    new_password = "green-lamp-harbor-77"
    changed = enrolled.call(
        "POST",
        "/api/v1/me/password",
        {"current_password": a.STRONG_PASSWORD, "new_password": new_password},
    )
    assert changed.status == 204
    # When the old challenge is answered / Then it is refused
    reply = enrolled.verify(mfa_token, enrolled.next_code())
    assert (reply.status, _error_code(reply)) == (401, "invalid_mfa_token")


def test_wrong_codes_are_throttled_like_passwords(enrolled: Person) -> None:
    # Given five wrong codes for one user
    mfa_token = enrolled.challenge()
    right = enrolled.next_code()
    wrong = f"{(int(right) + 500_000) % 1_000_000:06d}"
    statuses = [enrolled.verify(mfa_token, wrong).status for _ in range(5)]
    # When the right code comes next / Then 429, without the code being checked
    blocked = enrolled.verify(mfa_token, right)
    assert statuses == [401] * 5
    assert blocked.status == 429
    assert int(blocked.headers["retry-after"]) > 0
    # And after the window, a right code is checked again
    enrolled.clock.advance(900)
    assert enrolled.verify(enrolled.challenge(), enrolled.code()).status == 200


# -- disabling ---------------------------------------------------------------------------------
def test_disabling_needs_the_password_and_a_code_and_ends_other_sessions(
    enrolled: Person, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a second session of the same user
    other_session = enrolled.verify(enrolled.challenge(), enrolled.next_code()).json()["data"]
    path = "/api/v1/me/mfa/totp/disable"
    # When disabling with a wrong password, a wrong code, then both right
    wrong_password = enrolled.call(
        "POST", path, {"code": enrolled.next_code(), "password": "not-the-password-1"}
    )
    wrong_code = enrolled.call("POST", path, {"code": "000000", "password": a.STRONG_PASSWORD})
    done = enrolled.call("POST", path, {"code": enrolled.code(), "password": a.STRONG_PASSWORD})
    # Then only the last one turns MFA off
    assert (wrong_password.status, _error_code(wrong_password)) == (401, "invalid_credentials")
    assert (wrong_code.status, _error_code(wrong_code)) == (403, "invalid_mfa_code")
    assert done.status == 204
    assert enrolled.call("GET", "/api/v1/me").json()["data"]["mfa_enabled"] is False
    # And the other session is over, this one is not, and logins need the password only
    enrolled.clock.advance(3)
    other = enrolled.client.request("GET", "/api/v1/me", token=other_session["access_token"])
    assert other.status == 401
    assert enrolled.call("GET", "/api/v1/me").status == 200
    assert "access_token" in enrolled.log_in().json()["data"]
    # And it was audited
    assert _audited(caplog).count("mfa.disabled") == 1


def test_disabling_with_a_recovery_code_works(enrolled: Person) -> None:
    reply = enrolled.call(
        "POST",
        "/api/v1/me/mfa/totp/disable",
        {"code": enrolled.recovery_codes[0], "password": a.STRONG_PASSWORD},
    )
    assert reply.status == 204
    assert enrolled.call("POST", "/api/v1/me/mfa/totp/setup").status == 200  # can enrol again


def test_disabling_when_mfa_is_off_is_a_conflict(person: Person) -> None:
    reply = person.call(
        "POST", "/api/v1/me/mfa/totp/disable", {"code": "123456", "password": a.STRONG_PASSWORD}
    )
    assert (reply.status, _error_code(reply)) == (409, "conflict")


# -- workspace enforcement ---------------------------------------------------------------------
@dataclass
class Team:
    owner: Person
    member: Person


@pytest.fixture
def team(client: InProcessClient, clock: FakeClock) -> Team:
    """An owner with MFA and a member (role user) without, in the owner's workspace."""
    owner = _enrolled(client, clock)
    member = _person(client, clock)
    added = owner.call(
        "POST",
        f"/api/v1/workspaces/{owner.workspace_id}/members",
        {"email": member.email, "role": "user"},
    )
    assert added.status == 201, added.body
    return Team(owner, member)


def _require_mfa(team: Team, required: bool) -> Reply:
    return team.owner.call(
        "PATCH", f"/api/v1/workspaces/{team.owner.workspace_id}", {"require_mfa": required}
    )


def _member_reads(team: Team) -> list[Reply]:
    workspace = team.owner.workspace_id
    return [
        team.member.call("GET", f"/api/v1/workspaces/{workspace}"),
        team.member.call("GET", f"/api/v1/workspaces/{workspace}/members"),
        team.member.call("GET", "/api/v1/credentials", headers={"X-Workspace-ID": workspace}),
    ]


def test_a_workspace_requiring_mfa_refuses_members_without_it(team: Team) -> None:
    # Given a member who can read the workspace
    assert [reply.status for reply in _member_reads(team)] == [200, 200, 200]
    # When the owner (who has MFA) requires it
    changed = _require_mfa(team, True)
    assert changed.status == 200
    assert changed.json()["data"]["require_mfa"] is True
    team.owner.clock.advance(3)  # the authorizer's caches: at most 2 s old
    # Then every route of that workspace is 403 mfa_required for the member
    refused = _member_reads(team)
    assert [(reply.status, _error_code(reply)) for reply in refused] == [(403, "mfa_required")] * 3
    # And the owner, who has MFA, and the member's own account routes are unaffected
    assert team.owner.call("GET", f"/api/v1/workspaces/{team.owner.workspace_id}").status == 200
    assert team.member.call("GET", "/api/v1/me").status == 200
    listed = team.member.call("GET", "/api/v1/workspaces").json()["data"]
    assert {(ws["id"], ws["require_mfa"]) for ws in listed} >= {(team.owner.workspace_id, True)}


def test_a_member_who_turns_mfa_on_gets_the_workspace_back(team: Team) -> None:
    # Given a workspace that requires MFA, and a refused member
    assert _require_mfa(team, True).status == 200
    team.owner.clock.advance(3)
    assert _member_reads(team)[0].status == 403
    # When the member enrols
    member = team.member
    member.secret = remember(
        member.call("POST", "/api/v1/me/mfa/totp/setup").json()["data"]["secret"]
    )
    assert member.enable(member.code()).status == 200
    member.clock.advance(3)
    # Then the workspace is theirs again
    assert [reply.status for reply in _member_reads(team)] == [200, 200, 200]


def test_turning_the_requirement_off_lets_members_back(team: Team) -> None:
    assert _require_mfa(team, True).status == 200
    team.owner.clock.advance(3)
    assert _member_reads(team)[0].status == 403
    assert _require_mfa(team, False).status == 200
    team.owner.clock.advance(3)
    assert [reply.status for reply in _member_reads(team)] == [200, 200, 200]


def test_the_workspace_s_api_keys_are_unaffected(team: Team) -> None:
    # Given a key of the workspace, then MFA required
    workspace = team.owner.workspace_id
    key = team.owner.call(
        "POST",
        "/api/v1/api-keys",
        {"name": "ci", "scopes": ["credentials:read"]},
        headers={"X-Workspace-ID": workspace},
    ).json()["data"]["key"]
    assert _require_mfa(team, True).status == 200
    team.owner.clock.advance(3)
    # When the key reads / Then it is allowed: keys are not people
    reply = team.owner.client.request("GET", "/api/v1/credentials", headers={"X-API-Key": key})
    assert reply.status == 200


@pytest.mark.usefixtures("identity_env")
def test_the_mfa_life_logs_no_secret(
    client: InProcessClient,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given every function logging at DEBUG
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "DEBUG")
    a.reset_instances()
    caplog.set_level("DEBUG")
    # When a user enrols, logs in with a code and a recovery code, fails one, gets new codes
    # and turns MFA off
    user = _enrolled(client, clock)
    mfa_token = user.challenge()
    used_codes = [user.next_code(), user.next_code()]
    user.verify(mfa_token, "000000" if used_codes[0] != "000000" else "111111")
    tokens = user.verify(mfa_token, used_codes[0]).json()["data"]
    user.verify(user.challenge(), user.recovery_codes[0])
    fresh = user.call(
        "POST",
        "/api/v1/me/mfa/recovery-codes",
        {"code": used_codes[1], "password": a.STRONG_PASSWORD},
    )
    fresh_codes = fresh.json()["data"]["recovery_codes"]
    user.call(
        "POST",
        "/api/v1/me/mfa/totp/disable",
        {"code": fresh_codes[0], "password": a.STRONG_PASSWORD},
    )
    # Then the logs hold none of the secret, the codes, the MFA token or the tokens
    captured = capsys.readouterr()
    logs = captured.out + captured.err + caplog.text + str([r.__dict__ for r in caplog.records])
    assert "request handled" in logs
    for secret in [
        user.secret,
        mfa_token,
        tokens["access_token"],
        tokens["refresh_token"],
        *user.recovery_codes,
        *fresh_codes,
    ]:
        assert secret not in logs
    # (Six digits could occur inside a logged number by chance: look for them as values.)
    for code in used_codes:
        assert f'"{code}"' not in logs
        assert f"'{code}'" not in logs
