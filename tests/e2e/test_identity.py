"""Contract section 4 end to end: real HTTP through the local stack's gateway, authorizer and
function processes, with concurrency across function instances."""

from __future__ import annotations

import http.client
import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from tests.e2e.local_stack import StackProcess
from tests.e2e.people import sign_up

pytestmark = pytest.mark.e2e
PASSWORD = "blue-table-river-42"
# Logout, password change and reuse revocation must reach the authorizer within 5 seconds.
REVOCATION_BOUND_SECONDS = 5.0


def _sign_up_and_log_in(stack: StackProcess) -> tuple[str, dict[str, Any]]:
    email = f"e2e-{uuid.uuid4().hex[:12]}@example.com"
    sign_up(stack, email)
    login = requests.post(
        f"{stack.url}/api/v1/auth/login", json={"email": email, "password": PASSWORD}, timeout=10
    )
    assert login.status_code == 200, login.text
    return email, login.json()["data"]


def _me_status(stack: StackProcess, access_token: str) -> int:
    return requests.get(
        f"{stack.url}/api/v1/me", headers={"Authorization": f"Bearer {access_token}"}, timeout=10
    ).status_code


def _refused_within_bound(stack: StackProcess, access_token: str) -> bool:
    deadline = time.monotonic() + REVOCATION_BOUND_SECONDS
    while time.monotonic() < deadline:
        if _me_status(stack, access_token) == 401:
            return True
        time.sleep(0.25)
    return False


def test_a_user_signs_up_logs_in_and_is_known_at_me(stack: StackProcess) -> None:
    email, tokens = _sign_up_and_log_in(stack)
    response = requests.get(
        f"{stack.url}/api/v1/me",
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
        timeout=10,
    )
    assert response.status_code == 200
    assert response.json()["data"]["email"] == email
    assert response.headers["Cache-Control"] == "no-store"


def test_ten_concurrent_refreshes_of_one_token_succeed_exactly_once(stack: StackProcess) -> None:
    # Given one refresh token
    _, tokens = _sign_up_and_log_in(stack)

    def refresh(_: int) -> int:
        return requests.post(
            f"{stack.url}/api/v1/auth/refresh",
            json={"refresh_token": tokens["refresh_token"]},
            timeout=30,
        ).status_code

    # When ten clients spend it at the same moment
    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = list(pool.map(refresh, range(10)))
    # Then exactly one gets a new pair; the others are refused
    assert statuses.count(200) == 1
    assert statuses.count(401) == 9
    # And, the token having been presented more than once, its whole login is revoked
    assert _refused_within_bound(stack, tokens["access_token"])


def test_logout_stops_the_access_token_within_five_seconds(stack: StackProcess) -> None:
    _, tokens = _sign_up_and_log_in(stack)
    assert _me_status(stack, tokens["access_token"]) == 200
    response = requests.post(
        f"{stack.url}/api/v1/auth/logout",
        json={"refresh_token": tokens["refresh_token"]},
        timeout=10,
    )
    assert response.status_code == 204
    assert _refused_within_bound(stack, tokens["access_token"])


def _login_from(stack: StackProcess, source_ip: str, email: str, password: str) -> int:
    host, port = stack.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(
        host, int(port), timeout=10, source_address=(source_ip, 0)
    )
    body = json.dumps({"email": email, "password": password})
    connection.request(
        "POST",
        "/api/v1/auth/login",
        body=body,
        headers={"Content-Type": "application/json", "X-Forwarded-For": "203.0.113.7"},
    )
    status = connection.getresponse().status
    connection.close()
    return status


def test_login_throttling_counts_the_tcp_peer_not_x_forwarded_for(stack: StackProcess) -> None:
    # Given 20 failed logins from 127.0.0.3, each claiming another address in X-Forwarded-For
    for _ in range(20):
        assert (
            _login_from(stack, "127.0.0.3", f"{uuid.uuid4().hex}@example.com", "wrong-pw-1234")
            == 401
        )
    # When 127.0.0.3 tries once more / Then it is throttled, while 127.0.0.4 is not
    email, _ = _sign_up_and_log_in(stack)
    assert _login_from(stack, "127.0.0.3", email, PASSWORD) == 429
    assert _login_from(stack, "127.0.0.4", email, PASSWORD) == 200


def test_a_removed_member_loses_the_workspace_within_five_seconds(stack: StackProcess) -> None:
    # Given an owner and a member who can read the workspace
    _, owner = _sign_up_and_log_in(stack)
    member_email, member = _sign_up_and_log_in(stack)
    owner_auth = {"Authorization": f"Bearer {owner['access_token']}"}
    workspace = requests.get(
        f"{stack.url}/api/v1/workspaces", headers=owner_auth, timeout=10
    ).json()["data"][0]["id"]
    added = requests.post(
        f"{stack.url}/api/v1/workspaces/{workspace}/members",
        headers=owner_auth,
        json={"email": member_email, "role": "admin"},
        timeout=10,
    )
    assert added.status_code == 201
    member_id = added.json()["data"]["user_id"]
    member_auth = {"Authorization": f"Bearer {member['access_token']}"}
    url = f"{stack.url}/api/v1/workspaces/{workspace}"
    assert requests.get(url, headers=member_auth, timeout=10).status_code == 200
    # When the owner removes them
    removed = requests.delete(f"{url}/members/{member_id}", headers=owner_auth, timeout=10)
    assert removed.status_code == 204
    # Then within five seconds the workspace does not exist for them
    deadline = time.monotonic() + REVOCATION_BOUND_SECONDS
    status = 200
    while time.monotonic() < deadline and status != 404:
        status = requests.get(url, headers=member_auth, timeout=10).status_code
        time.sleep(0.25)
    assert status == 404
