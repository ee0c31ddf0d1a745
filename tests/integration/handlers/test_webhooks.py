"""Contract section 8 through the gateway logic with every function in-process, over the
emulator: trigger management, tokens and secrets shown once and stored sealed, the trigger call
(token, active flag, signature, timestamp window, replay, per-address limit) and the event that
reaches the bus."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from railguard.store import Table
from railguard.webhooks import signature
from tests.support import accounts as a
from tests.support.emulator import AwsEndpoint, Provisioning
from tests.support.fake_time import FakeClock
from tests.support.inprocess import InProcessClient, Reply
from tests.support.plaintexts import remember

TRIGGER_PATH = "/api/v1/webhook/trigger"


# A table per test: moto's transactions slow down with the size of the table.
pytestmark = [pytest.mark.table_per_test, pytest.mark.usefixtures("cheap_passwords")]


@dataclass
class Workspace:
    client: InProcessClient
    id: str
    owner: dict[str, str]  # headers of the owner
    member: dict[str, str]  # headers of a plain member
    other: dict[str, str]  # headers of another workspace's owner

    def create(self, **fields: Any) -> dict[str, Any]:
        body = {"name": "Deploys", "agent_id": "agent-1", **fields}
        reply = self.client.request(
            "POST", "/api/v1/webhook-triggers", body=body, headers=self.owner
        )
        assert reply.status == 201, reply.body
        data: dict[str, Any] = reply.json()["data"]
        remember(data["token"])
        if data.get("secret"):
            remember(data["secret"])
        return data


@pytest.fixture
def workspace(client: InProcessClient, clock: FakeClock) -> Workspace:
    owner, member, other = a.team(client, "user")
    return Workspace(
        client, owner.workspace, owner.headers(), member.headers(owner.workspace), other.headers()
    )


def _call(
    client: InProcessClient,
    token: str,
    payload: Any = None,
    *,
    headers: dict[str, str] | None = None,
    source_ip: str = "127.0.0.1",
    raw: bytes | None = None,
) -> Reply:
    """A trigger call; `raw` sends exact bytes (what a signature covers)."""
    all_headers = {"Authorization": f"Bearer {token}", **(headers or {})}
    return client.request(
        "POST",
        TRIGGER_PATH,
        body=payload if raw is None else None,
        raw_body=raw,
        headers=all_headers,
        source_ip=source_ip,
    )


def _signed_headers(secret: str, raw: bytes, timestamp: int) -> dict[str, str]:
    return {
        "X-Webhook-Timestamp": str(timestamp),
        "X-Webhook-Signature": signature(secret, str(timestamp), raw),
    }


# -- management -----------------------------------------------------------------------------
def test_a_trigger_is_created_with_its_token_and_secret_shown_once(
    workspace: Workspace, table: Table
) -> None:
    # When the owner creates a trigger with a signing secret
    created = workspace.create(generate_secret=True)
    # Then the token and secret are in the answer, in their documented shapes
    assert created["token"].startswith("wht_")
    assert len(created["token"]) == 42
    assert created["secret"].startswith("whsec_")
    assert created["token_prefix"] == created["token"][:8]
    assert (created["is_active"], created["has_secret"], created["last_used_at"]) == (
        True,
        True,
        None,
    )
    # And never again: not by id, not in the list
    path = f"/api/v1/webhook-triggers/{created['id']}"
    one = workspace.client.request("GET", path, headers=workspace.owner)
    listed = workspace.client.request("GET", "/api/v1/webhook-triggers", headers=workspace.member)
    for reply in (one, listed):
        assert reply.status == 200
        assert created["token"] not in reply.body.decode()
        assert created["secret"] not in reply.body.decode()
    assert [t["id"] for t in listed.json()["data"]] == [created["id"]]


def test_members_read_managers_write_and_other_workspaces_see_nothing(
    workspace: Workspace,
) -> None:
    created = workspace.create()
    path = f"/api/v1/webhook-triggers/{created['id']}"
    client = workspace.client
    # A plain member may read but not change
    assert client.request("GET", path, headers=workspace.member).status == 200
    patched = client.request("PATCH", path, body={"name": "x"}, headers=workspace.member)
    assert patched.status == 403
    # Another workspace's owner finds nothing, even by id
    assert client.request("GET", path, headers=workspace.other).status == 404
    assert client.request("DELETE", path, headers=workspace.other).status == 404


def test_key_scopes_decide_read_and_write(workspace: Workspace) -> None:
    client = workspace.client

    def key(scopes: list[str]) -> dict[str, str]:
        reply = client.request(
            "POST",
            "/api/v1/api-keys",
            body={"name": "k", "scopes": scopes},
            headers=workspace.owner,
        )
        return {"X-API-Key": reply.json()["data"]["key"]}

    reader, writer = key(["webhook_triggers:read"]), key(["webhook_triggers:write"])
    body = {"name": "n", "agent_id": "a"}
    assert client.request("GET", "/api/v1/webhook-triggers", headers=reader).status == 200
    assert (
        client.request("POST", "/api/v1/webhook-triggers", body=body, headers=reader).status == 403
    )
    written = client.request("POST", "/api/v1/webhook-triggers", body=body, headers=writer)
    assert written.status == 201
    remember(written.json()["data"]["token"])


# -- the trigger call ---------------------------------------------------------------------------
def test_a_call_publishes_the_event_to_the_bus(
    workspace: Workspace, aws: AwsEndpoint, provisioned: Provisioning
) -> None:
    # Given a trigger and a queue that receives the bus's webhook events
    created = workspace.create()
    events, sqs = aws.clients("events", "sqs")
    bus = provisioned.intrinsics.physical["EventBus"].ref
    queue_url = sqs.create_queue(QueueName=f"q-{created['id'][-8:]}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    events.put_rule(
        Name=f"r-{created['id'][-8:]}",
        EventBusName=bus,
        EventPattern=json.dumps({"source": ["railguard.webhooks"]}),
    )
    events.put_targets(
        Rule=f"r-{created['id'][-8:]}",
        EventBusName=bus,
        Targets=[{"Id": "queue", "Arn": queue_arn}],
    )
    # When the trigger is called with a payload
    reply = _call(workspace.client, created["token"], {"ticket": 42})
    # Then 202 with an event id, and that event on the bus with trigger, agent and workspace
    assert reply.status == 202, reply.body
    data = reply.json()["data"]
    assert data["accepted"] is True
    messages = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1)["Messages"]
    event = json.loads(messages[0]["Body"])
    assert event["detail-type"] == "webhook.triggered"
    assert event["detail"] == {
        "event_id": data["event_id"],
        "trigger_id": created["id"],
        "agent_id": "agent-1",
        "workspace_id": workspace.id,
        "payload": {"ticket": 42},
    }
    # And the trigger's last use is recorded
    got = workspace.client.request(
        "GET", f"/api/v1/webhook-triggers/{created['id']}", headers=workspace.owner
    )
    assert got.json()["data"]["last_used_at"] is not None


@pytest.mark.parametrize(
    "token",
    [
        "",
        "wht_notatoken",
        "wht_" + "A" * 38,  # the right length, a wrong checksum
        "pr_live_" + "A" * 38,
    ],
)
def test_unknown_or_malformed_tokens_are_401(workspace: Workspace, token: str) -> None:
    workspace.create()  # so the lookup key exists
    assert _call(workspace.client, token, {"x": 1}).status == 401


def test_an_inactive_trigger_is_403_and_a_deleted_one_401(workspace: Workspace) -> None:
    created = workspace.create(is_active=False)
    assert _call(workspace.client, created["token"], {}).status == 403
    path = f"/api/v1/webhook-triggers/{created['id']}"
    client = workspace.client
    assert (
        client.request("PATCH", path, body={"is_active": True}, headers=workspace.owner).status
        == 200
    )
    assert _call(client, created["token"], {}).status == 202
    assert client.request("DELETE", path, headers=workspace.owner).status == 204
    assert _call(client, created["token"], {}).status == 401
    assert client.request("GET", path, headers=workspace.owner).status == 404


def test_rotation_stops_the_old_token_at_once(workspace: Workspace) -> None:
    created = workspace.create()
    rotated = workspace.client.request(
        "POST", f"/api/v1/webhook-triggers/{created['id']}/rotate-token", headers=workspace.owner
    )
    assert rotated.status == 200
    new_token = remember(rotated.json()["data"]["token"])
    assert new_token != created["token"]
    assert _call(workspace.client, created["token"], {}).status == 401
    assert _call(workspace.client, new_token, {}).status == 202


def test_a_signed_trigger_needs_a_valid_fresh_signature_once(
    workspace: Workspace, clock: FakeClock
) -> None:
    # Given a trigger with a secret and a correctly signed body
    created = workspace.create(generate_secret=True)
    secret, token = created["secret"], created["token"]
    raw = b'{"ticket": 42}'
    now = int(clock.now())
    good = _signed_headers(secret, raw, now)
    # Then unsigned, wrongly signed, changed-body, stale and future calls are refused
    refusals = [
        _call(workspace.client, token, raw=raw),
        _call(
            workspace.client, token, raw=raw, headers={**good, "X-Webhook-Signature": "sha256=00"}
        ),
        _call(workspace.client, token, raw=b'{"ticket": 43}', headers=good),
        _call(workspace.client, token, raw=raw, headers=_signed_headers(secret, raw, now - 301)),
        _call(workspace.client, token, raw=raw, headers=_signed_headers(secret, raw, now + 301)),
        _call(workspace.client, token, raw=raw, headers=_signed_headers("whsec_other", raw, now)),
    ]
    assert [reply.status for reply in refusals] == [401] * 6
    assert {reply.json()["error"]["code"] for reply in refusals} == {"invalid_signature"}
    # And the good one is accepted once; the same signed request again is a replay
    assert _call(workspace.client, token, raw=raw, headers=good).status == 202
    replay = _call(workspace.client, token, raw=raw, headers=good)
    assert (replay.status, replay.json()["error"]["code"]) == (401, "invalid_signature")
    # And a call at the edge of the window (300 s old) still passes
    edge = _signed_headers(secret, raw, now - 300)
    assert _call(workspace.client, token, raw=raw, headers=edge).status == 202


def test_thirty_calls_a_minute_per_source_address(workspace: Workspace, clock: FakeClock) -> None:
    # Given a trigger, at the start of a minute window
    created = workspace.create()
    clock.to_window_start(60)
    # When one address calls 31 times and another once
    statuses = [
        _call(workspace.client, created["token"], {}, source_ip="127.0.3.1").status
        for _ in range(31)
    ]
    other = _call(workspace.client, created["token"], {}, source_ip="127.0.3.2")
    # Then exactly 30 pass, the 31st is 429 with Retry-After, and the other address is fine
    assert statuses.count(202) == 30
    assert statuses[-1] == 429
    assert other.status == 202


def test_finding_9_the_addresses_of_one_ipv6_64_share_the_thirty_calls(
    workspace: Workspace, clock: FakeClock
) -> None:
    # Given a trigger, at the start of a minute window
    created = workspace.create()
    clock.to_window_start(60)
    # When thirty-one addresses of one /64 call once each, and an address of the next /64 once
    statuses = [
        _call(workspace.client, created["token"], {}, source_ip=f"2001:db8:77:1::{n:x}").status
        for n in range(1, 32)
    ]
    neighbour = _call(workspace.client, created["token"], {}, source_ip="2001:db8:77:2::1")
    # Then they shared one budget: thirty pass and the thirty-first is refused
    assert (statuses.count(202), statuses[-1]) == (30, 429)
    # And the next /64 has a budget of its own
    assert neighbour.status == 202


def test_the_token_is_not_an_api_credential(workspace: Workspace) -> None:
    created = workspace.create()
    me = workspace.client.request("GET", "/api/v1/me", headers={"X-API-Key": created["token"]})
    bearer = workspace.client.request("GET", "/api/v1/me", token=created["token"])
    assert (me.status, bearer.status) == (401, 401)


def test_secrets_are_stored_sealed(workspace: Workspace, table: Table) -> None:
    # The session's final scan checks every table for the remembered token and secret; here,
    # the items that hold them have binary ciphertext, not text.
    created = workspace.create(generate_secret=True)
    client = table._client
    items = client.scan(TableName=table.name)["Items"]
    records = [item for item in items if item["pk"]["S"].startswith("WEBHOOK#")]
    assert len(records) == 1
    assert set(records[0]["token"]) == {"B"}
    assert set(records[0]["secret"]) == {"B"}
    assert created["token"] not in json.dumps(items, default=str)
