"""Contract sections 6 and 11 end to end: keys over real HTTP, the client address taken from the
TCP peer, CORS as a browser sees it, and exact rate limits across concurrent function instances."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

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
