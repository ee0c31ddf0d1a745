"""The permission matrix: every protected route of the template, for every kind of caller, on
ids of their own workspace and of another, checked against the permission table.

Generated from template.yaml, so a new route cannot skip it: a protected route missing from
`railguard.access.policy.ROUTE_ACTIONS` fails here (and is refused at runtime).
"""

from __future__ import annotations

import json
import re
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
from railguard.kinds import API_KEY, CREDENTIAL, KINDS, ResourceKind
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
# A well-formed id of a kind (by its prefix) that names nothing.
NO_SUCH_ID = "{}_01ZZZZZZZZZZZZZZZZZZZZZZZZ"
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
# Resources of which the world holds one per workspace, made through their create route with
# the least body their schema accepts: every kind that lives in a workspace and has routes, but
# keys (the world keeps their secrets) and credentials (it also holds a deleted one), which it
# makes itself.
MADE_BY_ROUTE = tuple(
    kind
    for kind in KINDS
    if kind.placement is not None and kind.routes and kind not in (API_KEY, CREDENTIAL)
)
NEEDS = {*API_KEY_CALLERS, "key_outsider", "credentials", *(kind.name for kind in MADE_BY_ROUTE)}
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


def _path_parameter(kind: ResourceKind) -> str:
    """The `{..._id}` its routes name one of its resources by."""
    names: set[str] = {
        name
        for route in kind.routes
        for name in re.findall(r"\{(\w+)\}", route)
        if name not in ("workspace_id", "user_id")
    }
    (parameter,) = names
    return parameter


def _create_route(kind: ResourceKind) -> str:
    (route,) = (route for route, action in kind.routes.items() if action.endswith(":create"))
    return route


def _least_body(route_key: str) -> dict[str, Any]:
    """The least body the document lets `route_key` take: its required fields, each a string
    `matrix` (checked against its pattern), an enum's first value, or a list of one."""
    method, path = route_key.split(" ", 1)
    reference = DOCUMENT["paths"][path][method.lower()]["requestBody"]["content"][
        "application/json"
    ]["schema"]["$ref"]
    schema = DOCUMENT["components"]["schemas"][reference.rsplit("/", 1)[-1]]

    def value(field: dict[str, Any]) -> Any:
        if "enum" in field:
            return field["enum"][0]
        if field.get("type") == "array":
            return [value(field["items"])]
        assert re.fullmatch(field.get("pattern", ".*"), "matrix"), f"{route_key}: {field}"
        return "matrix"

    return {name: value(schema["properties"][name]) for name in schema["required"]}


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
    for kind in MADE_BY_ROUTE:
        for owner, workspace in (("owner", "ws_owner"), ("outsider", "ws_outsider")):
            if kind.name not in needs:
                break
            route = _create_route(kind)
            reply = client.request(
                "POST",
                route.split(" ", 1)[1],
                token=tokens[owner],
                headers={"X-Workspace-ID": ids[workspace]},
                body=_least_body(route),
            )
            assert reply.status == 201, reply.body
            made = reply.json()["data"]
            ids[f"{kind.name}_{workspace}"] = made["id"]
            if "token" in made:  # a secret shown once: the no-secrets checks must know it
                remember(made["token"])
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
    state = "deleted" if action == "credential:restore" else "active"
    held = {
        API_KEY.name: f"key_{workspace_key}",
        CREDENTIAL.name: f"credential_{state}_{workspace_key}",
        **{kind.name: f"{kind.name}_{workspace_key}" for kind in MADE_BY_ROUTE},
    }
    placeholders = {
        "{workspace_id}": workspace,
        "{user_id}": member,
        **{
            f"{{{_path_parameter(kind)}}}": world.ids.get(
                held[kind.name], NO_SUCH_ID.format(kind.id_prefix)
            )
            for kind in KINDS
            if kind.name in held
        },
    }
    path = route.path
    for placeholder, value in placeholders.items():
        path = path.replace(placeholder, value)
    bodies: dict[str, dict[str, Any]] = {
        "me:password": {
            "current_password": a.STRONG_PASSWORD,
            "new_password": NEW_PASSWORD,
        },
        "workspaces:create": {"name": "Another"},
        "workspace:update": {"name": "Renamed"},
        "members:add": {"email": world.emails["z"], "role": "user"},
        "members:update": {"role": "user"},
        "ownership:transfer": {"user_id": successor},
        "api_keys:create": {"name": "Another", "scopes": ["agents:read"]},
        "api_key:update": {"name": "Renamed"},
        "credential:create": {"name": "New", "type": "anthropic", "value": "sk-1"},
        "credential:update": {"name": "Renamed"},
        **{
            kind.routes[_create_route(kind)]: _least_body(_create_route(kind))
            for kind in MADE_BY_ROUTE
        },
        **{
            action: {"name": "Renamed"}
            for kind in MADE_BY_ROUTE
            for action in kind.actions
            if action.endswith(":update")
        },
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
        rule = policy.RULES.get(policy.ROUTE_ACTIONS.get(route.key, "me:read"))
        targets = ["own"] if rule is not None and rule.workspace == "none" else TARGETS
        for caller in CALLERS:
            for target in targets:
                yield pytest.param(route, caller, target, id=f"{route.key}|{caller}|{target}")


def _rate_counter(_table: str, item: RawItem) -> bool:
    """What a refused request may change: the rate-limit counters (`RATE#...`) of the budgets
    it was counted against, which every request is, before the function decides, and the usage
    counts (`USAGE#...`) that refusals are counted in (railguard.usage). Nothing else."""
    return str(item["pk"]["S"]).startswith(("RATE#", "USAGE#"))


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
