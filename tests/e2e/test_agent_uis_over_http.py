"""Agent UI deployments end to end (contract section 9): real HTTP through the local stack's
gateway and function processes, on the real clock and real argon2id, with the client address
taken from the TCP peer: a token opens its own deployment only, five failures lock one address
out, and a PIN change ends the sessions of the old PIN.

Every request comes from 127.0.20.0/24, which no other test uses: failure budgets are per
address."""

from __future__ import annotations

import http.client
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from tests.e2e.local_stack import StackProcess
from tests.e2e.people import signup_address

pytestmark = pytest.mark.e2e
PASSWORD = "blue-table-river-42"
PIN = "90417263"
NEW_PIN = "58302917"
WRONG_PIN = "11112222"
OWNER_ADDRESS = "127.0.20.1"
LOCKOUT_WINDOW_SECONDS = 900


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: Any


def _send(
    stack: StackProcess,
    method: str,
    path: str,
    *,
    body: Any = None,
    headers: dict[str, str] | None = None,
    source_ip: str = OWNER_ADDRESS,
) -> Reply:
    """One request from `source_ip` (the TCP peer the gateway sees)."""
    host, port = stack.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(
        host, int(port), timeout=15, source_address=(source_ip, 0)
    )
    sent = {"Content-Type": "application/json", **(headers or {})}
    connection.request(
        method, path, body=json.dumps(body) if body is not None else None, headers=sent
    )
    response = connection.getresponse()
    raw = response.read()
    connection.close()
    return Reply(
        response.status,
        {name.lower(): value for name, value in response.getheaders()},
        json.loads(raw) if raw else None,
    )


@pytest.fixture
def owner(stack: StackProcess) -> dict[str, str]:
    """The headers of a new workspace's owner."""
    email = f"e2e-aui-{uuid.uuid4().hex[:12]}@example.com"
    signup = _send(
        stack,
        "POST",
        "/api/v1/auth/signup",
        body={"email": email, "password": PASSWORD, "name": "E2E"},
        source_ip=signup_address(),
    )
    assert signup.status == 201, signup.body
    login = _send(stack, "POST", "/api/v1/auth/login", body={"email": email, "password": PASSWORD})
    assert login.status == 200, login.body
    return {
        "Authorization": f"Bearer {login.body['data']['access_token']}",
        "X-Workspace-ID": signup.body["data"]["workspace"]["id"],
    }


def _deploy(stack: StackProcess, owner: dict[str, str], pin: str | None = PIN) -> str:
    body = {"name": "Support bot", "agent_id": "agent-support", **({"pin": pin} if pin else {})}
    created = _send(stack, "POST", "/api/v1/agent-uis", body=body, headers=owner)
    assert created.status == 201, created.body
    assert "pin" not in created.body["data"]
    return str(created.body["data"]["id"])


def _unlock(stack: StackProcess, agent_ui_id: str, pin: str | None, source_ip: str) -> Reply:
    return _send(
        stack,
        "POST",
        f"/api/v1/agent-uis/{agent_ui_id}/unlock",
        body={"pin": pin} if pin else {},
        source_ip=source_ip,
    )


def _token(stack: StackProcess, agent_ui_id: str, pin: str | None, source_ip: str) -> str:
    reply = _unlock(stack, agent_ui_id, pin, source_ip)
    assert reply.status == 200, reply.body
    assert reply.body["data"]["expires_in"] == 900
    return str(reply.body["data"]["access_token"])


def _session(stack: StackProcess, agent_ui_id: str, token: str) -> Reply:
    return _send(
        stack,
        "GET",
        f"/api/v1/agent-uis/{agent_ui_id}/session",
        headers={"Authorization": f"Bearer {token}"},
        source_ip="127.0.20.2",
    )


def test_a_token_opens_its_own_deployment_only(stack: StackProcess, owner: dict[str, str]) -> None:
    # Given two deployments of one workspace, and a token of the first
    first, second = _deploy(stack, owner), _deploy(stack, owner, pin=None)
    token = _token(stack, first, PIN, "127.0.20.3")
    # When it is shown to each one's session route
    own = _session(stack, first, token)
    other = _session(stack, second, token)
    # Then the first opens, the second refuses it (401)
    assert own.status == 200, own.body
    assert own.body["data"] == {"id": first, "name": "Support bot", "agent_id": "agent-support"}
    assert other.status == 401
    assert other.body["error"]["code"] == "unauthenticated"
    # And the rest of the API refuses it as no credential at all
    me = _send(stack, "GET", "/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert (me.status, me.body) == (401, {"message": "Unauthorized"})


def _five_failures_then_right_pin(
    stack: StackProcess, agent_ui_id: str, attacker: str
) -> tuple[list[int], Reply] | None:
    """Five wrong PINs from `attacker`, then the right one with a forged `X-Forwarded-For`; None
    when a fixed window ended in between (the test then tries again on a fresh deployment)."""
    window = int(time.time()) // LOCKOUT_WINDOW_SECONDS
    statuses = [_unlock(stack, agent_ui_id, WRONG_PIN, attacker).status for _ in range(5)]
    sixth = _send(
        stack,
        "POST",
        f"/api/v1/agent-uis/{agent_ui_id}/unlock",
        body={"pin": PIN},
        headers={"X-Forwarded-For": "127.0.20.99"},
        source_ip=attacker,
    )
    if int(time.time()) // LOCKOUT_WINDOW_SECONDS != window:
        return None
    return statuses, sixth


def test_five_failures_lock_one_address_out_and_no_other(
    stack: StackProcess, owner: dict[str, str]
) -> None:
    # Given five wrong PINs from one address, then the right one claiming another address
    outcome = None
    for attacker in ("127.0.20.10", "127.0.20.11"):
        agent_ui_id = _deploy(stack, owner)
        outcome = _five_failures_then_right_pin(stack, agent_ui_id, attacker)
        if outcome is not None:
            break
    assert outcome is not None, "two fixed windows ended mid-test"
    statuses, sixth = outcome
    # Then each failure was 401, and the sixth attempt is 429 with Retry-After, unchecked
    assert statuses == [401] * 5
    assert sixth.status == 429, sixth.body
    assert sixth.body["error"]["code"] == "rate_limited"
    assert 0 < int(sixth.headers["retry-after"]) <= LOCKOUT_WINDOW_SECONDS
    # And another address unlocks with the right PIN
    assert _unlock(stack, agent_ui_id, PIN, "127.0.20.12").status == 200


def test_changing_the_pin_ends_the_sessions_of_the_old_one(
    stack: StackProcess, owner: dict[str, str]
) -> None:
    # Given an open session of a deployment
    agent_ui_id = _deploy(stack, owner)
    token = _token(stack, agent_ui_id, PIN, "127.0.20.20")
    assert _session(stack, agent_ui_id, token).status == 200
    # When the owner changes the PIN
    changed = _send(
        stack, "PATCH", f"/api/v1/agent-uis/{agent_ui_id}", body={"pin": NEW_PIN}, headers=owner
    )
    assert changed.status == 200, changed.body
    assert changed.body["data"]["pin_protected"] is True
    # Then the session ends at once, the old PIN is wrong, and the new one opens a new session
    assert _session(stack, agent_ui_id, token).status == 401
    assert _unlock(stack, agent_ui_id, PIN, "127.0.20.20").status == 401
    new_token = _token(stack, agent_ui_id, NEW_PIN, "127.0.20.20")
    assert _session(stack, agent_ui_id, new_token).status == 200
