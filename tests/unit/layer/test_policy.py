"""The permission table's logic, without any I/O."""

from __future__ import annotations

import pytest

from railguard import kinds
from railguard.access import policy
from railguard.access.principal import Principal
from railguard.core.errors import Forbidden, NotFound, ValidationFailed

WS = "ws_01AAAAAAAAAAAAAAAAAAAAAAAA"
OTHER = "ws_01BBBBBBBBBBBBBBBBBBBBBBBB"


def _user(role: str | None = None, workspace: str | None = None) -> Principal:
    return Principal("user", "usr_1", workspace_id=workspace, role=role)  # type: ignore[arg-type]


def test_a_route_missing_from_the_table_is_refused() -> None:
    with pytest.raises(Forbidden):
        policy.rule_for("GET /api/v1/not-in-the-table")


@pytest.mark.parametrize(
    ("action", "allowed"),
    [
        ("workspace:delete", {"owner"}),
        ("ownership:transfer", {"owner"}),
        ("members:add", {"owner", "admin"}),
        ("workspace:update", {"owner", "admin"}),
        ("members:read", {"owner", "admin", "user"}),
    ],
)
def test_roles_per_action(action: str, allowed: set[str]) -> None:
    rule = policy.RULES[action]
    for role in ("owner", "admin", "user"):
        principal = _user(role, WS)
        if role in allowed:
            policy.check(principal, rule)
        else:
            with pytest.raises(Forbidden):
                policy.check(principal, rule)


def test_api_keys_never_manage_workspaces_or_members() -> None:
    key = Principal("api_key", "key_1", workspace_id=WS, scopes=frozenset({"agents:read"}))
    for action, rule in policy.RULES.items():
        if action == "me:read":
            policy.check(key, rule)  # every key may ask who it is
            continue
        with pytest.raises(Forbidden):
            policy.check(key, rule)


def test_a_path_workspace_the_principal_is_not_in_is_404() -> None:
    route = "GET /api/v1/workspaces/{workspace_id}"
    with pytest.raises(NotFound):
        policy.admit(_user(), route, WS)
    with pytest.raises(NotFound):
        policy.admit(_user("owner", OTHER), route, WS)
    assert policy.admit(_user("user", WS), route, WS).workspace_id == WS


def test_a_header_route_without_a_workspace_is_400(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(policy.RULES, "me:read", kinds.Rule(kinds.ANY_ROLE, "header"))
    with pytest.raises(ValidationFailed):
        policy.admit(_user(), "GET /api/v1/me", None)


def test_role_order() -> None:
    assert policy.outranks("owner", "admin")
    assert policy.outranks("admin", "user")
    assert not policy.outranks("admin", "admin")
    assert not policy.outranks("user", "admin")
