"""Contract section 6, key management: the six routes, who may call them, what they validate, and
that the raw key is shown once and stored nowhere."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from railguard.access.policy import SCOPES
from railguard.api_keys import DEFAULT_GRACE_SECONDS
from railguard.api_keys.key_format import workspace_named
from railguard.core.clock import rfc3339
from railguard.crypto import opaque_tokens
from railguard.store import Table
from tests.support import accounts as a
from tests.support.fake_time import FakeClock
from tests.support.inprocess import InProcessClient, Reply
from tests.support.plaintexts import remember

KEYS = "/api/v1/api-keys"
# 32 random base62 characters, the ULID of the key's workspace, a 6-character checksum of both.
KEY_SHAPE = re.compile(r"^pr_live_[0-9A-Za-z]{32}[0-9A-HJKMNP-TV-Z]{26}[0-9A-Za-z]{6}$")
CREATED_FIELDS = {
    "id",
    "name",
    "key",
    "key_prefix",
    "masked_key",
    "scopes",
    "allowed_ips",
    "allowed_origins",
    "expires_at",
    "rate_limit",
    "status",
    "created_at",
    "last_used_at",
    "last_used_ip",
    "last_used_user_agent",
}


# -- time and people ------------------------------------------------------------------------
# Keys are what is tested here, not passwords: a fast argon2 keeps sign-ups cheap.
pytestmark = pytest.mark.usefixtures("clock", "cheap_passwords")


Person = a.Account


@pytest.fixture
def owner(client: InProcessClient) -> Person:
    return a.new_account()


_SHARED: dict[tuple[str, str], Person] = {}


@pytest.fixture
def shared_owner(client: InProcessClient, table: Table, request: pytest.FixtureRequest) -> Person:
    """One owner for all cases of a parametrized test that leaves no key behind (or only its
    own): fewer sign-ups keep the table small, and moto copies the whole table per transaction.
    One per test function, so no owner comes near its plan's 120 requests a minute."""
    cache_key = (table.name, request.function.__name__)
    if cache_key not in _SHARED:
        _SHARED[cache_key] = a.new_account()
    return _SHARED[cache_key]


def _create(
    client: InProcessClient, person: Person, *, workspace: str | None = None, **fields: Any
) -> dict[str, Any]:
    body = {"name": "ci", "scopes": ["agents:read"], **fields}
    reply = client.request("POST", KEYS, headers=person.headers(workspace), body=body)
    assert reply.status == 201, reply.body
    data: dict[str, Any] = reply.json()["data"]
    remember(data["key"])  # the session's last check: no table holds it in plaintext
    return data


def _me(client: InProcessClient, key: str, **kwargs: Any) -> Reply:
    return client.request("GET", "/api/v1/me", headers={"X-API-Key": key}, **kwargs)


def _rotate(client: InProcessClient, person: Person, key_id: str, body: Any = None) -> Reply:
    """`POST /api-keys/{key_id}/rotate` by `person`, with `body` if any."""
    return client.request("POST", f"{KEYS}/{key_id}/rotate", headers=person.headers(), body=body)


def _error_code(reply: Reply) -> str:
    code: str = reply.json()["error"]["code"]
    return code


# -- create ---------------------------------------------------------------------------------
def test_create_returns_the_key_once_with_every_field(
    client: InProcessClient, owner: Person, clock: FakeClock
) -> None:
    # Given an owner / When they create a key with every setting
    expires = int(clock.now()) + 3600
    data = _create(
        client,
        owner,
        name="deploy bot",
        scopes=["credentials:read", "agents:read", "agents:read"],
        allowed_ips=["10.0.0.0/8", "::ffff:192.0.2.1", "2001:DB8::/32", "10.0.0.0/8"],
        allowed_origins=["https://App.Example.com:443", "http://localhost:5173"],
        expires_at=rfc3339(expires),
        rate_limit={"requests": 10, "window_seconds": 60},
    )
    # Then every contract field is there, the key has its documented shape and checksum
    assert set(data) == CREATED_FIELDS
    key = data["key"]
    assert KEY_SHAPE.match(key), key
    assert workspace_named(key) == owner.workspace  # well formed, naming its workspace
    assert data["key_prefix"] == key[:12]
    assert data["masked_key"] == f"{key[:12]}...{key[-4:]}"
    assert data["id"].startswith("key_")
    # And the settings come back canonical
    assert data["name"] == "deploy bot"
    assert data["scopes"] == ["agents:read", "credentials:read"]
    assert data["allowed_ips"] == ["10.0.0.0/8", "192.0.2.1", "2001:db8::/32"]
    assert data["allowed_origins"] == ["https://app.example.com", "http://localhost:5173"]
    assert data["expires_at"] == rfc3339(expires)
    assert data["rate_limit"] == {"requests": 10, "window_seconds": 60}
    assert data["status"] == "active"
    assert data["created_at"] == rfc3339(clock.now())
    assert data["last_used_at"] is None


def test_the_raw_key_and_its_digest_are_never_returned_again(
    client: InProcessClient, owner: Person
) -> None:
    # Given a new key
    created = _create(client, owner)
    secrets = (created["key"], opaque_tokens.digest(created["key"]))
    path = f"{KEYS}/{created['id']}"
    # When it is listed, read and changed
    replies = [
        client.request("GET", KEYS, headers=owner.headers()),
        client.request("GET", path, headers=owner.headers()),
        client.request("PATCH", path, headers=owner.headers(), body={"name": "renamed"}),
    ]
    # Then none of the answers holds the key, nor its digest, nor a `key` field
    for reply in replies:
        assert reply.status == 200, reply.body
        body = reply.body.decode()
        assert all(secret not in body for secret in secrets)
    listed = replies[0].json()["data"]
    assert [item["id"] for item in listed] == [created["id"]]
    assert all("key" not in item for item in (*listed, replies[1].json()["data"]))
    assert replies[1].json()["data"]["masked_key"] == created["masked_key"]


def test_no_stored_item_holds_the_raw_key(
    client: InProcessClient, owner: Person, table: Table
) -> None:
    # Given a created and a rotated key
    created = _create(client, owner, allowed_ips=["127.0.0.1"])
    rotated = _rotate(client, owner, created["id"])
    assert rotated.status == 201, rotated.body
    raw_keys = (created["key"], rotated.json()["data"]["key"])
    # When the whole table is read back
    items: list[dict[str, Any]] = []
    for page in table._client.get_paginator("scan").paginate(TableName=table.name):
        items.extend(page["Items"])
    # (binary attributes, such as encrypted material, are searched byte for byte too)
    stored = json.dumps(items, default=lambda raw: raw.decode("latin-1"))
    # Then the records are there (found by digest), but no raw key is, anywhere
    for raw in raw_keys:
        assert f"APIKEY#{opaque_tokens.digest(raw)}" in stored
        assert raw not in stored
        assert raw[len("pr_live_") :] not in stored  # nor its secret body without the prefix


@pytest.mark.parametrize(
    "fields",
    [
        {"scopes": ["agents:admin"]},
        {"scopes": []},
        {"scopes": ["credentials"]},
        {"scopes": ["credentials:*"]},
        {"scopes": ["credentials:read "]},
        {"scopes": ["*"]},
        {"allowed_ips": ["10.0.0.1/8"]},
        {"allowed_ips": ["010.0.0.1"]},
        {"allowed_ips": ["10.0.0.0/33"]},
        {"allowed_ips": ["10.0.0.0/-1"]},
        {"allowed_ips": ["not-an-ip"]},
        {"allowed_ips": ["example.com"]},
        {"allowed_ips": "10.0.0.1"},
        {"allowed_ips": [f"10.0.{i // 256}.{i % 256}" for i in range(101)]},
        {"allowed_origins": ["http://app.example.com"]},
        {"allowed_origins": ["https://app.example.com/path"]},
        {"allowed_origins": ["https://app.example.com/"]},
        {"allowed_origins": ["https://*.example.com"]},
        {"allowed_origins": ["*"]},
        {"allowed_origins": ["null"]},
        {"allowed_origins": ["https://a.test:443@evil.test"]},
        {"expires_at": "2001-01-01T00:00:00Z"},
        {"expires_at": "2999-01-01T00:00:00"},
        {"rate_limit": {"requests": 1000, "window_seconds": 60}},
        {"rate_limit": {"requests": 0, "window_seconds": 60}},
        {"workspace_id": "ws_01J00000000000000000000000"},
        {"status": "revoked"},
        {"name": ""},
    ],
    ids=[
        "unknown-scope",
        "no-scopes",
        "scope-without-action",
        "scope-wildcard",
        "scope-with-space",
        "star-scope",
        "ip-host-bits",
        "ip-leading-zero",
        "ip-bad-prefix",
        "ip-negative-prefix",
        "ip-junk",
        "ip-hostname",
        "ips-not-a-list",
        "ips-over-100",
        "origin-http",
        "origin-path",
        "origin-trailing-slash",
        "origin-wildcard",
        "origin-star",
        "origin-null",
        "origin-userinfo",
        "expires-in-the-past",
        "expires-naive",
        "rate-above-plan",
        "rate-zero",
        "unknown-field-workspace",
        "unknown-field-status",
        "empty-name",
    ],
)
def test_create_refuses_invalid_settings(
    client: InProcessClient, shared_owner: Person, fields: dict[str, Any]
) -> None:
    # When a key is created with one invalid setting
    body = {"name": "ci", "scopes": ["agents:read"], **fields}
    reply = client.request("POST", KEYS, headers=shared_owner.headers(), body=body)
    # Then it is a 400 validation_error, and no key exists
    assert reply.status == 400, reply.body
    assert _error_code(reply) == "validation_error"
    assert client.request("GET", KEYS, headers=shared_owner.headers()).json()["data"] == []


def test_a_rate_limit_within_the_free_plan_is_accepted(
    client: InProcessClient, owner: Person
) -> None:
    # Given a free workspace (120 requests per 60 s) / When keys narrow it, up to the plan itself
    narrow = _create(client, owner, rate_limit={"requests": 10, "window_seconds": 60})
    equal = _create(client, owner, rate_limit={"requests": 120, "window_seconds": 60})
    # Then both are kept as given
    assert narrow["rate_limit"] == {"requests": 10, "window_seconds": 60}
    assert equal["rate_limit"] == {"requests": 120, "window_seconds": 60}
    # But one request more than the plan is refused
    reply = client.request(
        "POST",
        KEYS,
        headers=owner.headers(),
        body={
            "name": "x",
            "scopes": ["agents:read"],
            "rate_limit": {"requests": 121, "window_seconds": 60},
        },
    )
    assert reply.status == 400


def test_up_to_100_allowed_ips_are_accepted(client: InProcessClient, owner: Person) -> None:
    # Given exactly the maximum of 100 entries (one more is refused above)
    ips = [f"10.0.{i // 256}.{i % 256}" for i in range(100)]
    # When a key is created with them / Then all are kept, in order
    assert _create(client, owner, allowed_ips=ips)["allowed_ips"] == ips


def test_a_long_window_cannot_buy_a_bigger_burst_than_the_plan(
    client: InProcessClient, owner: Person
) -> None:
    # Given a free workspace: at most 120 requests in any 60 s window
    body = {
        "name": "burst",
        "scopes": ["agents:read"],
        "rate_limit": {"requests": 7200, "window_seconds": 3600},
    }
    # When a key asks for the same average rate over an hour
    reply = client.request("POST", KEYS, headers=owner.headers(), body=body)
    # Then it is refused: within one minute it would allow 60 times the plan
    assert reply.status == 400, reply.body


# -- who may manage keys ----------------------------------------------------------------------
def test_an_admin_may_manage_keys_and_a_user_member_may_not(
    client: InProcessClient, owner: Person
) -> None:
    # Given an admin and a plain user in the owner's workspace
    admin, user = a.new_account(), a.new_account()
    for person, role in ((admin, "admin"), (user, "user")):
        a.add_member(client, owner, person, role)
    created = _create(client, owner)
    # When each manages keys there
    by_admin = _create(client, admin, workspace=owner.workspace)
    user_calls = [
        client.request("GET", KEYS, headers=user.headers(owner.workspace)),
        client.request(
            "POST",
            KEYS,
            headers=user.headers(owner.workspace),
            body={"name": "x", "scopes": ["agents:read"]},
        ),
        client.request("GET", f"{KEYS}/{created['id']}", headers=user.headers(owner.workspace)),
        client.request("DELETE", f"{KEYS}/{created['id']}", headers=user.headers(owner.workspace)),
    ]
    # Then the admin can, and the user gets 403 everywhere (and revoked nothing)
    assert by_admin["status"] == "active"
    assert [reply.status for reply in user_calls] == [403, 403, 403, 403]
    still = client.request("GET", f"{KEYS}/{created['id']}", headers=owner.headers())
    assert still.json()["data"]["status"] == "active"


def test_the_workspace_header_is_required_and_must_be_the_callers(
    client: InProcessClient, owner: Person
) -> None:
    # Given another person's workspace
    stranger = a.new_account()
    # When the owner lists keys without a workspace, and in the stranger's
    missing = client.request("GET", KEYS, headers={"Authorization": f"Bearer {owner.token}"})
    foreign = client.request("GET", KEYS, headers=owner.headers(stranger.workspace))
    create_foreign = client.request(
        "POST",
        KEYS,
        headers=owner.headers(stranger.workspace),
        body={"name": "x", "scopes": ["agents:read"]},
    )
    # Then 400 and 403, as the contract says
    assert missing.status == 400
    assert _error_code(missing) == "validation_error"
    assert foreign.status == 403
    assert create_foreign.status == 403
    assert client.request("GET", KEYS, headers=stranger.headers()).json()["data"] == []


def test_a_key_of_another_workspace_does_not_exist_here(
    client: InProcessClient, owner: Person
) -> None:
    # Given the owner has a second workspace B with a key in it
    other = client.request(
        "POST", "/api/v1/workspaces", headers=owner.headers(), body={"name": "B"}
    )
    assert other.status == 201, other.body
    workspace_b = other.json()["data"]["id"]
    key_b = _create(client, owner, workspace=workspace_b)
    path = f"{KEYS}/{key_b['id']}"
    # When it is addressed with workspace A's header
    replies = [
        client.request("GET", path, headers=owner.headers()),
        client.request("PATCH", path, headers=owner.headers(), body={"name": "stolen"}),
        client.request("POST", f"{path}/rotate", headers=owner.headers()),
        client.request("DELETE", path, headers=owner.headers()),
    ]
    # Then it is 404 everywhere, and unchanged in B
    assert [reply.status for reply in replies] == [404, 404, 404, 404]
    assert client.request("GET", KEYS, headers=owner.headers()).json()["data"] == []
    in_b = client.request("GET", path, headers=owner.headers(workspace_b)).json()["data"]
    assert (in_b["name"], in_b["status"]) == ("ci", "active")


def test_an_unknown_key_id_is_404(client: InProcessClient, owner: Person) -> None:
    reply = client.request("GET", f"{KEYS}/key_01J00000000000000000000000", headers=owner.headers())
    assert reply.status == 404
    assert _error_code(reply) == "not_found"


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("GET", "", None),
        ("POST", "", {"name": "x", "scopes": ["agents:read"]}),
        ("GET", "/{id}", None),
        ("PATCH", "/{id}", {"name": "x"}),
        ("POST", "/{id}/rotate", {}),
        ("DELETE", "/{id}", None),
    ],
    ids=["list", "create", "get", "patch", "rotate", "revoke"],
)
def test_an_api_key_with_every_scope_cannot_manage_keys(
    client: InProcessClient, owner: Person, method: str, suffix: str, body: Any
) -> None:
    # Given a key with every scope there is
    created = _create(client, owner, scopes=list(SCOPES))
    # When it calls a key-management route of its own workspace
    reply = client.request(
        method,
        KEYS + suffix.format(id=created["id"]),
        headers={"X-API-Key": created["key"], "X-Workspace-ID": owner.workspace},
        body=body,
    )
    # Then the authorizer refuses it, and the key is untouched
    assert reply.status == 403
    assert reply.json() == {"message": "Forbidden"}
    listed = client.request("GET", KEYS, headers=owner.headers()).json()["data"]
    assert [(item["name"], item["status"]) for item in listed] == [("ci", "active")]


# -- PATCH ----------------------------------------------------------------------------------
def test_patch_changes_only_the_fields_present(
    client: InProcessClient, owner: Person, clock: FakeClock
) -> None:
    # Given a key with every setting
    settings: dict[str, Any] = {
        "scopes": ["agents:read", "traces:read"],
        "allowed_ips": ["127.0.0.1"],
        "allowed_origins": ["https://app.example.com"],
        "expires_at": rfc3339(int(clock.now()) + 7200),
        "rate_limit": {"requests": 5, "window_seconds": 60},
    }
    created = _create(client, owner, **settings)
    # When only its name and scopes change
    reply = client.request(
        "PATCH",
        f"{KEYS}/{created['id']}",
        headers=owner.headers(),
        body={"name": "renamed", "scopes": ["traces:read"]},
    )
    # Then those changed, and everything absent is as it was
    assert reply.status == 200, reply.body
    data = reply.json()["data"]
    assert (data["name"], data["scopes"]) == ("renamed", ["traces:read"])
    for field in ("allowed_ips", "allowed_origins", "expires_at", "rate_limit", "key_prefix"):
        assert data[field] == created[field], field


def test_patch_null_clears_the_optional_settings(
    client: InProcessClient, owner: Person, clock: FakeClock
) -> None:
    # Given a key with every optional setting
    created = _create(
        client,
        owner,
        allowed_ips=["127.0.0.1"],
        allowed_origins=["https://app.example.com"],
        expires_at=rfc3339(int(clock.now()) + 7200),
        rate_limit={"requests": 5, "window_seconds": 60},
    )
    # When they are set to null
    reply = client.request(
        "PATCH",
        f"{KEYS}/{created['id']}",
        headers=owner.headers(),
        body={"allowed_ips": None, "allowed_origins": None, "expires_at": None, "rate_limit": None},
    )
    # Then they are cleared, and a later read agrees
    assert reply.status == 200, reply.body
    read = client.request("GET", f"{KEYS}/{created['id']}", headers=owner.headers())
    for data in (reply.json()["data"], read.json()["data"]):
        assert data["allowed_ips"] == []
        assert data["allowed_origins"] == []
        assert data["expires_at"] is None
        assert data["rate_limit"] is None
        assert data["name"] == "ci"


@pytest.mark.parametrize(
    "body",
    [
        {"name": None},
        {"scopes": None},
        {"scopes": ["credentials:*"]},
        {"allowed_ips": ["10.0.0.1/8"]},
        {"allowed_origins": ["http://evil.test"]},
        {"expires_at": "2001-01-01T00:00:00Z"},
        {"rate_limit": {"requests": 1000, "window_seconds": 60}},
        {"key_prefix": "pr_live_AAAA"},
    ],
    ids=[
        "null-name",
        "null-scopes",
        "bad-scope",
        "bad-ip",
        "http-origin",
        "past",
        "rate-above-plan",
        "unknown-field",
    ],
)
def test_patch_refuses_invalid_changes(
    client: InProcessClient, shared_owner: Person, body: dict[str, Any]
) -> None:
    # Given a key
    created = _create(client, shared_owner)
    # When it is patched with one invalid change
    reply = client.request(
        "PATCH", f"{KEYS}/{created['id']}", headers=shared_owner.headers(), body=body
    )
    # Then 400, and the key is unchanged
    assert reply.status == 400, reply.body
    assert _error_code(reply) == "validation_error"
    read = client.request("GET", f"{KEYS}/{created['id']}", headers=shared_owner.headers()).json()
    assert {k: v for k, v in read["data"].items() if k != "last_used_at"} == {
        k: v for k, v in created.items() if k not in {"key", "last_used_at"}
    }


def test_a_revoked_or_rotated_key_cannot_be_patched(client: InProcessClient, owner: Person) -> None:
    # Given a revoked key and a rotated key
    revoked = _create(client, owner)
    assert (
        client.request("DELETE", f"{KEYS}/{revoked['id']}", headers=owner.headers()).status == 204
    )
    rotated = _create(client, owner)
    assert _rotate(client, owner, rotated["id"]).status == 201
    # When either is patched
    replies = [
        client.request(
            "PATCH", f"{KEYS}/{key['id']}", headers=owner.headers(), body={"expires_at": None}
        )
        for key in (revoked, rotated)
    ]
    # Then 409: a change can never revive a key or lengthen a rotation
    assert [reply.status for reply in replies] == [409, 409]
    assert {_error_code(reply) for reply in replies} == {"conflict"}


# -- rotate ---------------------------------------------------------------------------------
def test_rotate_issues_a_new_key_with_the_same_settings(
    client: InProcessClient, owner: Person, clock: FakeClock
) -> None:
    # Given a key with every setting, far from its end
    created = _create(
        client,
        owner,
        name="worker",
        scopes=["agents:read", "traces:write"],
        allowed_ips=["127.0.0.0/24"],
        allowed_origins=["https://app.example.com"],
        expires_at=rfc3339(int(clock.now()) + 30 * 86400),
        rate_limit={"requests": 7, "window_seconds": 60},
    )
    clock.advance(100)
    # When it is rotated without a body (default grace)
    reply = _rotate(client, owner, created["id"])
    # Then a new key (shown this once) carries the same settings
    assert reply.status == 201, reply.body
    new = reply.json()["data"]
    assert set(new) == CREATED_FIELDS
    assert KEY_SHAPE.match(new["key"])
    assert new["key"] != created["key"]
    assert new["id"] != created["id"]
    for field in ("name", "scopes", "allowed_ips", "allowed_origins", "expires_at", "rate_limit"):
        assert new[field] == created[field], field
    assert (new["status"], new["last_used_at"]) == ("active", None)
    # And the old one now ends after the default grace period of one day
    old = client.request("GET", f"{KEYS}/{created['id']}", headers=owner.headers()).json()["data"]
    assert DEFAULT_GRACE_SECONDS == 86_400
    assert old["expires_at"] == rfc3339(int(clock.now()) + 86_400)
    assert old["status"] == "active"
    # And both are listed, the new one first
    listed = client.request("GET", KEYS, headers=owner.headers()).json()["data"]
    assert [item["id"] for item in listed] == [new["id"], created["id"]]


def test_rotation_never_extends_the_old_keys_life(
    client: InProcessClient, owner: Person, clock: FakeClock
) -> None:
    # Given a key that ends in an hour
    end = int(clock.now()) + 3600
    created = _create(client, owner, expires_at=rfc3339(end))
    # When it is rotated with a week of grace
    reply = _rotate(client, owner, created["id"], {"grace_period_seconds": 604_800})
    # Then the old one still ends in an hour, and the new one inherits that end
    assert reply.status == 201, reply.body
    old = client.request("GET", f"{KEYS}/{created['id']}", headers=owner.headers()).json()["data"]
    assert old["expires_at"] == rfc3339(end)
    assert reply.json()["data"]["expires_at"] == rfc3339(end)


def test_rotation_with_no_grace_stops_the_old_key_at_once(
    client: InProcessClient, owner: Person, clock: FakeClock
) -> None:
    # Given a key in use
    created = _create(client, owner)
    assert _me(client, created["key"]).status == 200
    # When it is rotated with no grace
    reply = _rotate(client, owner, created["id"], {"grace_period_seconds": 0})
    assert reply.status == 201, reply.body
    new_key = reply.json()["data"]["key"]
    # Then it ends now; once the authorizer's 2 s cache has aged (within the 5 s bound), 401
    old = client.request("GET", f"{KEYS}/{created['id']}", headers=owner.headers()).json()["data"]
    assert old["expires_at"] == rfc3339(clock.now())
    assert old["status"] == "expired"
    clock.advance(2.1)
    refused = _me(client, created["key"])
    assert refused.status == 401
    assert refused.json() == {"message": "Unauthorized"}
    # And the new key works
    assert _me(client, new_key).status == 200


@pytest.mark.parametrize("grace", [-1, 604_801, 1.5, None])
def test_rotate_refuses_a_grace_outside_its_range(
    client: InProcessClient, shared_owner: Person, grace: Any
) -> None:
    # Given a key
    created = _create(client, shared_owner)
    # When it is rotated with a grace period out of 0..604800 (or not an integer)
    reply = _rotate(client, shared_owner, created["id"], {"grace_period_seconds": grace})
    # Then 400, and it was not rotated
    assert reply.status == 400, reply.body
    assert _error_code(reply) == "validation_error"
    read = client.request("GET", f"{KEYS}/{created['id']}", headers=shared_owner.headers())
    assert read.json()["data"]["expires_at"] is None
    listed = client.request("GET", KEYS, headers=shared_owner.headers()).json()["data"]
    assert created["id"] == listed[0]["id"]  # no new key was issued


def test_a_rotated_or_revoked_key_cannot_be_rotated_again(
    client: InProcessClient, owner: Person
) -> None:
    # Given a key rotated once, and a revoked key
    rotated = _create(client, owner)
    assert _rotate(client, owner, rotated["id"]).status == 201
    revoked = _create(client, owner)
    assert (
        client.request("DELETE", f"{KEYS}/{revoked['id']}", headers=owner.headers()).status == 204
    )
    # When each is rotated (again) / Then 409
    again = _rotate(client, owner, rotated["id"])
    dead = _rotate(client, owner, revoked["id"])
    assert (again.status, dead.status) == (409, 409)


# -- revoke ---------------------------------------------------------------------------------
def test_revoke_is_204_keeps_the_key_listed_and_is_idempotent(
    client: InProcessClient, owner: Person
) -> None:
    # Given a key in use
    created = _create(client, owner)
    path = f"{KEYS}/{created['id']}"
    # When it is revoked, twice
    first = client.request("DELETE", path, headers=owner.headers())
    second = client.request("DELETE", path, headers=owner.headers())
    # Then both are 204 with no body, and it reads as revoked
    assert (first.status, second.status) == (204, 204)
    assert first.body == b""
    read = client.request("GET", path, headers=owner.headers())
    assert read.status == 200
    assert read.json()["data"]["status"] == "revoked"
    listed = client.request("GET", KEYS, headers=owner.headers()).json()["data"]
    assert [(item["id"], item["status"]) for item in listed] == [(created["id"], "revoked")]


def test_a_key_past_its_end_reads_as_expired(
    client: InProcessClient, owner: Person, clock: FakeClock
) -> None:
    # Given a key ending in 10 s / When the clock passes its end (no job has run)
    created = _create(client, owner, expires_at=rfc3339(int(clock.now()) + 10))
    clock.advance(10)
    # Then it reads as expired, and can no longer be changed
    read = client.request("GET", f"{KEYS}/{created['id']}", headers=owner.headers())
    assert read.json()["data"]["status"] == "expired"
    patched = client.request(
        "PATCH", f"{KEYS}/{created['id']}", headers=owner.headers(), body={"expires_at": None}
    )
    assert patched.status == 409


def test_list_pages_with_a_cursor(client: InProcessClient, owner: Person) -> None:
    # Given three keys
    ids = [_create(client, owner, name=f"k{i}")["id"] for i in range(3)]
    # When listed two at a time
    first = client.request("GET", f"{KEYS}?limit=2", headers=owner.headers()).json()
    cursor = first["meta"]["next_cursor"]
    assert cursor
    second = client.request("GET", f"{KEYS}?limit=2&cursor={cursor}", headers=owner.headers())
    # Then every key comes once, newest first
    got = [item["id"] for item in first["data"]] + [item["id"] for item in second.json()["data"]]
    assert got == ids[::-1]
    assert second.json()["meta"]["next_cursor"] is None
