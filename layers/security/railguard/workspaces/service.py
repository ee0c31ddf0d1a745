"""The rules of workspaces and their members: `railguard.workspaces`, loaded on first use."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from railguard.access.plans import PLAN_NAMES, is_plan
from railguard.access.policy import outranks
from railguard.access.principal import Principal, Role
from railguard.audit.trail import Actor, AuditAction, AuditEvent, AuditTrail
from railguard.core.clock import Clock
from railguard.core.errors import Conflict, Forbidden, MfaRequired, NotFound, ValidationFailed
from railguard.kinds import MANAGERS, WORKSPACE
from railguard.store import Item, Table, TransactItem
from railguard.store import keys as item_keys
from railguard.workspaces.repository import (
    MemberRecord,
    Membership,
    WorkspaceRecord,
    WorkspaceRepository,
)


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
    last_used_at: int | None  # their last use of the workspace (`railguard.access.usage`)
    last_used_ip: str | None
    last_used_user_agent: str | None


@dataclass(frozen=True)
class Listing[T]:
    items: list[T]
    next_cursor: str | None


def new_workspace(name: str, owner_id: str, now: int) -> tuple[WorkspaceView, list[TransactItem]]:
    """A new workspace owned by `owner_id`: its view, and the writes that create it, for the
    caller's transaction."""
    workspace, writes = WorkspaceRepository.create(WORKSPACE.new_id(), name, owner_id, now)
    return _view(Membership(workspace, "owner")), writes


def _view(membership: Membership) -> WorkspaceView:
    workspace = membership.workspace
    return WorkspaceView(
        workspace.id,
        workspace.name,
        membership.role,
        workspace.require_mfa,
        workspace.plan,
        workspace.created_at,
    )


class Workspaces:
    def __init__(self, table: Table, clock: Clock, audit: AuditTrail):
        self._table = table
        self._workspaces = WorkspaceRepository(table)
        self._clock = clock
        self._audit = audit

    # -- the caller's workspaces ----------------------------------------------------------
    def list_for(self, user_id: str, *, limit: int, cursor: str | None) -> Listing[WorkspaceView]:
        memberships, next_cursor = self._workspaces.memberships(user_id, limit=limit, cursor=cursor)
        return Listing([_view(membership) for membership in memberships], next_cursor)

    def create(self, user_id: str, name: str) -> WorkspaceView:
        view, writes = new_workspace(name, user_id, int(self._clock.now()))
        scope = WorkspaceScope(view.id, user_id, "owner")
        self._audit.append(scope.event("workspace.created", view.id, {"name": name}), writes)
        return view

    # -- one workspace -------------------------------------------------------------------
    def _live(self, scope: WorkspaceScope) -> WorkspaceRecord:
        workspace = self._workspaces.live(scope.workspace_id)
        if workspace is None:
            raise NotFound("No such workspace.")
        return workspace

    def get(self, scope: WorkspaceScope) -> WorkspaceView:
        return _view(Membership(self._live(scope), scope.role))

    def update(
        self, scope: WorkspaceScope, *, name: str | None, require_mfa: bool | None
    ) -> WorkspaceView:
        changes: dict[str, str | bool] = {}
        if name is not None:
            changes["name"] = name
        if require_mfa is not None:
            changes["require_mfa"] = require_mfa
        if not changes:
            return self.get(scope)
        update = WorkspaceRepository.change_settings(
            scope.workspace_id,
            name=name,
            require_mfa=require_mfa,
            fails_as=lambda: NotFound("No such workspace."),
        )
        # Requiring MFA is allowed only to someone who has it: the setting applies to its
        # author too, and must not lock them out. Checked in the same transaction.
        has_mfa = WorkspaceRepository.has_mfa(
            scope.user_id,
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
        deletion = WorkspaceRepository.delete(
            scope.workspace_id,
            # The owner now, not as the (up to 2 s old) authorizer context remembers.
            owner_id=scope.user_id,
            now=int(self._clock.now()),
            fails_as=lambda: NotFound("No such workspace."),
        )
        self._audit.append_protecting(
            scope.event("workspace.deleted", scope.workspace_id), [deletion]
        )

    def change_plan(self, workspace_id: str, plan: str, *, by: Actor) -> tuple[str, str]:
        """The operator's act (no route reaches it): the live workspace moved to `plan`, with
        `workspace.plan_changed` {from, to}; returns (from, to). A workspace already on `plan` is
        left as it is, and nothing is recorded. The authorizer reads the plan afresh within 2 s."""
        if not is_plan(plan):
            raise ValidationFailed(
                f"Unknown plan {plan!r}.", details={"field": "plan", "plans": list(PLAN_NAMES)}
            )
        workspace = self._workspaces.live(workspace_id)
        if workspace is None:
            raise NotFound("No such workspace, or it is deleted.")
        if workspace.plan == plan:
            return plan, plan
        change = WorkspaceRepository.change_plan(
            workspace_id,
            previous=workspace.plan,
            plan=plan,
            fails_as=lambda: Conflict("The workspace was changed or deleted meanwhile; retry."),
        )
        event = AuditEvent(
            "workspace.plan_changed",
            by,
            workspace_id,
            workspace_id,
            {"from": workspace.plan, "to": plan},
        )
        self._audit.append(event, [change])
        return workspace.plan, plan

    # -- members ------------------------------------------------------------------------
    def members(
        self, scope: WorkspaceScope, *, limit: int, cursor: str | None
    ) -> Listing[MemberView]:
        self._live(scope)
        members, next_cursor = self._workspaces.members(
            scope.workspace_id, limit=limit, cursor=cursor
        )
        profiles = self._table.get_many(
            [item_keys.user_profile(member.user_id) for member in members]
        )
        # Where and with what a member last came from is for the managers (and the member):
        # a `user` member must not follow the owner's addresses and devices.
        views = [
            self._member_view(
                member,
                profiles.get(item_keys.user_profile(member.user_id)),
                where_from=scope.role in MANAGERS or member.user_id == scope.user_id,
            )
            for member in members
        ]
        return Listing(views, next_cursor)

    @staticmethod
    def _member_view(
        member: MemberRecord, profile: Item | None, *, where_from: bool = True
    ) -> MemberView:
        email, name, mfa_enabled = (
            (profile["email"], profile["name"], bool(profile["mfa_enabled"]))
            if profile is not None
            else ("", "", False)
        )
        return MemberView(
            member.user_id,
            email,
            name,
            member.role,
            mfa_enabled,
            member.last_used_at,
            member.last_used_ip if where_from else None,
            member.last_used_user_agent if where_from else None,
        )

    def _member(self, scope: WorkspaceScope, user_id: str) -> MemberRecord:
        member = self._workspaces.member(scope.workspace_id, user_id)
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
        membership = WorkspaceRepository.add_member(
            scope.workspace_id,
            user_id,
            role,
            int(self._clock.now()),
            fails_as=lambda: Conflict("This user is already a member."),
        )
        self._audit.append(scope.event("member.added", user_id, {"role": role}), [membership])
        profile = self._table.get(item_keys.user_profile(user_id))
        return self._member_view(MemberRecord(user_id, role), profile)  # not used yet

    def change_role(self, scope: WorkspaceScope, user_id: str, role: Role) -> MemberView:
        """Only a member below the caller, and only to a role below the caller."""
        member = self._member(scope, user_id)
        previous = member.role
        if not (outranks(scope.role, previous) and outranks(scope.role, role)):
            raise Forbidden("You can only change roles below your own.")
        if role == "owner":
            raise Forbidden("Ownership changes hands only by transfer.")
        if role != previous:  # the same role again changes nothing, and records nothing
            change = WorkspaceRepository.change_role(
                scope.workspace_id, user_id, role, previous=previous, fails_as=_changed_meanwhile
            )
            event = scope.event(
                "member.role_changed", user_id, {"old_role": previous, "new_role": role}
            )
            self._audit.append(event, [change])
        profile = self._table.get(item_keys.user_profile(user_id))
        return self._member_view(replace(member, role=role), profile)

    def remove_member(self, scope: WorkspaceScope, user_id: str) -> None:
        """A member may leave; managers remove members below them; the owner stays."""
        role = self._member(scope, user_id).role
        if role == "owner":
            raise Forbidden("The owner cannot be removed; transfer ownership first.")
        if user_id != scope.user_id and not outranks(scope.role, role):
            raise Forbidden("You can only remove members below your own role.")
        # The role the decision was made on: a promotion in between voids the removal.
        removal = WorkspaceRepository.remove_member(
            scope.workspace_id, user_id, seen=role, fails_as=_changed_meanwhile
        )
        reason = "left" if user_id == scope.user_id else "removed"
        event = scope.event("member.removed", user_id, {"role": role, "reason": reason})
        self._audit.append_protecting(event, [removal])

    def transfer_ownership(self, scope: WorkspaceScope, user_id: str) -> None:
        """One transaction: the new owner, the old owner made admin, the workspace's owner_id,
        each conditioned on the state it replaces (`WorkspaceRepository.hand_over`)."""
        if user_id == scope.user_id:
            raise ValidationFailed("You already own this workspace.", details={"field": "user_id"})
        self._member(scope, user_id)
        writes = WorkspaceRepository.hand_over(
            scope.workspace_id,
            scope.user_id,
            user_id,
            fails_as=lambda: Conflict(
                "Ownership changed at the same time; nothing was transferred."
            ),
        )
        event = scope.event(
            "workspace.ownership_transferred",
            scope.workspace_id,
            {"previous_owner_id": scope.user_id, "new_owner_id": user_id},
        )
        self._audit.append(event, writes)


def _changed_meanwhile() -> Exception:
    return Conflict("The member changed at the same time; retry.")
