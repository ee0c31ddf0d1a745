"""Contract section 4 through the real functions: signup, login, refresh, logout, /me,
password change, and the authorizer's JWT path."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence

import jwt
import pytest
from argon2 import PasswordHasher

from railguard import kinds
from railguard.access import policy
from railguard.access.throttle import ACCOUNT_SUBJECT_KEY_NAME
from railguard.audit import repository as audit_repository
from railguard.audit.trail import AuditEvent, StoredAuditTrail
from railguard.core import ids
from railguard.core.errors import ServiceUnavailable
from railguard.crypto import passwords
from railguard.identity.sessions import Sessions
from railguard.store import Table, TransactItem
from railguard.store import keys as item_keys
from railguard.workspaces.repository import member_key
from tests.support import accounts as a
from tests.support.audit import logged_events, unstored_events
from tests.support.aws_calls import record_aws_calls
from tests.support.emulator import AwsEndpoint, Provisioning
from tests.support.fake_time import FakeClock
from tests.support.functions import HttpResult
from tests.support.server_keys import keyed_hash

pytestmark = pytest.mark.usefixtures("identity_env")
_LIST_KEYS = "GET /api/v1/api-keys"  # a route that acts in the X-Workspace-ID workspace


# -- signup -----------------------------------------------------------------------------
def test_signup_creates_the_user_and_an_owned_workspace(table: Table) -> None:
    # When a new user signs up
    email = a.new_email()
    data = a.sign_up(email)
    # Then the contract's body comes back, with nothing secret in it
    assert data["user"] == {
        "id": data["user"]["id"],
        "email": email,
        "name": "Test User",
        "mfa_enabled": False,
    }
    assert data["workspace"]["role"] == "owner"
    assert data["user"]["id"].startswith("usr_")
    assert data["workspace"]["id"].startswith("ws_")
    # And the store holds the owner membership and only a hash of the password
    member = table.get(member_key(data["workspace"]["id"], data["user"]["id"]))
    assert member is not None
    assert member["role"] == "owner"
    login = table.get(item_keys.login(email))
    assert login is not None
    assert login["password_hash"].startswith("$argon2id$")
    assert a.STRONG_PASSWORD not in json.dumps(login)


def test_a_sign_up_whose_new_user_id_is_taken_is_503_and_writes_nothing(
    monkeypatch: pytest.MonkeyPatch, table: Table
) -> None:
    # Given an account, and a sign-up that will draw that account's user id as its own
    taken = a.sign_up(a.new_email())["user"]["id"]
    drawn = ids.new_id
    monkeypatch.setattr(kinds, "new_id", lambda prefix: taken if prefix == "usr" else drawn(prefix))
    # When a new email signs up
    email = a.new_email()
    result = a.post(
        "/api/v1/auth/signup",
        {"email": email, "password": a.STRONG_PASSWORD, "name": "N"},
        source_ip=a.sign_up_address(),
    )
    # Then it is a 503 to retry (not a 500, nor a 409 for an email nobody has), and nothing of it
    # is stored
    assert (result.status, result.json()["error"]["code"]) == (503, "service_unavailable")
    assert table.get(item_keys.login(email)) is None


def test_an_email_is_taken_whatever_its_case() -> None:
    email = a.new_email()
    a.sign_up(email)
    result = a.post(
        "/api/v1/auth/signup",
        {"email": email.upper(), "password": a.STRONG_PASSWORD, "name": "Other"},
        source_ip=a.sign_up_address(),
    )
    assert result.status == 409
    assert result.json()["error"]["code"] == "conflict"


@pytest.mark.parametrize(
    "password",
    ["short-pw-11", "x" * 257, "password1234", "qwertyuiop123"],
    ids=["11-chars", "257-chars", "common", "keyboard-walk"],
)
def test_weak_passwords_are_400(password: str) -> None:
    result = a.post(
        "/api/v1/auth/signup",
        {"email": a.new_email(), "password": password, "name": "Weak"},
        source_ip=a.sign_up_address(),
    )
    assert result.status == 400
    assert result.json()["error"]["code"] == "validation_error"


@pytest.mark.parametrize(
    "body",
    [
        {"email": "not-an-email", "password": a.STRONG_PASSWORD, "name": "N"},
        {"email": "a@example.com", "password": a.STRONG_PASSWORD},
        {"email": "a@example.com", "password": a.STRONG_PASSWORD, "name": ""},
        {"email": "a@example.com", "password": a.STRONG_PASSWORD, "name": "N", "role": "owner"},
    ],
    ids=["bad-email", "no-name", "empty-name", "mass-assignment"],
)
def test_invalid_signups_are_validation_errors(body: dict[str, str]) -> None:
    result = a.post("/api/v1/auth/signup", body)
    assert result.status == 400
    assert result.json()["error"]["code"] == "validation_error"


# -- login ------------------------------------------------------------------------------
def test_login_returns_a_token_pair() -> None:
    email = a.new_email()
    user_id = a.sign_up(email)["user"]["id"]
    data = a.tokens_for(email)
    assert data["token_type"] == "Bearer"
    assert data["expires_in"] == 900
    assert data["refresh_token"].startswith("rgr_")
    claims = jwt.decode(data["access_token"], options={"verify_signature": False})
    assert claims["sub"] == user_id
    assert claims["exp"] - claims["iat"] == 900
    assert jwt.get_unverified_header(data["access_token"])["typ"] == "at+jwt"


def test_a_login_upgrades_a_weaker_hash_and_still_opens_the_session(table: Table) -> None:
    # Given a user whose stored hash has weaker argon2 parameters than the current ones
    email = a.new_email()
    a.sign_up(email)
    weaker = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    table.update(
        item_keys.login(email),
        "SET password_hash = :weak",
        values={":weak": weaker.hash(a.STRONG_PASSWORD)},
    )
    # When they log in
    reply = a.log_in(email)
    # Then the session opens, and the hash was replaced by one with the current parameters
    assert reply.status == 200, reply.body
    me = a.call_me(reply.json()["data"]["access_token"])
    assert not isinstance(me, int)
    assert me.status == 200
    login = table.get(item_keys.login(email))
    assert login is not None
    assert not passwords.needs_rehash(login["password_hash"])


def test_finding_6_an_unknown_email_and_a_wrong_password_do_the_same_work(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 16 finding 6: a wrong password on an existing account and an unknown email answer
    the same, after the same AWS calls in the same order and one argon2 verification each."""
    # Given a real account, an instance that has unsealed its server keys already, a count of
    # argon2 verifications and a record of AWS calls
    email = a.new_email()
    a.sign_up(email)
    assert a.log_in(a.new_email(), "wrong-password-123", source_ip="10.9.0.9").status == 401
    verifications: list[str] = []
    real_hasher = passwords._hasher

    class CountingHasher:
        def __getattr__(self, name: str) -> object:
            return getattr(real_hasher, name)

        def verify(self, stored: str, candidate: str) -> bool:
            verifications.append(stored)
            return real_hasher.verify(stored, candidate)

    monkeypatch.setattr(passwords, "_hasher", CountingHasher())
    calls = record_aws_calls(monkeypatch)
    # When logging in with a wrong password, and with an email nobody has
    wrong = a.log_in(email, "wrong-password-123", source_ip="10.9.0.1")
    wrong_calls, after_wrong = list(calls), len(verifications)
    calls.clear()
    unknown = a.log_in(a.new_email(), "wrong-password-123", source_ip="10.9.0.2")
    # Then status and body are identical, and each did exactly one argon2 verification
    assert wrong.status == unknown.status == 401
    assert wrong.body == unknown.body
    assert wrong.json()["error"]["code"] == "invalid_credentials"
    assert after_wrong == 1
    assert len(verifications) == 2
    # And the same AWS calls, in the same order
    assert wrong_calls == calls
    assert ("dynamodb", "TransactWriteItems") in {call[:2] for call in calls}
    # And the wrong password is in the account's trail (the unknown email's attempt is nowhere)
    events = a.call_me(a.tokens_for(email)["access_token"], "GET", "/api/v1/me/security-events")
    assert not isinstance(events, int)
    actions = [event["action"] for event in events.json()["data"]]
    assert actions == ["auth.login_succeeded", "auth.login_failed", "user.signed_up"]


def test_finding_6_failed_logins_for_unknown_emails_share_no_item(
    monkeypatch: pytest.MonkeyPatch, table: Table
) -> None:
    """Issue 16 finding 6 (second review): each unknown email's failure is recorded against a
    user of its own, so concurrent ones do not contend for one placeholder trail (retries and
    pauses a timer could tell from a wrong password's)."""
    # Given the users whom failed logins are recorded against, noted
    named: list[str] = []
    record = StoredAuditTrail.record

    def noting(
        trail: StoredAuditTrail, event: AuditEvent, *, provided: Sequence[TransactItem] = ()
    ) -> None:
        named.append(event.target_id)
        record(trail, event, provided=provided)

    monkeypatch.setattr(StoredAuditTrail, "record", noting)
    # When two logins with emails nobody has fail
    for address in ("10.9.1.1", "10.9.1.2"):
        assert a.log_in(a.new_email(), "wrong-password-123", source_ip=address).status == 401
    # Then each was recorded against a user id of its own, and nothing was stored for either
    assert len(named) == len(set(named)) == 2
    for user_id in named:
        assert user_id.startswith("usr_")
        assert table.get(audit_repository.audit_head(item_keys.user_trail(user_id))) is None
        assert table.get(item_keys.user_profile(user_id)) is None


def test_finding_6_sign_ups_are_limited_per_source_address() -> None:
    """Issue 16 finding 6: `POST /auth/signup` is limited to 10 attempts an hour per address
    (an IPv6 address counts as its /64), since each tells whether an email has an account."""

    def sign_up_from(address: str, password: str = a.STRONG_PASSWORD) -> HttpResult:
        body = {"email": a.new_email(), "password": password, "name": "Many"}
        return a.post("/api/v1/auth/signup", body, source_ip=address)

    # Given nine refused sign-ups and one accepted, from addresses of one IPv6 /64
    refused = [sign_up_from(f"2001:db8:16::{n}", "password1234").status for n in range(1, 10)]
    accepted = sign_up_from("2001:db8:16::a")
    # When another address of that /64 signs up / Then 429 with Retry-After
    limited = sign_up_from("2001:db8:16::b")
    assert (refused, accepted.status) == ([400] * 9, 201)
    assert (limited.status, limited.json()["error"]["code"]) == (429, "rate_limited")
    assert 1 <= int(limited.headers["retry-after"]) <= 3600
    # And another address is not affected
    assert sign_up_from("2001:db8:17::1").status == 201


@pytest.mark.parametrize("password", ["too-short", "x" * 300, "y" * 65_000])
def test_a_login_password_of_impossible_length_is_401_like_any_wrong_password(
    password: str,
) -> None:
    email = a.new_email()
    a.sign_up(email)
    result = a.log_in(email, password, source_ip="10.30.0.1")
    assert result.status == 401
    assert result.json()["error"]["code"] == "invalid_credentials"


def test_the_account_is_throttled_after_five_failures_and_a_success_resets_it() -> None:
    # Given an account with four failures
    email = a.new_email()
    a.sign_up(email)
    for _ in range(4):
        assert a.log_in(email, "wrong-password-123").status == 401
    # When a correct login comes before the fifth failure, the count starts over
    assert a.log_in(email).status == 200
    for _ in range(5):
        assert a.log_in(email, "wrong-password-123").status == 401
    # Then after five failures even the right password is refused with 429 and Retry-After
    blocked = a.log_in(email)
    assert blocked.status == 429
    assert blocked.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(blocked.headers["retry-after"]) <= 900


def test_a_source_address_is_throttled_across_accounts() -> None:
    # Given 20 failures from one address, each against a different unknown account
    for _ in range(20):
        assert a.log_in(a.new_email(), "wrong-password-123", source_ip="10.20.0.1").status == 401
    # When that address tries again, even for a real account / Then it is refused
    email = a.new_email()
    a.sign_up(email)
    assert a.log_in(email, source_ip="10.20.0.1").status == 429
    # And another address is not affected
    assert a.log_in(email, source_ip="10.20.0.2").status == 200


def test_finding_9_the_addresses_of_one_ipv6_64_share_one_login_budget() -> None:
    # Given 20 failures, each from another address of one IPv6 /64 and for another account
    for n in range(1, 21):
        wrong = a.log_in(a.new_email(), "wrong-password-123", source_ip=f"2001:db8:20:1::{n:x}")
        assert wrong.status == 401
    # When a new address of that /64 logs in, even to a real account
    email = a.new_email()
    a.sign_up(email)
    # Then it is refused: the /64 is one budget, not 2^64 of them
    assert a.log_in(email, source_ip="2001:db8:20:1:ffff::1").status == 429
    # And an address of another /64 is not affected
    assert a.log_in(email, source_ip="2001:db8:20:2::1").status == 200


def test_finding_2_a_failed_login_stores_no_unkeyed_hash_of_the_email(
    table: Table, aws: AwsEndpoint, provisioned: Provisioning
) -> None:
    # Given a failed login for an email that has no account (a typo, say: no one has it)
    email = a.new_email()
    assert a.log_in(email, "wrong-password-123", source_ip="10.40.0.1").status == 401
    # When someone with a copy of the table hashes the addresses they want to confirm
    unkeyed = hashlib.sha256(email.encode()).hexdigest()
    # Then no item holds that hash, in a key or anywhere else
    items = table._client.scan(TableName=table.name)["Items"]
    assert unkeyed not in str(items)
    # And the account's failure budget is named by an HMAC under the sealed server key
    account = keyed_hash(aws, provisioned, table, ACCOUNT_SUBJECT_KEY_NAME).of(email)
    (counter,) = table.query(f"THROTTLE#login-account#{account}").items
    assert counter["failures"] == 1


# -- tokens at the authorizer -----------------------------------------------------------
def test_the_authorizer_passes_user_and_session_to_the_function() -> None:
    email = a.new_email()
    signup = a.sign_up(email)
    access_token = a.tokens_for(email)["access_token"]
    context = a.authorize(a.bearer(access_token))
    claims = jwt.decode(access_token, options={"verify_signature": False})
    assert context == {
        "principal_type": "user",
        "principal_id": signup["user"]["id"],
        "session_id": claims["sid"],
        "rate_limit": "120/60",  # the free plan's: no workspace is named
    }
    result = a.call_me(access_token)
    assert not isinstance(result, int)
    assert result.json()["data"] == {"type": "user", **signup["user"]}


def test_a_header_scoped_route_passes_the_members_role_and_refuses_others(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a route whose workspace comes from X-Workspace-ID (as sections 6-9 will be)
    monkeypatch.setitem(
        policy.RULES,
        "me:read",
        kinds.Rule(kinds.ANY_ROLE, "header", any_api_key=True),
    )
    alice, bob = a.new_email(), a.new_email()
    alice_ws = a.sign_up(alice)["workspace"]["id"]
    bob_ws = a.sign_up(bob)["workspace"]["id"]
    token = a.tokens_for(alice)["access_token"]
    # When Alice names her workspace / Then her role travels in the context
    own = a.authorize([*a.bearer(token), ("X-Workspace-ID", alice_ws)])
    assert isinstance(own, dict)
    assert (own["workspace_id"], own["role"]) == (alice_ws, "owner")
    # When she names Bob's, a non-existent or a malformed one / Then 403
    assert a.authorize([*a.bearer(token), ("X-Workspace-ID", bob_ws)]) == 403
    missing = "ws_01ZZZZZZZZZZZZZZZZZZZZZZZZ"
    assert a.authorize([*a.bearer(token), ("X-Workspace-ID", missing)]) == 403
    assert a.authorize([*a.bearer(token), ("X-Workspace-ID", "../../etc")]) == 403
    # When she names none / Then she passes without a workspace, and the function says 400
    assert "workspace_id" not in a.authorize(a.bearer(token))  # type: ignore[operator]
    result = a.call_me(token)
    assert not isinstance(result, int)
    assert result.status == 400


def test_a_route_without_a_workspace_ignores_the_header() -> None:
    email = a.new_email()
    a.sign_up(email)
    token = a.tokens_for(email)["access_token"]
    context = a.authorize([*a.bearer(token), ("X-Workspace-ID", "ws_01ZZZZZZZZZZZZZZZZZZZZZZZZ")])
    assert isinstance(context, dict)
    assert "workspace_id" not in context


def _forged(access_token: str, **changes: object) -> str:
    header_b64, payload_b64, signature = access_token.split(".")
    payload = json.loads(base64.urlsafe_b64decode(payload_b64 + "=="))
    payload.update(changes)
    encoded = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    return f"{header_b64}.{encoded}.{signature}"


def test_tampered_and_foreign_tokens_are_401() -> None:
    email = a.new_email()
    a.sign_up(email)
    token = a.tokens_for(email)["access_token"]
    refresh_token = a.tokens_for(email)["refresh_token"]
    none_header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"at+jwt"}').rstrip(b"=")
    candidates = {
        "tampered-sub": _forged(token, sub="usr_01ZZZZZZZZZZZZZZZZZZZZZZZZ"),
        "tampered-exp": _forged(token, exp=4102444800),
        "alg-none": f"{none_header.decode()}.{token.split('.')[1]}.",
        "refresh-token-as-access-token": refresh_token,
        "truncated-signature": token[:-4],
    }
    for name, candidate in candidates.items():
        assert a.authorize(a.bearer(candidate)) == 401, name


# -- refresh and logout ----------------------------------------------------------------
def test_a_refresh_spends_the_old_token_and_reuse_revokes_the_family() -> None:
    # Given a session and one refresh, and another login of the same user
    email = a.new_email()
    user_id = a.sign_up(email)["user"]["id"]
    first = a.tokens_for(email)
    other = a.tokens_for(email)
    second = a.post("/api/v1/auth/refresh", {"refresh_token": first["refresh_token"]})
    assert second.status == 200
    rotated = second.json()["data"]
    assert rotated["refresh_token"] != first["refresh_token"]
    # When the spent token is presented again
    reuse = a.post("/api/v1/auth/refresh", {"refresh_token": first["refresh_token"]})
    # Then it is refused, and so is everything of that login: the newest refresh token...
    assert reuse.status == 401
    assert reuse.json()["error"]["code"] == "invalid_refresh_token"
    assert a.post("/api/v1/auth/refresh", {"refresh_token": rotated["refresh_token"]}).status == 401
    # ...and its access tokens, at the authorizer (a fresh instance: no cached state)
    a.reset_instances()
    assert a.authorize(a.bearer(rotated["access_token"])) == 401
    # While the other login of the same user is untouched: let through as itself (a fail-closed
    # 403 would not be "untouched")
    other_claims = jwt.decode(other["access_token"], options={"verify_signature": False})
    assert a.authorize(a.bearer(other["access_token"])) == {
        "principal_type": "user",
        "principal_id": user_id,
        "session_id": other_claims["sid"],
        "rate_limit": "120/60",
    }
    assert a.post("/api/v1/auth/refresh", {"refresh_token": other["refresh_token"]}).status == 200


@pytest.mark.parametrize("token", ["", "rgr_short", "rgr_" + "A" * 43, "x" * 300])
def test_unknown_or_malformed_refresh_tokens_are_401(token: str) -> None:
    result = a.post("/api/v1/auth/refresh", {"refresh_token": token})
    assert result.status == 401


def test_logout_ends_the_refresh_and_access_tokens_of_that_login() -> None:
    email = a.new_email()
    a.sign_up(email)
    session = a.tokens_for(email)
    other = a.tokens_for(email)
    result = a.post("/api/v1/auth/logout", {"refresh_token": session["refresh_token"]})
    assert (result.status, result.body) == (204, "")
    assert a.post("/api/v1/auth/refresh", {"refresh_token": session["refresh_token"]}).status == 401
    a.reset_instances()
    assert a.authorize(a.bearer(session["access_token"])) == 401
    assert isinstance(a.authorize(a.bearer(other["access_token"])), dict)


def test_logout_with_an_unknown_token_is_still_204() -> None:
    result = a.post("/api/v1/auth/logout", {"refresh_token": "rgr_" + "B" * 43})
    assert result.status == 204


# -- password change --------------------------------------------------------------------
NEW_PASSWORD = "green-lamp-harbor-77"


def _password_change(
    access_token: str, current: str = a.STRONG_PASSWORD, new: str = NEW_PASSWORD
) -> HttpResult:
    """The change of password a session asks for, through the authorizer; the answer."""
    body = {"current_password": current, "new_password": new}
    result = a.call_me(access_token, "POST", "/api/v1/me/password", body)
    assert not isinstance(result, int)
    return result


def test_a_password_change_revokes_every_session_and_swaps_the_password() -> None:
    email = a.new_email()
    a.sign_up(email)
    first, second = a.tokens_for(email), a.tokens_for(email)
    result = _password_change(first["access_token"])
    assert result.status == 204
    a.reset_instances()
    for session in (first, second):
        assert a.authorize(a.bearer(session["access_token"])) == 401
        assert (
            a.post("/api/v1/auth/refresh", {"refresh_token": session["refresh_token"]}).status
            == 401
        )
    assert a.log_in(email).status == 401
    assert a.log_in(email, NEW_PASSWORD).status == 200


@pytest.mark.usefixtures("clock")
def test_finding_8_a_password_change_cut_short_still_ends_every_older_session(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 16 finding 8: the new hash is stored with a new session generation, so sessions
    started before the change are refused by the authorizer and by refresh whatever became of
    the rest of the change; sessions started after it, in the same second, are not."""
    # Given two sessions, on a clock that stands still (all of this in one second)
    email = a.new_email()
    workspace_id = a.sign_up(email)["workspace"]["id"]
    first, second = a.tokens_for(email), a.tokens_for(email)

    # When a password change stores the new hash, then stops before revoking sessions one by one
    def cut_short(*_args: object, **_kwargs: object) -> int:
        raise RuntimeError("the function stopped here")

    monkeypatch.setattr(Sessions, "end_all", cut_short)
    result = _password_change(first["access_token"])
    assert result.status == 500
    # Then neither older session acts any more, with or without a workspace, nor refreshes
    a.reset_instances()
    in_workspace = [("X-Workspace-ID", workspace_id)]
    for session in (first, second):
        assert a.authorize(a.bearer(session["access_token"])) == 401
        assert a.authorize([*a.bearer(session["access_token"]), *in_workspace], _LIST_KEYS) == 401
        refresh = a.post("/api/v1/auth/refresh", {"refresh_token": session["refresh_token"]})
        assert (refresh.status, refresh.json()["error"]["code"]) == (401, "invalid_refresh_token")
    # And a session started after the change, in the same second, acts and refreshes
    third = a.tokens_for(email, NEW_PASSWORD)
    assert isinstance(a.authorize(a.bearer(third["access_token"])), dict)
    assert isinstance(
        a.authorize([*a.bearer(third["access_token"]), *in_workspace], _LIST_KEYS), dict
    )
    assert a.post("/api/v1/auth/refresh", {"refresh_token": third["refresh_token"]}).status == 200


def _break_trail(table: Table, audit_table: Table, user_id: str) -> None:
    """What any function's role can do with one PutItem: an event at the user's trail's next
    number, without moving the head, so that every later append to the trail fails."""
    trail = item_keys.user_trail(user_id)
    head = table.get(audit_repository.audit_head(trail))
    assert head is not None
    pk, sk = audit_repository.audit_event(trail, head["seq"] + 1)
    audit_table.put({"pk": pk, "sk": sk, "seq": head["seq"] + 1, "trail": trail})


def test_finding_11_a_broken_trail_stops_acts_that_grant_access_not_those_that_protect(
    table: Table, audit_table: Table, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 16 finding 11 (second review): breaking a user's trail must not keep a thief's
    session alive. A logout, a reused refresh token and a password change go through without
    their event (logged at ERROR); a login, which grants access, is refused with a 503."""
    # Given a user's session, a thief's, one to log out and one whose refresh token is spent
    email = a.new_email()
    user_id = a.sign_up(email)["user"]["id"]
    owner, thief, leaving, spent = (a.tokens_for(email) for _ in range(4))
    rotated = a.post("/api/v1/auth/refresh", {"refresh_token": spent["refresh_token"]})
    assert rotated.status == 200
    # And the user's trail broken
    _break_trail(table, audit_table, user_id)
    # When one session logs out and the spent refresh token is presented again
    logout = a.post("/api/v1/auth/logout", {"refresh_token": leaving["refresh_token"]})
    reuse = a.post("/api/v1/auth/refresh", {"refresh_token": spent["refresh_token"]})
    # Then the logout is done, and the reuse ends its session, while the thief's goes on
    assert (logout.status, logout.body) == (204, "")
    assert (reuse.status, reuse.json()["error"]["code"]) == (401, "invalid_refresh_token")
    a.reset_instances()
    assert a.authorize(a.bearer(leaving["access_token"])) == 401
    assert a.authorize(a.bearer(rotated.json()["data"]["access_token"])) == 401
    assert isinstance(a.authorize(a.bearer(thief["access_token"])), dict)
    # When the owner changes the password
    changed = _password_change(owner["access_token"])
    # Then it is done, and every session ends, the thief's included, refresh tokens too
    assert changed.status == 204
    a.reset_instances()
    for session in (owner, thief):
        assert a.authorize(a.bearer(session["access_token"])) == 401
        refresh = a.post("/api/v1/auth/refresh", {"refresh_token": session["refresh_token"]})
        assert (refresh.status, refresh.json()["error"]["code"]) == (401, "invalid_refresh_token")
    assert a.log_in(email).status == 401
    # And each event the trail could not take was logged at ERROR (the old password's failed
    # login too, as always)
    assert unstored_events(caplog.records) == [
        "auth.logged_out",
        "auth.refresh_reused",
        "user.password_changed",
        "auth.login_failed",
    ]
    # While a login with the new password, which grants access, is refused until someone looks
    login = a.log_in(email, NEW_PASSWORD)
    assert (login.status, login.json()["error"]["code"]) == (503, "service_unavailable")


def _change_password(current: str, new: str) -> tuple[str, HttpResult]:
    """Sign up, log in, and ask to change the password; the email and the answer."""
    email = a.new_email()
    a.sign_up(email)
    return email, _password_change(a.tokens_for(email)["access_token"], current, new)


def test_a_wrong_current_password_is_403_and_changes_nothing() -> None:
    email, result = _change_password("not-my-password-1", "green-lamp-harbor-77")
    assert result.status == 403
    assert result.json()["error"]["code"] == "invalid_current_password"
    assert a.log_in(email).status == 200


def test_a_weak_new_password_is_400_and_changes_nothing() -> None:
    email, result = _change_password(a.STRONG_PASSWORD, "password1234")
    assert result.status == 400
    assert result.json()["error"]["details"]["field"] == "new_password"
    assert a.log_in(email).status == 200


# -- JWKS ---------------------------------------------------------------------------------
def test_tokens_verify_against_the_published_jwks_with_an_independent_verifier() -> None:
    email = a.new_email()
    a.sign_up(email)
    token = a.tokens_for(email)["access_token"]
    request = a.HttpRequest("GET", "/.well-known/jwks.json")
    result = a.call_route(a.auth.lambda_handler, request, "GET /.well-known/jwks.json")
    keys = result.json()["keys"]
    assert "data" not in result.json()
    kid = jwt.get_unverified_header(token)["kid"]
    jwk = next(key for key in keys if key["kid"] == kid)
    assert set(jwk) == {"kty", "crv", "x", "y", "kid", "use", "alg"}  # no private "d"
    public_key = jwt.PyJWK(jwk).key
    claims = jwt.decode(
        token,
        public_key,
        algorithms=["ES256"],
        audience="urn:railguard:dev:api",
        issuer="urn:railguard:dev",
    )
    assert claims["sid"].startswith("ses_")


# -- browser sessions (contract section 4, v1.1) -------------------------------------------
THIRTY_DAYS = 30 * 24 * 3600
DAY = 24 * 3600


def _refresh_cookie(token: str, max_age: int, *, secure: bool = True) -> str:
    return (
        f"rg_refresh={token}; Path=/api/v1/auth; Max-Age={max_age}; HttpOnly"
        + ("; Secure" if secure else "")
        + "; SameSite=Strict"
    )


@pytest.mark.usefixtures("clock")
@pytest.mark.parametrize(
    ("scheme", "host", "secure"),
    [
        ("https", "api.railguard.example", True),
        ("http", "127.0.0.1:3000", False),
        ("http", "localhost:3000", False),
        ("http", "[::1]:3000", False),
        ("http", "railguard.example:3000", True),
    ],
)
def test_a_browser_login_gets_its_refresh_token_as_a_cookie_not_in_the_body(
    scheme: str, host: str, secure: bool
) -> None:
    # Given an account
    email = a.new_email()
    a.sign_up(email)
    # When a browser logs in, reaching the API by `scheme` at `host`
    result = a.browser_login(email, ("Host", host), scheme=scheme)
    # Then the refresh token is a cookie with every attribute, Secure unless plain HTTP to a
    # loopback address, living the session's 30 days; the body has no refresh token
    assert result.status == 200
    token = a.cookie_token(result)
    assert result.cookies == (_refresh_cookie(token, THIRTY_DAYS, secure=secure),)
    data = result.json()["data"]
    assert set(data) == {"access_token", "token_type", "expires_in"}
    assert (data["token_type"], data["expires_in"]) == ("Bearer", 900)
    # And the cookie's token is the session's refresh token
    assert a.post("/api/v1/auth/refresh", {"refresh_token": token}).status == 200


def test_a_json_login_sets_no_cookie() -> None:
    # Given an account
    email = a.new_email()
    a.sign_up(email)
    # When it logs in without the browser header (or with another value)
    for headers in [(), (("X-Railguard-Client", "Browser"),)]:
        result = a.post(
            "/api/v1/auth/login", {"email": email, "password": a.STRONG_PASSWORD}, headers=headers
        )
        # Then the JSON flow: the refresh token in the body, no cookie
        assert result.status == 200
        assert result.cookies == ()
        assert result.json()["data"]["refresh_token"].startswith("rgr_")


def test_a_refresh_by_cookie_rotates_and_reusing_the_old_cookie_revokes_the_family(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a browser session, a day old
    email = a.new_email()
    a.sign_up(email)
    caplog.clear()
    first = a.cookie_token(a.browser_login(email))
    clock.advance(DAY)
    # When it refreshes by its cookie
    rotated = a.by_cookie("/api/v1/auth/refresh", first, a.BROWSER)
    # Then a new token in the cookie, living what is left of the 30 days, none in the body
    assert rotated.status == 200
    second = a.cookie_token(rotated)
    assert second != first
    assert rotated.cookies == (_refresh_cookie(second, THIRTY_DAYS - DAY),)
    assert set(rotated.json()["data"]) == {"access_token", "token_type", "expires_in"}
    # And the old cookie is spent: presenting it again is reuse, which ends the whole session
    reuse = a.by_cookie("/api/v1/auth/refresh", first, a.BROWSER)
    assert (reuse.status, reuse.json()["error"]["code"]) == (401, "invalid_refresh_token")
    assert a.by_cookie("/api/v1/auth/refresh", second, a.BROWSER).status == 401
    a.reset_instances()
    assert a.authorize(a.bearer(rotated.json()["data"]["access_token"])) == 401
    # And the trail has the JSON flow's events, no others
    assert logged_events(caplog.records) == ["auth.login_succeeded", "auth.refresh_reused"]


@pytest.mark.parametrize("path", ["/api/v1/auth/refresh", "/api/v1/auth/logout"])
def test_the_cookie_without_the_browser_header_is_403_csrf_and_spends_nothing(path: str) -> None:
    # Given a browser session
    email = a.new_email()
    a.sign_up(email)
    login = a.browser_login(email)
    token = a.cookie_token(login)
    # When its cookie is sent without the header (as a cross-site form would)
    result = a.by_cookie(path, token)
    # Then it is refused as a forgery, and the cookie is left alone
    assert result.status == 403
    assert result.json()["error"]["code"] == "csrf"
    assert result.cookies == ()
    # And nothing was spent: the session and its token still work
    a.reset_instances()
    assert isinstance(a.authorize(a.bearer(login.json()["data"]["access_token"])), dict)
    assert a.by_cookie("/api/v1/auth/refresh", token, a.BROWSER).status == 200


def test_a_browser_logout_by_cookie_ends_the_session_and_clears_the_cookie(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given a browser session, and another login of the same user
    email = a.new_email()
    a.sign_up(email)
    caplog.clear()
    login = a.browser_login(email)
    token = a.cookie_token(login)
    other = a.tokens_for(email)
    # When the browser logs out by its cookie
    result = a.by_cookie("/api/v1/auth/logout", token, a.BROWSER)
    # Then 204, and the cookie is cleared with the same attributes
    assert (result.status, result.body) == (204, "")
    assert result.cookies == (_refresh_cookie("", 0),)
    # And that login's refresh and access tokens stop, as a JSON logout's do; the other's do not
    assert a.by_cookie("/api/v1/auth/refresh", token, a.BROWSER).status == 401
    a.reset_instances()
    assert a.authorize(a.bearer(login.json()["data"]["access_token"])) == 401
    assert isinstance(a.authorize(a.bearer(other["access_token"])), dict)
    assert logged_events(caplog.records) == [
        "auth.login_succeeded",
        "auth.login_succeeded",
        "auth.logged_out",
    ]


def test_a_browser_without_one_usable_cookie_is_401_on_refresh() -> None:
    path = "/api/v1/auth/refresh"
    # Given a browser session
    email = a.new_email()
    a.sign_up(email)
    token = a.cookie_token(a.browser_login(email))
    # When a browser sends no cookie, or two of them (which one is meant is not guessed)
    missing = a.post(path, None, headers=[a.BROWSER])
    several = a.post(
        path, None, headers=[a.BROWSER, ("Cookie", f"rg_refresh={token}; rg_refresh=rgr_other")]
    )
    # Then both are refused as a refresh with an unknown token is
    for result in (missing, several):
        assert (result.status, result.json()["error"]["code"]) == (401, "invalid_refresh_token")
    # And the session's token was not spent
    assert a.by_cookie("/api/v1/auth/refresh", token, a.BROWSER).status == 200


def test_a_browser_logout_ends_every_session_its_cookies_name_and_always_clears() -> None:
    # Given a browser session, and a cookie planted beside its own (cookie tossing)
    email = a.new_email()
    a.sign_up(email)
    login = a.browser_login(email)
    token = a.cookie_token(login)
    tossed = ("Cookie", f"rg_refresh=rgr_planted; rg_refresh={token}")
    # When the browser logs out with both, and again with none
    both = a.post("/api/v1/auth/logout", None, headers=[a.BROWSER, tossed])
    none = a.post("/api/v1/auth/logout", None, headers=[a.BROWSER])
    # Then each is a 204 that clears the cookie, and the real session has ended
    for result in (both, none):
        assert (result.status, result.cookies) == (204, (_refresh_cookie("", 0),))
    assert a.by_cookie("/api/v1/auth/refresh", token, a.BROWSER).status == 401
    a.reset_instances()
    assert a.authorize(a.bearer(login.json()["data"]["access_token"])) == 401


def test_a_cookie_whose_session_cannot_end_now_does_not_keep_the_real_one_alive(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a browser session, and beside its cookie a valid one of another account, planted
    # first, whose session cannot be ended now (its trail is busy)
    email, attacker = a.new_email(), a.new_email()
    a.sign_up(email)
    a.sign_up(attacker)
    login = a.browser_login(email)
    token = a.cookie_token(login)
    planted = a.tokens_for(attacker)["refresh_token"]
    original_end = Sessions.end

    def end(self: Sessions, refresh_token: str) -> None:
        if refresh_token == planted:
            raise ServiceUnavailable
        original_end(self, refresh_token)

    monkeypatch.setattr(Sessions, "end", end)
    cookies = ("Cookie", f"rg_refresh={planted}; rg_refresh={token}")
    # When the browser logs out
    result = a.post("/api/v1/auth/logout", None, headers=[a.BROWSER, cookies])
    # Then the failure is reported (503, to retry), but the real session has ended anyway
    assert result.status == 503
    assert a.by_cookie("/api/v1/auth/refresh", token, a.BROWSER).status == 401
    a.reset_instances()
    assert a.authorize(a.bearer(login.json()["data"]["access_token"])) == 401


def test_a_logout_ends_each_cookie_once_whatever_the_copies(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given two browser sessions
    email = a.new_email()
    a.sign_up(email)
    once, repeated = (a.cookie_token(a.browser_login(email)) for _ in range(2))
    caplog.clear()
    calls = record_aws_calls(monkeypatch)
    # When one logs out with its cookie, and the other with a header repeating its own 50 times
    assert a.by_cookie("/api/v1/auth/logout", once, a.BROWSER).status == 204
    single = list(calls)
    copies = ("Cookie", "; ".join([f"rg_refresh={repeated}"] * 50))
    result = a.post("/api/v1/auth/logout", None, headers=[a.BROWSER, copies])
    # Then each ended once, with one event, and the copies cost no call more than one cookie
    assert result.status == 204
    assert logged_events(caplog.records) == ["auth.logged_out", "auth.logged_out"]
    assert calls[len(single) :] == single


@pytest.mark.parametrize("path", ["/api/v1/auth/refresh", "/api/v1/auth/logout"])
@pytest.mark.parametrize("body", [None, {}])
def test_a_json_client_without_a_token_is_still_400(path: str, body: dict[str, str] | None) -> None:
    # When a refresh or logout has no token, no cookie and no browser header
    result = a.post(path, body)
    # Then it is the validation error it always was, naming the missing field
    assert result.status == 400
    error = result.json()["error"]
    assert error["code"] == "validation_error"
    assert [field["field"] for field in error["details"]["fields"]] == ["body.refresh_token"]


@pytest.mark.usefixtures("clock")
def test_a_body_token_is_the_json_flow_and_the_browser_header_moves_the_new_one_to_a_cookie() -> (
    None
):
    # Given two logins by JSON
    email = a.new_email()
    a.sign_up(email)
    json_client, browser = a.tokens_for(email), a.tokens_for(email)
    # When one refreshes with its body token and no header, and the other with the header
    plain = a.post("/api/v1/auth/refresh", {"refresh_token": json_client["refresh_token"]})
    moved = a.post(
        "/api/v1/auth/refresh", {"refresh_token": browser["refresh_token"]}, headers=[a.BROWSER]
    )
    # Then the first is the JSON flow: the new token in the body, no cookie
    assert plain.status == 200
    assert plain.cookies == ()
    assert plain.json()["data"]["refresh_token"].startswith("rgr_")
    # And the second gets its new token as the cookie, and none in the body
    assert moved.status == 200
    assert moved.cookies == (_refresh_cookie(a.cookie_token(moved), THIRTY_DAYS),)
    assert "refresh_token" not in moved.json()["data"]
