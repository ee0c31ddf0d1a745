"""Usage (issue 21, contract section 11) through the gateway: the authorizer's refusals of a
workspace's keys counted and written within the flush delay, the functions' 429s, allowed
requests from the rate limiter's minute items and the rollup job, and who may read it."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest

from railguard.api_keys.key_format import new_key
from railguard.authorizer.decision import STATE_MAX_AGE_SECONDS
from railguard.core.clock import rfc3339
from railguard.store import Table
from railguard.usage.tally import FLUSH_AFTER_SECONDS
from tests.support import accounts as a
from tests.support.fake_time import FakeClock
from tests.support.functions import run_job
from tests.support.inprocess import InProcessClient, Reply
from tests.support.usage import count_in_minute

KEYS = "/api/v1/api-keys"
USAGE = "/api/v1/usage"
HOUR = 3600
FORBIDDEN = {"message": "Forbidden"}

pytestmark = pytest.mark.usefixtures("clock", "cheap_passwords", "identity_env")

ZEROS = {
    "allowed": 0,
    "refused_credential": 0,
    "refused_network": 0,
    "refused_scope": 0,
    "rate_limited": 0,
}


def _create(client: InProcessClient, owner: a.Account, **fields: Any) -> dict[str, Any]:
    body = {"name": "ci", "scopes": ["agents:read"], **fields}
    reply = client.request("POST", KEYS, headers=owner.headers(), body=body)
    assert reply.status == 201, reply.body
    data: dict[str, Any] = reply.json()["data"]
    return data


def _usage(
    client: InProcessClient, owner: a.Account, key_id: str | None = None, **query: str
) -> Reply:
    path = f"{KEYS}/{key_id}/usage" if key_id else USAGE
    return client.request("GET", f"{path}?{urlencode(query)}", headers=owner.headers())


def _totals(reply: Reply) -> dict[str, int]:
    """The counts of every bucket of the answer, summed."""
    assert reply.status == 200, reply.body
    totals = dict.fromkeys(ZEROS, 0)
    for bucket in reply.json()["data"]:
        for name in totals:
            totals[name] += bucket[name]
    return totals


def test_refusals_of_a_workspaces_keys_are_counted_within_the_flush_delay(
    client: InProcessClient, clock: FakeClock
) -> None:
    # Given an owner's keys: one limited to another network, one without the credentials
    # scope, one revoked
    owner = a.new_account()
    fenced = _create(client, owner, allowed_ips=["10.0.0.0/8"])
    narrow = _create(client, owner)
    revoked = _create(client, owner)
    assert (
        client.request("DELETE", f"{KEYS}/{revoked['id']}", headers=owner.headers()).status == 204
    )
    clock.advance(STATE_MAX_AGE_SECONDS + 0.1)
    # When each is refused, with a key unknown in the workspace it names (forged: its check
    # digits are no secret)
    me = "/api/v1/me"
    assert client.request("GET", me, headers={"X-API-Key": fenced["key"]}).status == 403
    credentials = "/api/v1/credentials"
    assert client.request("GET", credentials, headers={"X-API-Key": narrow["key"]}).status == 403
    assert client.request("GET", me, headers={"X-API-Key": revoked["key"]}).status == 401
    unknown = new_key(owner.workspace)
    assert client.request("GET", me, headers={"X-API-Key": unknown}).status == 401
    # Then before the flush delay, no refusal is written yet (the owner's own requests are the
    # workspace's allowed ones)
    assert {**_totals(_usage(client, owner)), "allowed": 0} == ZEROS
    # And once it has passed, the next decision writes them: each key's own, and the
    # workspace's, where a forged key counts for nothing
    clock.advance(FLUSH_AFTER_SECONDS)
    assert _totals(_usage(client, owner, fenced["id"])) == {**ZEROS, "refused_network": 1}
    assert _totals(_usage(client, owner, narrow["id"])) == {**ZEROS, "refused_scope": 1}
    assert _totals(_usage(client, owner, revoked["id"])) == {**ZEROS, "refused_credential": 1}
    assert {**_totals(_usage(client, owner)), "allowed": 0} == {
        **ZEROS,
        "refused_network": 1,
        "refused_scope": 1,
        "refused_credential": 1,
    }


def test_a_keys_429s_are_counted_by_the_function_that_answered_them(
    client: InProcessClient, clock: FakeClock
) -> None:
    # Given a key allowed one request a minute, and its minute used
    owner = a.new_account()
    key = _create(client, owner, rate_limit={"requests": 1, "window_seconds": 60})
    clock.to_window_start(60)
    me = {"X-API-Key": key["key"]}
    assert client.request("GET", "/api/v1/me", headers=me).status == 200
    # When two more requests in that minute are refused, the second after the flush delay
    assert client.request("GET", "/api/v1/me", headers=me).status == 429
    clock.advance(FLUSH_AFTER_SECONDS)
    assert client.request("GET", "/api/v1/me", headers=me).status == 429
    # Then both are counted for the key and its workspace
    assert _totals(_usage(client, owner, key["id"]))["rate_limited"] == 2
    assert _totals(_usage(client, owner))["rate_limited"] == 2


def test_allowed_requests_are_the_rate_limiters_counts_now_and_once_rolled_up(
    client: InProcessClient, table: Table, clock: FakeClock
) -> None:
    # Given requests of a key counted in the workspace's minute items: three hours ago (rolled
    # up by the hourly job) and in the current hour (not yet)
    owner = a.new_account()
    key = _create(client, owner)
    subject = f"api_key:{key['id']}"
    now = int(clock.now())
    current = now - now % HOUR
    count_in_minute(table, owner.workspace, current - 3 * HOUR, subject, requests=4)
    count_in_minute(table, owner.workspace, current, subject, requests=2)
    count_in_minute(table, owner.workspace, current, f"user:{owner.user_id}", requests=1)
    report = run_job("usage")
    assert report["complete"]
    # When the last 4 hours are read, by hour
    query = {"from": rfc3339(current - 3 * HOUR), "to": rfc3339(current + 1)}
    keyed = _usage(client, owner, key["id"], **query)
    # Then the key's hours hold its requests, newest first
    assert [(b["start"], b["allowed"]) for b in keyed.json()["data"]] == [
        (rfc3339(current), 2),
        (rfc3339(current - HOUR), 0),
        (rfc3339(current - 2 * HOUR), 0),
        (rfc3339(current - 3 * HOUR), 4),
    ]
    assert keyed.json()["meta"] == {"next_cursor": None}
    # And the workspace's day holds everyone's: the key's 6, the owner's 1 above, and the
    # owner's 3 requests of this test (the key's creation and the two reads, each counted by the
    # rate limiter before its route ran)
    day = _usage(client, owner, granularity="day", **query)
    assert _totals(day)["allowed"] == 6 + 1 + 3


def test_a_page_of_buckets_and_its_cursor(client: InProcessClient, clock: FakeClock) -> None:
    # Given the default range (the last 24 hours) read 10 buckets at a time
    owner = a.new_account()
    first = _usage(client, owner, limit="10")
    # When the pages are followed
    buckets = first.json()["data"]
    cursor = first.json()["meta"]["next_cursor"]
    while cursor is not None:
        page = _usage(client, owner, limit="10", cursor=cursor)
        buckets += page.json()["data"]
        cursor = page.json()["meta"]["next_cursor"]
    # Then the hours of the last day come once each, zeros included
    now = int(clock.now())
    assert len(buckets) in (24, 25)  # 25 when `from` is not on the hour
    assert buckets[0]["start"] == rfc3339(now - now % HOUR)
    assert all(bucket | ZEROS == {"start": bucket["start"], **ZEROS} for bucket in buckets)


@pytest.mark.parametrize(
    "query",
    [
        {"granularity": "week"},
        {"from": "2027-01-02T00:00:00Z", "to": "2027-01-01T00:00:00Z"},
        {"from": "2026-01-01T00:00:00Z", "to": "2027-01-01T00:00:00Z"},  # over 90 days
        {"from": "2027-01-01T00:00:00"},  # no offset
        {"from": "yesterday"},
        {"to": "0.5"},  # epoch seconds, which pydantic alone would take
        {"from": "1798761600"},
        {"limit": "0"},
        {"cursor": "not-a-cursor"},
    ],
)
def test_a_bad_range_or_page_is_a_validation_error(
    client: InProcessClient, query: dict[str, str]
) -> None:
    # Given an owner asking for usage with a bad range, granularity or page
    owner = a.new_account()
    # When they read the workspace's usage
    reply = _usage(client, owner, **query)
    # Then 400, as every validation error
    assert reply.status == 400, reply.body
    assert reply.json()["error"]["code"] == "validation_error"


def test_only_owners_and_admins_read_usage_and_never_of_another_workspace(
    client: InProcessClient,
) -> None:
    # Given a workspace with an admin and a user member, its key, and the owner of another
    owner, member, outsider = a.team(client, role="user")
    admin = a.new_account()
    a.add_member(client, owner, admin, "admin")
    key = _create(client, owner)
    in_owners = {"X-Workspace-ID": owner.workspace}
    # When each reads the key's usage and the workspace's
    # Then the owner and the admin may
    for person in (owner, admin):
        for path in (f"{KEYS}/{key['id']}/usage", USAGE):
            assert (
                client.request("GET", path, headers=person.headers(owner.workspace)).status == 200
            )
    # And the user member is refused by the authorizer
    for path in (f"{KEYS}/{key['id']}/usage", USAGE):
        refused = client.request("GET", path, headers=member.headers(owner.workspace))
        assert (refused.status, refused.json()) == (403, FORBIDDEN)
    # And so is any API key, even of the workspace: keys never manage keys
    for path in (f"{KEYS}/{key['id']}/usage", USAGE):
        refused = client.request("GET", path, headers={"X-API-Key": key["key"], **in_owners})
        assert (refused.status, refused.json()) == (403, FORBIDDEN)
    # And the owner of another workspace, in their own, finds no such key
    foreign = client.request("GET", f"{KEYS}/{key['id']}/usage", headers=outsider.headers())
    assert foreign.status == 404
    assert foreign.json()["error"]["code"] == "not_found"
