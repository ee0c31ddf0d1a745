"""MFA end to end: real HTTP through the local stack's gateway, authorizer and function
processes, on the real clock: a workspace that requires MFA refuses a member without it within
five seconds, and one code sent to ten logins at once opens exactly one session."""

from __future__ import annotations

import http.client
import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pyotp
import pytest
import requests

from tests.e2e.local_stack import StackProcess
from tests.e2e.people import signup_address

pytestmark = pytest.mark.e2e
PASSWORD = "blue-table-river-42"
ENFORCEMENT_BOUND_SECONDS = 5.0
# Logins answered from an address of their own: the per-address failure budget is shared.
VERIFY_SOURCE_IP = "127.0.0.6"


@dataclass
class Authenticator:
    """An authenticator app that never offers a step it already used (each is accepted once)."""

    secret: str
    last_step: int = -1
    steps_used: list[int] = field(default_factory=list)

    def next_code(self) -> str:
        while True:
            current = int(time.time()) // 30
            step = max(current - 1, self.last_step + 1)
            if step <= current + 1:  # within the drift the server accepts
                self.last_step = step
                return pyotp.TOTP(self.secret).at(step * 30)
            time.sleep(1)


def _send(
    stack: StackProcess,
    method: str,
    path: str,
    *,
    token: str | None = None,
    body: Any = None,
    source_ip: str = "127.0.0.1",
) -> tuple[int, Any]:
    """One request from `source_ip` (the TCP peer the gateway sees)."""
    host, port = stack.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(
        host, int(port), timeout=15, source_address=(source_ip, 0)
    )
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    connection.request(
        method, path, body=json.dumps(body) if body is not None else None, headers=headers
    )
    response = connection.getresponse()
    raw = response.read()
    connection.close()
    return response.status, json.loads(raw) if raw else None


def _sign_up(stack: StackProcess) -> tuple[str, dict[str, Any], str]:
    email = f"e2e-mfa-{uuid.uuid4().hex[:12]}@example.com"
    status, signup = _send(
        stack,
        "POST",
        "/api/v1/auth/signup",
        body={"email": email, "password": PASSWORD, "name": "E2E"},
        source_ip=signup_address(),
    )
    assert status == 201, signup
    status, login = _send(
        stack, "POST", "/api/v1/auth/login", body={"email": email, "password": PASSWORD}
    )
    assert status == 200, login
    return email, login["data"], signup["data"]["workspace"]["id"]


def _enrol(stack: StackProcess, access_token: str) -> Authenticator:
    status, setup = _send(stack, "POST", "/api/v1/me/mfa/totp/setup", token=access_token)
    assert status == 200, setup
    app = Authenticator(setup["data"]["secret"])
    status, enabled = _send(
        stack,
        "POST",
        "/api/v1/me/mfa/totp/enable",
        token=access_token,
        body={"code": app.next_code(), "password": PASSWORD},
    )
    assert status == 200, enabled
    return app


def _status_within_bound(stack: StackProcess, path: str, token: str, wanted: int) -> int:
    deadline = time.monotonic() + ENFORCEMENT_BOUND_SECONDS
    status, body = _send(stack, "GET", path, token=token)
    while status != wanted and time.monotonic() < deadline:
        time.sleep(0.25)
        status, body = _send(stack, "GET", path, token=token)
    if status == 403:
        assert body["error"]["code"] == "mfa_required"
    return status


def test_a_workspace_requiring_mfa_refuses_a_member_without_it(stack: StackProcess) -> None:
    # Given an owner with MFA and a member without, who can read the workspace
    _, owner, workspace = _sign_up(stack)
    _enrol(stack, owner["access_token"])
    member_email, member, _ = _sign_up(stack)
    status, _ = _send(
        stack,
        "POST",
        f"/api/v1/workspaces/{workspace}/members",
        token=owner["access_token"],
        body={"email": member_email, "role": "user"},
    )
    assert status == 201
    path = f"/api/v1/workspaces/{workspace}"
    assert _send(stack, "GET", path, token=member["access_token"])[0] == 200
    # When the owner requires MFA
    status, changed = _send(
        stack, "PATCH", path, token=owner["access_token"], body={"require_mfa": True}
    )
    assert status == 200, changed
    # Then within five seconds the member gets 403 mfa_required; the owner keeps access
    assert _status_within_bound(stack, path, member["access_token"], 403) == 403
    assert _send(stack, "GET", path, token=owner["access_token"])[0] == 200
    # And once the member turns MFA on, the workspace is theirs again within five seconds
    _enrol(stack, member["access_token"])
    assert _status_within_bound(stack, path, member["access_token"], 200) == 200


def test_one_code_sent_to_ten_logins_at_once_opens_one_session(stack: StackProcess) -> None:
    # Given a user with MFA and ten pending logins
    email, tokens, _ = _sign_up(stack)
    app = _enrol(stack, tokens["access_token"])
    challenges = []
    for _ in range(10):
        status, login = _send(
            stack, "POST", "/api/v1/auth/login", body={"email": email, "password": PASSWORD}
        )
        assert status == 200
        assert login["data"]["mfa_required"] is True
        challenges.append(login["data"]["mfa_token"])
    code = app.next_code()

    # When the same code answers all ten at once
    def verify(mfa_token: str) -> int:
        return _send(
            stack,
            "POST",
            "/api/v1/auth/mfa/verify",
            body={"mfa_token": mfa_token, "code": code},
            source_ip=VERIFY_SOURCE_IP,
        )[0]

    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = list(pool.map(verify, challenges))
    # Then exactly one session opened; the others were refused (or throttled, unchecked)
    assert statuses.count(200) == 1, statuses
    assert statuses.count(401) + statuses.count(429) == 9, statuses


def test_an_mfa_token_is_refused_as_an_access_token(stack: StackProcess) -> None:
    email, tokens, _ = _sign_up(stack)
    _enrol(stack, tokens["access_token"])
    status, login = _send(
        stack, "POST", "/api/v1/auth/login", body={"email": email, "password": PASSWORD}
    )
    assert status == 200
    mfa_token = login["data"]["mfa_token"]
    assert requests.get(
        f"{stack.url}/api/v1/me", headers={"Authorization": f"Bearer {mfa_token}"}, timeout=10
    ).json() == {"message": "Unauthorized"}
