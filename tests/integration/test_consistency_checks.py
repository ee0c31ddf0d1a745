"""The fault suite's incremental consistency check finds what the full one finds, from the keys
a request wrote and the trail past the last verified head (tests/support/consistency.py)."""

from __future__ import annotations

from typing import Any

import pytest

from railguard.api_keys.repository import pointer_key
from railguard.audit import repository as audit_repository
from railguard.store import Table
from railguard.store import keys as item_keys
from tests.support import accounts as a
from tests.support.consistency import IncrementalCheck, problems
from tests.support.inprocess import InProcessClient

pytestmark = pytest.mark.usefixtures("cheap_passwords")


@pytest.fixture
def owner(client: InProcessClient) -> dict[str, str]:
    return a.owner_headers()


def _new_key(client: InProcessClient, owner: dict[str, str]) -> dict[str, Any]:
    body = {"name": "k", "scopes": ["agents:read"]}
    reply = client.request("POST", "/api/v1/api-keys", headers=owner, body=body)
    assert reply.status == 201, reply.body
    data: dict[str, Any] = reply.json()["data"]
    return data


def test_a_record_left_without_its_pointer_is_found_among_the_written_keys(
    client: InProcessClient, owner: dict[str, str], table: Table, audit_table: Table
) -> None:
    # Given a workspace checked clean, then a key whose pointer is lost (as a half-applied
    # write would leave it)
    workspace = owner["X-Workspace-ID"]
    check = IncrementalCheck(table, audit_table, workspace)
    assert check.problems(set()) == []
    key = _new_key(client, owner)
    pointer = pointer_key(workspace, key["id"])
    record = next(
        item
        for item in table._client.scan(TableName=table.name)["Items"]
        if item["sk"]["S"] == "KEY" and item.get("id", {}).get("S") == key["id"]
    )
    table._client.delete_item(
        TableName=table.name, Key={"pk": {"S": pointer[0]}, "sk": {"S": pointer[1]}}
    )
    written = {(record["pk"]["S"], "KEY"), pointer}
    # When checked incrementally with the keys written, and in full
    found = check.problems(written)
    # Then both find the orphan record (and its creation event without the resource)
    assert f"APIKEY#{key['id']}: record without its pointer" in found
    assert f"APIKEY#{key['id']}: record without its pointer" in problems(
        table, audit_table, workspace
    )


def test_an_event_changed_after_it_was_verified_breaks_the_chain_from_there(
    client: InProcessClient, owner: dict[str, str], table: Table, audit_table: Table
) -> None:
    # Given a trail verified up to its head, then one more event
    workspace = owner["X-Workspace-ID"]
    check = IncrementalCheck(table, audit_table, workspace)
    _new_key(client, owner)
    assert check.problems(set()) == []
    _new_key(client, owner)
    # When the newest event is rewritten (its hash no longer matches what it says)
    trail = item_keys.workspace_trail(workspace)
    events = list(audit_table.iterate(trail, sk_prefix=audit_repository.AUDIT_EVENT_PREFIX))
    newest = events[-1]
    audit_table._client.update_item(
        TableName=audit_table.name,
        Key={"pk": {"S": newest["pk"]}, "sk": {"S": newest["sk"]}},
        UpdateExpression="SET #action = :action",
        ExpressionAttributeNames={"#action": "action"},
        ExpressionAttributeValues={":action": {"S": "api_key.updated"}},
    )
    # Then the incremental check, reading only past the verified head, finds the break
    assert any(problem.startswith("audit trail broken") for problem in check.problems(set()))


def test_a_count_of_active_keys_that_drifted_from_the_keys_is_found(
    client: InProcessClient, owner: dict[str, str], table: Table, audit_table: Table
) -> None:
    # Given a workspace with two keys, one revoked: checked clean
    workspace = owner["X-Workspace-ID"]
    _new_key(client, owner)
    revoked = _new_key(client, owner)
    reply = client.request("DELETE", f"/api/v1/api-keys/{revoked['id']}", headers=owner)
    assert reply.status == 204, reply.body
    assert problems(table, audit_table, workspace) == []
    # When its count is left one too high (as a revocation that lost its count's write would)
    table.update(item_keys.workspace(workspace), "ADD active_keys :one", values={":one": 1})
    # Then the check names the drift
    assert problems(table, audit_table, workspace) == ["active_keys 2, but 1 keys hold a slot"]
