"""The permission table: for every protected route, the action it performs; for every action,
the workspace roles and API key scope that may perform it, and where its workspace comes from.

The authorizer enforces it before a function runs, and every API function enforces it again on
the principal it is handed (defence in depth). No handler checks a role by hand. A protected
route missing from the table is refused: a new route cannot skip authorization.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from railguard.access.principal import Principal, Role
from railguard.core.errors import Forbidden, NotFound, ValidationFailed

ROLE_RANK: Mapping[Role, int] = {"user": 1, "admin": 2, "owner": 3}
ANY_ROLE: frozenset[Role] = frozenset(ROLE_RANK)
MANAGERS: frozenset[Role] = frozenset({"owner", "admin"})
OWNER: frozenset[Role] = frozenset({"owner"})

# Where an action's workspace comes from: none (the caller's own things), the route's
# `{workspace_id}` (a non-member gets 404: another workspace's id does not exist for them),
# or the `X-Workspace-ID` header (missing: 400; not a member: 403).
WorkspaceSource = Literal["none", "path", "header"]


class Action(StrEnum):
    ME_READ = "me:read"
    ME_PASSWORD = "me:password"  # noqa: S105 - an action name
    ME_MFA = "me:mfa"
    ME_SECURITY_EVENTS = "me:security_events"
    WORKSPACES_LIST = "workspaces:list"
    WORKSPACES_CREATE = "workspaces:create"
    WORKSPACE_READ = "workspace:read"
    WORKSPACE_UPDATE = "workspace:update"
    WORKSPACE_DELETE = "workspace:delete"
    MEMBERS_READ = "members:read"
    MEMBERS_ADD = "members:add"
    MEMBERS_UPDATE = "members:update"
    MEMBERS_REMOVE = "members:remove"
    OWNERSHIP_TRANSFER = "ownership:transfer"
    API_KEYS_LIST = "api_keys:list"
    API_KEYS_CREATE = "api_keys:create"
    API_KEY_READ = "api_key:read"
    API_KEY_UPDATE = "api_key:update"
    API_KEY_ROTATE = "api_key:rotate"
    API_KEY_REVOKE = "api_key:revoke"
    CREDENTIALS_LIST = "credentials:list"
    CREDENTIAL_CREATE = "credential:create"
    CREDENTIAL_READ = "credential:read"
    CREDENTIAL_UPDATE = "credential:update"
    CREDENTIAL_SET_DEFAULT = "credential:set_default"
    CREDENTIAL_DELETE = "credential:delete"
    CREDENTIAL_RESTORE = "credential:restore"
    WEBHOOK_TRIGGERS_LIST = "webhook_triggers:list"
    WEBHOOK_TRIGGER_CREATE = "webhook_trigger:create"
    WEBHOOK_TRIGGER_READ = "webhook_trigger:read"
    WEBHOOK_TRIGGER_UPDATE = "webhook_trigger:update"
    WEBHOOK_TRIGGER_DELETE = "webhook_trigger:delete"
    WEBHOOK_TRIGGER_ROTATE = "webhook_trigger:rotate_token"
    AGENT_UIS_LIST = "agent_uis:list"
    AGENT_UI_CREATE = "agent_ui:create"
    AGENT_UI_READ = "agent_ui:read"
    AGENT_UI_UPDATE = "agent_ui:update"
    AGENT_UI_DELETE = "agent_ui:delete"
    AUDIT_READ = "audit:read"


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


@dataclass(frozen=True)
class Rule:
    roles: frozenset[Role]
    workspace: WorkspaceSource
    scope: str | None = None  # the API key scope that allows it; None: never an API key
    any_api_key: bool = False  # allowed to every API key of the workspace, whatever its scopes


RULES: Mapping[Action, Rule] = {
    Action.ME_READ: Rule(ANY_ROLE, "none", any_api_key=True),
    Action.ME_PASSWORD: Rule(ANY_ROLE, "none"),
    Action.ME_MFA: Rule(ANY_ROLE, "none"),
    # A user's own trail: API keys have none (and no scope reads one).
    Action.ME_SECURITY_EVENTS: Rule(ANY_ROLE, "none"),
    Action.WORKSPACES_LIST: Rule(ANY_ROLE, "none"),
    Action.WORKSPACES_CREATE: Rule(ANY_ROLE, "none"),
    Action.WORKSPACE_READ: Rule(ANY_ROLE, "path"),
    Action.WORKSPACE_UPDATE: Rule(MANAGERS, "path"),
    Action.WORKSPACE_DELETE: Rule(OWNER, "path"),
    Action.MEMBERS_READ: Rule(ANY_ROLE, "path"),
    Action.MEMBERS_ADD: Rule(MANAGERS, "path"),
    Action.MEMBERS_UPDATE: Rule(MANAGERS, "path"),
    # Any member may leave; removing someone else is checked against role order by the domain.
    Action.MEMBERS_REMOVE: Rule(ANY_ROLE, "path"),
    Action.OWNERSHIP_TRANSFER: Rule(OWNER, "path"),
    # Keys are managed by people: no scope lets an API key manage keys (scope None).
    Action.API_KEYS_LIST: Rule(MANAGERS, "header"),
    Action.API_KEYS_CREATE: Rule(MANAGERS, "header"),
    Action.API_KEY_READ: Rule(MANAGERS, "header"),
    Action.API_KEY_UPDATE: Rule(MANAGERS, "header"),
    Action.API_KEY_ROTATE: Rule(MANAGERS, "header"),
    Action.API_KEY_REVOKE: Rule(MANAGERS, "header"),
    Action.CREDENTIALS_LIST: Rule(ANY_ROLE, "header", scope="credentials:read"),
    Action.CREDENTIAL_READ: Rule(ANY_ROLE, "header", scope="credentials:read"),
    Action.CREDENTIAL_CREATE: Rule(MANAGERS, "header", scope="credentials:write"),
    Action.CREDENTIAL_UPDATE: Rule(MANAGERS, "header", scope="credentials:write"),
    Action.CREDENTIAL_SET_DEFAULT: Rule(MANAGERS, "header", scope="credentials:write"),
    Action.CREDENTIAL_DELETE: Rule(MANAGERS, "header", scope="credentials:write"),
    # Restoring is for people (the contract gives keys no part in it).
    Action.CREDENTIAL_RESTORE: Rule(MANAGERS, "header"),
    Action.WEBHOOK_TRIGGERS_LIST: Rule(ANY_ROLE, "header", scope="webhook_triggers:read"),
    Action.WEBHOOK_TRIGGER_READ: Rule(ANY_ROLE, "header", scope="webhook_triggers:read"),
    Action.WEBHOOK_TRIGGER_CREATE: Rule(MANAGERS, "header", scope="webhook_triggers:write"),
    Action.WEBHOOK_TRIGGER_UPDATE: Rule(MANAGERS, "header", scope="webhook_triggers:write"),
    Action.WEBHOOK_TRIGGER_DELETE: Rule(MANAGERS, "header", scope="webhook_triggers:write"),
    Action.WEBHOOK_TRIGGER_ROTATE: Rule(MANAGERS, "header", scope="webhook_triggers:write"),
    Action.AGENT_UIS_LIST: Rule(ANY_ROLE, "header", scope="agent_uis:read"),
    Action.AGENT_UI_READ: Rule(ANY_ROLE, "header", scope="agent_uis:read"),
    Action.AGENT_UI_CREATE: Rule(MANAGERS, "header", scope="agent_uis:write"),
    Action.AGENT_UI_UPDATE: Rule(MANAGERS, "header", scope="agent_uis:write"),
    Action.AGENT_UI_DELETE: Rule(MANAGERS, "header", scope="agent_uis:write"),
    # The trail is for the people who run the workspace (section 10); no key reads it.
    Action.AUDIT_READ: Rule(MANAGERS, "header"),
}

# Every protected route of template.yaml, and its action (a test keeps the two in step).
ROUTE_ACTIONS: Mapping[str, Action] = {
    "GET /api/v1/me": Action.ME_READ,
    "POST /api/v1/me/password": Action.ME_PASSWORD,
    "POST /api/v1/me/mfa/totp/setup": Action.ME_MFA,
    "POST /api/v1/me/mfa/totp/enable": Action.ME_MFA,
    "POST /api/v1/me/mfa/totp/disable": Action.ME_MFA,
    "POST /api/v1/me/mfa/recovery-codes": Action.ME_MFA,
    "GET /api/v1/me/security-events": Action.ME_SECURITY_EVENTS,
    "GET /api/v1/workspaces": Action.WORKSPACES_LIST,
    "POST /api/v1/workspaces": Action.WORKSPACES_CREATE,
    "GET /api/v1/workspaces/{workspace_id}": Action.WORKSPACE_READ,
    "PATCH /api/v1/workspaces/{workspace_id}": Action.WORKSPACE_UPDATE,
    "DELETE /api/v1/workspaces/{workspace_id}": Action.WORKSPACE_DELETE,
    "GET /api/v1/workspaces/{workspace_id}/members": Action.MEMBERS_READ,
    "POST /api/v1/workspaces/{workspace_id}/members": Action.MEMBERS_ADD,
    "PATCH /api/v1/workspaces/{workspace_id}/members/{user_id}": Action.MEMBERS_UPDATE,
    "DELETE /api/v1/workspaces/{workspace_id}/members/{user_id}": Action.MEMBERS_REMOVE,
    "POST /api/v1/workspaces/{workspace_id}/transfer-ownership": Action.OWNERSHIP_TRANSFER,
    "GET /api/v1/api-keys": Action.API_KEYS_LIST,
    "POST /api/v1/api-keys": Action.API_KEYS_CREATE,
    "GET /api/v1/api-keys/{key_id}": Action.API_KEY_READ,
    "PATCH /api/v1/api-keys/{key_id}": Action.API_KEY_UPDATE,
    "POST /api/v1/api-keys/{key_id}/rotate": Action.API_KEY_ROTATE,
    "DELETE /api/v1/api-keys/{key_id}": Action.API_KEY_REVOKE,
    "GET /api/v1/credentials": Action.CREDENTIALS_LIST,
    "POST /api/v1/credentials": Action.CREDENTIAL_CREATE,
    "GET /api/v1/credentials/{credential_id}": Action.CREDENTIAL_READ,
    "PATCH /api/v1/credentials/{credential_id}": Action.CREDENTIAL_UPDATE,
    "POST /api/v1/credentials/{credential_id}/set-default": Action.CREDENTIAL_SET_DEFAULT,
    "DELETE /api/v1/credentials/{credential_id}": Action.CREDENTIAL_DELETE,
    "POST /api/v1/credentials/{credential_id}/restore": Action.CREDENTIAL_RESTORE,
    "GET /api/v1/webhook-triggers": Action.WEBHOOK_TRIGGERS_LIST,
    "POST /api/v1/webhook-triggers": Action.WEBHOOK_TRIGGER_CREATE,
    "GET /api/v1/webhook-triggers/{trigger_id}": Action.WEBHOOK_TRIGGER_READ,
    "PATCH /api/v1/webhook-triggers/{trigger_id}": Action.WEBHOOK_TRIGGER_UPDATE,
    "DELETE /api/v1/webhook-triggers/{trigger_id}": Action.WEBHOOK_TRIGGER_DELETE,
    "POST /api/v1/webhook-triggers/{trigger_id}/rotate-token": Action.WEBHOOK_TRIGGER_ROTATE,
    "GET /api/v1/agent-uis": Action.AGENT_UIS_LIST,
    "POST /api/v1/agent-uis": Action.AGENT_UI_CREATE,
    "GET /api/v1/agent-uis/{agent_ui_id}": Action.AGENT_UI_READ,
    "PATCH /api/v1/agent-uis/{agent_ui_id}": Action.AGENT_UI_UPDATE,
    "DELETE /api/v1/agent-uis/{agent_ui_id}": Action.AGENT_UI_DELETE,
    "GET /api/v1/audit-events": Action.AUDIT_READ,
    "GET /api/v1/audit-events/verify": Action.AUDIT_READ,
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
