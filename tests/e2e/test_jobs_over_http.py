"""Contract sections 10 and 12 end to end: the scheduled jobs run by hand against the running
local stack, exactly as `make job NAME=...` runs them, and their effects seen over HTTP."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest
import requests

from tests.e2e.local_stack import StackProcess
from tests.e2e.people import access_token, create_key, new_owner

pytestmark = pytest.mark.e2e
# Signers re-read the key ring, and verifiers look up an unknown key, within 10 seconds.
KEY_RING_REFRESH_BOUND_SECONDS = 15.0


def _make_job_twice(stack: StackProcess, name: str) -> tuple[Any, Any]:
    """`make job NAME=<name>`, then again at once: both reports."""
    return stack.run_job(name), stack.run_job(name)


def test_the_expiry_job_marks_a_key_expired_with_an_audit_event(stack: StackProcess) -> None:
    # Given a key that ends a few seconds from now (its first request may start functions)
    headers = new_owner(stack).headers
    ends_at = int(time.time()) + 5
    key_id = create_key(stack, headers, "short-lived", expires_at=ends_at)["id"]
    # When its end has passed and the expiry job runs (twice: the second changes nothing)
    time.sleep(max(0.0, ends_at + 1 - time.time()))
    first, second = _make_job_twice(stack, "expiry")
    # Then the key is `expired`, by the first run
    assert first["complete"] is True
    assert first["counts"].get("expired", 0) >= 1
    assert second["counts"].get("expired") is None
    key = requests.get(f"{stack.url}/api/v1/api-keys/{key_id}", headers=headers, timeout=10)
    assert key.json()["data"]["status"] == "expired"
    # And the workspace's trail has its `api_key.expired` event, and the chain verifies
    events = requests.get(
        f"{stack.url}/api/v1/audit-events",
        params={"action": "api_key.expired"},
        headers=headers,
        timeout=10,
    )
    assert events.status_code == 200, events.text
    (event,) = events.json()["data"]
    assert event["target"] == {"type": "api_key", "id": key_id}
    assert event["actor"] == {"type": "system", "id": "expiry"}
    verify = requests.get(f"{stack.url}/api/v1/audit-events/verify", headers=headers, timeout=10)
    assert verify.json()["data"]["valid"] is True


def test_the_anchor_job_anchors_a_changed_trail_and_verify_reports_the_anchor(
    stack: StackProcess,
) -> None:
    # Given a workspace whose trail has its creation event and a key's
    headers = new_owner(stack).headers
    create_key(stack, headers, "anchored")
    # When the anchor job runs by hand, twice
    first, second = _make_job_twice(stack, "anchor")
    # Then the first anchored the changed trails (this one among them), the second none
    assert first["complete"] is True
    assert first["counts"].get("anchored", 0) >= 1
    assert second["counts"].get("anchored") is None
    # And the check holds the trail to that anchor, and says what it cannot vouch for
    verify = requests.get(f"{stack.url}/api/v1/audit-events/verify", headers=headers, timeout=10)
    data = verify.json()["data"]
    assert (data["valid"], data["anchored_seq"]) == (True, 2)
    assert "Events after 2 are not anchored yet" in data["caveat"]


def _poll(until: Any, bound: float) -> Any:
    deadline = time.monotonic() + bound
    while True:
        result = until()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.5)


def test_a_signing_key_rotation_keeps_old_tokens_and_new_ones_verify(stack: StackProcess) -> None:
    # Given a token signed by the current key
    owner = new_owner(stack)
    email, headers, old_token = owner.email, owner.headers, owner.access_token
    old_kid = jwt.get_unverified_header(old_token)["kid"]
    # When the rotation job is asked to rotate now, with no overlap
    report = stack.run_job("rotation", {"rotate_signing_key_now": True, "overlap_seconds": 0})
    assert report["counts"].get("signing_keys_added") == 1
    # Then the JWKS publishes the new key beside the old one
    jwks = requests.get(f"{stack.url}/.well-known/jwks.json", timeout=10).json()["keys"]
    kids = {key["kid"] for key in jwks}
    assert old_kid in kids
    assert len(kids) >= 2
    # And the old token still works until it expires
    me = requests.get(f"{stack.url}/api/v1/me", headers=headers, timeout=10)
    assert me.status_code == 200
    # And new tokens are signed by the new key (once signers re-read the ring) and verify
    new_token = _poll(
        lambda: (
            token
            if jwt.get_unverified_header(token := access_token(stack, email))["kid"] != old_kid
            else None
        ),
        KEY_RING_REFRESH_BOUND_SECONDS,
    )
    assert new_token is not None, "no token was signed by the new key"
    new_kid = jwt.get_unverified_header(new_token)["kid"]
    assert new_kid in kids
    public = next(key for key in jwks if key["kid"] == new_kid)
    claims = jwt.decode(
        new_token,
        key=jwt.PyJWK(public).key,
        algorithms=["ES256"],
        options={"verify_aud": False},
    )
    assert claims["sub"]
    authorized = _poll(
        lambda: (
            requests.get(
                f"{stack.url}/api/v1/me",
                headers={"Authorization": f"Bearer {new_token}"},
                timeout=10,
            ).status_code
            == 200
        ),
        KEY_RING_REFRESH_BOUND_SECONDS,
    )
    assert authorized


def test_make_plan_moves_a_workspace_to_pro_within_5_seconds_on_its_trail(
    stack: StackProcess,
) -> None:
    # Given a free workspace whose key is counted at the free rate
    owner = new_owner(stack)
    key = create_key(stack, owner.headers, "planned")["key"]
    me = requests.get(f"{stack.url}/api/v1/me", headers={"X-API-Key": key}, timeout=10)
    assert me.headers["RateLimit-Limit"] == "120"
    # When the operator runs `make plan WORKSPACE=... PLAN=pro`
    report = stack.run_job("plan", {"workspace_id": owner.workspace, "plan": "pro"})
    assert report["counts"] == {"changed": 1}
    # Then within 5 seconds of the change (the command returns once it is stored) the key is
    # counted at pro's rate
    limit = _poll(
        lambda: (
            requests.get(f"{stack.url}/api/v1/me", headers={"X-API-Key": key}, timeout=10).headers[
                "RateLimit-Limit"
            ]
            == "3000"
        ),
        5.0,
    )
    assert limit
    # And the workspace's trail records it, from free to pro
    events = requests.get(
        f"{stack.url}/api/v1/audit-events",
        params={"action": "workspace.plan_changed"},
        headers=owner.headers,
        timeout=10,
    )
    (event,) = events.json()["data"]
    assert event["details"] == {"from": "free", "to": "pro"}
