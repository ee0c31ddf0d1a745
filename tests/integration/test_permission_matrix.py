"""The permission matrix: every protected route of the template, for every kind of caller, on
ids of their own workspace and of another, checked against the permission table.

Generated from template.yaml, so a new route cannot skip it: a protected route missing from
`railguard.access.policy.ROUTE_ACTIONS` fails here (and is refused at runtime).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from infra.openapi import DOCUMENT_PATH
from infra.template import Route, load_template
from railguard.access import policy
from railguard.access.principal import Role
from railguard.store import Table
from tests.support import accounts as a
from tests.support.inprocess import InProcessClient
from tests.support.plaintexts import remember
from tests.support.table_state import RawItem, TableState

TEMPLATE = load_template(Path(__file__).resolve().parents[2] / "template.yaml")
DOCUMENT = json.loads(DOCUMENT_PATH.read_text(encoding="utf-8"))
PROTECTED = [route for route in TEMPLATE.routes if route.authorizer]
CALLERS = ["owner", "admin", "user", "outsider", "api_key", "narrow_api_key", "anonymous"]
API_KEY_CALLERS = ("api_key", "narrow_api_key")
TARGETS = ["own", "foreign"]
# Routes whose valid request needs state the world does not have (an authenticator being set
# up, or MFA on): being let through shows as the domain's 409, which is success here.
MFA_STATE_BODIES: dict[str, dict[str, str]] = {
    "POST /api/v1/me/mfa/totp/enable": {"code": "123456", "password": a.STRONG_PASSWORD},
    "POST /api/v1/me/mfa/totp/disable": {"code": "123456", "password": a.STRONG_PASSWORD},
    "POST /api/v1/me/mfa/recovery-codes": {"code": "123456", "password": a.STRONG_PASSWORD},
}
NO_SUCH_KEY = "key_01ZZZZZZZZZZZZZZZZZZZZZZZZ"
NO_SUCH_CRED = "cred_01ZZZZZZZZZZZZZZZZZZZZZZZZ"
NO_SUCH_TRIGGER = "trg_01ZZZZZZZZZZZZZZZZZZZZZZZZ"
NO_SUCH_AGENT_UI = "aui_01ZZZZZZZZZZZZZZZZZZZZZZZZ"
NEW_PASSWORD = "green-lamp-harbor-77"


def test_every_protected_route_has_a_rule_and_every_rule_a_route() -> None:
    protected = {route.key for route in PROTECTED}
    assert protected == set(policy.ROUTE_ACTIONS)
    public = {route.key for route in TEMPLATE.routes if not route.authorizer}
    assert not public & set(policy.ROUTE_ACTIONS)


@dataclass
class World:
    """Workspace W (owner, admin, user) and workspace X (outsider as owner, member y)."""

    ids: dict[str, str]
    emails: dict[str, str]
    tokens: dict[str, str]
    roles: dict[tuple[str, str], Role]  # (caller, workspace key) -> role
    api_keys: dict[str, str]  # caller -> raw key, both of workspace W


# Everything some case acts on: keys of both workspaces, credentials, triggers, agent UIs.
NEEDS = {*API_KEY_CALLERS, "key_outsider", "credentials", "trigger", "agent_ui"}
# Access tokens live 15 minutes: a world older than this is built anew.
WORLD_SECONDS = 600.0


@dataclass
class Prepared:
    """The world, and its tables as they were once it was built."""

    world: World
    state: TableState
    dynamodb: Any
    built_at: float

    @property
    def unchanged(self) -> TableState:
        """The prepared state less the rate-limit counters: what a refusal must leave."""
        return self.state.without(_rate_counter)

    def now(self) -> TableState:
        """The tables as they are now, less the rate-limit counters."""
        return TableState.capture(self.dynamodb, self.state.tables).without(_rate_counter)


# One world for every case (per worker process), built once and kept as it was built: before
# each case the prepared state is put back, which undoes a success and resets the rate-limit
# counters the refusals spent.
_PREPARED: list[Prepared] = []


@pytest.fixture
def prepared(
    client: InProcessClient,
    cheap_passwords: None,  # hashing cost is not what this test is about
    table: Table,
    audit_table: Table,
) -> Prepared:
    tables = (table.name, audit_table.name)
    known = _PREPARED[0] if _PREPARED else None
    if (
        known is None
        or known.state.tables != tables
        or time.monotonic() - known.built_at > WORLD_SECONDS
    ):
        started = time.monotonic()
        world = build_world(client, NEEDS)
        state = TableState.capture(table._client, tables)
        _PREPARED[:] = [Prepared(world, state, table._client, started)]
        known = _PREPARED[0]
    restored = known.state.restore(known.dynamodb)
    if any(not _rate_counter(key[0], item) for key, item in restored):
        # What a success changed was put back: instances start cold, as after a deployment,
        # so that no cache remembers the undone change.
        a.reset_instances()
    return known


# Resources of which the world holds one per workspace when a case needs them: the path that
# creates them and a valid body (the id is kept as "<kind>_<workspace key>").
WORKSPACE_RESOURCES: dict[str, tuple[str, dict[str, Any]]] = {
    "trigger": ("/api/v1/webhook-triggers", {"name": "matrix", "agent_id": "agent-1"}),
    "agent_ui": ("/api/v1/agent-uis", {"name": "matrix", "agent_id": "agent-1"}),
}


def build_world(client: InProcessClient, needs: set[str]) -> World:
    emails = {name: a.new_email() for name in ("owner", "admin", "user", "outsider", "y", "z")}
    ids: dict[str, str] = {}
    for name in ("owner", "admin", "user", "outsider", "y", "z"):
        data = a.sign_up(emails[name])
        ids[name] = data["user"]["id"]
        if name in ("owner", "outsider"):
            ids[f"ws_{name}"] = data["workspace"]["id"]
    tokens = {
        name: a.tokens_for(emails[name])["access_token"]
        for name in ("owner", "admin", "user", "outsider")
    }
    for member, role, inviter, workspace in (
        ("admin", "admin", "owner", "ws_owner"),
        ("user", "user", "owner", "ws_owner"),
        ("y", "user", "outsider", "ws_outsider"),
    ):
        reply = client.request(
            "POST",
            f"/api/v1/workspaces/{ids[workspace]}/members",
            token=tokens[inviter],
            body={"email": emails[member], "role": role},
        )
        assert reply.status == 201, reply.body
    roles: dict[tuple[str, str], Role] = {
        ("owner", "own"): "owner",
        ("admin", "own"): "admin",
        ("user", "own"): "user",
        ("outsider", "foreign"): "owner",
    }
    api_keys: dict[str, str] = {}
    for key_name, inviter, workspace, scopes in (
        ("api_key", "owner", "ws_owner", list(policy.SCOPES)),
        ("narrow_api_key", "owner", "ws_owner", ["traces:read"]),
        ("key_outsider", "outsider", "ws_outsider", ["traces:read"]),
    ):
        if key_name not in needs:
            continue
        reply = client.request(
            "POST",
            "/api/v1/api-keys",
            token=tokens[inviter],
            headers={"X-Workspace-ID": ids[workspace]},
            body={"name": key_name, "scopes": scopes},
        )
        assert reply.status == 201, reply.body
        api_keys[key_name] = reply.json()["data"]["key"]
        ids[f"key_{workspace}"] = reply.json()["data"]["id"]
    for owner, workspace in (("owner", "ws_owner"), ("outsider", "ws_outsider")):
        if "credentials" not in needs:
            break
        for state in ("active", "deleted"):
            reply = client.request(
                "POST",
                "/api/v1/credentials",
                token=tokens[owner],
                headers={"X-Workspace-ID": ids[workspace]},
                body={"name": state, "type": "openai", "value": "sk-matrix-0123456789"},
            )
            assert reply.status == 201, reply.body
            ids[f"credential_{state}_{workspace}"] = reply.json()["data"]["id"]
        deleted = client.request(
            "DELETE",
            f"/api/v1/credentials/{ids[f'credential_deleted_{workspace}']}",
            token=tokens[owner],
            headers={"X-Workspace-ID": ids[workspace]},
        )
        assert deleted.status == 204, deleted.body
    for kind, (path, body) in WORKSPACE_RESOURCES.items():
        for owner, workspace in (("owner", "ws_owner"), ("outsider", "ws_outsider")):
            if kind not in needs:
                break
            reply = client.request(
                "POST",
                path,
                token=tokens[owner],
                headers={"X-Workspace-ID": ids[workspace]},
                body=body,
            )
            assert reply.status == 201, reply.body
            ids[f"{kind}_{workspace}"] = reply.json()["data"]["id"]
            if kind == "trigger":
                remember(reply.json()["data"]["token"])
    return World(ids, emails, tokens, roles, api_keys)


def _request(
    route: Route, target: str, world: World
) -> tuple[str, dict[str, Any] | None, dict[str, str]]:
    """A path, a body and headers valid for the route, on workspace W ("own") or X ("foreign")."""
    workspace_key = "ws_owner" if target == "own" else "ws_outsider"
    workspace = world.ids[workspace_key]
    member = world.ids["user" if target == "own" else "y"]
    successor = world.ids["admin" if target == "own" else "y"]
    action = policy.ROUTE_ACTIONS[route.key]
    # Restoring needs a deleted credential; every other credential route an active one.
    state = "deleted" if action is policy.Action.CREDENTIAL_RESTORE else "active"
    placeholders = {
        "{workspace_id}": workspace,
        "{user_id}": member,
        "{key_id}": world.ids.get(f"key_{workspace_key}", NO_SUCH_KEY),
        "{credential_id}": world.ids.get(f"credential_{state}_{workspace_key}", NO_SUCH_CRED),
        "{trigger_id}": world.ids.get(f"trigger_{workspace_key}", NO_SUCH_TRIGGER),
        "{agent_ui_id}": world.ids.get(f"agent_ui_{workspace_key}", NO_SUCH_AGENT_UI),
    }
    path = route.path
    for placeholder, value in placeholders.items():
        path = path.replace(placeholder, value)
    bodies: dict[policy.Action, dict[str, Any]] = {
        policy.Action.ME_PASSWORD: {
            "current_password": a.STRONG_PASSWORD,
            "new_password": NEW_PASSWORD,
        },
        policy.Action.WORKSPACES_CREATE: {"name": "Another"},
        policy.Action.WORKSPACE_UPDATE: {"name": "Renamed"},
        policy.Action.MEMBERS_ADD: {"email": world.emails["z"], "role": "user"},
        policy.Action.MEMBERS_UPDATE: {"role": "user"},
        policy.Action.OWNERSHIP_TRANSFER: {"user_id": successor},
        policy.Action.API_KEYS_CREATE: {"name": "Another", "scopes": ["agents:read"]},
        policy.Action.API_KEY_UPDATE: {"name": "Renamed"},
        policy.Action.CREDENTIAL_CREATE: {"name": "New", "type": "anthropic", "value": "sk-1"},
        policy.Action.CREDENTIAL_UPDATE: {"name": "Renamed"},
        policy.Action.WEBHOOK_TRIGGER_CREATE: WORKSPACE_RESOURCES["trigger"][1],
        policy.Action.WEBHOOK_TRIGGER_UPDATE: {"name": "Renamed"},
        policy.Action.AGENT_UI_CREATE: WORKSPACE_RESOURCES["agent_ui"][1],
        policy.Action.AGENT_UI_UPDATE: {"name": "Renamed"},
    }
    headers = {"X-Workspace-ID": workspace} if policy.RULES[action].workspace == "header" else {}
    return path, MFA_STATE_BODIES.get(route.key, bodies.get(action)), headers


def _expected(route: Route, caller: str, target: str, world: World) -> str:
    if caller == "anonymous":
        return "401"
    rule = policy.RULES[policy.ROUTE_ACTIONS[route.key]]
    if caller in API_KEY_CALLERS:
        scopes = set(policy.SCOPES) if caller == "api_key" else {"traces:read"}
        allowed = rule.any_api_key or (rule.scope is not None and rule.scope in scopes)
        # A key acts in its own workspace (W) only: naming X is refused, whatever the scopes.
        return "success" if allowed and (target == "own" or rule.workspace == "none") else "403"
    if rule.workspace == "none":
        return "success"
    role = world.roles.get((caller, target))
    if role is None:
        # Another workspace's id in the path does not exist for this caller; a workspace named
        # in X-Workspace-ID that the caller is not in is refused (contract section 2).
        return "404" if rule.workspace == "path" else "403"
    return "success" if role in rule.roles else "403"


def _cases() -> list[Any]:
    return list(_generate_cases())


def _generate_cases() -> Iterator[Any]:
    for route in PROTECTED:
        rule = policy.RULES.get(policy.ROUTE_ACTIONS.get(route.key, policy.Action.ME_READ))
        targets = ["own"] if rule is not None and rule.workspace == "none" else TARGETS
        for caller in CALLERS:
            for target in targets:
                yield pytest.param(route, caller, target, id=f"{route.key}|{caller}|{target}")


def _rate_counter(_table: str, item: RawItem) -> bool:
    """What a refused request may change: the rate-limit counters (`RATE#...`) of the budgets
    it was counted against, which every request is, before the function decides. Nothing
    else."""
    return str(item["pk"]["S"]).startswith("RATE#")


def _success_status(route: Route) -> int:
    """The route's own success status: the one 2xx the shipped OpenAPI document declares."""
    operation = DOCUMENT["paths"][route.path][route.method.lower()]
    (status,) = (int(code) for code in operation["responses"] if code.startswith("2"))
    return status


@pytest.mark.parametrize(("route", "caller", "target"), _cases())
def test_route_outcome_matches_the_permission_table(
    client: InProcessClient,
    prepared: Prepared,
    route: Route,
    caller: str,
    target: str,
) -> None:
    # Given a caller and a valid request on ids of their workspace or of another, in the
    # prepared world (as it was built: an earlier success is undone)
    world = prepared.world
    path, body, headers = _request(route, target, world)
    if caller in API_KEY_CALLERS:
        headers["X-API-Key"] = world.api_keys[caller]
    expected = _expected(route, caller, target, world)
    # When it goes through the gateway, the authorizer and the function
    reply = client.request(
        route.method, path, token=world.tokens.get(caller), body=body, headers=headers
    )
    # Then the outcome is the one the permission table gives: the route's own success status
    # (the domain's 409 where the world lacks the state a valid request needs)
    if expected == "success":
        status = 409 if route.key in MFA_STATE_BODIES else _success_status(route)
        assert reply.status == status, reply.body
        return
    assert str(reply.status) == expected, reply.body
    if expected == "404":
        assert reply.json()["error"]["code"] == "not_found"
    # And a refused request changed nothing stored but the rate-limit counters
    after, before = prepared.now(), prepared.unchanged
    assert after.digest() == before.digest(), after.changes_since(before)
