"""Contract sections 6 and 11 end to end: keys over real HTTP, the client address taken from the
TCP peer, CORS as a browser sees it, and exact rate limits across concurrent function instances:
a key's own, and its workspace's budgets per endpoint class, shared by its keys, exact across
them, changed by the operator's `make plan` within 5 seconds."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.e2e.local_stack import StackProcess
from tests.e2e.people import create_key, me_status_from, new_owner

pytestmark = pytest.mark.e2e
REVOCATION_BOUND_SECONDS = 5.0


def _owner(stack: StackProcess) -> tuple[dict[str, str], str]:
    """A new user's auth and workspace headers, and the workspace id."""
    owner = new_owner(stack)
    return owner.headers, owner.workspace


def test_an_ip_allowlist_admits_the_tcp_peer_only(stack: StackProcess) -> None:
    # Given a key usable from 127.0.0.1 only
    headers, _ = _owner(stack)
    key = create_key(stack, headers, allowed_ips=["127.0.0.1"])["key"]
    # When it is used from 127.0.0.1, and from 127.0.0.2 claiming 127.0.0.1 in X-Forwarded-For
    allowed = me_status_from(stack, "127.0.0.1", {"X-API-Key": key})
    refused = me_status_from(stack, "127.0.0.2", {"X-API-Key": key, "X-Forwarded-For": "127.0.0.1"})
    # Then only the real peer gets through
    assert (allowed, refused) == (200, 403)


def test_a_revoked_key_stops_within_five_seconds(stack: StackProcess) -> None:
    # Given a key in use
    headers, _ = _owner(stack)
    created = create_key(stack, headers)
    key_headers = {"X-API-Key": created["key"]}
    assert requests.get(f"{stack.url}/api/v1/me", headers=key_headers, timeout=10).ok
    # When it is revoked
    revoked = requests.delete(
        f"{stack.url}/api/v1/api-keys/{created['id']}", headers=headers, timeout=10
    )
    assert revoked.status_code == 204
    # Then within five seconds it is refused with API Gateway's 401
    deadline = time.monotonic() + REVOCATION_BOUND_SECONDS
    response = requests.get(f"{stack.url}/api/v1/me", headers=key_headers, timeout=10)
    while time.monotonic() < deadline and response.status_code != 401:
        time.sleep(0.25)
        response = requests.get(f"{stack.url}/api/v1/me", headers=key_headers, timeout=10)
    assert response.status_code == 401
    assert response.json() == {"message": "Unauthorized"}


def test_browsers_get_cors_for_the_keys_own_origins_only(stack: StackProcess) -> None:
    # Given a browser key for one origin
    headers, _ = _owner(stack)
    key = create_key(stack, headers, allowed_origins=["http://localhost:5173"])["key"]
    # When a browser preflights, then calls from that origin, and another page tries
    preflight = requests.options(
        f"{stack.url}/api/v1/me",
        headers={
            "Origin": "http://localhost:5173",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "x-api-key",
        },
        timeout=10,
    )
    allowed = requests.get(
        f"{stack.url}/api/v1/me",
        headers={"X-API-Key": key, "Origin": "http://localhost:5173"},
        timeout=10,
    )
    other = requests.get(
        f"{stack.url}/api/v1/me",
        headers={"X-API-Key": key, "Origin": "https://evil.example"},
        timeout=10,
    )
    # Then the preflight passes without a credential, the call echoes the origin, never `*`
    assert preflight.status_code == 204
    assert "x-api-key" in preflight.headers["Access-Control-Allow-Headers"].lower()
    assert allowed.status_code == 200
    assert allowed.headers["Access-Control-Allow-Origin"] == "http://localhost:5173"
    assert allowed.headers["Vary"] == "Origin"
    assert other.status_code == 403
    assert "Access-Control-Allow-Origin" not in other.headers


def test_a_limit_of_50_lets_exactly_50_of_100_concurrent_requests_through(
    stack: StackProcess,
) -> None:
    # Given a key limited to 50 requests an hour, and a burst that will not straddle two windows
    headers, _ = _owner(stack)
    key = create_key(stack, headers, rate_limit={"requests": 50, "window_seconds": 3600})["key"]
    seconds_left = 3600 - time.time() % 3600
    if seconds_left < 30:
        time.sleep(seconds_left + 0.5)

    def call(_: int) -> tuple[int, str | None]:
        response = requests.get(f"{stack.url}/api/v1/me", headers={"X-API-Key": key}, timeout=30)
        return response.status_code, response.headers.get("Retry-After")

    # When 100 requests arrive at once
    with ThreadPoolExecutor(max_workers=25) as pool:
        outcomes = list(pool.map(call, range(100)))
    # Then exactly 50 pass, and the 50 others are told when to retry
    statuses = [status for status, _ in outcomes]
    assert (statuses.count(200), statuses.count(429)) == (50, 50)
    assert all(retry is not None and int(retry) >= 1 for status, retry in outcomes if status == 429)


# -- the workspace's budgets per endpoint class (free: 60 writes a minute) ---------------
ROOT = Path(__file__).resolve().parents[2]
NOWHERE = "/api/v1/agent-uis/aui_01J00000000000000000000000"  # a write that finds nothing: 404
FREE_WRITES = 60
# Time a test's requests need within one minute.
MINUTE_LEFT_NEEDED = 25


def _write(stack: StackProcess, key: str) -> requests.Response:
    return requests.delete(f"{stack.url}{NOWHERE}", headers={"X-API-Key": key}, timeout=30)


def _writes_left(stack: StackProcess, key: str) -> int:
    """The workspace's writes left this minute, once at least `MINUTE_LEFT_NEEDED` seconds of
    it remain (one write spent asking: its headers describe the limit closest to running out,
    which is the workspace's once it is under the key's own 120)."""
    while True:
        probe = _write(stack, key)
        assert probe.status_code == 404, probe.text
        if int(probe.headers["RateLimit-Reset"]) >= MINUTE_LEFT_NEEDED:
            assert probe.headers["RateLimit-Limit"] == str(FREE_WRITES), probe.headers
            return int(probe.headers["RateLimit-Remaining"])
        time.sleep(int(probe.headers["RateLimit-Reset"]) + 0.5)


def _spend_writes_down_to(stack: StackProcess, key: str, left: int) -> None:
    for _ in range(_writes_left(stack, key) - left):
        assert _write(stack, key).status_code == 404


def test_100_concurrent_writes_over_5_keys_pass_exactly_the_workspaces_50_left(
    stack: StackProcess,
) -> None:
    # Given a free workspace's five keys, and 50 of its minute's 60 writes left
    headers, _ = _owner(stack)
    keys = [
        create_key(stack, headers, f"k{n}", scopes=["agent_uis:read", "agent_uis:write"])["key"]
        for n in range(5)
    ]
    _spend_writes_down_to(stack, keys[0], 50)

    def call(n: int) -> requests.Response:
        return _write(stack, keys[n % 5])

    # When 100 writes arrive at once, 20 per key
    with ThreadPoolExecutor(max_workers=25) as pool:
        replies = list(pool.map(call, range(100)))
    # Then exactly 50 pass, whichever key sent them, and 50 are the workspace's 429
    statuses = [reply.status_code for reply in replies]
    assert (statuses.count(404), statuses.count(429)) == (50, 50)
    for refused in (reply for reply in replies if reply.status_code == 429):
        assert refused.json()["error"]["details"] == {"limit": "workspace", "class": "write"}
        assert refused.headers["RateLimit-Limit"] == str(FREE_WRITES)
        assert refused.headers["RateLimit-Remaining"] == "0"
        assert int(refused.headers["Retry-After"]) >= 1
    # And the reads have a budget of their own
    reads = [
        requests.get(f"{stack.url}{NOWHERE}", headers={"X-API-Key": key}, timeout=30)
        for key in keys
    ]
    assert [reply.status_code for reply in reads] == [404] * 5


def test_a_keys_own_limit_narrows_the_workspaces(stack: StackProcess) -> None:
    # Given a key limited to 3 requests a minute, and a key without a limit of its own
    headers, _ = _owner(stack)
    narrow = create_key(stack, headers, rate_limit={"requests": 3, "window_seconds": 60})["key"]
    other = create_key(stack, headers)["key"]
    seconds_left = 60 - time.time() % 60
    if seconds_left < MINUTE_LEFT_NEEDED:
        time.sleep(seconds_left + 0.5)
    # When the narrow key calls four times
    replies = [
        requests.get(f"{stack.url}/api/v1/me", headers={"X-API-Key": narrow}, timeout=10)
        for _ in range(4)
    ]
    # Then the fourth is refused by its own limit, and the workspace still serves the other key
    assert [reply.status_code for reply in replies] == [200, 200, 200, 429]
    assert replies[3].json()["error"]["details"] == {"limit": "key", "class": "read"}
    assert replies[3].headers["RateLimit-Limit"] == "3"
    assert requests.get(f"{stack.url}/api/v1/me", headers={"X-API-Key": other}, timeout=10).ok


def test_make_plan_gives_a_spent_workspace_its_new_budget_within_5_seconds(
    stack: StackProcess,
) -> None:
    # Given a free workspace whose minute's writes are spent
    headers, workspace_id = _owner(stack)
    key = create_key(stack, headers, scopes=["agent_uis:write"])["key"]
    _spend_writes_down_to(stack, key, 0)
    refused = _write(stack, key)
    assert refused.json()["error"]["details"] == {"limit": "workspace", "class": "write"}
    # When the operator runs `make plan WORKSPACE=... PLAN=starter`
    assert stack.run_job("plan", {"workspace_id": workspace_id, "plan": "starter"})["counts"] == {
        "changed": 1
    }
    # Then within 5 seconds of the change (stored when the command returns) its writes pass
    # again, under starter's budget of 300
    deadline = time.monotonic() + 5.0
    reply = _write(stack, key)
    while reply.status_code == 429 and time.monotonic() < deadline:
        time.sleep(0.25)
        reply = _write(stack, key)
    assert reply.status_code == 404, reply.text
    assert reply.headers["RateLimit-Limit"] == "300"
