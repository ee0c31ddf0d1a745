"""Every kind of resource, declared once: its ids, where its items live, what it audits, which
routes act on it and who may call them, what it seals under KMS, and what retention erases.

The registries are read from here: the permission table (`railguard.access.policy`), the audit
trail's actions and target types (`railguard.audit.trail`), retention's erasures
(`railguard.retention`), and the tests that hold the template's IAM grants and routes to them.
A new kind is one more entry in `KINDS` (docs/architecture.md, "Adding a resource kind").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from railguard.access.principal import Role
from railguard.core.ids import is_id, new_id

ROLE_RANK: Mapping[Role, int] = {"user": 1, "admin": 2, "owner": 3}
ANY_ROLE: frozenset[Role] = frozenset(ROLE_RANK)
MANAGERS: frozenset[Role] = frozenset({"owner", "admin"})
OWNER: frozenset[Role] = frozenset({"owner"})

# Where an action's workspace comes from: none (the caller's own things), the route's
# `{workspace_id}` (a non-member gets 404: another workspace's id does not exist for them),
# or the `X-Workspace-ID` header (missing: 400; not a member: 403).
WorkspaceSource = Literal["none", "path", "header"]


@dataclass(frozen=True)
class Rule:
    """Who may perform an action."""

    roles: frozenset[Role]
    workspace: WorkspaceSource
    scope: str | None = None  # the API key scope that allows it; None: never an API key
    any_api_key: bool = False  # allowed to every API key of the workspace, whatever its scopes

    @property
    def for_keys(self) -> bool:
        """Whether an API key may perform it at all (any key, or one with the scope)."""
        return self.any_api_key or self.scope is not None


@dataclass(frozen=True)
class Erasure:
    """What the retention job erases when it purges a deleted item of the kind: the item keeps
    a tombstone (id, name, type), loses `attributes`, and is left `retired_status` when its
    workspace is purged (its own status was never changed then); `masked`: its listing shows a
    mask of the value, blanked too."""

    attributes: tuple[str, ...]
    retired_status: str = "deleted"
    masked: bool = False
    audit_action: str | None = None  # the event a purge writes, with the purge, if any


@dataclass(frozen=True)
class Placement:
    """Where a kind's items are. Each resource has an entry in its workspace's partition, sort
    key `entry` + its id. A kind found from a secret presented to it (an API key, a trigger
    token) also has a record, partition `record_partition` + the secret's keyed digest, sort key
    `record_sort_key`, named by its entry's attribute `record_digest`; its secrets are there."""

    entry: str
    record_partition: str | None = None
    record_sort_key: str | None = None
    record_digest: str | None = None

    def key_of(self, entry: Mapping[str, Any]) -> tuple[str, str]:
        """The key of the item holding the secrets of the resource `entry` is the entry of."""
        if self.record_partition is None or self.record_sort_key is None:
            return entry["pk"], entry["sk"]
        return self.record_partition + entry[self.record_digest or ""], self.record_sort_key

    def holds_secrets(self, sort_key: str) -> bool:
        """Whether an item with this sort key is the one holding the kind's secrets."""
        if self.record_sort_key is not None:
            return sort_key == self.record_sort_key
        return sort_key.startswith(self.entry)


@dataclass(frozen=True)
class ResourceKind:
    name: str  # the audit trail's target type
    id_prefix: str | None  # ids are `<id_prefix>_<ULID>`; None: it has names, not ids
    # Its audit actions (`<subject>.<verb>`); every one targets this kind.
    audit_actions: tuple[str, ...] = ()
    # The actions of its routes, and who may perform them; then each route's action.
    actions: Mapping[str, Rule] = field(default_factory=dict)
    routes: Mapping[str, str] = field(default_factory=dict)
    # KMS encryption-context purposes it seals secrets under (`railguard.crypto.envelope`).
    sealed_purposes: tuple[str, ...] = ()
    placement: Placement | None = None
    erasure: Erasure | None = None

    def new_id(self) -> str:
        if self.id_prefix is None:
            raise TypeError(f"a {self.name} has no id")
        return new_id(self.id_prefix)

    def is_id(self, value: str) -> bool:
        """Whether `value` is shaped like an id of this kind; a cheap check before any lookup."""
        return self.id_prefix is not None and is_id(value, self.id_prefix)


def _routes(action: str, *route_keys: str) -> dict[str, str]:
    return dict.fromkeys(route_keys, action)


def _managed(
    plural: str, singular: str, scope: str, parameter: str
) -> tuple[dict[str, Rule], dict[str, str]]:
    """The rules and routes of a resource a workspace's members read and its managers change,
    and API keys with its `<scope>:read` or `<scope>:write`: list and create on its collection
    (`/api/v1/<plural>`), read, update and delete one (`/{<parameter>}`)."""
    read = Rule(ANY_ROLE, "header", scope=f"{scope}:read")
    write = Rule(MANAGERS, "header", scope=f"{scope}:write")
    name = singular.replace("-", "_")
    collection = f"/api/v1/{plural}"
    one = f"{collection}/{{{parameter}}}"
    rules = {f"{scope}:list": read, f"{name}:read": read}
    rules |= dict.fromkeys((f"{name}:create", f"{name}:update", f"{name}:delete"), write)
    routes = {
        f"GET {collection}": f"{scope}:list",
        f"POST {collection}": f"{name}:create",
        f"GET {one}": f"{name}:read",
        f"PATCH {one}": f"{name}:update",
        f"DELETE {one}": f"{name}:delete",
    }
    return rules, routes


_CREDENTIAL_RULES, _CREDENTIAL_ROUTES = _managed(
    "credentials", "credential", "credentials", "credential_id"
)
_TRIGGER_RULES, _TRIGGER_ROUTES = _managed(
    "webhook-triggers", "webhook-trigger", "webhook_triggers", "trigger_id"
)
_AGENT_UI_RULES, _AGENT_UI_ROUTES = _managed("agent-uis", "agent-ui", "agent_uis", "agent_ui_id")


USER = ResourceKind(
    "user",
    "usr",
    audit_actions=(
        "user.signed_up",
        "auth.login_succeeded",
        "auth.login_failed",
        "auth.refresh_reused",
        "auth.logged_out",
        "user.password_changed",
        "mfa.enabled",
        "mfa.disabled",
        "mfa.recovery_code_used",
        # A membership's events name the member: a user.
        "member.added",
        "member.role_changed",
        "member.removed",
    ),
    actions={
        "me:read": Rule(ANY_ROLE, "none", any_api_key=True),
        "me:password": Rule(ANY_ROLE, "none"),
        "me:mfa": Rule(ANY_ROLE, "none"),
        # A user's own trail: API keys have none (and no scope reads one).
        "me:security_events": Rule(ANY_ROLE, "none"),
    },
    routes={
        "GET /api/v1/me": "me:read",
        "POST /api/v1/me/password": "me:password",
        **_routes(
            "me:mfa",
            "POST /api/v1/me/mfa/totp/setup",
            "POST /api/v1/me/mfa/totp/enable",
            "POST /api/v1/me/mfa/totp/disable",
            "POST /api/v1/me/mfa/recovery-codes",
        ),
        "GET /api/v1/me/security-events": "me:security_events",
    },
    sealed_purposes=("totp-secret",),
)

WORKSPACE = ResourceKind(
    "workspace",
    "ws",
    audit_actions=(
        "workspace.created",
        "workspace.updated",
        "workspace.deleted",
        "workspace.ownership_transferred",
        # By the operator alone (functions/plan_change): no route changes a plan.
        "workspace.plan_changed",
    ),
    actions={
        "workspaces:list": Rule(ANY_ROLE, "none"),
        "workspaces:create": Rule(ANY_ROLE, "none"),
        "workspace:read": Rule(ANY_ROLE, "path"),
        "workspace:update": Rule(MANAGERS, "path"),
        "workspace:delete": Rule(OWNER, "path"),
        "members:read": Rule(ANY_ROLE, "path"),
        "members:add": Rule(MANAGERS, "path"),
        "members:update": Rule(MANAGERS, "path"),
        # Any member may leave; removing someone else is checked against role order by the
        # domain.
        "members:remove": Rule(ANY_ROLE, "path"),
        "ownership:transfer": Rule(OWNER, "path"),
    },
    routes={
        "GET /api/v1/workspaces": "workspaces:list",
        "POST /api/v1/workspaces": "workspaces:create",
        "GET /api/v1/workspaces/{workspace_id}": "workspace:read",
        "PATCH /api/v1/workspaces/{workspace_id}": "workspace:update",
        "DELETE /api/v1/workspaces/{workspace_id}": "workspace:delete",
        "GET /api/v1/workspaces/{workspace_id}/members": "members:read",
        "POST /api/v1/workspaces/{workspace_id}/members": "members:add",
        "PATCH /api/v1/workspaces/{workspace_id}/members/{user_id}": "members:update",
        "DELETE /api/v1/workspaces/{workspace_id}/members/{user_id}": "members:remove",
        "POST /api/v1/workspaces/{workspace_id}/transfer-ownership": "ownership:transfer",
    },
)

# Keys are managed by people: no scope lets an API key manage keys (scope None).
API_KEY = ResourceKind(
    "api_key",
    "key",
    audit_actions=(
        "api_key.created",
        "api_key.updated",
        "api_key.rotated",
        "api_key.revoked",
        "api_key.expired",
    ),
    actions={
        "api_keys:list": Rule(MANAGERS, "header"),
        "api_keys:create": Rule(MANAGERS, "header"),
        "api_key:read": Rule(MANAGERS, "header"),
        "api_key:update": Rule(MANAGERS, "header"),
        "api_key:rotate": Rule(MANAGERS, "header"),
        "api_key:revoke": Rule(MANAGERS, "header"),
        "api_key:usage": Rule(MANAGERS, "header"),
    },
    routes={
        "GET /api/v1/api-keys": "api_keys:list",
        "POST /api/v1/api-keys": "api_keys:create",
        "GET /api/v1/api-keys/{key_id}": "api_key:read",
        "PATCH /api/v1/api-keys/{key_id}": "api_key:update",
        "POST /api/v1/api-keys/{key_id}/rotate": "api_key:rotate",
        "DELETE /api/v1/api-keys/{key_id}": "api_key:revoke",
        "GET /api/v1/api-keys/{key_id}/usage": "api_key:usage",
    },
    placement=Placement("APIKEY#", "APIKEY#", "KEY", "key_digest"),
    # A key has no secret to erase (its record holds a keyed digest), but it must not outlive
    # its workspace's purge as `active`.
    erasure=Erasure((), retired_status="revoked"),
)

CREDENTIAL = ResourceKind(
    "credential",
    "cred",
    audit_actions=(
        "credential.created",
        "credential.updated",
        "credential.deleted",
        "credential.restored",
        "credential.purged",
        "credential.revealed",  # not in the contract's list: the platform's reads of a plaintext
    ),
    actions={
        **_CREDENTIAL_RULES,
        "credential:set_default": _CREDENTIAL_RULES["credential:update"],
        # Restoring is for people (the contract gives keys no part in it).
        "credential:restore": Rule(MANAGERS, "header"),
    },
    routes={
        **_CREDENTIAL_ROUTES,
        "POST /api/v1/credentials/{credential_id}/set-default": "credential:set_default",
        "POST /api/v1/credentials/{credential_id}/restore": "credential:restore",
    },
    sealed_purposes=("credential",),
    placement=Placement("CREDENTIAL#"),
    erasure=Erasure(("ciphertext",), masked=True, audit_action="credential.purged"),
)

WEBHOOK_TRIGGER = ResourceKind(
    "webhook_trigger",
    "trg",
    audit_actions=(
        "webhook_trigger.created",
        "webhook_trigger.updated",
        "webhook_trigger.deleted",
        "webhook_trigger.token_rotated",
    ),
    actions={
        **_TRIGGER_RULES,
        "webhook_trigger:rotate_token": _TRIGGER_RULES["webhook_trigger:update"],
    },
    routes={
        **_TRIGGER_ROUTES,
        "POST /api/v1/webhook-triggers/{trigger_id}/rotate-token": "webhook_trigger:rotate_token",
    },
    sealed_purposes=("webhook-token", "webhook-secret"),
    placement=Placement("TRIGGER#", "WEBHOOK#", "TRIGGER", "lookup_digest"),
    erasure=Erasure(("token", "secret")),
)

AGENT_UI = ResourceKind(
    "agent_ui",
    "aui",
    audit_actions=(
        "agent_ui.created",
        "agent_ui.updated",
        "agent_ui.deleted",
        "agent_ui.unlock_failed",
    ),
    actions=_AGENT_UI_RULES,
    routes=_AGENT_UI_ROUTES,
    placement=Placement("AGENTUI#"),
    erasure=Erasure(("pin_hash",)),
)

AUDIT_EVENT = ResourceKind(
    "audit_event",
    "evt",
    # The trail is for the people who run the workspace (section 10); no key reads it.
    actions={"audit:read": Rule(MANAGERS, "header")},
    routes=_routes("audit:read", "GET /api/v1/audit-events", "GET /api/v1/audit-events/verify"),
)

# What the workspace's keys and members did, by hour (railguard.usage): for the people who run it.
USAGE = ResourceKind(
    "usage",
    None,
    actions={"usage:read": Rule(MANAGERS, "header")},
    routes={"GET /api/v1/usage": "usage:read"},
)

# The service's own things: ids, and what they seal.
SESSION = ResourceKind("session", "ses")
SIGNING_KEY = ResourceKind("signing_key", "sig", sealed_purposes=("token-signing-key",))
SERVER_KEY = ResourceKind("server_key", None, sealed_purposes=("server-key",))

KINDS: tuple[ResourceKind, ...] = (
    USER,
    WORKSPACE,
    API_KEY,
    CREDENTIAL,
    WEBHOOK_TRIGGER,
    AGENT_UI,
    AUDIT_EVENT,
    USAGE,
    SESSION,
    SIGNING_KEY,
    SERVER_KEY,
)


def sealed_purposes() -> frozenset[str]:
    """Every purpose a secret is sealed under (the rotation job re-seals exactly these)."""
    return frozenset(purpose for kind in KINDS for purpose in kind.sealed_purposes)
