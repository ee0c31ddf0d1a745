"""Contract section 10: every security-relevant act writes one audit event, stored in its trail.

Through the gateway logic with every function in-process, on a frozen clock, each group of acts
is done with real requests, then its trail is read from the audit table itself: the exact
actions in order, who did them to what, where the request came from, a chain that verifies,
and no secret anywhere in what was stored. Requests that are refused record nothing.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyotp
import pytest

from railguard.audit.repository import audit_event, audit_head
from railguard.audit.trail import AuditLog
from railguard.crypto import opaque_tokens
from railguard.store import Item, Table
from railguard.store.keys import (
    SESSION_PREFIX,
    user_partition,
    user_trail,
    workspace_trail,
)
from tests.support import accounts as a
from tests.support.accounts import Account
from tests.support.audit import unstored_events
from tests.support.aws_calls import record_aws_calls
from tests.support.emulator import Provisioning
from tests.support.fake_time import FakeClock
from tests.support.inprocess import InProcessClient, Reply
from tests.support.plaintexts import remember

USER_AGENT = "audit-actions-test/1.0"
PASSWORD = a.STRONG_PASSWORD
NEW_PASSWORD = "green-chair-ocean-77"
WRONG_PASSWORD = "not-the-password-at-all-1"

_ADDRESSES = (f"127.2.{high}.{low}" for high, low in itertools.product(range(250), range(1, 250)))


# Trails are what is tested here, not passwords: a fast argon2 keeps sign-ups cheap.
pytestmark = pytest.mark.usefixtures("clock", "cheap_passwords")


@pytest.fixture
def audit_table(_dynamodb: Any, provisioned: Provisioning) -> Table:
    return Table(_dynamodb, provisioned.intrinsics.physical["AuditTable"].ref)


@pytest.fixture
def audit_log(audit_table: Table, table: Table) -> AuditLog:
    return AuditLog(audit_table, table)


@dataclass
class Web:
    """Requests from one source address and user agent, as one client would send them."""

    client: InProcessClient
    source_ip: str

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        return self.client.request(
            method,
            path,
            token=token,
            body=body,
            headers={"User-Agent": USER_AGENT, **(headers or {})},
            source_ip=self.source_ip,
        )

    def sign_up(self, email: str) -> dict[str, Any]:
        body = {"email": email, "password": PASSWORD, "name": "Audit Person"}
        reply = self.call("POST", "/api/v1/auth/signup", body)
        assert reply.status == 201, reply.body
        data: dict[str, Any] = reply.json()["data"]
        return data

    def log_in(self, email: str, password: str = PASSWORD) -> Reply:
        return self.call("POST", "/api/v1/auth/login", {"email": email, "password": password})

    def tokens(self, email: str) -> dict[str, str]:
        reply = self.log_in(email)
        assert reply.status == 200, reply.body
        data: dict[str, str] = reply.json()["data"]
        return data

    def in_own_workspace(self, account: Account) -> Callable[..., Reply]:
        """Calls of `account`, in the workspace made with it."""

        def call(method: str, path: str, body: Any = None) -> Reply:
            headers = {"X-Workspace-ID": account.workspace}
            return self.call(method, path, body, token=account.token, headers=headers)

        return call


@pytest.fixture
def web(client: InProcessClient) -> Web:
    """A source address no other test of this module uses: failure budgets are per address."""
    return Web(client, next(_ADDRESSES))


def _account(web: Web) -> Account:
    email = a.new_email()
    return Account.of(email, web.sign_up(email), web.tokens(email))


def _with_mfa(web: Web, clock: FakeClock, account: Account) -> tuple[pyotp.TOTP, list[str]]:
    """MFA turned on for `account`: its authenticator, and its recovery codes."""
    setup = web.call("POST", "/api/v1/me/mfa/totp/setup", token=account.token)
    assert setup.status == 200, setup.body
    totp = pyotp.TOTP(remember(setup.json()["data"]["secret"]))
    body = {"code": totp.at(clock.now()), "password": PASSWORD}
    enabled = web.call("POST", "/api/v1/me/mfa/totp/enable", body, token=account.token)
    assert enabled.status == 200, enabled.body
    return totp, [remember(code) for code in enabled.json()["data"]["recovery_codes"]]


def _trail(log: AuditLog, trail: str) -> list[Item]:
    """The trail's stored events, oldest first."""
    page = log.page(trail, action=None, limit=100, cursor=None)
    assert page.next_cursor is None
    return list(reversed(page.events))


def _actions(events: list[Item]) -> list[str]:
    return [event["action"] for event in events]


def _who(events: list[Item]) -> list[tuple[str, str, str, str]]:
    """(actor type, actor id, target type, target id) of each event."""
    return [
        (
            event["actor"]["type"],
            event["actor"]["id"],
            event["target"]["type"],
            event["target"]["id"],
        )
        for event in events
    ]


def _assert_sound(log: AuditLog, trail: str, web: Web, secrets: list[str]) -> list[Item]:
    """The trail's events came from `web`'s requests, one request each, chain intact, and no
    secret in anything stored. Returns the events, oldest first."""
    events = _trail(log, trail)
    assert events, f"nothing recorded in {trail}"
    assert {event["source_ip"] for event in events} == {web.source_ip}
    assert {event["user_agent"] for event in events} == {USER_AGENT}
    request_ids = [event["request_id"] for event in events]
    assert all(request_ids)
    assert len(set(request_ids)) == len(events)  # one event per request
    verification = log.verify(trail)
    assert verification.valid is True
    assert verification.events_checked == len(events)
    stored = str(events)
    for secret in secrets:
        assert secret not in stored
    assert "argon2" not in stored
    return events


@pytest.fixture
def stored_events(_dynamodb: Any, audit_table: Table) -> Callable[[], int]:
    """How many events the whole audit table holds (every trail), when called."""

    def count() -> int:
        counted: int = _dynamodb.scan(TableName=audit_table.name, Select="COUNT")["Count"]
        return counted

    return count


# -- the user's own trail ------------------------------------------------------------------------
def test_sign_up_logins_refresh_reuse_logout_and_password_change_are_in_the_users_trail(
    web: Web, audit_log: AuditLog, stored_events: Callable[[], int]
) -> None:
    # Given a new account
    email = a.new_email()
    signed_up = web.sign_up(email)
    user_id, workspace_id = signed_up["user"]["id"], signed_up["workspace"]["id"]
    # When an unknown email fails to log in
    before = stored_events()
    unknown = web.log_in(a.new_email(), WRONG_PASSWORD)
    # Then it is refused and nothing is stored anywhere: no account, no trail
    assert unknown.status == 401
    assert stored_events() == before
    # When the account's password is wrong, then right; the refresh token is used, then reused
    wrong = web.log_in(email, WRONG_PASSWORD)
    first = web.tokens(email)
    refreshed = web.call("POST", "/api/v1/auth/refresh", {"refresh_token": first["refresh_token"]})
    reused = web.call("POST", "/api/v1/auth/refresh", {"refresh_token": first["refresh_token"]})
    # (and again: the session is over already, so this one changes and records nothing)
    reused_again = web.call(
        "POST", "/api/v1/auth/refresh", {"refresh_token": first["refresh_token"]}
    )
    # And a second login is logged out, twice
    second = web.tokens(email)
    logout = {"refresh_token": second["refresh_token"]}
    logged_out = web.call("POST", "/api/v1/auth/logout", logout)
    logged_out_again = web.call("POST", "/api/v1/auth/logout", logout)
    # And a third login changes the password, first with a wrong current one
    third = web.tokens(email)
    refused_change = web.call(
        "POST",
        "/api/v1/me/password",
        {"current_password": WRONG_PASSWORD, "new_password": NEW_PASSWORD},
        token=third["access_token"],
    )
    changed = web.call(
        "POST",
        "/api/v1/me/password",
        {"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        token=third["access_token"],
    )
    assert (wrong.status, refreshed.status, reused.status) == (401, 200, 401)
    assert reused_again.status == 401
    assert (logged_out.status, logged_out_again.status) == (204, 204)
    assert (refused_change.status, changed.status) == (403, 204)
    # Then the user's trail holds one event per act, in order; the refused change, the second
    # logout (which ended nothing) and the refresh (not in the contract's list) hold none
    tokens = [first, refreshed.json()["data"], second, third]
    secrets = [PASSWORD, NEW_PASSWORD, WRONG_PASSWORD]
    secrets += [token[kind] for token in tokens for kind in ("access_token", "refresh_token")]
    events = _assert_sound(audit_log, user_trail(user_id), web, secrets)
    assert _actions(events) == [
        "user.signed_up",
        "auth.login_failed",
        "auth.login_succeeded",
        "auth.refresh_reused",
        "auth.login_succeeded",
        "auth.logged_out",
        "auth.login_succeeded",
        "user.password_changed",
    ]
    # And the user did each, except what an unproven caller did: known by its address only
    anonymous = ("anonymous", web.source_ip, "user", user_id)
    user = ("user", user_id, "user", user_id)
    assert _who(events) == [user, anonymous, user, anonymous, user, user, user, user]
    # And the details name the reason and the sessions, so the reuse names the first login's
    assert events[0]["details"] == {"workspace_id": workspace_id}
    assert events[1]["details"] == {"reason": "wrong_password"}
    sessions = [events[i]["details"]["session_id"] for i in (2, 4, 6)]
    assert len(set(sessions)) == 3
    assert all(session.startswith("ses_") for session in sessions)
    assert events[3]["details"] == {"session_id": sessions[0]}
    assert events[5]["details"] == {"session_id": sessions[1]}
    assert events[7]["details"] == {}
    # And the account's own workspace trail holds its creation, none of these user-level events
    assert _actions(_trail(audit_log, workspace_trail(workspace_id))) == ["workspace.created"]


def test_a_wrong_mfa_code_at_login_is_a_failure_and_the_right_one_a_success(
    web: Web, clock: FakeClock, audit_log: AuditLog
) -> None:
    # Given an account with MFA on
    account = _account(web)
    totp, recovery_codes = _with_mfa(web, clock, account)
    # When a login's challenge is answered with a wrong code, then with the next step's code
    challenge = web.log_in(account.email).json()["data"]
    assert challenge["mfa_required"] is True
    clock.advance(30)
    near = {totp.at(clock.now() + 30 * step) for step in (-2, -1, 0, 1)}
    wrong_code = next(f"{n:06d}" for n in range(1_000_000) if f"{n:06d}" not in near)
    verify = {"mfa_token": challenge["mfa_token"], "code": wrong_code}
    wrong = web.call("POST", "/api/v1/auth/mfa/verify", verify)
    right = web.call("POST", "/api/v1/auth/mfa/verify", verify | {"code": totp.at(clock.now())})
    assert (wrong.status, right.status) == (401, 200)
    # Then the password step alone recorded nothing; the wrong code is a failure on the
    # account, and the right one the login, naming its second factor
    secrets = [totp.secret, *recovery_codes, challenge["mfa_token"], account.refresh_token]
    secrets += [right.json()["data"]["access_token"], right.json()["data"]["refresh_token"]]
    events = _assert_sound(audit_log, user_trail(account.user_id), web, secrets)
    assert _actions(events) == [
        "user.signed_up",
        "auth.login_succeeded",
        "mfa.enabled",
        "auth.login_failed",
        "auth.login_succeeded",
    ]
    assert events[3]["actor"] == {"type": "anonymous", "id": web.source_ip}
    assert events[3]["target"] == {"type": "user", "id": account.user_id}
    assert events[3]["details"] == {"reason": "wrong_mfa_code"}
    assert events[4]["actor"] == {"type": "user", "id": account.user_id}
    assert events[4]["details"]["second_factor"] == "totp"
    assert "second_factor" not in events[1]["details"]


# -- a workspace's trail ---------------------------------------------------------------------------
def test_workspace_and_member_changes_are_in_the_workspaces_trail(
    web: Web, clock: FakeClock, audit_log: AuditLog
) -> None:
    # Given two accounts
    owner, other = _account(web), _account(web)

    def call(who: Account, method: str, path: str, body: Any = None) -> Reply:
        return web.call(method, path, body, token=who.token)

    # When the first creates a workspace, renames it, adds the second and promotes them
    created = call(owner, "POST", "/api/v1/workspaces", {"name": "Audit team"})
    assert created.status == 201, created.body
    workspace_id = created.json()["data"]["id"]
    path = f"/api/v1/workspaces/{workspace_id}"
    renamed = call(owner, "PATCH", path, {"name": "Renamed team"})
    added = call(owner, "POST", f"{path}/members", {"email": other.email, "role": "user"})
    added_again = call(owner, "POST", f"{path}/members", {"email": other.email, "role": "user"})
    promoted = call(owner, "PATCH", f"{path}/members/{other.user_id}", {"role": "admin"})
    clock.advance(3)  # past the authorizer's memory of the second's role
    # And the second, an admin, tries to remove the owner; ownership is handed to them
    owner_removal = call(other, "DELETE", f"{path}/members/{owner.user_id}")
    transferred = call(owner, "POST", f"{path}/transfer-ownership", {"user_id": other.user_id})
    clock.advance(3)
    # And the new owner removes the old one, who can then delete nothing, and deletes it
    removed = call(other, "DELETE", f"{path}/members/{owner.user_id}")
    clock.advance(3)
    outsider_delete = call(owner, "DELETE", path)
    deleted = call(other, "DELETE", path)
    assert (renamed.status, added.status, added_again.status, promoted.status) == (
        200,
        201,
        409,
        200,
    )
    assert (owner_removal.status, transferred.status, removed.status) == (403, 204, 204)
    assert outsider_delete.status in (403, 404)
    assert deleted.status == 204
    # Then each change is one event in the workspace's trail; the refusals recorded nothing
    secrets = [PASSWORD, owner.token, other.token]
    secrets += [owner.refresh_token, other.refresh_token]
    events = _assert_sound(audit_log, workspace_trail(workspace_id), web, secrets)
    assert _actions(events) == [
        "workspace.created",
        "workspace.updated",
        "member.added",
        "member.role_changed",
        "workspace.ownership_transferred",
        "member.removed",
        "workspace.deleted",
    ]
    first, second = owner.user_id, other.user_id
    assert _who(events) == [
        ("user", first, "workspace", workspace_id),
        ("user", first, "workspace", workspace_id),
        ("user", first, "user", second),
        ("user", first, "user", second),
        ("user", first, "workspace", workspace_id),
        ("user", second, "user", first),
        ("user", second, "workspace", workspace_id),
    ]
    assert [event["details"] for event in events] == [
        {"name": "Audit team"},
        {"name": "Renamed team"},
        {"role": "user"},
        {"old_role": "user", "new_role": "admin"},
        {"previous_owner_id": first, "new_owner_id": second},
        {"role": "admin", "reason": "removed"},
        {},
    ]
    # And none of it went to the users' own trails
    for user_id in (first, second):
        assert _actions(_trail(audit_log, user_trail(user_id))) == [
            "user.signed_up",
            "auth.login_succeeded",
        ]


def test_api_key_changes_are_in_the_workspaces_trail(web: Web, audit_log: AuditLog) -> None:
    # Given an owner and their workspace
    owner = _account(web)
    call = web.in_own_workspace(owner)

    # When a key is created, renamed, patched with nothing, and rotated
    created = call("POST", "/api/v1/api-keys", {"name": "ci", "scopes": ["agents:read"]})
    assert created.status == 201, created.body
    first = created.json()["data"]
    remember(first["key"])
    path = f"/api/v1/api-keys/{first['id']}"
    renamed = call("PATCH", path, {"name": "ci-renamed"})
    unchanged = call("PATCH", path, {})
    rotated = call("POST", f"{path}/rotate", {"grace_period_seconds": 60})
    assert rotated.status == 201, rotated.body
    second = rotated.json()["data"]
    remember(second["key"])
    # And refused: a change of the rotated key, a rotation of a key that does not exist
    refused_change = call("PATCH", path, {"name": "again"})
    unknown_rotation = call("POST", "/api/v1/api-keys/key_00000000000000000000000000/rotate")
    # And the new key is revoked twice, the old one once
    revocations = [
        call("DELETE", f"/api/v1/api-keys/{second['id']}"),
        call("DELETE", f"/api/v1/api-keys/{second['id']}"),
        call("DELETE", path),
    ]
    assert (renamed.status, unchanged.status) == (200, 200)
    assert (refused_change.status, unknown_rotation.status) == (409, 404)
    assert [reply.status for reply in revocations] == [204] * 3
    # Then one event per change, on the key it changed; a rotation names the new key
    secrets = [first["key"], second["key"], owner.token]
    secrets += [opaque_tokens.digest(first["key"]), opaque_tokens.digest(second["key"])]
    events = _assert_sound(audit_log, workspace_trail(owner.workspace), web, secrets)
    assert _actions(events[:1]) == ["workspace.created"]  # at sign-up: the trail's first
    events = events[1:]
    assert _actions(events) == [
        "api_key.created",
        "api_key.updated",
        "api_key.rotated",
        "api_key.revoked",
        "api_key.revoked",
    ]
    key_targets = [first["id"], first["id"], first["id"], second["id"], first["id"]]
    assert _who(events) == [("user", owner.user_id, "api_key", key) for key in key_targets]
    assert events[0]["details"] == {"name": "ci", "scopes": "agents:read"}
    assert events[1]["details"] == {"name": "ci-renamed", "fields": "name"}
    assert events[2]["details"]["new_key_id"] == second["id"]


def test_credential_changes_are_in_the_workspaces_trail_by_whoever_made_them(
    web: Web, audit_log: AuditLog
) -> None:
    # Given an owner, and an API key of theirs that may write credentials
    owner = _account(web)
    call = web.in_own_workspace(owner)

    issued = call("POST", "/api/v1/api-keys", {"name": "vault", "scopes": ["credentials:write"]})
    assert issued.status == 201, issued.body
    key_id, raw_key = issued.json()["data"]["id"], remember(issued.json()["data"]["key"])
    value, new_value = remember("sk-audit-first-value-0917"), remember("sk-audit-second-value-4471")
    # When the key stores a credential, and the owner changes its name and value, makes it the
    # default (twice), deletes it (twice) and restores it (twice)
    created = web.call(
        "POST",
        "/api/v1/credentials",
        {"name": "OpenAI", "type": "openai", "value": value},
        headers={"X-API-Key": raw_key},
    )
    assert created.status == 201, created.body
    credential_id = created.json()["data"]["id"]
    path = f"/api/v1/credentials/{credential_id}"
    replies = [
        call("PATCH", path, {"name": "OpenAI prod", "value": new_value}),
        call("POST", f"{path}/set-default"),
        call("POST", f"{path}/set-default"),
        call("DELETE", path),
        call("DELETE", path),
        call("POST", f"{path}/restore"),
        call("POST", f"{path}/restore"),
    ]
    # Then the repeats change nothing (the deleted is gone, the restored is no longer deleted)
    assert [reply.status for reply in replies] == [200, 200, 200, 204, 404, 200, 404]
    # And each change is one event on the credential, by the key or the owner, never a value
    secrets = [value, new_value, raw_key, owner.token, opaque_tokens.digest(raw_key)]
    events = _assert_sound(audit_log, workspace_trail(owner.workspace), web, secrets)
    assert _actions(events[:1]) == ["workspace.created"]  # at sign-up: the trail's first
    events = events[1:]
    assert _actions(events) == [
        "api_key.created",
        "credential.created",
        "credential.updated",
        "credential.updated",
        "credential.deleted",
        "credential.restored",
    ]
    by_owner = ("user", owner.user_id, "credential", credential_id)
    assert _who(events)[1:] == [("api_key", key_id, "credential", credential_id)] + [by_owner] * 4
    assert [event["details"] for event in events[1:]] == [
        {"name": "OpenAI", "type": "openai"},
        {"name": "OpenAI prod", "fields": "name value"},
        {"name": "OpenAI prod", "fields": "is_default"},
        {"name": "OpenAI prod"},
        {"name": "OpenAI prod"},
    ]


# -- acts and their events in one transaction (issue 16, finding 11) -----------------------------
def _sessions(table: Table, user_id: str) -> list[tuple[str, str]]:
    """The user's sessions and their status."""
    page = table.query(user_partition(user_id), sk_prefix=SESSION_PREFIX, limit=100)
    return sorted((item["sk"], item["status"]) for item in page.items)


def test_finding_11_a_login_or_recovery_code_use_happens_only_with_its_event(
    web: Web, clock: FakeClock, table: Table, audit_table: Table, audit_log: AuditLog
) -> None:
    """Issue 16 finding 11: logins and recovery-code use, which grant access, append their event
    in the transaction of the act, so one whose event cannot be stored does not happen (they
    were recorded after the act, which then stood). The acts that protect the user go through
    without it: test_auth's test_finding_11_a_broken_trail_stops_acts_that_grant_access_...)."""
    # Given an account with MFA on, a session whose first refresh token is spent
    account = _account(web)
    totp, recovery_codes = _with_mfa(web, clock, account)
    recovery_code = recovery_codes[0]
    refresh = {"refresh_token": account.refresh_token}
    pair = web.call("POST", "/api/v1/auth/refresh", refresh).json()["data"]
    sessions_before = _sessions(table, account.user_id)
    # And the user's trail broken: an event put past its head, so no append to it can succeed
    trail = user_trail(account.user_id)
    head = table.get(audit_head(trail))
    assert head is not None
    stray = audit_event(trail, head["seq"] + 1)
    audit_table.put({"pk": stray[0], "sk": stray[1], "seq": head["seq"] + 1, "id": "evt_stray"})
    # When an MFA login is answered with a recovery code, and with a TOTP code
    clock.advance(30)
    challenge = web.log_in(account.email).json()["data"]["mfa_token"]
    verify = "/api/v1/auth/mfa/verify"
    by_recovery = web.call("POST", verify, {"mfa_token": challenge, "code": recovery_code})
    by_totp = web.call("POST", verify, {"mfa_token": challenge, "code": totp.at(clock.now())})
    # Then each is refused, 503, and did not happen
    assert [by_recovery.status, by_totp.status] == [503, 503]
    audit_table.delete(stray)  # (an operator looked)
    clock.advance(30)
    assert _sessions(table, account.user_id) == sessions_before  # none started, none ended
    assert web.call("GET", "/api/v1/me", token=pair["access_token"]).status == 200
    again = web.log_in(account.email).json()["data"]  # the password is the old one
    assert (
        web.call("POST", verify, {"mfa_token": again["mfa_token"], "code": recovery_code}).status
        == 200
    )
    # And the trail holds neither, and verifies
    assert audit_log.verify(trail).valid is True
    assert _actions(_trail(audit_log, trail))[-3:] == [
        "mfa.enabled",
        "mfa.recovery_code_used",
        "auth.login_succeeded",
    ]


def test_finding_11_a_sign_up_is_one_transaction_with_both_its_events(
    web: Web, monkeypatch: pytest.MonkeyPatch, audit_table: Table
) -> None:
    """Issue 16 finding 11: the account, its workspace and the two events that start their
    trails (`user.signed_up`, `workspace.created`) are written together or not at all."""
    # Given a record of AWS calls
    calls = record_aws_calls(monkeypatch)
    # When someone signs up
    web.sign_up(a.new_email())
    # Then, past the count against the address's sign-up budget, one write was made: a
    # transaction that puts both events
    writes = [call for call in calls if call[1] in _WRITE_OPERATIONS]
    assert [call[1] for call in writes] == ["UpdateItem", "TransactWriteItems"]
    transaction = writes[1][2]
    assert isinstance(transaction, tuple)
    assert [entry for entry in transaction if entry[1] == audit_table.name] == [
        ("Put", audit_table.name),
        ("Put", audit_table.name),
    ]


_WRITE_OPERATIONS = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}


def test_finding_11_a_broken_workspace_trail_stops_what_grants_access_not_what_takes_it_away(
    web: Web, table: Table, audit_table: Table, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 16 finding 11 (second review): with one PutItem on the audit table, anyone holding
    a function's role can break a workspace's trail. Its owner must still be able to revoke a
    stolen key and delete a trigger, an agent UI, a credential, a member and the workspace;
    what grants access (a new key) waits for the trail to be repaired."""
    # Given an owner's workspace with a key, a trigger, an agent UI, a credential and a member
    owner = _account(web)
    member = _account(web)
    call = web.in_own_workspace(owner)

    def made(path: str, body: dict[str, Any]) -> dict[str, Any]:
        reply = call("POST", path, body)
        assert reply.status == 201, reply.body
        data: dict[str, Any] = reply.json()["data"]
        return data

    key = made("/api/v1/api-keys", {"name": "ci", "scopes": ["agents:read"]})
    remember(key["key"])
    trigger = made("/api/v1/webhook-triggers", {"name": "t", "agent_id": "agent-1"})
    remember(trigger["token"])
    agent_ui = made("/api/v1/agent-uis", {"name": "ui", "agent_id": "agent-1"})
    value = remember("sk-broken-trail-0123456789")
    credential = made("/api/v1/credentials", {"name": "c", "type": "openai", "value": value})
    members = f"/api/v1/workspaces/{owner.workspace}/members"
    added = call("POST", members, {"email": member.email, "role": "user"})
    assert added.status == 201, added.body
    # And the workspace's trail broken: an event at its next number, the head not moved
    trail = workspace_trail(owner.workspace)
    head = table.get(audit_head(trail))
    assert head is not None
    pk, sk = audit_event(trail, head["seq"] + 1)
    audit_table.put({"pk": pk, "sk": sk, "seq": head["seq"] + 1, "trail": trail})
    # When the owner creates a key / Then that waits for the trail (it grants access)
    another = call("POST", "/api/v1/api-keys", {"name": "more", "scopes": ["agents:read"]})
    assert (another.status, another.json()["error"]["code"]) == (503, "service_unavailable")
    # When the owner takes access away, each kind of it
    taken_away = [
        call("DELETE", f"/api/v1/api-keys/{key['id']}").status,
        call("DELETE", f"/api/v1/webhook-triggers/{trigger['id']}").status,
        call("DELETE", f"/api/v1/agent-uis/{agent_ui['id']}").status,
        call("DELETE", f"/api/v1/credentials/{credential['id']}").status,
        call("DELETE", f"{members}/{member.user_id}").status,
        call("DELETE", f"/api/v1/workspaces/{owner.workspace}").status,
    ]
    # Then each is done, and the key no longer opens anything
    assert taken_away == [204] * 6
    a.reset_instances()
    assert a.authorize([("X-API-Key", key["key"])]) == 401
    # And each event the trail could not take was logged at ERROR, ids only
    assert unstored_events(caplog.records) == [
        "api_key.revoked",
        "webhook_trigger.deleted",
        "agent_ui.deleted",
        "credential.deleted",
        "member.removed",
        "workspace.deleted",
    ]
