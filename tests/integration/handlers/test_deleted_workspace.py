"""Contract section 5 (issue 16, finding 1): a deleted workspace stops for every kind of credential
the system issues within 5 seconds, and its secrets are purged after the retention period.

One generated table covers every credential: each row issues one, uses it while the workspace
lives (so every warm instance has the live workspace cached), lets the owner delete the
workspace, moves the clock 5 seconds (never a sleep), and uses it again. Every row states the
exact answers; where something already stopped on `main`, the row is a regression guard.

Refresh tokens belong to users, not workspaces: deleting a workspace does not sign its members
out, so a refresh still answers 200 with a new pair. What the row asserts is that nothing a
refresh gives can act in the deleted workspace: the new access token is refused on its header
routes (403, as for a workspace one is not a member of), on its path routes (404, as for an id
that does not exist), and the workspace is no longer listed.

The purge is run as Lambda runs it (the retention job's handler) on a table of each test's own,
since the job reads the whole work list.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from railguard.agent_uis import repository as agent_ui_store
from railguard.audit.trail import AuditLog, StoredAuditTrail
from railguard.core.clock import SystemClock
from railguard.credentials import repository as credential_store
from railguard.jobs import JobReport
from railguard.retention import Retention
from railguard.store import Item, Table
from railguard.store import keys as item_keys
from railguard.webhooks import repository as trigger_store
from tests.support import accounts as a
from tests.support.emulator import AwsEndpoint
from tests.support.fake_time import FakeClock
from tests.support.functions import run_job
from tests.support.inprocess import InProcessClient, Reply
from tests.support.plaintexts import plaintexts_in, remember
from tests.support.plans import change_plan

STOPS_WITHIN_SECONDS = 5.0  # the contract's bound (section 5)
PIN = remember("73915046")
CREDENTIALS = "/api/v1/credentials"
TRIGGERS = "/api/v1/webhook-triggers"


# A table per test: the retention job purges every deleted workspace it finds.
pytestmark = [pytest.mark.table_per_test, pytest.mark.usefixtures("clock", "cheap_passwords")]


@dataclass
class Workspace:
    """A workspace with its owner and an admin (who did not delete it), and the table."""

    client: InProcessClient
    table: Table
    id: str
    owner_email: str
    admin_email: str
    owner_token: str = field(repr=False)
    admin_token: str = field(repr=False)

    def owner(self, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.owner_token}", "X-Workspace-ID": self.id, **extra}

    def create(self, path: str, body: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
        reply = self.client.request("POST", path, headers=headers, body=body)
        assert reply.status == 201, reply.body
        data: dict[str, Any] = reply.json()["data"]
        return data

    def api_key(self, *scopes: str) -> str:
        key: str = self.create(
            "/api/v1/api-keys", {"name": "deleted-ws", "scopes": list(scopes)}, self.owner()
        )["key"]
        return remember(key)

    def count(self, sort_key_prefix: str) -> int:
        """Items of the workspace's partition under a prefix, read from the table itself."""
        partition = item_keys.workspace(self.id)[0]
        return len(self.table.query(partition, sk_prefix=sort_key_prefix, limit=100).items)

    def sign_in_again(self) -> None:
        """A fresh access token for the owner, after the clock moved past the last one's end."""
        self.owner_token = a.tokens_for(self.owner_email)["access_token"]

    def delete(self) -> None:
        reply = self.client.request(
            "DELETE", f"/api/v1/workspaces/{self.id}", token=self.owner_token
        )
        assert reply.status == 204, reply.body


@pytest.fixture
def workspace(client: InProcessClient, table: Table) -> Workspace:
    owner, admin = a.new_account(), a.new_account()
    a.add_member(client, owner, admin, "admin")
    return Workspace(
        client, table, owner.workspace, owner.email, admin.email, owner.token, admin.token
    )


Answer = tuple[int, str | None]


def answer(reply: Reply) -> Answer:
    """The status, and what says why for a refusal: the error code of a function's answer, or
    the message of API Gateway's own (`Unauthorized`, `Forbidden`)."""
    if reply.status < 300:
        return reply.status, None
    body = reply.json()
    return reply.status, body["error"]["code"] if "error" in body else body["message"]


OK, CREATED, ACCEPTED = (200, None), (201, None), (202, None)
UNAUTHORIZED, FORBIDDEN = (401, "Unauthorized"), (403, "Forbidden")  # the authorizer's refusals
UNAUTHENTICATED, NOT_FOUND = (401, "unauthenticated"), (404, "not_found")


# -- the rows: how each kind of credential is issued, and what using it observes -------------
def _api_key(ws: Workspace) -> str:
    return ws.api_key("credentials:read")


def _use_api_key(ws: Workspace, key: str) -> Answer:
    return answer(ws.client.request("GET", CREDENTIALS, headers={"X-API-Key": key}))


def _admin_token(ws: Workspace) -> str:
    return ws.admin_token


def _acting_by_header(ws: Workspace, token: str) -> Answer:
    headers = {"X-Workspace-ID": ws.id}
    return answer(ws.client.request("GET", CREDENTIALS, token=token, headers=headers))


def _acting_by_path(ws: Workspace, token: str) -> Answer:
    return answer(ws.client.request("GET", f"/api/v1/workspaces/{ws.id}/members", token=token))


def _admin_refresh_token(ws: Workspace) -> list[str]:
    """The admin's login: its refresh token, replaced by each refresh (they are single use)."""
    return [remember(a.tokens_for(ws.admin_email)["refresh_token"])]


def _refresh_and_act(ws: Workspace, refresh: list[str]) -> tuple[Answer, Answer, Answer, bool]:
    """A refresh, then what its access token can do in the workspace: by header, by path, and
    whether it lists the workspace."""
    refreshed = a.post("/api/v1/auth/refresh", {"refresh_token": refresh[0]})
    tokens = refreshed.json()["data"] if refreshed.status == 200 else {}
    refresh[0] = remember(tokens.get("refresh_token", ""))
    token = tokens.get("access_token", "")
    listed = ws.client.request("GET", "/api/v1/workspaces", token=token)
    assert listed.status == 200, listed.body
    return (
        (refreshed.status, None),
        _acting_by_header(ws, token),
        _acting_by_path(ws, token),
        ws.id in {listed_ws["id"] for listed_ws in listed.json()["data"]},
    )


def _webhook_token(ws: Workspace) -> str:
    created = ws.create(TRIGGERS, {"name": "deploys", "agent_id": "agent-1"}, ws.owner())
    return remember(created["token"])


def _call_trigger(ws: Workspace, token: str) -> Answer:
    reply = ws.client.request("POST", "/api/v1/webhook/trigger", token=token, body={"ref": "main"})
    return answer(reply)


def _pin_protected_agent_ui(ws: Workspace) -> str:
    created = ws.create(
        "/api/v1/agent-uis", {"name": "bot", "agent_id": "a", "pin": PIN}, ws.owner()
    )
    agent_ui_id: str = created["id"]
    return agent_ui_id


def _unlock(ws: Workspace, agent_ui_id: str) -> Answer:
    path = f"/api/v1/agent-uis/{agent_ui_id}/unlock"
    return answer(ws.client.request("POST", path, body={"pin": PIN}))


def _unlock_session(ws: Workspace) -> tuple[str, str]:
    agent_ui_id = _pin_protected_agent_ui(ws)
    reply = ws.client.request("POST", f"/api/v1/agent-uis/{agent_ui_id}/unlock", body={"pin": PIN})
    assert reply.status == 200, reply.body
    return agent_ui_id, remember(reply.json()["data"]["access_token"])


def _open_session(ws: Workspace, session: tuple[str, str]) -> Answer:
    agent_ui_id, token = session
    return answer(ws.client.request("GET", f"/api/v1/agent-uis/{agent_ui_id}/session", token=token))


@dataclass(frozen=True)
class Creation:
    """A creation sent with an Idempotency-Key: the request, and what the first one created."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    created_id: str
    pointer_prefix: str  # its items in the workspace's partition


RetryOutcome = tuple[Answer, bool, int]


def _retry(ws: Workspace, creation: Creation) -> RetryOutcome:
    """The same creation again: its answer, whether it names what the first created, and how
    many of that kind the workspace's partition holds."""
    reply = ws.client.request("POST", creation.path, headers=creation.headers, body=creation.body)
    return (
        answer(reply),
        creation.created_id in reply.body.decode(),
        ws.count(creation.pointer_prefix),
    )


def _credential_created_by_admin(ws: Workspace) -> Creation:
    headers = {
        "Authorization": f"Bearer {ws.admin_token}",
        "X-Workspace-ID": ws.id,
        "Idempotency-Key": str(uuid.uuid4()),
    }
    body = {"name": "openai", "type": "openai", "value": remember("sk-idem-" + uuid.uuid4().hex)}
    return Creation(
        CREDENTIALS, headers, body, ws.create(CREDENTIALS, body, headers)["id"], "CREDENTIAL#"
    )


def _trigger_created_by_key(ws: Workspace) -> Creation:
    key = ws.api_key("webhook_triggers:read", "webhook_triggers:write")
    headers = {"X-API-Key": key, "Idempotency-Key": str(uuid.uuid4())}
    body = {"name": "by-key", "agent_id": "agent-1"}
    created = ws.create(TRIGGERS, body, headers)
    remember(created["token"])
    return Creation(TRIGGERS, headers, body, created["id"], "TRIGGER#")


@dataclass(frozen=True)
class Kind:
    """One kind of credential: how it is issued, how it is used, and what its use answers while
    the workspace lives and 5 seconds after the workspace was deleted."""

    name: str
    issue: Callable[[Workspace], Any]
    use: Callable[[Workspace, Any], Any]
    while_live: Any
    once_deleted: Any


KINDS = [
    # A key is its workspace's: 401, as for an unknown key (contract section 6).
    Kind("api-key", _api_key, _use_api_key, OK, UNAUTHORIZED),
    # An access token is its user's: in a workspace that no longer exists, 403 on routes that
    # name it in X-Workspace-ID, 404 on routes that name it in the path (section 1).
    Kind("access-token-x-workspace-id", _admin_token, _acting_by_header, OK, FORBIDDEN),
    Kind("access-token-workspace-path", _admin_token, _acting_by_path, OK, NOT_FOUND),
    Kind(
        "refresh-token",
        _admin_refresh_token,
        _refresh_and_act,
        (OK, OK, OK, True),
        (OK, FORBIDDEN, NOT_FOUND, False),
    ),
    # A trigger token is its workspace's: 401, as for an unknown token (section 8).
    Kind("webhook-token", _webhook_token, _call_trigger, ACCEPTED, UNAUTHENTICATED),
    # A deployment of a deleted workspace is unknown (section 9): unlock 404, session 401.
    Kind("agent-ui-pin", _pin_protected_agent_ui, _unlock, OK, NOT_FOUND),
    Kind("agent-ui-unlock-session", _unlock_session, _open_session, OK, UNAUTHENTICATED),
    # A retried creation answers as the first while the workspace lives; once it is deleted
    # the retry is refused before the function, names nothing and creates nothing.
    Kind(
        "idempotency-key-credential-by-user",
        _credential_created_by_admin,
        _retry,
        (CREATED, True, 1),
        (FORBIDDEN, False, 1),
    ),
    Kind(
        "idempotency-key-trigger-by-api-key",
        _trigger_created_by_key,
        _retry,
        ((409, "already_applied"), True, 1),
        (UNAUTHORIZED, False, 1),
    ),
]


@pytest.mark.parametrize("kind", KINDS, ids=[kind.name for kind in KINDS])
def test_every_credential_of_a_deleted_workspace_stops_within_5_seconds(
    kind: Kind, workspace: Workspace, clock: FakeClock
) -> None:
    # Given a credential of the workspace, in use (warm instances have the workspace cached)
    issued = kind.issue(workspace)
    assert kind.use(workspace, issued) == kind.while_live
    # When its owner deletes the workspace, and 5 seconds pass
    workspace.delete()
    clock.advance(STOPS_WITHIN_SECONDS)
    # Then the credential is refused, exactly as its row says
    assert kind.use(workspace, issued) == kind.once_deleted


# -- the purge after the retention period -----------------------------------------------------
DAY = 86_400
RETENTION_DAYS = 30  # the template's


@dataclass
class Resources:
    credentials: list[str] = field(default_factory=list)
    triggers: list[str] = field(default_factory=list)
    agent_uis: list[str] = field(default_factory=list)


def _fill(ws: Workspace, *, credentials: int, triggers: int, agent_uis: int) -> Resources:
    """Credentials (the first the default of its type, created with an Idempotency-Key),
    triggers with signing secrets (the first with its token rotated), PIN-protected agent UIs."""
    made = Resources()
    for n in range(credentials):
        body: dict[str, Any] = {
            "name": f"cred-{n}",
            "type": "openai",
            "value": remember(f"sk-{uuid.uuid4().hex}"),
            "is_default": n == 0,
        }
        extra = {"Idempotency-Key": str(uuid.uuid4())} if n == 0 else {}
        made.credentials.append(ws.create(CREDENTIALS, body, ws.owner(**extra))["id"])
    for n in range(triggers):
        body = {"name": f"trigger-{n}", "agent_id": "agent-1", "generate_secret": True}
        created = ws.create(TRIGGERS, body, ws.owner())
        remember(created["token"])
        remember(created["secret"])
        made.triggers.append(created["id"])
    if made.triggers:
        path = f"{TRIGGERS}/{made.triggers[0]}/rotate-token"
        rotated = ws.client.request("POST", path, headers=ws.owner())
        assert rotated.status == 200, rotated.body
        remember(rotated.json()["data"]["token"])
    for n in range(agent_uis):
        body = {"name": f"ui-{n}", "agent_id": "agent-1", "pin": PIN}
        made.agent_uis.append(ws.create("/api/v1/agent-uis", body, ws.owner())["id"])
    return made


def _trigger_record(table: Table, workspace_id: str, trigger_id: str) -> Item:
    pointer = table.get(trigger_store.pointer_key(workspace_id, trigger_id))
    assert pointer is not None
    record = table.get(item_keys.webhook_trigger(pointer["lookup_digest"]))
    assert record is not None
    return record


def _secrets_held(ws: Workspace, made: Resources) -> list[bytes | str]:
    """What the resources' items hold sealed or hashed: ciphertexts, sealed trigger tokens and
    secrets, PIN hashes."""
    held: list[bytes | str] = []
    for credential_id in made.credentials:
        item = ws.table.get(credential_store.credential_key(ws.id, credential_id))
        assert item is not None
        held.extend([bytes(item["ciphertext"])] if "ciphertext" in item else [])
    for trigger_id in made.triggers:
        record = _trigger_record(ws.table, ws.id, trigger_id)
        held.extend(bytes(record[name]) for name in ("token", "secret") if name in record)
    for agent_ui_id in made.agent_uis:
        item = ws.table.get(agent_ui_store.agent_ui_key(ws.id, agent_ui_id))
        assert item is not None
        held.extend([item["pin_hash"]] if "pin_hash" in item else [])
    return held


Tombstone = tuple[str, bool, str | None, str]


def _tombstones(ws: Workspace, made: Resources) -> list[Tombstone]:
    """Each resource's item: its name (kept, for what names it), whether it is marked purged,
    its mask (credentials) and its status."""
    items = [
        *(ws.table.get(credential_store.credential_key(ws.id, cid)) for cid in made.credentials),
        *(_trigger_record(ws.table, ws.id, tid) for tid in made.triggers),
        *(ws.table.get(agent_ui_store.agent_ui_key(ws.id, aid)) for aid in made.agent_uis),
    ]
    return [
        (item["name"], "purged_at" in item, item.get("masked_content"), item["status"])
        for item in items
        if item is not None
    ]


def _key_statuses(ws: Workspace) -> list[str]:
    partition = item_keys.workspace(ws.id)[0]
    pointers = ws.table.query(partition, sk_prefix="APIKEY#", limit=100).items
    records = [ws.table.get(item_keys.api_key(pointer["key_digest"])) for pointer in pointers]
    return [record["status"] for record in records if record is not None]


def _purged(report: dict[str, Any]) -> dict[str, int]:
    counts: dict[str, int] = report["counts"]
    return {name: count for name, count in counts.items() if name.endswith("_purged")}


def _purge_events(log: AuditLog, workspace_id: str) -> list[tuple[str, str | None]]:
    trail = item_keys.workspace_trail(workspace_id)
    events = log.page(trail, action="credential.purged", limit=100, cursor=None).events
    return sorted((event["target"]["id"], event["details"].get("reason")) for event in events)


def test_a_deleted_workspaces_secrets_are_purged_after_the_retention_period_and_not_before(
    workspace: Workspace,
    clock: FakeClock,
    table: Table,
    audit_table: Table,
    aws: AwsEndpoint,
) -> None:
    ws = workspace
    # Given a workspace with two credentials, two triggers with secrets and two PIN-protected
    # agent UIs, and one more of each deleted on its own ten days before the workspace
    kept = _fill(ws, credentials=2, triggers=2, agent_uis=2)
    alone = _fill(ws, credentials=1, triggers=1, agent_uis=1)
    ws.api_key("credentials:read")
    for path, resource_id in (
        ("credentials", alone.credentials[0]),
        ("webhook-triggers", alone.triggers[0]),
        ("agent-uis", alone.agent_uis[0]),
    ):
        deleted = ws.client.request("DELETE", f"/api/v1/{path}/{resource_id}", headers=ws.owner())
        assert deleted.status == 204, deleted.body
    clock.advance(10 * DAY)
    ws.sign_in_again()
    secrets = _secrets_held(ws, kept) + _secrets_held(ws, alone)
    assert len(secrets) == 3 + 3 * 2 + 3  # ciphertexts, tokens and secrets, PIN hashes
    assert ws.count("IDEMPOTENCY#") == 2
    # When the owner deletes the workspace, and the job runs a day before its retention ends
    ws.delete()
    clock.advance((RETENTION_DAYS - 1) * DAY)
    early = run_job("retention")
    # Then only what was deleted on its own, and is due, is purged; the workspace's are whole
    assert _purged(early) == {
        "credential_purged": 1,
        "webhook_trigger_purged": 1,
        "agent_ui_purged": 1,
    }
    assert len(_secrets_held(ws, kept)) == 2 + 2 * 2 + 2
    assert {purged for _, purged, _, _ in _tombstones(ws, kept)} == {False}
    assert _key_statuses(ws) == ["active"]
    # When it runs once the retention period is over, twice
    clock.advance(2 * DAY)
    purged = run_job("retention")
    again = run_job("retention")
    # Then the first purges the workspace's resources and the workspace, the second nothing
    assert _purged(purged) == {
        "credential_purged": 2,
        "webhook_trigger_purged": 2,
        "agent_ui_purged": 2,
        "api_key_purged": 1,
        "workspace_purged": 1,
    }
    assert _purged(again) == {}
    # And no ciphertext, sealed token or secret or PIN hash it held is anywhere in the table
    assert _secrets_held(ws, kept) == []
    assert plaintexts_in(aws.client("dynamodb"), [table.name], secrets) == []
    # And every resource is a deleted tombstone that still names it (so no PIN-less deployment
    # or key is left active, should the workspace item ever be written back); the credentials'
    # masks are blank, the keys revoked
    assert _tombstones(ws, kept) == [
        ("cred-0", True, "****", "deleted"),
        ("cred-1", True, "****", "deleted"),
        ("trigger-0", True, None, "deleted"),
        ("trigger-1", True, None, "deleted"),
        ("ui-0", True, None, "deleted"),
        ("ui-1", True, None, "deleted"),
    ]
    assert _key_statuses(ws) == ["revoked"]
    # And the workspace is marked purged and off the work list; its idempotency key is gone
    meta = table.get(item_keys.workspace(ws.id))
    assert meta is not None
    assert (meta["status"], meta["purged_at"], "gsi1pk" in meta) == (
        "deleted",
        int(clock.now()),
        False,
    )
    assert ws.count("IDEMPOTENCY#") == 0
    # And the trail says each credential was purged once, those of the workspace with why
    log = AuditLog(audit_table, table)
    assert _purge_events(log, ws.id) == sorted(
        [(cid, "workspace_deleted") for cid in kept.credentials] + [(alone.credentials[0], None)]
    )
    assert log.verify(item_keys.workspace_trail(ws.id)).valid is True


def test_a_workspace_larger_than_a_transaction_is_purged_across_runs_cut_off_halfway(
    workspace: Workspace, clock: FakeClock, table: Table, audit_table: Table
) -> None:
    ws = workspace
    # Given a deleted workspace holding more resources than one transaction can (100), past
    # its retention period (made in one minute: on starter, whose 300 writes a minute allow it)
    assert change_plan(workspace_id=ws.id, plan="starter")["counts"] == {"changed": 1}
    clock.advance(2.1)  # past the authorizer's 2 s of cached reads
    made = _fill(ws, credentials=3, triggers=2, agent_uis=101)
    ws.delete()
    clock.advance((RETENTION_DAYS + 1) * DAY)
    # When a run's time runs out after its work list's entry and 59 items of the workspace
    # (they sort first: the agent UIs), and the next run goes to the end, and another after it
    allowance = iter([True] * 60)
    cut_off = JobReport("retention")
    trail = StoredAuditTrail(audit_table, table, SystemClock())
    retention = Retention(table, trail, SystemClock(), retention_seconds=RETENTION_DAYS * DAY)
    retention.purge_deleted(lambda: next(allowance, False), cut_off)
    progress = table.get(item_keys.workspace(ws.id))
    rest = run_job("retention")
    again = run_job("retention")
    # Then the first says it is incomplete, and left on the workspace where it stopped
    assert (cut_off.complete, _purged(cut_off.as_dict())) == (False, {"agent_ui_purged": 59})
    assert progress is not None
    assert progress["purged_through"] == f"AGENTUI#{sorted(made.agent_uis)[58]}"
    # And the next resumed there and purged the rest, once each; the last found nothing
    assert _purged(rest) == {
        "agent_ui_purged": 42,
        "credential_purged": 3,
        "webhook_trigger_purged": 2,
        "workspace_purged": 1,
    }
    assert _purged(again) == {}
    assert _secrets_held(ws, made) == []
    assert {purged for _, purged, _, _ in _tombstones(ws, made)} == {True}
    # And each credential has exactly one purge event
    log = AuditLog(audit_table, table)
    assert _purge_events(log, ws.id) == sorted(
        (cid, "workspace_deleted") for cid in made.credentials
    )
