"""Contract section 12, the scheduled jobs, on prepared data: expiry, rotation and retention do
their work once (a second run changes nothing), and a run cut off halfway is finished by the
next. Jobs run as Lambda runs them: their function's handler, with a scheduled event."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from infra.template import PhysicalResource
from railguard.access.throttle import ACCOUNT_SUBJECT_KEY_NAME
from railguard.agent_uis import repository as agent_ui_store
from railguard.api_keys.expiry import KeyExpiry
from railguard.audit.trail import Actor, AuditLog, StoredAuditTrail
from railguard.core.clock import SystemClock
from railguard.credentials import Vault
from railguard.credentials import repository as credential_store
from railguard.crypto import key_repository
from railguard.crypto.envelope import Envelope, parse_envelope
from railguard.crypto.sealing import SEALING_SHARDS
from railguard.jobs import JobReport
from railguard.store import Table
from railguard.store import keys as item_keys
from railguard.webhooks import repository as trigger_store
from tests.support import accounts as a
from tests.support.accounts import reset_instances
from tests.support.audit import RecordingAuditTrail
from tests.support.emulator import AwsEndpoint, Provisioning
from tests.support.fake_time import FakeClock
from tests.support.functions import run_job
from tests.support.iam import IamCheck
from tests.support.inprocess import InProcessClient
from tests.support.plaintexts import remember
from tests.support.server_keys import keyed_hash

DAY = 86_400
KEYS = "/api/v1/api-keys"


pytestmark = pytest.mark.usefixtures("clock", "cheap_passwords")


@dataclass
class Owner:
    user_id: str
    email: str
    token: str
    workspace: str
    token_issued_at: float

    @property
    def headers(self) -> dict[str, str]:
        """Signed in afresh when the token is near its end: tests move the clock by hours."""
        now = SystemClock().now()
        if now - self.token_issued_at > 600:
            self.token, self.token_issued_at = a.tokens_for(self.email)["access_token"], now
        return {"Authorization": f"Bearer {self.token}", "X-Workspace-ID": self.workspace}


@pytest.fixture
def owner(client: InProcessClient) -> Owner:
    account = a.new_account()
    return Owner(
        account.user_id, account.email, account.token, account.workspace, SystemClock().now()
    )


@pytest.fixture
def log(table: Table, audit_table: Table) -> AuditLog:
    return AuditLog(audit_table, table)


def _key(client: InProcessClient, owner: Owner, **fields: Any) -> dict[str, Any]:
    body = {"name": "job-test", "scopes": ["agents:read"], **fields}
    reply = client.request("POST", KEYS, headers=owner.headers, body=body)
    assert reply.status == 201, reply.body
    data: dict[str, Any] = reply.json()["data"]
    remember(data["key"])
    return data


def _status(client: InProcessClient, owner: Owner, key_id: str) -> str:
    reply = client.request("GET", f"{KEYS}/{key_id}", headers=owner.headers)
    assert reply.status == 200, reply.body
    status: str = reply.json()["data"]["status"]
    return status


def _events(log: AuditLog, workspace_id: str, action: str) -> list[dict[str, Any]]:
    trail = item_keys.workspace_trail(workspace_id)
    return log.page(trail, action=action, limit=100, cursor=None).events


# -- expiry -----------------------------------------------------------------------------------
def test_expiry_marks_keys_past_their_end_expired_once_each_with_an_event(
    client: InProcessClient, owner: Owner, clock: FakeClock, log: AuditLog
) -> None:
    # Given a key ending in an hour, one in ten days, one that never ends, one revoked
    now = int(clock.now())
    ending = _key(client, owner, expires_at=now + 3600)
    later = _key(client, owner, expires_at=now + 10 * DAY)
    forever = _key(client, owner)
    revoked = _key(client, owner, expires_at=now + 3600)
    client.request("DELETE", f"{KEYS}/{revoked['id']}", headers=owner.headers)
    # When two hours pass and the expiry job runs twice
    clock.advance(2 * 3600)
    first = run_job("expiry")
    second = run_job("expiry")
    # Then only the key past its end is expired, by the first run
    assert first["complete"] is True
    assert first["counts"].get("expired") == 1
    assert second["counts"].get("expired") is None
    assert _status(client, owner, ending["id"]) == "expired"
    assert _status(client, owner, later["id"]) == "active"
    assert _status(client, owner, forever["id"]) == "active"
    assert _status(client, owner, revoked["id"]) == "revoked"
    # And the trail has exactly one `api_key.expired`, naming the key and the job
    (event,) = _events(log, owner.workspace, "api_key.expired")
    assert event["target"] == {"type": "api_key", "id": ending["id"]}
    assert event["actor"] == {"type": "system", "id": "expiry"}
    assert event["request_id"]
    assert log.verify(item_keys.workspace_trail(owner.workspace)).valid is True


def test_an_expired_key_is_refused_by_the_authorizer_and_cannot_be_changed(
    client: InProcessClient, owner: Owner, clock: FakeClock
) -> None:
    # Given a key that the job marked expired
    created = _key(client, owner, expires_at=int(clock.now()) + 60)
    clock.advance(120)
    run_job("expiry")
    # Then it no longer authenticates, and a PATCH cannot bring it back
    me = client.request("GET", "/api/v1/me", headers={"X-API-Key": created["key"]})
    assert me.status == 401
    patch = client.request(
        "PATCH",
        f"{KEYS}/{created['id']}",
        headers=owner.headers,
        body={"expires_at": int(clock.now()) + DAY},
    )
    assert patch.status == 409


@pytest.fixture
def expiring_queue(aws: AwsEndpoint, provisioned: Provisioning) -> Iterator[tuple[Any, str]]:
    """An SQS queue that receives the `api_key.expiring` events of the stack's bus."""
    events, sqs = aws.clients("events", "sqs")
    bus = provisioned.intrinsics.physical["EventBus"].ref
    name = f"expiring-{provisioned.intrinsics.physical['Table'].ref}"[:80]
    queue_url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events.put_rule(
        Name=name, EventBusName=bus, EventPattern=json.dumps({"detail-type": ["api_key.expiring"]})
    )
    events.put_targets(Rule=name, EventBusName=bus, Targets=[{"Id": "q", "Arn": arn}])
    yield sqs, queue_url
    events.remove_targets(Rule=name, EventBusName=bus, Ids=["q"])
    events.delete_rule(Name=name, EventBusName=bus)
    sqs.delete_queue(QueueUrl=queue_url)


def _received(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
    for message in messages:
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return [json.loads(message["Body"])["detail"] for message in messages]


def test_keys_ending_within_a_week_are_announced_once_per_end(
    client: InProcessClient,
    owner: Owner,
    clock: FakeClock,
    expiring_queue: tuple[Any, str],
) -> None:
    sqs, queue_url = expiring_queue
    # Given a key ending in five days and one ending in a month
    now = int(clock.now())
    soon = _key(client, owner, expires_at=now + 5 * DAY)
    _key(client, owner, expires_at=now + 30 * DAY)
    # When the job runs twice
    first = run_job("expiry")
    second = run_job("expiry")
    # Then the first key is announced once, without its secret
    notices = _received(sqs, queue_url)
    assert [notice["key_id"] for notice in notices] == [soon["id"]]
    assert notices[0]["workspace_id"] == owner.workspace
    assert soon["key"] not in json.dumps(notices)
    assert first["counts"].get("expiring_announced") == 1
    assert second["counts"].get("expiring_announced") is None
    # And when its end moves, it is announced again
    client.request(
        "PATCH", f"{KEYS}/{soon['id']}", headers=owner.headers, body={"expires_at": now + 6 * DAY}
    )
    run_job("expiry")
    assert [notice["key_id"] for notice in _received(sqs, queue_url)] == [soon["id"]]


def test_a_run_cut_off_halfway_is_finished_by_the_next_without_repeats(
    client: InProcessClient, owner: Owner, clock: FakeClock, table: Table, audit_table: Table
) -> None:
    # Given five keys past their end
    now = int(clock.now())
    keys = [_key(client, owner, expires_at=now + 60 + n) for n in range(5)]
    clock.advance(3600)
    # When a run is cut off after two keys (its time ran out), and the next runs in full
    allowance = iter([True, True, False])
    report = JobReport("expiry")
    trail = StoredAuditTrail(audit_table, table, SystemClock())
    KeyExpiry(table, trail, SystemClock(), job="expiry").expire_due(
        lambda: next(allowance, False), report, rotated_only=False
    )
    rest = run_job("expiry")
    # Then the first run says it is incomplete, having done two, and the next did the rest
    assert (report.complete, report.counts.get("expired")) == (False, 2)
    assert rest["counts"].get("expired") == 3
    # And each key is expired with exactly one event
    assert {_status(client, owner, key["id"]) for key in keys} == {"expired"}
    log = AuditLog(audit_table, table)
    targets = [event["target"]["id"] for event in _events(log, owner.workspace, "api_key.expired")]
    assert sorted(targets) == sorted(key["id"] for key in keys)


# -- rotation ---------------------------------------------------------------------------------
def test_rotation_ends_a_rotated_keys_grace_period(
    client: InProcessClient, owner: Owner, clock: FakeClock, log: AuditLog
) -> None:
    # Given a key rotated with a one-minute grace period
    old = _key(client, owner)
    rotated = client.request(
        "POST",
        f"{KEYS}/{old['id']}/rotate",
        headers=owner.headers,
        body={"grace_period_seconds": 60},
    )
    assert rotated.status in (200, 201), rotated.body
    new = rotated.json()["data"]
    remember(new["key"])
    # When the grace period is over and the rotation job runs
    clock.advance(120)
    report = run_job("rotation")
    # Then the old key is expired, by the rotation job, and its successor lives on
    assert report["counts"].get("expired") == 1
    assert _status(client, owner, old["id"]) == "expired"
    assert _status(client, owner, new["id"]) == "active"
    (event,) = _events(log, owner.workspace, "api_key.expired")
    assert event["actor"] == {"type": "system", "id": "rotation"}


def _jwks(client: InProcessClient) -> set[str]:
    reply = client.request("GET", "/.well-known/jwks.json")
    return {key["kid"] for key in reply.json()["keys"]}


def _kid(token: str) -> str:
    import jwt  # noqa: PLC0415 - only this helper reads token headers

    kid: str = jwt.get_unverified_header(token)["kid"]
    return kid


def test_the_signing_key_is_rotated_when_old_announced_before_it_signs_and_retired_after(
    client: InProcessClient, owner: Owner, clock: FakeClock, table: Table
) -> None:
    # Given tokens signed by the current key
    old_token = owner.token
    old_kid = _kid(old_token)
    # When the key is younger than its rotation age, the job adds nothing
    young = run_job("rotation")
    assert young["counts"].get("signing_keys_added") is None
    # When it is older (the template's 30 days), the job adds a key, once
    clock.advance(31 * DAY)
    added = run_job("rotation")
    again = run_job("rotation")
    assert added["counts"].get("signing_keys_added") == 1
    assert again["counts"].get("signing_keys_added") is None
    ring = _jwks(client)
    (new_kid,) = ring - {old_kid}
    # Then until the overlap (the template's 900 s) has passed, tokens are still signed by the
    # old key, while the new one is already published
    assert _kid(a.tokens_for(owner.email)["access_token"]) == old_kid
    clock.advance(901)
    fresh = a.tokens_for(owner.email)["access_token"]
    assert _kid(fresh) == new_kid
    me = client.request("GET", "/api/v1/me", headers={"Authorization": f"Bearer {fresh}"})
    assert me.status == 200
    # And the old key is retired, then removed once its last token has expired
    retiring = run_job("rotation")
    assert retiring["counts"].get("signing_keys_retired") == 1
    assert old_kid in _jwks(client)
    clock.advance(3600)
    removed = run_job("rotation")
    assert removed["counts"].get("signing_keys_removed") == 1
    remaining = {item["sk"] for item in table.query(key_repository.SIGNING_KEY_PARTITION).items}
    assert old_kid not in remaining
    assert new_kid in remaining


def test_a_rotation_asked_for_by_hand_signs_at_once_with_no_overlap(
    client: InProcessClient, owner: Owner, clock: FakeClock
) -> None:
    # Given the current key (young)
    old_kid = _kid(owner.token)
    # When rotation is asked for now, with no overlap
    report = run_job("rotation", rotate_signing_key_now=True, overlap_seconds=0)
    clock.advance(11)  # a signer re-reads the ring within 10 seconds
    # Then the next token is signed by a new key, which verifies
    assert report["counts"].get("signing_keys_added") == 1
    token = a.tokens_for(owner.email)["access_token"]
    assert _kid(token) != old_kid
    me = client.request("GET", "/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status == 200
    # And the old key is retired by the same run: published only until its last token expires
    # (even before a later run removes it), once the JWKS cache (300 s) has aged
    assert report["counts"].get("signing_keys_retired") == 1
    assert old_kid in _jwks(client)
    clock.advance(16 * 60 + 301)
    assert old_kid not in _jwks(client)


def test_a_rotation_asked_for_during_an_overlap_still_adds_a_key(
    client: InProcessClient, owner: Owner, clock: FakeClock
) -> None:
    # Given a scheduled rotation whose new key waits out its overlap
    clock.advance(31 * DAY)
    waiting = run_job("rotation")
    assert waiting["counts"].get("signing_keys_added") == 1
    # When a rotation is asked for by hand meanwhile
    forced = run_job("rotation", rotate_signing_key_now=True, overlap_seconds=0)
    # Then it is not silently skipped
    assert forced["counts"].get("signing_keys_added") == 1


@pytest.mark.usefixtures("api_env")  # the job's settings: it may be the first to start cold
def test_a_job_refuses_options_it_does_not_know() -> None:
    with pytest.raises(ValueError, match="extra"):
        run_job("expiry", rotate_everything=True)


# -- retention --------------------------------------------------------------------------------
SECRET_VALUE = "sk-retention-test-value-0123456789"
SIGNED = {"generate_secret": True}


def _created(client: InProcessClient, owner: Owner, path: str, **body: Any) -> dict[str, Any]:
    """What the owner's creation answered (its `data`)."""
    reply = client.request("POST", path, headers=owner.headers, body=body)
    data: dict[str, Any] = reply.json()["data"]
    return data


def _credential_and_trigger(
    client: InProcessClient, owner: Owner, name: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A credential, and a webhook trigger with a signing secret: items holding sealed secrets."""
    credential = _created(
        client, owner, "/api/v1/credentials", type="openai", name=name, value=SECRET_VALUE
    )
    trigger = _created(
        client,
        owner,
        "/api/v1/webhook-triggers",
        name=name,
        agent_id="agent-1",
        generate_secret=True,
    )
    remember(trigger["token"])
    remember(trigger["secret"])
    return credential, trigger


def _deleted_resources(client: InProcessClient, owner: Owner) -> dict[str, str]:
    """A credential, a webhook trigger (with a secret) and a PIN-protected agent UI, deleted."""
    credential, trigger = _credential_and_trigger(client, owner, "old")
    agent_ui = client.request(
        "POST",
        "/api/v1/agent-uis",
        headers=owner.headers,
        body={"name": "old", "agent_id": "agent-1", "pin": "4821"},
    ).json()["data"]
    ids = {"credential": credential["id"], "trigger": trigger["id"], "agent_ui": agent_ui["id"]}
    for path, resource_id in (
        ("credentials", ids["credential"]),
        ("webhook-triggers", ids["trigger"]),
        ("agent-uis", ids["agent_ui"]),
    ):
        reply = client.request("DELETE", f"/api/v1/{path}/{resource_id}", headers=owner.headers)
        assert reply.status == 204, reply.body
    return ids


def test_retention_purges_past_the_period_keeping_tombstones_and_the_trail(
    client: InProcessClient, owner: Owner, clock: FakeClock, table: Table, log: AuditLog
) -> None:
    # Given a credential, a trigger and an agent UI deleted, and the template's 30 days
    ids = _deleted_resources(client, owner)
    # When the job runs at 29 days, nothing is purged and the credential can still come back
    clock.advance(29 * DAY)
    early = run_job("retention")
    assert not any(name.endswith("_purged") for name in early["counts"])
    # When it runs at 31 days (twice)
    clock.advance(2 * DAY)
    purged = run_job("retention")
    again = run_job("retention")
    # Then each is purged once
    assert purged["counts"].get("credential_purged") == 1
    assert purged["counts"].get("webhook_trigger_purged") == 1
    assert purged["counts"].get("agent_ui_purged") == 1
    assert not any(name.endswith("_purged") for name in again["counts"])
    # And the secret material is gone while a tombstone remains, naming the resource
    credential = table.get(credential_store.credential_key(owner.workspace, ids["credential"]))
    assert credential is not None
    assert "ciphertext" not in credential
    assert credential["masked_content"] == "****"
    assert (credential["name"], credential["status"]) == ("old", "deleted")
    assert credential["purged_at"] == int(clock.now())
    agent_ui = table.get(agent_ui_store.agent_ui_key(owner.workspace, ids["agent_ui"]))
    assert agent_ui is not None
    assert "pin_hash" not in agent_ui
    assert "purged_at" in agent_ui
    pointer = table.get(trigger_store.pointer_key(owner.workspace, ids["trigger"]))
    assert pointer is not None
    record = table.get(item_keys.webhook_trigger(pointer["lookup_digest"]))
    assert record is not None
    assert "token" not in record
    assert "secret" not in record
    # And the credential cannot be restored; the trail names it, by the retention job
    restore = client.request(
        "POST", f"/api/v1/credentials/{ids['credential']}/restore", headers=owner.headers
    )
    assert restore.status == 404
    (event,) = _events(log, owner.workspace, "credential.purged")
    assert event["target"] == {"type": "credential", "id": ids["credential"]}
    assert event["actor"] == {"type": "system", "id": "retention"}
    assert event["details"]["name"] == "old"
    (deleted,) = _events(log, owner.workspace, "credential.deleted")
    assert deleted["target"]["id"] == ids["credential"]
    assert log.verify(item_keys.workspace_trail(owner.workspace)).valid is True


def test_a_credential_restored_in_time_is_never_purged(
    client: InProcessClient, owner: Owner, clock: FakeClock, table: Table
) -> None:
    # Given a credential deleted and restored ten days later
    created = client.request(
        "POST",
        "/api/v1/credentials",
        headers=owner.headers,
        body={"name": "kept", "type": "openai", "value": SECRET_VALUE},
    ).json()["data"]
    path = f"/api/v1/credentials/{created['id']}"
    client.request("DELETE", path, headers=owner.headers)
    clock.advance(10 * DAY)
    assert client.request("POST", f"{path}/restore", headers=owner.headers).status == 200
    # When the retention job runs long after
    clock.advance(60 * DAY)
    run_job("retention")
    # Then the credential is whole
    item = table.get(credential_store.credential_key(owner.workspace, created["id"]))
    assert item is not None
    assert "ciphertext" in item
    assert "purged_at" not in item


def test_retention_removes_expired_counters_without_waiting_for_ttl(  # noqa: PLR0917 - fixtures
    client: InProcessClient,
    owner: Owner,
    clock: FakeClock,
    table: Table,
    aws: AwsEndpoint,
    provisioned: Provisioning,
) -> None:
    # Given a request counted against the owner's rate limit, and a failed login
    clock.to_window_start(60)
    assert client.request("GET", "/api/v1/me", headers=owner.headers).status == 200
    rate_items = table.query(f"RATE#user:{owner.user_id}").items
    assert rate_items
    assert a.log_in(owner.email, "wrong-password-123").status == 401
    account = keyed_hash(aws, provisioned, table, ACCOUNT_SUBJECT_KEY_NAME).of(owner.email)
    throttles = table.query(f"THROTTLE#login-account#{account}").items
    assert throttles
    # When their time has passed (TTL would remove them eventually) and the job runs
    clock.advance(2 * DAY)
    report = run_job("retention")
    # Then they are gone
    assert report["counts"].get("expired_removed", 0) >= len(rate_items) + len(throttles)
    assert table.query(f"RATE#user:{owner.user_id}").items == []
    assert table.query(f"THROTTLE#login-account#{account}").items == []


def test_retention_removes_sessions_and_refresh_tokens_past_their_end(
    client: InProcessClient, owner: Owner, clock: FakeClock, table: Table
) -> None:
    # Given the owner's sessions, each with its refresh token
    sessions = table.query(item_keys.user_partition(owner.user_id), sk_prefix="SESSION#").items
    assert sessions
    refresh = a.tokens_for(owner.email)["refresh_token"]
    # When they are past their end and its slack (30 + 7 days) and the job runs
    clock.advance(38 * DAY)
    run_job("retention")
    # Then no session of the owner is left, and the refresh token is gone as well as refused
    assert table.query(item_keys.user_partition(owner.user_id), sk_prefix="SESSION#").items == []
    assert a.post("/api/v1/auth/refresh", {"refresh_token": refresh}).status == 401
    refresh_items = [
        item
        for shard in range(item_keys.SWEEP_SHARDS)
        for item in table.query(item_keys.sweep_partition(shard), index="gsi2").items
        if item["pk"].startswith("REFRESH#")
    ]
    assert refresh_items == []


# -- re-sealing under the current KMS key ------------------------------------------------------
@pytest.fixture
def new_kms_key(
    aws: AwsEndpoint, monkeypatch: pytest.MonkeyPatch, iam_check: IamCheck
) -> Iterator[str]:
    """The stack's functions pointed at a second KMS key, as after CloudFormation replaced the
    stack's `DataKey` (the new one tagged as the template tags it; the old one retained)."""
    tags = iam_check.stack.key_tags(iam_check.stack.arn("DataKey"))
    metadata = aws.client("kms").create_key(
        Description="the stack's next key",
        Tags=[{"TagKey": name, "TagValue": value} for name, value in tags.items()],
    )["KeyMetadata"]
    arn: str = metadata["Arn"]
    iam_check.stack = iam_check.stack.with_resource(
        "DataKey", PhysicalResource(ref=metadata["KeyId"], attributes={"Arn": arn})
    )
    monkeypatch.setenv("KMS_KEY_ID", arn)
    reset_instances()
    yield arn
    monkeypatch.undo()
    reset_instances()


def test_rotation_seals_again_under_the_current_key_what_another_key_sealed(
    client: InProcessClient, owner: Owner, table: Table, aws: AwsEndpoint, request: Any
) -> None:
    # Given a credential and a webhook trigger with a secret, sealed under the stack's key
    credential, trigger = _credential_and_trigger(client, owner, "sealed")
    credential_key = credential_store.credential_key(owner.workspace, credential["id"])
    old_arn = parse_envelope(table.get(credential_key)["ciphertext"]).key_id  # type: ignore[index]
    # When the stack's key changes and the rotation job runs, twice
    new_arn = request.getfixturevalue("new_kms_key")
    first = run_job("rotation")
    second = run_job("rotation")
    # Then every sealed secret is under the new key, once
    assert first["counts"].get("secrets_resealed", 0) >= 3  # the value, the token, the secret
    assert second["counts"].get("secrets_resealed") is None
    stored = table.get(credential_key)
    assert stored is not None
    assert parse_envelope(stored["ciphertext"]).key_id == new_arn != old_arn
    pointer = table.get(trigger_store.pointer_key(owner.workspace, trigger["id"]))
    assert pointer is not None
    record = table.get(item_keys.webhook_trigger(pointer["lookup_digest"]))
    assert record is not None
    assert {parse_envelope(record[name]).key_id for name in ("token", "secret")} == {new_arn}
    # And they still open, for their owner: the vault reveals the same value
    kms = aws.client("kms")
    vault = Vault(table, Envelope(kms, new_arn), RecordingAuditTrail(table))
    value = vault.reveal(owner.workspace, credential["id"], actor=Actor.job("test"), reason="t")
    assert value == SECRET_VALUE
    # And nothing is left under the old key in the sealing index
    stale = [
        entry
        for shard in range(SEALING_SHARDS)
        for entry in table.iterate(f"SEALED#{shard:02d}", index="gsi3")
        if entry["gsi3sk"].startswith(f"{old_arn}#WS#{owner.workspace}")
    ]
    assert stale == []
