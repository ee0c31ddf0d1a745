"""The permission table: for every protected route, the action it performs; for every action,
the workspace roles and API key scope that may perform it, and where its workspace comes from.

The authorizer enforces it before a function runs, and every API function enforces it again on
the principal it is handed (defence in depth). No handler checks a role by hand. A protected
route missing from the table is refused: a new route cannot skip authorization. The actions,
their rules and their routes are declared with each resource kind (`railguard.kinds`).
"""

from __future__ import annotations

from collections.abc import Mapping

from railguard.access.principal import Principal, Role
from railguard.core.errors import Forbidden, NotFound, ValidationFailed
from railguard.kinds import KINDS, ROLE_RANK, Rule

# The API key scopes of the contract (section 6), and nothing else: an unknown scope is a 400.
SCOPES: tuple[str, ...] = (
    "agents:read",
    "agents:write",
    "agents:execute",
    "prompts:read",
    "prompts:write",
    "prompts:execute",
    "data_sources:read",
    "data_sources:write",
    "data_sources:execute",
    "executions:read",
    "traces:read",
    "traces:write",
    "credentials:read",
    "credentials:write",
    "sessions:read",
    "chat:write",
    "webhook_triggers:read",
    "webhook_triggers:write",
    "agent_uis:read",
    "agent_uis:write",
)


# Every action of every kind, and who may perform it.
RULES: Mapping[str, Rule] = {name: rule for kind in KINDS for name, rule in kind.actions.items()}

# Every protected route of template.yaml, and its action (a test keeps the two in step).
ROUTE_ACTIONS: Mapping[str, str] = {
    route: action for kind in KINDS for route, action in kind.routes.items()
}


def rule_for(route_key: str) -> Rule:
    """The rule of a protected route; a route missing from the table is refused."""
    action = ROUTE_ACTIONS.get(route_key)
    if action is None:
        raise Forbidden("This route has no permission rule.")
    return RULES[action]


def check(principal: Principal, rule: Rule) -> None:
    """`Forbidden` unless the principal's kind, role or scopes satisfy `rule`."""
    if principal.kind == "api_key":
        if not (rule.any_api_key or (rule.scope is not None and rule.scope in principal.scopes)):
            raise Forbidden("The API key's scopes do not allow this.")
        return
    if rule.workspace != "none" and principal.role not in rule.roles:
        raise Forbidden("Your role in this workspace does not allow this.")


def admit(principal: Principal, route_key: str, path_workspace_id: str | None) -> Principal:
    """The function-side gate: the principal may run this route on this workspace.

    A `{workspace_id}` the principal is not established in is 404 (it does not exist for them);
    a header-scoped route without a workspace is 400; then the role and scope rule.
    """
    rule = rule_for(route_key)
    if rule.workspace == "path" and (
        principal.workspace_id is None or principal.workspace_id != path_workspace_id
    ):
        raise NotFound("No such workspace.")
    if rule.workspace == "header" and principal.workspace_id is None:
        raise ValidationFailed(
            "This route needs the X-Workspace-ID header.", details={"field": "X-Workspace-ID"}
        )
    check(principal, rule)
    return principal


def outranks(actor: Role, other: Role) -> bool:
    return ROLE_RANK[actor] > ROLE_RANK[other]
