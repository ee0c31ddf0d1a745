"""Workspaces and their members (contract section 5).

Isolation is a property of the keys: every operation on a workspace takes a `WorkspaceScope`,
which only exists for a principal the authorizer established in that workspace, and every key
is built from the scope's workspace id. A user id from the request is only ever looked up inside
that workspace's partition, so another workspace's member is simply not found.

Every change (a workspace created, changed, deleted or handed over; a member added, moved to
another role or removed) is one event in the workspace's audit trail, recorded once it happened.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from railguard.access.policy import outranks
from railguard.access.principal import Principal, Role
from railguard.audit.trail import Actor, AppendRefused, AuditAction, AuditEvent, AuditTrail
from railguard.core.clock import Clock
from railguard.core.errors import Conflict, Forbidden, MfaRequired, NotFound, ValidationFailed
from railguard.core.ids import new_id
from railguard.core.ttl_cache import TtlCache
from railguard.kinds import MANAGERS
from railguard.store import (
    Item,
    Page,
    Table,
    TransactItem,
)
from railguard.store import keys as item_keys

MEMBER_PREFIX = "MEMBER#"
WORKSPACE_PREFIX = "WS#"


@dataclass(frozen=True)
class WorkspaceScope:
    """A principal established in one workspace, with its role there."""

    workspace_id: str
    user_id: str
    role: Role

    @classmethod
    def of(cls, principal: Principal) -> WorkspaceScope:
        if principal.kind != "user" or principal.workspace_id is None or principal.role is None:
            raise NotFound("No such workspace.")
        return cls(principal.workspace_id, principal.id, principal.role)

    def event(
        self, action: AuditAction, target_id: str, details: Mapping[str, str] | None = None
    ) -> AuditEvent:
        """An audit event of this user in this workspace, on `target_id`."""
        return AuditEvent(
            action, Actor.user(self.user_id), target_id, self.workspace_id, details or {}
        )


@dataclass(frozen=True)
class ResourceScope:
    """A principal (a user or an API key) established in one workspace, acting on its resources
    (credentials, webhook triggers, agent UIs): the workspace, who acts, whether they manage."""

    workspace_id: str
    actor: str  # "user:<id>" or "api_key:<id>"
    manager: bool  # owner or admin (an API key never is)

    @classmethod
    def of(cls, principal: Principal) -> ResourceScope:
        if principal.workspace_id is None:
            raise NotFound("No such workspace.")
        return cls(
            principal.workspace_id,
            principal.rate_subject,
            principal.kind == "user" and principal.role in MANAGERS,
        )

    def event(
        self, action: AuditAction, target_id: str, details: Mapping[str, str] | None = None
    ) -> AuditEvent:
        """An audit event of this actor in this workspace, on `target_id`."""
        return AuditEvent(action, Actor.of(self.actor), target_id, self.workspace_id, details or {})


@dataclass(frozen=True)
class WorkspaceView:
    id: str
    name: str
    role: Role
    require_mfa: bool
    plan: str
    created_at: int


@dataclass(frozen=True)
class MemberView:
    user_id: str
    email: str
    name: str
    role: Role
    mfa_enabled: bool


@dataclass(frozen=True)
class Listing[T]:
    items: list[T]
    next_cursor: str | None


def new_workspace(name: str, owner_id: str, now: int) -> tuple[WorkspaceView, list[TransactItem]]:
    """A new workspace owned by `owner_id`: its view, and the writes that create it, for the
    caller's transaction."""
    workspace_id = new_id("ws")
    ws_pk, ws_sk = item_keys.workspace(workspace_id)
    workspace: Item = {
        "pk": ws_pk,
        "sk": ws_sk,
        "name": name,
        "owner_id": owner_id,
        "plan": "free",
        "require_mfa": False,
        "status": "active",
        "created_at": now,
    }
    writes = [
        TransactItem.put(workspace, condition="attribute_not_exists(pk)"),
        TransactItem.put(
            _member_item(workspace_id, owner_id, "owner", now), condition="attribute_not_exists(pk)"
        ),
    ]
    return _view(workspace_id, workspace, "owner"), writes


def _member_item(workspace_id: str, user_id: str, role: Role, now: int) -> Item:
    pk, sk = item_keys.member(workspace_id, user_id)
    return {
        "pk": pk,
        "sk": sk,
        "role": role,
        "joined_at": now,
        "gsi1pk": item_keys.user_partition(user_id),
        "gsi1sk": f"{WORKSPACE_PREFIX}{workspace_id}",
    }


def is_live(workspace: Item | None) -> bool:
    return workspace is not None and workspace.get("status") == "active"


class LiveWorkspaces:
    """Whether a workspace is live, as read at most `MAX_AGE_SECONDS` ago: for the credentials
    that name their workspace in their own record (API keys, webhook tokens), checked at every
    use. A deletion cannot reach an unbounded number of them in one transaction; this check
    stops them all within the contract's 5 seconds, without a read per request."""

    MAX_AGE_SECONDS = 2.0
    MAX_ENTRIES = 4096

    def __init__(self, table: Table, clock: Clock):
        self._table = table
        self._read: TtlCache[str, Item | None] = TtlCache(
            clock, max_age_seconds=self.MAX_AGE_SECONDS, max_entries=self.MAX_ENTRIES
        )

    def find(self, workspace_id: str) -> Item | None:
        """The workspace's item while it is live; None when it is deleted or unknown."""
        workspace = self._read.get_or_load(
            workspace_id, lambda: self._table.get(item_keys.workspace(workspace_id))
        )
        return workspace if is_live(workspace) else None


def still_live(workspace_id: str) -> TransactItem:
    """For a transaction that creates something in a workspace: the workspace is not deleted,
    checked atomically with the write (a deletion in between cancels the transaction, 404)."""
    return TransactItem.check(
        item_keys.workspace(workspace_id),
        "#status = :active",
        names={"#status": "status"},
        values={":active": "active"},
        fails_as=lambda: NotFound("No such workspace."),
    )


def _view(workspace_id: str, workspace: Item, role: Role) -> WorkspaceView:
    return WorkspaceView(
        workspace_id,
        workspace["name"],
        role,
        bool(workspace["require_mfa"]),
        workspace["plan"],
        workspace["created_at"],
    )


class Workspaces:
    def __init__(self, table: Table, clock: Clock, audit: AuditTrail):
        self._table = table
        self._clock = clock
        self._audit = audit

    # -- the caller's workspaces ----------------------------------------------------------
    def list_for(self, user_id: str, *, limit: int, cursor: str | None) -> Listing[WorkspaceView]:
        page = self._table.query(
            item_keys.user_partition(user_id),
            index="gsi1",
            sk_prefix=WORKSPACE_PREFIX,
            limit=limit,
            cursor=cursor,
        )
        ids = [item["gsi1sk"].removeprefix(WORKSPACE_PREFIX) for item in page.items]
        found = self._table.get_many([item_keys.workspace(ws) for ws in ids])
        views = [
            _view(ws, found[item_keys.workspace(ws)], member["role"])
            for ws, member in zip(ids, page.items, strict=True)
            if is_live(found.get(item_keys.workspace(ws)))
        ]
        return Listing(views, page.next_cursor)

    def create(self, user_id: str, name: str) -> WorkspaceView:
        view, writes = new_workspace(name, user_id, int(self._clock.now()))
        scope = WorkspaceScope(view.id, user_id, "owner")
        self._audit.append(scope.event("workspace.created", view.id, {"name": name}), writes)
        return view

    # -- one workspace -------------------------------------------------------------------
    def _live(self, scope: WorkspaceScope) -> Item:
        workspace = self._table.get(item_keys.workspace(scope.workspace_id))
        if not is_live(workspace):
            raise NotFound("No such workspace.")
        assert workspace is not None  # noqa: S101 - narrowed by is_live, for the type checker
        return workspace

    def get(self, scope: WorkspaceScope) -> WorkspaceView:
        return _view(scope.workspace_id, self._live(scope), scope.role)

    def update(
        self, scope: WorkspaceScope, *, name: str | None, require_mfa: bool | None
    ) -> WorkspaceView:
        changes: dict[str, Any] = {}
        if name is not None:
            changes["name"] = name
        if require_mfa is not None:
            changes["require_mfa"] = require_mfa
        if not changes:
            return self.get(scope)
        assignments = ", ".join(f"#{field} = :{field}" for field in changes)
        update = TransactItem.update_item(
            item_keys.workspace(scope.workspace_id),
            f"SET {assignments}",
            condition="#status = :active",
            names={"#status": "status", **{f"#{field}": field for field in changes}},
            values={
                ":active": "active",
                **{f":{field}": value for field, value in changes.items()},
            },
            fails_as=lambda: NotFound("No such workspace."),
        )
        # Requiring MFA is allowed only to someone who has it: the setting applies to its
        # author too, and must not lock them out. Checked in the same transaction.
        has_mfa = TransactItem.check(
            item_keys.user_profile(scope.user_id),
            "mfa_enabled = :true",
            values={":true": True},
            fails_as=lambda: MfaRequired(
                "Turn on MFA for your own account before requiring it in the workspace."
            ),
        )
        details = {
            field: (str(value).lower() if isinstance(value, bool) else value)
            for field, value in changes.items()
        }
        event = scope.event("workspace.updated", scope.workspace_id, details)
        self._audit.append(event, [update, has_mfa] if require_mfa else [update])
        return self.get(scope)

    def delete(self, scope: WorkspaceScope) -> None:
        """Soft delete: every credential of the workspace stops within seconds (each checks the
        workspace at use), and the workspace goes on the retention job's work list, which
        purges its secrets after the retention period; the items are kept as tombstones."""
        now = int(self._clock.now())
        index = item_keys.deleted_index(now, scope.workspace_id)
        deletion = TransactItem.update_item(
            item_keys.workspace(scope.workspace_id),
            "SET #status = :deleted, deleted_at = :now, deleted_by = :by,"
            " gsi1pk = :index, gsi1sk = :order",
            # The owner now, not as the (up to 2 s old) authorizer context remembers.
            condition="#status = :active AND owner_id = :by",
            names={"#status": "status"},
            values={
                ":deleted": "deleted",
                ":active": "active",
                ":now": now,
                ":by": scope.user_id,
                ":index": index["gsi1pk"],
                ":order": index["gsi1sk"],
            },
        )
        try:
            self._audit.append_protecting(
                scope.event("workspace.deleted", scope.workspace_id), [deletion]
            )
        except AppendRefused:
            raise NotFound("No such workspace.") from None

    # -- members ------------------------------------------------------------------------
    def members(
        self, scope: WorkspaceScope, *, limit: int, cursor: str | None
    ) -> Listing[MemberView]:
        self._live(scope)
        page: Page = self._table.query(
            item_keys.workspace(scope.workspace_id)[0],
            sk_prefix=MEMBER_PREFIX,
            limit=limit,
            cursor=cursor,
        )
        user_ids = [item["sk"].removeprefix(MEMBER_PREFIX) for item in page.items]
        profiles = self._table.get_many([item_keys.user_profile(uid) for uid in user_ids])
        views = [
            self._member_view(uid, item["role"], profiles.get(item_keys.user_profile(uid)))
            for uid, item in zip(user_ids, page.items, strict=True)
        ]
        return Listing(views, page.next_cursor)

    @staticmethod
    def _member_view(user_id: str, role: Role, profile: Item | None) -> MemberView:
        if profile is None:
            return MemberView(user_id, "", "", role, mfa_enabled=False)
        return MemberView(
            user_id, profile["email"], profile["name"], role, bool(profile["mfa_enabled"])
        )

    def _member(self, scope: WorkspaceScope, user_id: str) -> Item:
        member = self._table.get(item_keys.member(scope.workspace_id, user_id))
        if member is None:
            raise NotFound("No such member.")
        return member

    def add_member(self, scope: WorkspaceScope, email: str, role: Role) -> MemberView:
        """Only roles below the caller's own: an admin adds users, the owner admins or users."""
        if role == "owner" or not outranks(scope.role, role):
            raise Forbidden("You can only add members with a role below your own.")
        self._live(scope)
        login = self._table.get(item_keys.login(email))
        if login is None:
            raise NotFound("No user has this email.")
        user_id = login["user_id"]
        membership = TransactItem.put(
            _member_item(scope.workspace_id, user_id, role, int(self._clock.now())),
            condition="attribute_not_exists(pk)",
        )
        try:
            self._audit.append(scope.event("member.added", user_id, {"role": role}), [membership])
        except AppendRefused:
            raise Conflict("This user is already a member.") from None
        profile = self._table.get(item_keys.user_profile(user_id))
        return self._member_view(user_id, role, profile)

    def change_role(self, scope: WorkspaceScope, user_id: str, role: Role) -> MemberView:
        """Only a member below the caller, and only to a role below the caller."""
        member = self._member(scope, user_id)
        if not (outranks(scope.role, member["role"]) and outranks(scope.role, role)):
            raise Forbidden("You can only change roles below your own.")
        if role == "owner":
            raise Forbidden("Ownership changes hands only by transfer.")
        if role != member["role"]:  # the same role again changes nothing, and records nothing
            change = TransactItem.update_item(
                item_keys.member(scope.workspace_id, user_id),
                "SET #role = :role",
                condition="#role = :previous",
                names={"#role": "role"},
                values={":role": role, ":previous": member["role"]},
            )
            event = scope.event(
                "member.role_changed", user_id, {"old_role": member["role"], "new_role": role}
            )
            try:
                self._audit.append(event, [change])
            except AppendRefused:
                raise Conflict("The member changed at the same time; retry.") from None
        profile = self._table.get(item_keys.user_profile(user_id))
        return self._member_view(user_id, role, profile)

    def remove_member(self, scope: WorkspaceScope, user_id: str) -> None:
        """A member may leave; managers remove members below them; the owner stays."""
        member = self._member(scope, user_id)
        if member["role"] == "owner":
            raise Forbidden("The owner cannot be removed; transfer ownership first.")
        if user_id != scope.user_id and not outranks(scope.role, member["role"]):
            raise Forbidden("You can only remove members below your own role.")
        removal = TransactItem.delete(
            item_keys.member(scope.workspace_id, user_id),
            # The role the decision was made on: a promotion in between voids the removal.
            condition="#role = :seen",
            names={"#role": "role"},
            values={":seen": member["role"]},
        )
        reason = "left" if user_id == scope.user_id else "removed"
        event = scope.event("member.removed", user_id, {"role": member["role"], "reason": reason})
        try:
            self._audit.append_protecting(event, [removal])
        except AppendRefused:
            raise Conflict("The member changed at the same time; retry.") from None

    def transfer_ownership(self, scope: WorkspaceScope, user_id: str) -> None:
        """One transaction: the new owner, the old owner made admin, the workspace's owner_id.
        Each write is conditioned on the state it replaces, so concurrent transfers cannot leave
        two owners or none."""
        if user_id == scope.user_id:
            raise ValidationFailed("You already own this workspace.", details={"field": "user_id"})
        self._member(scope, user_id)
        role = {"#role": "role"}
        writes = [
            TransactItem.update_item(
                item_keys.member(scope.workspace_id, user_id),
                "SET #role = :owner",
                condition="attribute_exists(pk) AND #role <> :owner",
                names=role,
                values={":owner": "owner"},
            ),
            TransactItem.update_item(
                item_keys.member(scope.workspace_id, scope.user_id),
                "SET #role = :admin",
                condition="#role = :owner",
                names=role,
                values={":admin": "admin", ":owner": "owner"},
            ),
            TransactItem.update_item(
                item_keys.workspace(scope.workspace_id),
                "SET owner_id = :new",
                condition="owner_id = :old AND #status = :active",
                names={"#status": "status"},
                values={":new": user_id, ":old": scope.user_id, ":active": "active"},
            ),
        ]
        event = scope.event(
            "workspace.ownership_transferred",
            scope.workspace_id,
            {"previous_owner_id": scope.user_id, "new_owner_id": user_id},
        )
        try:
            self._audit.append(event, writes)
        except AppendRefused:
            raise Conflict("Ownership changed at the same time; nothing was transferred.") from None
