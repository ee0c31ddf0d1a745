"""Contract sections 2, 6 and 11 at the gateway: the authorizer's API-key path (shape before any
read, status and expiry against the clock, workspace, source IP, Origin, scopes, failing closed),
`last_used_at`, the rate limits functions enforce for it, and CORS preflights."""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import pytest
from botocore.exceptions import ClientError, ReadTimeoutError

from railguard.access.plans import RateLimit, plan_terms
from railguard.access.ratelimit import RateLimiter
from railguard.api_keys import API_KEY_PREFIX
from railguard.api_keys.key_format import new_key, workspace_named
from railguard.authorizer.decision import STATE_MAX_AGE_SECONDS, Authorizer
from railguard.core.clock import SystemClock, rfc3339
from railguard.crypto import opaque_tokens
from railguard.kinds import WORKSPACE
from railguard.store import Table
from railguard.store import keys as item_keys
from tests.support import accounts as a
from tests.support.aws_calls import record_whole_aws_calls
from tests.support.consistency import written_keys
from tests.support.fake_time import FakeClock
from tests.support.faults import Call
from tests.support.functions import load_function
from tests.support.inprocess import InProcessClient, Reply
from tests.support.origins import MALFORMED_ORIGINS

KEYS = "/api/v1/api-keys"
ME = "/api/v1/me"
ORIGIN = "https://app.example.com"
UNAUTHORIZED = {"message": "Unauthorized"}
FORBIDDEN = {"message": "Forbidden"}
# Past the authorizer's cache age (2 s), within the contract's 5 s bound for changes.
CACHE_AGED = STATE_MAX_AGE_SECONDS + 0.1


# -- time and people ------------------------------------------------------------------------
# Keys are what is tested here, not passwords: a fast argon2 keeps sign-ups cheap.
pytestmark = pytest.mark.usefixtures("clock", "cheap_passwords")


Owner = a.Account


@pytest.fixture
def owner(client: InProcessClient) -> Owner:
    return a.new_account()


_SHARED: dict[str, tuple[Owner, float]] = {}
_SLOTS_A_TEST_NEEDS = 5


def _slots_left(table: Table, workspace_id: str) -> int:
    workspace = table.get(item_keys.workspace(workspace_id)) or {}
    return plan_terms(workspace.get("plan")).max_active_keys - int(workspace.get("active_keys", 0))


_TOKEN_REUSE_SECONDS = 600  # access tokens live 900 s of the (moving) fake clock


@pytest.fixture
def shared_owner(client: InProcessClient, table: Table, clock: FakeClock) -> Owner:
    """An owner for tests that only create keys (one sign-up instead of many: moto copies the
    whole table per transaction). Only key requests count against keys' limits. A new access
    token when the module's clock has moved on far enough to age the last one; a new owner when
    the workspace nears its plan's cap on active keys (no test here creates more than a few)."""
    cached = _SHARED.get(table.name)
    if cached is None or _slots_left(table, cached[0].workspace) < _SLOTS_A_TEST_NEEDS:
        _SHARED[table.name] = cached = (a.new_account(), clock.now())
    person, issued_at = cached
    if clock.now() - issued_at > _TOKEN_REUSE_SECONDS:
        person = replace(person, token=a.tokens_for(person.email)["access_token"])
        _SHARED[table.name] = (person, clock.now())
    return person


def _create(client: InProcessClient, owner: Owner, **fields: Any) -> dict[str, Any]:
    body = {"name": "ci", "scopes": ["agents:read"], **fields}
    reply = client.request("POST", KEYS, headers=owner.headers(), body=body)
    assert reply.status == 201, reply.body
    data: dict[str, Any] = reply.json()["data"]
    return data


def _me(
    client: InProcessClient, key: str, headers: dict[str, str] | None = None, **kwargs: Any
) -> Reply:
    return client.request("GET", ME, headers={"X-API-Key": key, **(headers or {})}, **kwargs)


def _in_use(client: InProcessClient, owner: Owner, **fields: Any) -> dict[str, Any]:
    """A new key (see `_create`) that has answered a request: the authorizer has its record
    cached."""
    created = _create(client, owner, **fields)
    assert _me(client, created["key"]).status == 200
    return created


def _revoke(client: InProcessClient, owner: Owner, key_id: str) -> None:
    reply = client.request("DELETE", f"{KEYS}/{key_id}", headers=owner.headers())
    assert reply.status == 204, reply.body


# -- DynamoDB calls the authorizer makes --------------------------------------------------------
class CallCounter:
    """Counts the authorizer's DynamoDB API calls by operation, through botocore's event hooks."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, model: Any, **_kwargs: Any) -> None:
        self.calls.append(model.name)

    def count(self, operation: str | None = None) -> int:
        return len([call for call in self.calls if operation in (None, call)])


def _authorizer_client() -> Any:
    """The authorizer instance's DynamoDB client (it exists once the instance has run)."""
    # (private attributes: the instance keeps its runtime, and the runtime its client)
    runtime = a.authorizer.authorizer._runtime
    assert runtime is not None, "invoke the authorizer first"
    return runtime.table._client


@pytest.fixture
def authorizer_calls(client: InProcessClient) -> Iterator[CallCounter]:
    """A warm authorizer instance, and a count of every DynamoDB call it makes from now on."""
    # An unknown but well-formed key: the instance starts, and reads the table once.
    assert _me(client, _unknown_key()).status == 401
    counter = CallCounter()
    events = _authorizer_client().meta.events
    events.register("before-call.dynamodb", counter)
    yield counter
    events.unregister("before-call.dynamodb", counter)


# -- the key's shape, before any read -----------------------------------------------------------
def _unknown_key() -> str:
    """A well-formed key never issued, of a workspace that does not exist."""
    return new_key(WORKSPACE.new_id())


def _malformed(valid: str) -> dict[str, str]:
    body = valid[len(API_KEY_PREFIX) :]
    last = valid[-1]
    other = "A" if last != "A" else "B"
    first = body[0]
    return {
        "bad-checksum": valid[:-1] + other,
        "typo-in-body": API_KEY_PREFIX + ("x" if first != "x" else "y") + body[1:],
        "one-short": valid[:-1],
        "one-long": valid + "A",
        "bad-alphabet": API_KEY_PREFIX + "-" + body[1:],
        "wrong-prefix": "pr_test_" + body,
        "upper-prefix": "PR_LIVE_" + body,
        "no-prefix": body,
        # A valid checksum, but no workspace id where the key names one, or no room for one (a
        # key of the format before keys named their workspace)
        "names-no-workspace-id": opaque_tokens.new_token(API_KEY_PREFIX, "Z" * 26),
        "names-nothing": opaque_tokens.new_token(API_KEY_PREFIX),
    }


@pytest.mark.parametrize("header", ["X-API-Key", "Authorization"])
@pytest.mark.parametrize("variant", list(_malformed(_unknown_key())))
def test_a_malformed_key_is_refused_without_reading_the_table(
    client: InProcessClient, authorizer_calls: CallCounter, variant: str, header: str
) -> None:
    # Given a well-formed key's malformed variant (in either header)
    key = _malformed(_unknown_key())[variant]
    assert workspace_named(key) is None
    value = key if header == "X-API-Key" else f"Bearer {key}"
    # When it is presented
    reply = client.request("GET", ME, headers={header: value})
    # Then API Gateway's 401, decided without a single DynamoDB call
    assert reply.status == 401
    assert reply.json() == UNAUTHORIZED
    assert authorizer_calls.count() == 0


def test_an_unknown_well_formed_key_is_looked_up_and_refused(
    client: InProcessClient, authorizer_calls: CallCounter
) -> None:
    # Given a key with a valid checksum that was never issued
    key = _unknown_key()
    # When it is presented / Then 401, after one read of its record (by its digest) and the
    # workspace it names, in one batch (the counter does count)
    reply = _me(client, key)
    assert (reply.status, reply.json()) == (401, UNAUTHORIZED)
    assert authorizer_calls.calls == ["BatchGetItem"]


def test_a_key_works_in_either_header_but_not_in_both(
    client: InProcessClient, shared_owner: Owner
) -> None:
    # Given a key
    created = _create(client, shared_owner)
    # When it is sent as X-API-Key, as a bearer credential, and as both at once
    as_key = _me(client, created["key"])
    as_bearer = client.request("GET", ME, headers={"Authorization": f"Bearer {created['key']}"})
    both = client.request(
        "GET",
        ME,
        headers={"X-API-Key": created["key"], "Authorization": f"Bearer {created['key']}"},
    )
    # Then GET /me answers for the key (no scope needed) either way; two credentials are refused
    for reply in (as_key, as_bearer):
        assert reply.status == 200, reply.body
        assert reply.json()["data"] == {
            "type": "api_key",
            "id": created["id"],
            "workspace_id": shared_owner.workspace,
            "scopes": ["agents:read"],
        }
    assert (both.status, both.json()) == (401, UNAUTHORIZED)


# -- revoked, expired, deleted workspace ---------------------------------------------------------
def test_a_revoked_key_is_honoured_only_from_the_cache_window(
    client: InProcessClient, owner: Owner, clock: FakeClock
) -> None:
    # Given a key in use (the authorizer instance has its record cached)
    created = _in_use(client, owner)
    # When it is revoked
    _revoke(client, owner, created["id"])
    # Then the warm instance still honours its cached record, but only within the cache's age
    clock.advance(STATE_MAX_AGE_SECONDS - 0.1)
    assert _me(client, created["key"]).status == 200
    clock.advance(0.2)  # 2.1 s after it was read: well within the contract's 5 s
    refused = _me(client, created["key"])
    assert (refused.status, refused.json()) == (401, UNAUTHORIZED)
    # And it never comes back
    clock.advance(3600)
    assert _me(client, created["key"]).status == 401


def test_a_revoked_key_is_refused_at_once_by_an_instance_that_had_not_cached_it(
    client: InProcessClient, shared_owner: Owner
) -> None:
    # Given a key revoked before this instance ever saw it
    created = _create(client, shared_owner)
    _revoke(client, shared_owner, created["id"])
    # When it is used, with no time passing / Then 401
    assert _me(client, created["key"]).status == 401


def test_an_expired_key_is_refused_against_the_clock(
    client: InProcessClient, shared_owner: Owner, clock: FakeClock
) -> None:
    # Given a key that ends in 5 s, in use (its record cached)
    end = int(clock.now()) + 5
    created = _in_use(client, shared_owner, expires_at=rfc3339(end))
    clock.advance(end - clock.now() - 0.5)
    assert _me(client, created["key"]).status == 200
    # When the clock reaches its end (no expiry job has run: the record still says active)
    clock.advance(0.5)
    reply = _me(client, created["key"])
    # Then it is refused at once, cached record or not
    assert (reply.status, reply.json()) == (401, UNAUTHORIZED)


def test_a_key_of_a_deleted_workspace_stops(
    client: InProcessClient, owner: Owner, clock: FakeClock
) -> None:
    # Given a key in use
    created = _in_use(client, owner)
    # When its workspace is deleted by the owner
    deleted = client.request(
        "DELETE", f"/api/v1/workspaces/{owner.workspace}", headers=owner.headers()
    )
    assert deleted.status == 204, deleted.body
    # Then within the cache window it is refused with 401
    clock.advance(CACHE_AGED)
    reply = _me(client, created["key"])
    assert (reply.status, reply.json()) == (401, UNAUTHORIZED)


# -- source IP -------------------------------------------------------------------------------
def test_an_ip_allowlist_admits_only_the_gateways_source_ip(
    client: InProcessClient, shared_owner: Owner
) -> None:
    # Given a key usable from 127.0.0.1 only
    key = _create(client, shared_owner, allowed_ips=["127.0.0.1"])["key"]
    # When it is used from there (also IPv4-mapped), from elsewhere, and from elsewhere with
    # headers that claim 127.0.0.1
    spoofing = [
        {"X-Forwarded-For": "127.0.0.1"},
        {"X-Real-IP": "127.0.0.1"},
        {"Forwarded": "for=127.0.0.1"},
    ]
    allowed = [_me(client, key, source_ip=ip) for ip in ("127.0.0.1", "::ffff:127.0.0.1")]
    refused = [_me(client, key, source_ip="127.0.0.2")] + [
        _me(client, key, headers, source_ip="127.0.0.2") for headers in spoofing
    ]
    # Then only the TCP peer counts
    assert [reply.status for reply in allowed] == [200, 200]
    assert [reply.status for reply in refused] == [403] * 4
    assert all(reply.json() == FORBIDDEN for reply in refused)


@pytest.mark.parametrize(
    ("source_ip", "status"),
    [
        ("127.0.0.0", 200),
        ("127.0.0.255", 200),
        ("::ffff:127.0.0.9", 200),
        ("127.0.1.0", 403),
        ("126.255.255.255", 403),
        ("2001:db8::1", 200),
        ("2001:db8:ffff::", 200),
        ("2001:db9::1", 403),
        ("::1", 403),
        ("::7f00:1", 403),  # an IPv4-compatible (not mapped) address is IPv6
        ("not-an-ip", 403),
    ],
)
def test_cidr_and_ipv6_entries(
    client: InProcessClient, shared_owner: Owner, source_ip: str, status: int
) -> None:
    # Given a key for 127.0.0.0/24 and 2001:db8::/32
    key = _create(client, shared_owner, allowed_ips=["127.0.0.0/24", "2001:db8::/32"])["key"]
    # When used from `source_ip` / Then admitted exactly within those ranges
    assert _me(client, key, source_ip=source_ip).status == status


# -- Origin and CORS -----------------------------------------------------------------------------
def test_an_origin_allowlist_echoes_the_allowed_origin_only(
    client: InProcessClient, shared_owner: Owner
) -> None:
    # Given a browser key for one origin
    key = _create(client, shared_owner, allowed_origins=[ORIGIN])["key"]
    # When it is used from that origin
    allowed = _me(client, key, {"Origin": ORIGIN})
    # Then the response names that origin (never *), varies by Origin, and exposes its headers
    assert allowed.status == 200, allowed.body
    assert allowed.headers["access-control-allow-origin"] == ORIGIN
    assert allowed.headers["vary"] == "Origin"
    assert "ratelimit-remaining" in allowed.headers["access-control-expose-headers"].lower()
    # But another origin, another spelling of it, or no Origin at all is 403 (a browser key is
    # used from its pages only)
    for headers in ({"Origin": "https://evil.example.com"}, {"Origin": f"{ORIGIN}:8443"}, {}):
        refused = _me(client, key, headers)
        assert (refused.status, refused.json()) == (403, FORBIDDEN), headers
        assert "access-control-allow-origin" not in refused.headers


def test_a_key_without_origins_sends_no_cors_headers(
    client: InProcessClient, shared_owner: Owner
) -> None:
    # Given a server key (no allowed_origins) / When a page sends it with an Origin
    key = _create(client, shared_owner)["key"]
    reply = _me(client, key, {"Origin": ORIGIN})
    # Then it works, but the response grants the page nothing to read
    assert reply.status == 200
    assert not any(name.startswith("access-control-") for name in reply.headers)


# -- workspace and scopes -------------------------------------------------------------------
def test_a_key_acts_in_its_own_workspace_only(client: InProcessClient, shared_owner: Owner) -> None:
    # Given a key, and another workspace
    key = _create(client, shared_owner, scopes=["credentials:read"])["key"]
    other = client.request(
        "POST", "/api/v1/workspaces", headers=shared_owner.headers(), body={"name": "other"}
    )
    assert other.status == 201, other.body
    other_id = other.json()["data"]["id"]
    # When it names its own workspace, another one, or something that is no workspace id
    own = client.request(
        "GET",
        "/api/v1/credentials",
        headers={"X-API-Key": key, "X-Workspace-ID": shared_owner.workspace},
    )
    replies = [
        client.request(
            "GET", "/api/v1/credentials", headers={"X-API-Key": key, "X-Workspace-ID": named}
        )
        for named in (other_id, "junk")
    ]
    # Then only its own is allowed
    assert own.status == 200, own.body
    assert [(reply.status, reply.json()) for reply in replies] == [(403, FORBIDDEN)] * 2
    assert _me(client, key, {"X-Workspace-ID": other_id}).status == 403


def test_a_key_needs_the_routes_scope(client: InProcessClient, shared_owner: Owner) -> None:
    # Given a key without credentials:read, and one with it
    narrow = _create(client, shared_owner, scopes=["agents:read", "credentials:write"])["key"]
    reader = _create(client, shared_owner, scopes=["credentials:read"])["key"]
    # When each lists credentials (scope credentials:read) and reads /me (no scope)
    results = {
        name: (
            client.request("GET", "/api/v1/credentials", headers={"X-API-Key": key}).status,
            _me(client, key).status,
        )
        for name, key in (("narrow", narrow), ("reader", reader))
    }
    # Then only the route's scope admits it
    assert results == {"narrow": (403, 200), "reader": (200, 200)}


def test_a_remembered_decision_is_for_its_own_request_only(
    client: InProcessClient, shared_owner: Owner
) -> None:
    # Given a key for one address and one origin, without credentials:read, that the warm
    # authorizer has just allowed on /me
    key = _create(client, shared_owner, allowed_ips=["127.0.0.1"], allowed_origins=[ORIGIN])
    first = _me(client, key["key"], {"Origin": ORIGIN}, source_ip="127.0.0.1")
    # When, within its cache's life, the same key asks for another route, from another address,
    # with another origin and naming another workspace, then asks as it did first
    others = [
        client.request(
            "GET",
            "/api/v1/credentials",
            headers={"X-API-Key": key["key"], "Origin": ORIGIN},
            source_ip="127.0.0.1",
        ),
        _me(client, key["key"], {"Origin": ORIGIN}, source_ip="127.0.0.2"),
        _me(client, key["key"], {"Origin": "https://evil.example.com"}, source_ip="127.0.0.1"),
        _me(
            client,
            key["key"],
            {"Origin": ORIGIN, "X-Workspace-ID": WORKSPACE.new_id()},
            source_ip="127.0.0.1",
        ),
    ]
    again = _me(client, key["key"], {"Origin": ORIGIN}, source_ip="127.0.0.1")
    # Then each is decided on its own: only the request it allowed is allowed again
    assert first.status == 200, first.body
    assert [reply.status for reply in others] == [403, 403, 403, 403]
    assert again.status == 200, again.body


def test_what_a_key_does_not_limit_never_grows_what_is_remembered_of_it(
    client: InProcessClient, shared_owner: Owner
) -> None:
    # Given a key that limits neither addresses nor origins
    key = _create(client, shared_owner)["key"]
    # When it is used from 30 addresses with 30 origins, within its cache's life
    replies = [
        _me(client, key, {"Origin": f"https://{n}.example.com"}, source_ip=f"127.0.0.{n + 1}")
        for n in range(30)
    ]
    # Then each is allowed, and the warm authorizer remembers one decision for them all
    assert {reply.status for reply in replies} == {200}
    authorizer = load_function("authorizer").authorizer._authorizer
    entry = authorizer._keys.get(opaque_tokens.digest(key))
    assert len(entry.allowed) == 1


# -- failing closed --------------------------------------------------------------------------
def _throttled(**_kwargs: Any) -> None:
    raise ClientError(
        {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}},
        "BatchGetItem",
    )


def _timed_out(**_kwargs: Any) -> None:
    raise ReadTimeoutError(endpoint_url="http://dynamodb.local")


def _bug(**_kwargs: Any) -> None:
    raise RuntimeError("boom")


@pytest.mark.parametrize(
    "failure", [_throttled, _timed_out, _bug], ids=["throttled", "timeout", "bug"]
)
def test_any_error_in_the_authorizer_denies(
    client: InProcessClient,
    shared_owner: Owner,
    authorizer_calls: CallCounter,
    monkeypatch: pytest.MonkeyPatch,
    failure: Any,
) -> None:
    # Given a valid key this instance has not cached, and the authorizer's reads failing
    key = _create(client, shared_owner)["key"]
    with monkeypatch.context() as patch:
        patch.setattr(_authorizer_client(), "batch_get_item", failure)
        # When it is used
        reply = _me(client, key)
    # Then it is denied (403), never allowed
    assert (reply.status, reply.json()) == (403, FORBIDDEN)
    # And once the table answers again, the key works (it was the failure that denied)
    assert _me(client, key).status == 200


# -- last_used_at ----------------------------------------------------------------------------
def _stored_last_used(table: Table, key: str) -> int | None:
    record = table.get(item_keys.api_key(opaque_tokens.digest(key)))
    assert record is not None
    value: int | None = record.get("last_used_at")
    return value


def _record_writes(calls: list[Call], key: str) -> int:
    """How many of `calls` wrote the record of `key`."""
    record = item_keys.api_key(opaque_tokens.digest(key))
    return sum(1 for call in calls if record in written_keys([call]))


def test_last_used_at_is_written_at_most_once_a_minute(
    client: InProcessClient,
    shared_owner: Owner,
    table: Table,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a new key, never used
    created = _create(client, shared_owner)
    key = created["key"]
    start = int(clock.now())
    calls = record_whole_aws_calls(monkeypatch)
    # When it is first used / Then last_used_at is set to now, by one write
    assert _me(client, key).status == 200
    assert _stored_last_used(table, key) == start
    assert _record_writes(calls, key) == 1
    read = client.request("GET", f"{KEYS}/{created['id']}", headers=shared_owner.headers())
    assert read.json()["data"]["last_used_at"] == rfc3339(start)
    # When it is used again 30 s later (the cached record has aged and was read again)
    clock.advance(30)
    assert _me(client, key).status == 200
    # Then nothing is written
    assert _stored_last_used(table, key) == start
    assert _record_writes(calls, key) == 1
    # When it is used 61 s after the first use / Then it is written again
    clock.advance(31)
    assert _me(client, key).status == 200
    assert _stored_last_used(table, key) == start + 61
    assert _record_writes(calls, key) == 2


# -- AWS calls per request (issue 20) ---------------------------------------------------------
def _operations(calls: list[Call]) -> list[str]:
    operations = [call.operation for call in calls]
    calls.clear()
    return operations


def test_a_key_costs_three_aws_calls_on_first_use_one_cached_and_none_malformed(
    client: InProcessClient,
    shared_owner: Owner,
    table: Table,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given warm instances (the authorizer's and GET /me's), and a new key, at a window's start
    clock.to_window_start(60)
    key = _create(client, shared_owner)["key"]
    me = client.request("GET", ME, headers={"Authorization": f"Bearer {shared_owner.token}"})
    assert me.status == 200
    calls = record_whole_aws_calls(monkeypatch)
    # When it is first used (not cached, its last use due)
    first_use = int(clock.now())
    first = _me(client, key)
    # Then 3 calls: the authorizer's one read of its record and workspace, the function's one
    # count of the request (workspace and key at once), and its note of the key's last use (at
    # most once a minute per key: a transaction would hold the workspace's counter, which every
    # request of the workspace writes)
    assert first.status == 200
    assert first.headers["ratelimit-remaining"] == "119"
    assert _operations(calls) == ["BatchGetItem", "UpdateItem", "UpdateItem"]
    # When it is used again while the authorizer has it cached / Then 1 call: the count
    clock.advance(1)
    assert _me(client, key).status == 200
    assert _operations(calls) == ["UpdateItem"]
    # When it is used once its cached record has aged (its last use not due) / Then 2 calls
    clock.advance(CACHE_AGED)
    assert _me(client, key).status == 200
    assert _operations(calls) == ["BatchGetItem", "UpdateItem"]
    # When a malformed key is presented / Then 401, and no call at all, by any function
    malformed = _me(client, key[:-1] + ("A" if key[-1] != "A" else "B"))
    assert (malformed.status, malformed.json()) == (401, UNAUTHORIZED)
    assert _operations(calls) == []
    # And the first use was noted, once
    assert _stored_last_used(table, key) == first_use


def test_a_last_use_due_in_a_counted_window_is_noted_by_its_own_write(
    client: InProcessClient,
    shared_owner: Owner,
    table: Table,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a key first used half-way through a window, then early in the next one
    clock.to_window_start(60)
    clock.advance(30)
    key = _create(client, shared_owner)["key"]
    first_use = int(clock.now())
    assert _me(client, key).status == 200
    clock.advance(31)
    assert _me(client, key).status == 200
    calls = record_whole_aws_calls(monkeypatch)
    # When it is used a minute after its first use, in the window this function counted in
    clock.advance(30)
    reply = _me(client, key)
    # Then it is counted as usual (its count read back), and its last use noted by one more
    # write: 3 calls, at most once a minute per key
    assert reply.status == 200
    assert reply.headers["ratelimit-remaining"] == "118"
    assert _operations(calls) == ["BatchGetItem", "UpdateItem", "UpdateItem"]
    assert _stored_last_used(table, key) == first_use + 61


def test_a_key_whose_record_names_another_workspace_is_unknown(
    client: InProcessClient, owner: Owner, table: Table, clock: FakeClock
) -> None:
    # Given a key in use, and another workspace of its owner
    key = _create(client, owner)["key"]
    assert _me(client, key).status == 200
    other = client.request(
        "POST", "/api/v1/workspaces", headers=owner.headers(), body={"name": "other"}
    )
    assert other.status == 201, other.body
    # When its record comes to name the other workspace than the one the key names
    table.update(
        item_keys.api_key(opaque_tokens.digest(key)),
        "SET workspace_id = :other",
        values={":other": other.json()["data"]["id"]},
    )
    clock.advance(CACHE_AGED)
    reply = _me(client, key)
    # Then it is refused as an unknown key
    assert (reply.status, reply.json()) == (401, UNAUTHORIZED)


# -- rate limits (section 11) ------------------------------------------------------------------
def _rate_headers(reply: Reply) -> tuple[int, int, int]:
    return (
        int(reply.headers["ratelimit-limit"]),
        int(reply.headers["ratelimit-remaining"]),
        int(reply.headers["ratelimit-reset"]),
    )


def test_users_and_keys_get_their_plans_limit_on_every_response(
    client: InProcessClient, owner: Owner, clock: FakeClock
) -> None:
    # Given a free workspace's owner and a key without a limit of its own
    clock.to_window_start(60)
    key = _create(client, owner)["key"]
    # When each makes requests
    user_me = client.request("GET", ME, headers={"Authorization": f"Bearer {owner.token}"})
    user_keys = client.request("GET", KEYS, headers=owner.headers())
    key_me = _me(client, key)
    refused = client.request("GET", "/api/v1/credentials", headers={"X-API-Key": key})
    not_found = client.request(
        "GET", f"{KEYS}/key_01J00000000000000000000000", headers=owner.headers()
    )
    # Then every response names the free plan's 120 per 60 s and counts down per principal
    assert refused.status == 403  # (a refusal by the authorizer runs no function: not counted)
    # (the user's own requests outside the workspace are counted apart from those in it, where
    # the create was its first; the user's there are on routes no key may use, which the
    # workspace's budget counts but never refuses; the key's is closer to its own limit than to
    # the workspace's budget for its class: 300 reads)
    assert _rate_headers(user_me) == (120, 119, 60)
    assert _rate_headers(user_keys) == (120, 118, 60)
    assert _rate_headers(key_me) == (120, 119, 60)
    assert not_found.status == 404  # an error from a function is counted and says so too
    assert _rate_headers(not_found) == (120, 117, 60)
    assert "retry-after" not in key_me.headers


def test_a_keys_own_limit_overrides_the_plan_and_resets_with_the_window(
    client: InProcessClient, shared_owner: Owner, clock: FakeClock
) -> None:
    # Given a key limited to 3 requests per 60 s, at the start of a window
    clock.to_window_start(60)
    key = _create(client, shared_owner, rate_limit={"requests": 3, "window_seconds": 60})["key"]
    # When it makes four requests, 10 s apart
    replies = []
    for _ in range(4):
        replies.append(_me(client, key))
        clock.advance(10)
    # Then three pass, counting down, and the fourth is 429 with Retry-After to the window's end
    assert [reply.status for reply in replies] == [200, 200, 200, 429]
    assert [_rate_headers(reply) for reply in replies[:3]] == [(3, 2, 60), (3, 1, 50), (3, 0, 40)]
    limited = replies[3]
    assert limited.json()["error"]["code"] == "rate_limited"
    assert _rate_headers(limited) == (3, 0, 30)
    assert int(limited.headers["retry-after"]) == 30
    # When the next window starts (the loop left the clock 40 s in) / Then it may call again
    clock.advance(20)
    again = _me(client, key)
    assert again.status == 200
    assert _rate_headers(again) == (3, 2, 60)


def test_a_429_is_never_below_one_second_of_retry(
    client: InProcessClient, shared_owner: Owner, clock: FakeClock
) -> None:
    # Given a key limited to 1 request per 60 s, used up, 0.6 s before its window ends
    clock.to_window_start(60)
    clock.advance(59.4 - 0.5)
    key = _create(client, shared_owner, rate_limit={"requests": 1, "window_seconds": 60})["key"]
    assert _me(client, key).status == 200
    # When it calls again / Then Retry-After says at least 1 s
    limited = _me(client, key)
    assert limited.status == 429
    assert int(limited.headers["retry-after"]) == 1
    assert limited.headers["ratelimit-remaining"] == "0"


def test_concurrent_requests_pass_exactly_the_limit_through_the_gateway(
    client: InProcessClient, shared_owner: Owner, clock: FakeClock
) -> None:
    # In process, requests run the authorizer and function instances on 20 threads at once: the
    # count happens in `ApiFunction.handler` from each request's own event, against DynamoDB's
    # atomic conditional update (moto is serialized like DynamoDB; see infra/local/emulator.py).
    # The Powertools resolver keeps the current event on its instance, which threads share; all
    # 20 requests are the same key's GET /me, so whichever event a route reads, the answer is
    # the same, and the count is not affected.
    # Given a key limited to 10 per 60 s, with warm instances
    clock.to_window_start(60)
    key = _create(client, shared_owner, rate_limit={"requests": 10, "window_seconds": 60})["key"]
    assert (
        client.request("GET", ME, headers={"Authorization": f"Bearer {shared_owner.token}"}).status
        == 200
    )
    # When 20 requests arrive at once
    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(lambda _: _me(client, key).status, range(20)))
    # Then exactly 10 pass and 10 are rate limited
    assert sorted(statuses) == [200] * 10 + [429] * 10


def test_concurrent_takes_of_one_counter_pass_exactly_the_limit(
    table: Table, clock: FakeClock
) -> None:
    # Given one rate limiter's counter, limit 10 per 60 s (below the HTTP layer, so no shared
    # resolver state is involved at all)
    clock.to_window_start(60)
    limiter = RateLimiter(table, SystemClock())
    subject = f"api_key:key_race_{clock.now()}"
    # When 25 threads take from it at once
    with ThreadPoolExecutor(max_workers=25) as pool:
        quotas = list(pool.map(lambda _: limiter.take(subject, RateLimit(10, 60)), range(25)))
    # Then exactly 10 are allowed, each with a distinct remaining count, and 15 refused
    allowed = [quota for quota in quotas if quota.allowed]
    assert len(allowed) == 10
    assert sorted(quota.remaining for quota in allowed) == list(range(10))
    assert all(quota.remaining == 0 for quota in quotas if not quota.allowed)


def _key_record(table: Table, **attributes: Any) -> tuple[str, str]:
    """A key's record (only what noting a use reads), under a digest of its own."""
    record = item_keys.api_key(opaque_tokens.digest(new_key(WORKSPACE.new_id())))
    table.put({"pk": record[0], "sk": record[1], **attributes})
    return record


def test_a_last_use_noted_meanwhile_by_another_instance_refuses_nothing(
    client: InProcessClient,
    shared_owner: Owner,
    table: Table,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a new key whose last use another instance notes right after this authorizer found
    # it due
    key = _create(client, shared_owner)["key"]
    record = item_keys.api_key(opaque_tokens.digest(key))
    noted = int(clock.now()) - 10
    due = Authorizer._last_use_due

    def raced(authorizer: Authorizer, used: str, last_used_at: int | None, now: float) -> bool:
        answer = due(authorizer, used, last_used_at, now)
        # The other instance's write: no function's of this test (a context of its own).
        contextvars.Context().run(
            table.update, record, "SET last_used_at = :noted", values={":noted": noted}
        )
        return answer

    monkeypatch.setattr(Authorizer, "_last_use_due", raced)
    calls = record_whole_aws_calls(monkeypatch)
    # When it is used
    reply = _me(client, key)
    # Then it is allowed and counted once; the note it tried found the other's and wrote nothing
    assert (reply.status, reply.headers["ratelimit-remaining"]) == (200, "119")
    # (not this request's: the other instance's note, and the usage counts an earlier test's
    # refusals left this instance, written by whichever request comes 5 s later)
    others = [
        call
        for call in calls
        if call.params.get("ExpressionAttributeValues", {}).get(":noted")
        or call.params.get("Key", {}).get("pk", {}).get("S", "").startswith("USAGE#")
    ]
    assert _operations([call for call in calls if call not in others]) == [
        "BatchGetItem",
        "UpdateItem",
        "UpdateItem",
    ]
    stored = table.get(record)
    assert stored is not None
    assert stored["last_used_at"] == noted
    assert "last_used_ip" not in stored


def test_a_keys_last_use_says_when_from_where_and_by_what_and_key_reads_show_it(
    client: InProcessClient, shared_owner: Owner, table: Table, clock: FakeClock
) -> None:
    # Given a new key, never used: its reads say so with nulls
    created = _create(client, shared_owner)
    key, key_id = created["key"], created["id"]
    one = f"{KEYS}/{key_id}"
    fresh = client.request("GET", one, headers=shared_owner.headers()).json()["data"]
    assert (fresh["last_used_at"], fresh["last_used_ip"], fresh["last_used_user_agent"]) == (
        None,
        None,
        None,
    )
    # When it is used from 10.1.2.3 by a client with an overlong user agent
    used_at = int(clock.now())
    agent = "probe/1.0 " + "x" * 400
    reply = client.request(
        "GET", ME, headers={"X-API-Key": key, "User-Agent": agent}, source_ip="10.1.2.3"
    )
    assert reply.status == 200
    # Then the key's read and its listing give the time, the TCP peer and the user agent (cut
    # to 256 characters)
    read = client.request("GET", one, headers=shared_owner.headers()).json()["data"]
    listed = client.request("GET", f"{KEYS}?limit=100", headers=shared_owner.headers()).json()
    (in_list,) = [item for item in listed["data"] if item["id"] == key_id]
    for shown in (read, in_list):
        assert shown["last_used_at"] == rfc3339(used_at)
        assert shown["last_used_ip"] == "10.1.2.3"
        assert shown["last_used_user_agent"] == agent[:256]
    # When it is used a minute later without a user agent / Then that use is the last one, whole
    clock.advance(61)
    assert _me(client, key).status == 200
    read = client.request("GET", one, headers=shared_owner.headers()).json()["data"]
    assert (read["last_used_at"], read["last_used_ip"], read["last_used_user_agent"]) == (
        rfc3339(used_at + 61),
        "127.0.0.1",
        None,
    )


def test_public_routes_carry_no_rate_limit_headers(client: InProcessClient) -> None:
    reply = client.request("GET", "/api/v1/health")
    assert reply.status == 200
    assert not any(name.startswith("ratelimit-") for name in reply.headers)
    assert "retry-after" not in reply.headers


# -- CORS preflight --------------------------------------------------------------------------
@pytest.mark.parametrize("path", [ME, KEYS, "/api/v1/credentials/cred_x"])
def test_a_preflight_names_a_well_formed_origin_without_a_credential(
    client: InProcessClient, path: str
) -> None:
    # When a browser asks before a keyed request (no credential, as browsers send preflights)
    reply = client.request(
        "OPTIONS",
        path,
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "x-api-key",
        },
    )
    # Then 204 naming that origin and what a keyed request may send
    assert reply.status == 204, reply.body
    assert reply.body == b""
    assert reply.headers["access-control-allow-origin"] == ORIGIN
    assert {"GET", "POST", "PATCH", "DELETE"} <= {
        method.strip() for method in reply.headers["access-control-allow-methods"].split(",")
    }
    allowed_headers = {
        name.strip().lower() for name in reply.headers["access-control-allow-headers"].split(",")
    }
    assert {"x-api-key", "authorization", "x-workspace-id", "content-type"} <= allowed_headers
    assert reply.headers["vary"] == "Origin"
    assert reply.headers["cache-control"] == "no-store"
    assert reply.headers["x-request-id"]
    assert not any(name.startswith("ratelimit-") for name in reply.headers)


@pytest.mark.parametrize(
    "origin", [*MALFORMED_ORIGINS, "http://evil.test", "https://a.test:443@evil.test"]
)
def test_a_preflight_for_a_malformed_origin_names_none(
    client: InProcessClient, origin: str
) -> None:
    reply = client.request("OPTIONS", ME, headers={"Origin": origin})
    assert reply.status == 204
    assert "access-control-allow-origin" not in reply.headers
    assert "access-control-allow-headers" not in reply.headers
    assert reply.headers["vary"] == "Origin"
    assert reply.headers["cache-control"] == "no-store"


def test_a_localhost_origin_may_use_http(client: InProcessClient) -> None:
    reply = client.request("OPTIONS", ME, headers={"Origin": "http://localhost:5173"})
    assert reply.headers["access-control-allow-origin"] == "http://localhost:5173"
