"""Contract section 7 beyond the matrix: values are encrypted and never come back, masks, one
default per type, soft delete and restore, keys by scope, isolation, and the internal reveal."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import pytest

from railguard.audit import repository as audit_repository
from railguard.audit.trail import Actor, AuditEvent, StoredAuditTrail
from railguard.core.clock import SystemClock
from railguard.core.errors import Conflict, NotFound, ServiceUnavailable
from railguard.credentials import Credentials, Vault, mask
from railguard.credentials import repository as credential_store
from railguard.crypto.envelope import DataKeyCache, Envelope
from railguard.store import Table
from railguard.store import keys as item_keys
from railguard.workspaces import ResourceScope
from tests.support import accounts as a
from tests.support.audit import RecordingAuditTrail
from tests.support.emulator import AwsEndpoint, Provisioning
from tests.support.inprocess import InProcessClient
from tests.support.plaintexts import remember
from tests.support.races import at_once

SECRET = remember("sk-proj-SECRETVALUE-0123456789-ZqsA")
remember(SECRET + "-v2")


pytestmark = pytest.mark.table_per_test


@dataclass
class Vaulted:
    workspace: str
    owner: dict[str, str]  # headers of the owner
    user: dict[str, str]  # headers of a plain member
    other: dict[str, str]  # headers of an owner of another workspace


@pytest.fixture
def vaulted(client: InProcessClient, cheap_passwords: None) -> Vaulted:
    owner, user, other = a.team(client, "user")
    return Vaulted(owner.workspace, owner.headers(), user.headers(owner.workspace), other.headers())


def _create(client: InProcessClient, headers: dict[str, str], **fields: Any) -> dict[str, Any]:
    body = {"name": "OpenAI", "type": "openai", "value": SECRET, **fields}
    reply = client.request("POST", "/api/v1/credentials", headers=headers, body=body)
    assert reply.status == 201, reply.body
    data: dict[str, Any] = reply.json()["data"]
    return data


def _key(client: InProcessClient, vaulted: Vaulted, scopes: list[str]) -> dict[str, str]:
    reply = client.request(
        "POST",
        "/api/v1/api-keys",
        headers=vaulted.owner,
        body={"name": "vault", "scopes": scopes},
    )
    assert reply.status == 201, reply.body
    return {"X-API-Key": reply.json()["data"]["key"]}


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("sk-proj-abcdefghZqsA", "sk-p...ZqsA"),
        ("0123456789abcdef", "0123...cdef"),  # 16 characters: the shortest that shows any
        ("0123456789abcde", "****"),
        ("x", "****"),
    ],
)
def test_masks_show_four_and_four_from_sixteen_characters(value: str, masked: str) -> None:
    assert mask(value) == masked


def test_a_value_is_stored_encrypted_and_never_returned(
    client: InProcessClient, vaulted: Vaulted, table: Table, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a credential created, read, listed and updated, with every log captured
    caplog.set_level(logging.DEBUG)
    created = _create(client, vaulted.owner, is_default=True)
    path = f"/api/v1/credentials/{created['id']}"
    replies = [
        client.request("GET", path, headers=vaulted.owner),
        client.request("GET", "/api/v1/credentials", headers=vaulted.user),
        client.request("PATCH", path, headers=vaulted.owner, body={"value": SECRET + "-v2"}),
    ]
    # Then no response, no log line and no item holds the value
    assert created["masked_content"] == "sk-p...ZqsA"
    assert all(reply.status == 200 for reply in replies)
    assert all(SECRET.encode() not in reply.body for reply in replies)
    assert "SECRETVALUE" not in caplog.text
    items = table._client.scan(TableName=table.name)["Items"]
    assert items
    assert "SECRETVALUE" not in str(items)
    assert replies[2].json()["data"]["masked_content"] == "sk-p...A-v2"


def test_users_read_masks_and_only_managers_change(
    client: InProcessClient, vaulted: Vaulted
) -> None:
    created = _create(client, vaulted.owner)
    path = f"/api/v1/credentials/{created['id']}"
    assert client.request("GET", path, headers=vaulted.user).status == 200
    assert client.request("PATCH", path, headers=vaulted.user, body={"name": "x"}).status == 403
    assert client.request("DELETE", path, headers=vaulted.user).status == 403
    listing = client.request(
        "GET", "/api/v1/credentials?include_deleted=true", headers=vaulted.user
    )
    assert listing.status == 403


def test_another_workspace_sees_nothing(client: InProcessClient, vaulted: Vaulted) -> None:
    created = _create(client, vaulted.owner)
    path = f"/api/v1/credentials/{created['id']}"
    assert client.request("GET", path, headers=vaulted.other).status == 404
    assert client.request("DELETE", path, headers=vaulted.other).status == 404
    listing = client.request("GET", "/api/v1/credentials", headers=vaulted.other).json()
    assert listing["data"] == []


def test_keys_need_the_scope_for_the_act(client: InProcessClient, vaulted: Vaulted) -> None:
    created = _create(client, vaulted.owner)
    path = f"/api/v1/credentials/{created['id']}"
    reader, writer = (
        _key(client, vaulted, ["credentials:read"]),
        _key(client, vaulted, ["credentials:write"]),
    )
    assert client.request("GET", path, headers=reader).status == 200
    assert client.request("PATCH", path, headers=reader, body={"name": "x"}).status == 403
    assert client.request("PATCH", path, headers=writer, body={"name": "x"}).status == 200
    assert client.request("DELETE", path, headers=writer).status == 204
    assert client.request("POST", f"{path}/restore", headers=writer).status == 403
    deleted = client.request("GET", "/api/v1/credentials?include_deleted=true", headers=reader)
    assert deleted.status == 403


def test_one_default_per_type(client: InProcessClient, vaulted: Vaulted) -> None:
    # Given two credentials of one type, the first the default, and one of another type
    first = _create(client, vaulted.owner, is_default=True)
    second = _create(client, vaulted.owner, name="Second")
    other_type = _create(client, vaulted.owner, type="anthropic", is_default=True)
    # When the second becomes the default
    moved = client.request(
        "POST", f"/api/v1/credentials/{second['id']}/set-default", headers=vaulted.owner
    )
    # Then it is the only default of its type, and the other type's default stays
    assert moved.status == 200
    listing = client.request("GET", "/api/v1/credentials", headers=vaulted.owner).json()["data"]
    defaults = {item["id"] for item in listing if item["is_default"]}
    assert defaults == {second["id"], other_type["id"]}
    assert first["id"] not in defaults


def test_concurrent_default_changes_leave_one_default(
    vaulted: Vaulted,
    client: InProcessClient,
    table: Table,
    aws: AwsEndpoint,
    provisioned: Provisioning,
) -> None:
    # Given five credentials of one type
    ids = [_create(client, vaulted.owner, name=f"c{i}")["id"] for i in range(5)]
    envelope = Envelope(aws.client("kms"), provisioned.intrinsics.physical["DataKey"].ref)
    credentials = Credentials(
        table, envelope, SystemClock(), RecordingAuditTrail(table), retention_seconds=30 * 86_400
    )
    scope = ResourceScope(vaulted.workspace, "user:test", manager=True)
    # When each is made the default at once
    outcomes = at_once(
        lambda credential_id: credentials.set_default(scope, credential_id),
        ids,
        ("moved", "conflict"),
        Conflict,
    )
    # Then at least one won, and exactly one is the default now
    assert "moved" in outcomes
    listing = client.request("GET", "/api/v1/credentials", headers=vaulted.owner).json()["data"]
    assert sum(item["is_default"] for item in listing) == 1


def test_soft_delete_then_restore_within_retention_only(
    client: InProcessClient, vaulted: Vaulted, table: Table
) -> None:
    # Given a deleted credential
    created = _create(client, vaulted.owner)
    path = f"/api/v1/credentials/{created['id']}"
    assert client.request("DELETE", path, headers=vaulted.owner).status == 204
    # Then it is gone from reads, listed only with include_deleted, and restorable
    assert client.request("GET", path, headers=vaulted.owner).status == 404
    plain = client.request("GET", "/api/v1/credentials", headers=vaulted.owner).json()["data"]
    assert created["id"] not in {item["id"] for item in plain}
    with_deleted = client.request(
        "GET", "/api/v1/credentials?include_deleted=true", headers=vaulted.owner
    ).json()["data"]
    (deleted,) = [item for item in with_deleted if item["id"] == created["id"]]
    assert deleted["deleted_at"] is not None
    restored = client.request("POST", f"{path}/restore", headers=vaulted.owner)
    assert restored.status == 200
    assert restored.json()["data"]["deleted_at"] is None
    assert client.request("GET", path, headers=vaulted.owner).status == 200
    # And once deleted again longer ago than the retention period, it cannot come back
    assert client.request("DELETE", path, headers=vaulted.owner).status == 204
    # (the template's RETENTION_DAYS, 30)
    long_ago = int(SystemClock().now()) - 30 * 86_400 - 60
    table.update(
        credential_store.credential_key(vaulted.workspace, created["id"]),
        "SET deleted_at = :long_ago",
        values={":long_ago": long_ago},
    )
    assert client.request("POST", f"{path}/restore", headers=vaulted.owner).status == 404


def test_finding_11_a_reveal_that_cannot_be_recorded_reveals_nothing(
    client: InProcessClient,
    *,
    vaulted: Vaulted,
    table: Table,
    audit_table: Table,
    aws: AwsEndpoint,
    provisioned: Provisioning,
) -> None:
    """Issue 16 finding 11: a reveal is recorded before the value is decrypted (it was
    recorded after, and the value returned even when the event was not stored)."""
    # Given a credential, the vault on the stack's trails, counting KMS calls, and the
    # workspace's trail broken: an event put past its head, so no append to it can succeed
    created = _create(client, vaulted.owner)
    kms = aws.client("kms")
    calls: list[str] = []
    kms.meta.events.register("before-call", lambda model, **_: calls.append(model.name))
    key_id = provisioned.intrinsics.physical["DataKey"].ref
    trails = StoredAuditTrail(audit_table, table, SystemClock())
    vault = Vault(table, Envelope(kms, key_id, DataKeyCache(SystemClock())), trails)
    trail = item_keys.workspace_trail(vaulted.workspace)
    head = table.get(audit_repository.audit_head(trail))
    assert head is not None
    stray = audit_repository.audit_event(trail, head["seq"] + 1)
    audit_table.put({"pk": stray[0], "sk": stray[1], "seq": head["seq"] + 1, "id": "evt_stray"})
    # When the credential is revealed / Then it is refused, and nothing was decrypted
    with pytest.raises(ServiceUnavailable):
        vault.reveal(vaulted.workspace, created["id"], actor=Actor.job("agent-run:2"), reason="r")
    assert calls == []
    # And once the trail is sound again, the reveal happens, and is in the trail
    audit_table.delete(stray)
    assert vault.reveal(vaulted.workspace, created["id"], actor=Actor.job("a"), reason="r") == (
        SECRET
    )
    latest = audit_table.get(audit_repository.audit_event(trail, head["seq"] + 1))
    assert latest is not None
    assert latest["action"] == "credential.revealed"


def test_the_vault_reveals_plaintext_with_an_audit_record_and_few_kms_calls(
    client: InProcessClient,
    vaulted: Vaulted,
    table: Table,
    aws: AwsEndpoint,
    provisioned: Provisioning,
) -> None:
    # Given a credential and the internal vault with a data-key cache, counting KMS calls
    created = _create(client, vaulted.owner)
    kms = aws.client("kms")
    calls: list[str] = []
    kms.meta.events.register("before-call", lambda model, **_: calls.append(model.name))
    key_id = provisioned.intrinsics.physical["DataKey"].ref
    recorder = RecordingAuditTrail(table)
    vault = Vault(table, Envelope(kms, key_id, DataKeyCache(SystemClock())), recorder)
    # When it is revealed 50 times
    values = {
        vault.reveal(
            vaulted.workspace, created["id"], actor=Actor.job("agent-run:1"), reason="test"
        )
        for _ in range(50)
    }
    # Then the value is exact, KMS was asked once, and each reveal was recorded
    assert values == {SECRET}
    assert calls == ["Decrypt"]
    assert (
        recorder.events
        == [
            AuditEvent(
                "credential.revealed",
                Actor.job("agent-run:1"),
                created["id"],
                vaulted.workspace,
                {"reason": "test"},
            )
        ]
        * 50
    )
    # And it reveals nothing of another workspace, or a deleted credential
    with pytest.raises(NotFound):
        vault.reveal(
            "ws_01ZZZZZZZZZZZZZZZZZZZZZZZZ", created["id"], actor=Actor.job("a"), reason="r"
        )
    client.request("DELETE", f"/api/v1/credentials/{created['id']}", headers=vaulted.owner)
    with pytest.raises(NotFound):
        vault.reveal(vaulted.workspace, created["id"], actor=Actor.job("a"), reason="r")
