"""Webhook triggers end to end: real HTTP through the local stack's gateway and function
processes, on the real clock; the event is read back from the emulator's bus."""

from __future__ import annotations

import http.client
import json
import time
import uuid
from typing import Any

import pytest
import requests

from railguard.webhooks import signature
from tests.e2e.local_stack import StackProcess
from tests.e2e.people import sign_up
from tests.support.emulator import AwsEndpoint

pytestmark = pytest.mark.e2e
PASSWORD = "blue-table-river-42"


def _owner_headers(stack: StackProcess) -> dict[str, str]:
    email = f"e2e-wh-{uuid.uuid4().hex[:12]}@example.com"
    signup = sign_up(stack, email)
    login = requests.post(
        f"{stack.url}/api/v1/auth/login", json={"email": email, "password": PASSWORD}, timeout=10
    )
    return {
        "Authorization": f"Bearer {login.json()['data']['access_token']}",
        "X-Workspace-ID": signup["workspace"]["id"],
    }


def _listen(stack: StackProcess, name: str) -> tuple[Any, str]:
    """An SQS queue that receives every webhook event of the stack's bus."""
    events, sqs = AwsEndpoint(stack.aws_endpoint_url).clients("events", "sqs")
    bus = next(
        bus["Name"] for bus in events.list_event_buses(NamePrefix="railguard-")["EventBuses"]
    )
    queue_url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events.put_rule(
        Name=name,
        EventBusName=bus,
        EventPattern=json.dumps({"source": ["railguard.webhooks"]}),
    )
    events.put_targets(Rule=name, EventBusName=bus, Targets=[{"Id": "q", "Arn": arn}])
    return sqs, queue_url


def _trigger(stack: StackProcess, token: str, raw: bytes, headers: dict[str, str]) -> int:
    return requests.post(
        f"{stack.url}/api/v1/webhook/trigger",
        data=raw,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json", **headers},
        timeout=10,
    ).status_code


def test_a_signed_call_reaches_the_bus_once_and_tampering_is_refused(
    stack: StackProcess,
) -> None:
    # Given a trigger with a signing secret, and a queue on the bus
    owner = _owner_headers(stack)
    created = requests.post(
        f"{stack.url}/api/v1/webhook-triggers",
        json={"name": "deploys", "agent_id": "agent-7", "generate_secret": True},
        headers=owner,
        timeout=10,
    )
    assert created.status_code == 201, created.text
    trigger = created.json()["data"]
    sqs, queue_url = _listen(stack, f"e2e-{trigger['id'][-10:]}")
    raw = b'{"ref": "refs/heads/main"}'
    timestamp = str(int(time.time()))
    signed = {
        "X-Webhook-Timestamp": timestamp,
        "X-Webhook-Signature": signature(trigger["secret"], timestamp, raw),
    }
    # When the body is changed under the signature / Then 401
    assert _trigger(stack, trigger["token"], b'{"ref": "refs/heads/evil"}', signed) == 401
    # When the signed body is sent / Then 202, and the event is on the bus
    assert _trigger(stack, trigger["token"], raw, signed) == 202
    messages = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=2).get("Messages", [])
    assert len(messages) == 1
    detail = json.loads(messages[0]["Body"])["detail"]
    assert (detail["trigger_id"], detail["agent_id"]) == (trigger["id"], "agent-7")
    assert detail["payload"] == {"ref": "refs/heads/main"}
    # When the same signed request is replayed / Then 401, and nothing more reaches the bus
    assert _trigger(stack, trigger["token"], raw, signed) == 401
    again = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1).get("Messages", [])
    assert again == []


def _from(stack: StackProcess, source_ip: str, token: str) -> int:
    """A trigger call from `source_ip` (the TCP peer the gateway sees)."""
    host, port = stack.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(
        host, int(port), timeout=10, source_address=(source_ip, 0)
    )
    connection.request(
        "POST",
        "/api/v1/webhook/trigger",
        body=b"{}",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    status = connection.getresponse().status
    connection.close()
    return status


def test_limits_pauses_and_rotation_of_a_trigger(stack: StackProcess) -> None:
    # Given an unsigned trigger
    owner = _owner_headers(stack)
    trigger = requests.post(
        f"{stack.url}/api/v1/webhook-triggers",
        json={"name": "ci", "agent_id": "agent-8"},
        headers=owner,
        timeout=10,
    ).json()["data"]
    path = f"{stack.url}/api/v1/webhook-triggers/{trigger['id']}"
    # When one address calls 31 times within one minute window (not straddling two)
    if time.time() % 60 > 45:
        time.sleep(61 - time.time() % 60)
    statuses = [_from(stack, "127.0.30.1", trigger["token"]) for _ in range(31)]
    assert statuses.count(202) == 30
    assert statuses[-1] == 429
    assert _from(stack, "127.0.30.2", trigger["token"]) == 202
    # When the trigger is paused / Then 403, and 202 again once resumed
    requests.patch(path, json={"is_active": False}, headers=owner, timeout=10)
    assert _from(stack, "127.0.30.3", trigger["token"]) == 403
    requests.patch(path, json={"is_active": True}, headers=owner, timeout=10)
    assert _from(stack, "127.0.30.3", trigger["token"]) == 202
    # When its token is rotated / Then the old token is 401 at once and the new one works
    rotated = requests.post(f"{path}/rotate-token", headers=owner, timeout=10)
    assert rotated.status_code == 200
    assert _from(stack, "127.0.30.3", trigger["token"]) == 401
    assert _from(stack, "127.0.30.3", rotated.json()["data"]["token"]) == 202
