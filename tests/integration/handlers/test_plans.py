"""Contract section 11 (v1.1), plans: the cap on a workspace's active API keys (409
`key_limit_reached`, exact under concurrency; a key holds a slot while it can authenticate, a
rotated-out key in its grace included; a slot freed by revocation and expiry, never below 0),
and the operator's plan change (a function no route reaches, taking effect within 5 seconds, on
the audit trail; a key's own limit never above its plan's)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from infra.template import load_template
from railguard.access.idempotency import ShownOnce
from railguard.access.plans import plan_terms
from railguard.api_keys import ApiKeys, KeyLimitReached, KeySettings
from railguard.audit.trail import AuditLog
from railguard.core.clock import SystemClock
from railguard.core.errors import NotFound
from railguard.store import Table
from railguard.store import keys as item_keys
from railguard.workspaces import WorkspaceScope
from tests.support import accounts as a
from tests.support.audit import RecordingAuditTrail
from tests.support.consistency import problems
from tests.support.fake_time import FakeClock
from tests.support.functions import ROOT, function_ids, run_job
from tests.support.inprocess import InProcessClient, Reply
from tests.support.plaintexts import remember
from tests.support.plans import change_plan
from tests.support.races import at_once

KEYS = "/api/v1/api-keys"
FREE_CAP = plan_terms("free").max_active_keys

# A table per test: each counts the keys of its own workspaces, and moto's transactions slow
# down with the size of the table.
pytestmark = [pytest.mark.usefixtures("clock", "cheap_passwords"), pytest.mark.table_per_test]


@pytest.fixture
def owner(client: InProcessClient) -> a.Account:
    return a.new_account()


def _create(client: InProcessClient, owner: a.Account, **fields: Any) -> Reply:
    body = {"name": "ci", "scopes": ["agents:read"], **fields}
    reply = client.request("POST", KEYS, headers=owner.headers(), body=body)
    if reply.status == 201:
        remember(reply.json()["data"]["key"])
    return reply


def _fill(client: InProcessClient, owner: a.Account, count: int, **fields: Any) -> list[str]:
    """`count` new keys of the owner's workspace; their ids."""
    ids = []
    for _ in range(count):
        reply = _create(client, owner, **fields)
        assert reply.status == 201, reply.body
        ids.append(reply.json()["data"]["id"])
    return ids


def _active_keys(table: Table, workspace_id: str) -> int:
    workspace = table.get(item_keys.workspace(workspace_id))
    assert workspace is not None
    return int(workspace.get("active_keys", 0))


def _plan_events(table: Table, audit_table: Table, workspace_id: str) -> list[dict[str, Any]]:
    log = AuditLog(audit_table, table)
    trail = item_keys.workspace_trail(workspace_id)
    return log.page(trail, action="workspace.plan_changed", limit=100, cursor=None).events


# -- the key cap ------------------------------------------------------------------------------
def test_one_key_over_the_plan_is_409_key_limit_reached_and_a_revocation_frees_a_slot(
    client: InProcessClient, owner: a.Account, table: Table
) -> None:
    # Given a free workspace with as many active keys as its plan allows
    ids = _fill(client, owner, FREE_CAP)
    assert _active_keys(table, owner.workspace) == FREE_CAP
    # When one more is created
    refused = _create(client, owner)
    # Then 409 key_limit_reached, naming the plan and its cap, and nothing was created
    assert refused.status == 409
    assert refused.json() == {
        "error": {
            "code": "key_limit_reached",
            "message": f"The free plan allows {FREE_CAP} active API keys; revoke one first.",
            "details": {"plan": "free", "max_active_keys": FREE_CAP},
        }
    }
    listed = client.request("GET", f"{KEYS}?limit=100", headers=owner.headers()).json()["data"]
    assert len(listed) == FREE_CAP
    # When one is revoked (twice: the second changes nothing), a key can be created again
    for _ in range(2):
        revoked = client.request("DELETE", f"{KEYS}/{ids[0]}", headers=owner.headers())
        assert revoked.status == 204
    assert _active_keys(table, owner.workspace) == FREE_CAP - 1
    assert _create(client, owner).status == 201
    # And then the workspace is at its cap again
    assert _create(client, owner).json()["error"]["code"] == "key_limit_reached"
    assert _active_keys(table, owner.workspace) == FREE_CAP


def _rotate(client: InProcessClient, owner: a.Account, key_id: str, **body: Any) -> Reply:
    reply = client.request("POST", f"{KEYS}/{key_id}/rotate", headers=owner.headers(), body=body)
    if reply.status == 201:
        remember(reply.json()["data"]["key"])
    return reply


def test_a_rotated_out_key_holds_its_slot_in_its_grace_and_revoking_it_frees_the_slot(
    client: InProcessClient, owner: a.Account, table: Table, audit_table: Table
) -> None:
    # Given a workspace one key under its cap
    ids = _fill(client, owner, FREE_CAP - 1)
    # When a key is rotated (the old one lives on in its grace, and still authenticates)
    rotated = _rotate(client, owner, ids[0])
    # Then the new key took a slot of its own: the workspace is at its cap
    assert rotated.status == 201, rotated.body
    assert _active_keys(table, owner.workspace) == FREE_CAP
    assert _create(client, owner).json()["error"]["code"] == "key_limit_reached"
    assert problems(table, audit_table, owner.workspace) == []
    # When the old key is revoked in its grace, its slot is freed
    assert client.request("DELETE", f"{KEYS}/{ids[0]}", headers=owner.headers()).status == 204
    assert _active_keys(table, owner.workspace) == FREE_CAP - 1
    # And revoking the new key frees its own
    new_id = rotated.json()["data"]["id"]
    assert client.request("DELETE", f"{KEYS}/{new_id}", headers=owner.headers()).status == 204
    assert _active_keys(table, owner.workspace) == FREE_CAP - 2
    assert problems(table, audit_table, owner.workspace) == []


def test_a_rotation_chain_at_the_cap_stops_at_the_cap(
    client: InProcessClient, owner: a.Account, table: Table, audit_table: Table
) -> None:
    # Given a workspace two keys under its cap
    key_id = _fill(client, owner, FREE_CAP - 2)[0]
    # When its key is rotated, then its successor at once, again and again
    statuses = []
    for _ in range(4):
        reply = _rotate(client, owner, key_id)
        statuses.append(reply.status)
        if reply.status == 201:
            key_id = reply.json()["data"]["id"]
    # Then the chain stops at the cap: two rotations, then 409 key_limit_reached
    assert statuses == [201, 201, 409, 409]
    assert reply.json()["error"] == {
        "code": "key_limit_reached",
        "message": f"The free plan allows {FREE_CAP} active API keys; revoke one first.",
        "details": {"plan": "free", "max_active_keys": FREE_CAP},
    }
    assert _active_keys(table, owner.workspace) == FREE_CAP
    listed = client.request("GET", f"{KEYS}?limit=100", headers=owner.headers()).json()["data"]
    assert [key["status"] for key in listed].count("active") == FREE_CAP
    assert problems(table, audit_table, owner.workspace) == []


def test_a_rotation_without_grace_at_the_cap_hands_its_slot_over(
    client: InProcessClient, owner: a.Account, table: Table, audit_table: Table
) -> None:
    # Given a workspace at its cap
    ids = _fill(client, owner, FREE_CAP)
    # When a key is rotated with no grace period
    rotated = _rotate(client, owner, ids[0], grace_period_seconds=0)
    # Then the old key ended at once and its successor took over its slot
    assert rotated.status == 201, rotated.body
    old = client.request("GET", f"{KEYS}/{ids[0]}", headers=owner.headers()).json()["data"]
    assert old["status"] == "expired"
    assert _active_keys(table, owner.workspace) == FREE_CAP
    assert problems(table, audit_table, owner.workspace) == []


def test_the_expiry_job_frees_the_slots_of_expired_keys_and_of_ended_grace_periods(
    client: InProcessClient, owner: a.Account, table: Table, audit_table: Table, clock: FakeClock
) -> None:
    # Given a workspace at its cap: two of its keys end in a minute, and one rotated out (its
    # successor took the last slot) ends its grace in a minute
    now = int(clock.now())
    _fill(client, owner, 2, expires_at=now + 60)
    others = _fill(client, owner, FREE_CAP - 3)
    assert _rotate(client, owner, others[0], grace_period_seconds=60).status == 201
    assert _active_keys(table, owner.workspace) == FREE_CAP
    # When their ends have passed and the expiry job runs (twice)
    clock.advance(120)
    first, second = run_job("expiry"), run_job("expiry")
    # Then all three are expired, each freed its slot, once
    assert (first["counts"].get("expired"), second["counts"].get("expired")) == (3, None)
    assert _active_keys(table, owner.workspace) == FREE_CAP - 3
    assert problems(table, audit_table, owner.workspace) == []
    assert [_create(client, owner).status for _ in range(4)] == [201, 201, 201, 409]


def test_a_workspace_with_keys_but_no_count_never_goes_negative(
    client: InProcessClient, owner: a.Account, table: Table, clock: FakeClock
) -> None:
    # Given a workspace whose keys were made before the count existed (no `active_keys`)
    now = int(clock.now())
    revoked, ending = _fill(client, owner, 1)[0], _fill(client, owner, 1, expires_at=now + 60)[0]
    table.update(item_keys.workspace(owner.workspace), "REMOVE active_keys")
    # When one key is revoked and the other expires
    assert client.request("DELETE", f"{KEYS}/{revoked}", headers=owner.headers()).status == 204
    clock.advance(120)
    assert run_job("expiry")["counts"].get("expired") == 1
    # Then both ended, and the count was left as it was: never below 0
    listed = client.request("GET", f"{KEYS}?limit=100", headers=owner.headers()).json()["data"]
    assert {key["id"]: key["status"] for key in listed} == {
        revoked: "revoked",
        ending: "expired",
    }
    workspace = table.get(item_keys.workspace(owner.workspace))
    assert workspace is not None
    assert "active_keys" not in workspace


def test_a_racing_repeat_of_an_idempotency_key_at_the_last_slot_is_already_applied(
    client: InProcessClient, owner: a.Account, table: Table, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a workspace one key under its cap, and a creation with an Idempotency-Key whose
    # repeat commits between its check for a repeat and its own commit
    _fill(client, owner, FREE_CAP - 1)
    headers = {**owner.headers(), "Idempotency-Key": "create-once"}
    body = {"name": "ci", "scopes": ["agents:read"]}
    checked = ShownOnce.refuse_repeat
    raced_once: list[bool] = []
    winners: list[Reply] = []

    def raced(once: ShownOnce) -> None:
        checked(once)
        if not raced_once:
            raced_once.append(True)
            winners.append(client.request("POST", KEYS, headers=headers, body=body))

    monkeypatch.setattr(ShownOnce, "refuse_repeat", raced)
    # When the loser commits (the last slot is the winner's)
    loser = client.request("POST", KEYS, headers=headers, body=body)
    # Then the winner created the key and the loser is told so, not that the cap is reached
    assert winners[0].status == 201
    remember(winners[0].json()["data"]["key"])
    assert (loser.status, loser.json()["error"]["code"]) == (409, "already_applied")
    assert loser.json()["error"]["details"] == {"id": winners[0].json()["data"]["id"]}
    assert _active_keys(table, owner.workspace) == FREE_CAP


def test_the_cap_is_exact_under_concurrent_creations(owner: a.Account, table: Table) -> None:
    # Given a workspace three keys under its cap
    audit = RecordingAuditTrail(table)
    keys = ApiKeys(table, SystemClock(), audit)
    scope = WorkspaceScope(owner.workspace, owner.user_id, "owner")
    settings = KeySettings("ci", ("agents:read",), (), (), None, None)
    for _ in range(FREE_CAP - 3):
        keys.create(scope, settings)
    # When eight creations are asked for at the same moment
    outcomes = at_once(
        lambda _: keys.create(scope, settings), range(8), ("created", "refused"), KeyLimitReached
    )
    # Then exactly three were created, and the count is the cap
    assert sorted(outcomes) == ["created"] * 3 + ["refused"] * 5
    assert _active_keys(table, owner.workspace) == FREE_CAP
    assert audit.types().count("api_key.created") == FREE_CAP


def test_a_repeated_idempotency_key_counts_its_key_once(
    client: InProcessClient, owner: a.Account, table: Table
) -> None:
    # Given a workspace one key under its cap
    _fill(client, owner, FREE_CAP - 1)
    headers = {**owner.headers(), "Idempotency-Key": "create-once"}
    body = {"name": "ci", "scopes": ["agents:read"]}
    # When a creation is sent twice with the same Idempotency-Key
    first = client.request("POST", KEYS, headers=headers, body=body)
    again = client.request("POST", KEYS, headers=headers, body=body)
    # Then the first created it, the repeat is told so (not the cap), and it counts once
    assert first.status == 201
    remember(first.json()["data"]["key"])
    assert (again.status, again.json()["error"]["code"]) == (409, "already_applied")
    assert _active_keys(table, owner.workspace) == FREE_CAP


def test_a_creation_in_a_deleted_workspace_is_still_404(
    client: InProcessClient, owner: a.Account, table: Table
) -> None:
    # Given a workspace deleted by its owner
    deleted = client.request(
        "DELETE", f"/api/v1/workspaces/{owner.workspace}", headers=owner.headers()
    )
    assert deleted.status == 204
    # When its service is asked for a key (the authorizer would refuse the route first)
    keys = ApiKeys(table, SystemClock(), RecordingAuditTrail(table))
    scope = WorkspaceScope(owner.workspace, owner.user_id, "owner")
    # Then 404, not the cap
    with pytest.raises(NotFound):
        keys.create(scope, KeySettings("ci", ("agents:read",), (), (), None, None))


# -- the operator's plan change ---------------------------------------------------------------
def test_a_plan_change_applies_within_5_seconds_and_is_audited(
    client: InProcessClient,
    owner: a.Account,
    table: Table,
    audit_table: Table,
    clock: FakeClock,
) -> None:
    # Given a free workspace at its cap, whose key and owner are counted at the free rate
    (key_id,) = _fill(client, owner, 1)
    _fill(client, owner, FREE_CAP - 2)
    secret = _rotate(client, owner, key_id).json()["data"]["key"]
    me = client.request("GET", "/api/v1/me", headers={"X-API-Key": secret})
    assert me.headers["ratelimit-limit"] == "120"
    # When the operator moves it to pro
    report = change_plan(workspace_id=owner.workspace, plan="pro")
    # Then the function says so, and the workspace is on pro
    assert report["counts"] == {"changed": 1}
    workspace = client.request(
        "GET", f"/api/v1/workspaces/{owner.workspace}", headers=owner.headers()
    )
    assert workspace.json()["data"]["plan"] == "pro"
    # And within 5 seconds (the authorizer's reads live 2 s) its key and its owner get pro's
    # rate, and the workspace may have pro's keys
    clock.advance(2.1)
    me = client.request("GET", "/api/v1/me", headers={"X-API-Key": secret})
    assert me.headers["ratelimit-limit"] == "3000"
    listed = client.request("GET", KEYS, headers=owner.headers())
    assert listed.headers["ratelimit-limit"] == "3000"
    assert _create(client, owner).status == 201
    # And the trail has the change, by the operator's function, with from and to
    (event,) = _plan_events(table, audit_table, owner.workspace)
    assert event["actor"] == {"type": "system", "id": "plan"}
    assert event["target"] == {"type": "workspace", "id": owner.workspace}
    assert event["details"] == {"from": "free", "to": "pro"}


def test_after_a_downgrade_a_key_with_a_higher_limit_of_its_own_gets_the_plans_within_5_seconds(
    client: InProcessClient, owner: a.Account, clock: FakeClock
) -> None:
    # Given an enterprise workspace whose key has a limit of its own, enterprise's whole rate
    assert change_plan(workspace_id=owner.workspace, plan="enterprise")["counts"] == {"changed": 1}
    created = _create(client, owner, rate_limit={"requests": 15_000, "window_seconds": 60})
    assert created.status == 201, created.body
    secret = created.json()["data"]["key"]
    me = client.request("GET", "/api/v1/me", headers={"X-API-Key": secret})
    assert me.headers["ratelimit-limit"] == "15000"
    # When the operator moves the workspace to free
    assert change_plan(workspace_id=owner.workspace, plan="free")["counts"] == {"changed": 1}
    # Then within 5 seconds the key is limited as free allows: its own limit may only narrow it
    clock.advance(2.1)
    me = client.request("GET", "/api/v1/me", headers={"X-API-Key": secret})
    assert me.status == 200
    assert me.headers["ratelimit-limit"] == "120"


def test_the_same_plan_again_changes_and_records_nothing(
    owner: a.Account, table: Table, audit_table: Table
) -> None:
    # When a free workspace is "moved" to free
    report = change_plan(workspace_id=owner.workspace, plan="free")
    # Then nothing changed, and nothing was recorded
    assert report["counts"] == {"unchanged": 1}
    assert _plan_events(table, audit_table, owner.workspace) == []


@pytest.mark.parametrize(
    "detail",
    [
        pytest.param({"plan": "platinum"}, id="unknown-plan"),
        pytest.param({"plan": "Pro"}, id="plan-not-as-named"),
        pytest.param({"workspace_id": "acme", "plan": "pro"}, id="not-a-workspace-id"),
        pytest.param({"workspace_id": None}, id="no-plan"),
        pytest.param({"plan": "pro", "role": "owner"}, id="anything-else"),
    ],
)
def test_the_plan_change_refuses_a_malformed_request(
    owner: a.Account, table: Table, audit_table: Table, detail: dict[str, Any]
) -> None:
    # When the function is asked for an unknown plan, or without a workspace id, or for more
    request = {"workspace_id": owner.workspace, **detail}
    request = {name: value for name, value in request.items() if value is not None}
    # Then the invocation fails, naming the field, and the workspace is as it was
    with pytest.raises(ValidationError) as refused:
        change_plan(**request)
    assert {error["loc"][0] for error in refused.value.errors()} <= {
        "plan",
        "workspace_id",
        "role",
    }
    workspace = table.get(item_keys.workspace(owner.workspace))
    assert workspace is not None
    assert "plan" not in workspace  # still on the default plan, free
    assert _plan_events(table, audit_table, owner.workspace) == []


def test_the_plan_change_refuses_an_unknown_or_deleted_workspace(
    client: InProcessClient, owner: a.Account, table: Table, audit_table: Table
) -> None:
    # Given a deleted workspace, and an id no workspace has
    assert (
        client.request(
            "DELETE", f"/api/v1/workspaces/{owner.workspace}", headers=owner.headers()
        ).status
        == 204
    )
    unknown = "ws_01J00000000000000000000000"
    # When the operator asks to change their plans
    # Then each is refused as not found, and nothing changed
    for workspace_id in (owner.workspace, unknown):
        with pytest.raises(NotFound, match="No such workspace, or it is deleted"):
            change_plan(workspace_id=workspace_id, plan="pro")
    workspace = table.get(item_keys.workspace(owner.workspace))
    assert workspace is not None
    assert "plan" not in workspace  # still on the default plan, free
    assert table.get(item_keys.workspace(unknown)) is None
    assert _plan_events(table, audit_table, owner.workspace) == []


def test_no_route_reaches_the_plan_change_and_no_member_can_change_a_plan(
    client: InProcessClient, owner: a.Account, table: Table
) -> None:
    # Given the template: no route and no schedule invokes the plan change
    template = load_template(ROOT / "template.yaml")
    plan_function = function_ids()["plan_change"]
    assert plan_function not in {route.function_id for route in template.routes}
    assert "Events" not in template.resources[plan_function].properties
    # When the owner tries to set the plan through the workspace's routes
    patched = client.request(
        "PATCH",
        f"/api/v1/workspaces/{owner.workspace}",
        headers=owner.headers(),
        body={"plan": "enterprise"},
    )
    created = client.request(
        "POST", "/api/v1/workspaces", headers=owner.headers(), body={"name": "x", "plan": "pro"}
    )
    # Then both are refused, and the plan is the free plan still
    assert (patched.status, created.status) == (400, 400)
    workspace = table.get(item_keys.workspace(owner.workspace))
    assert workspace is not None
    assert "plan" not in workspace  # still on the default plan, free
