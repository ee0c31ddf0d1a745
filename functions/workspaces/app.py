"""Workspaces and members (contract section 5). Who may do what is the permission table's
business (railguard.access.policy), enforced before any route here runs; routes only shape."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import Field, StrictBool

from railguard.core.runtime import Runtime
from railguard.core.settings import AuditSettings
from railguard.http import ApiFunction, Data, DataList, RequestModel, ViewModel
from railguard.http.models import Cursor, DisplayName, Limit
from railguard.workspaces import MemberView, Workspaces, WorkspaceScope, WorkspaceView


@dataclass(frozen=True, kw_only=True)
class WorkspaceSettings(AuditSettings):
    """Keeps workspaces and members in the table, and records every change to the trail."""


def _workspaces(runtime: Runtime[WorkspaceSettings]) -> Workspaces:
    return Workspaces(runtime.table, runtime.clock, runtime.audit_trail)


api = ApiFunction(WorkspaceSettings, _workspaces, scope=WorkspaceScope.of, tag="workspaces")
MEMBERS = "members"  # the tag of the member routes

AssignableRole = Literal["admin", "user"]


class Workspace(ViewModel, view=WorkspaceView): ...  # with the caller's role in it


class Member(ViewModel, view=MemberView): ...


class NewWorkspace(RequestModel):
    name: DisplayName


class WorkspaceChanges(RequestModel):
    name: DisplayName | None = None
    require_mfa: StrictBool | None = None


class NewMember(RequestModel):
    email: str = Field(min_length=3, max_length=254)
    role: AssignableRole


class RoleChange(RequestModel):
    role: AssignableRole


class OwnershipTransfer(RequestModel):
    user_id: str = Field(min_length=1, max_length=64)


@api.route("GET /api/v1/workspaces", "The caller's workspaces")
def list_workspaces(limit: Limit = 20, cursor: Cursor = None) -> DataList[Workspace]:
    return Workspace.page(api.services.list_for(api.principal.id, limit=limit, cursor=cursor))


@api.route("POST /api/v1/workspaces", "Create a workspace you own", status=201)
def create_workspace(body: NewWorkspace) -> Data[Workspace]:
    return Workspace.data(api.services.create(api.principal.id, body.name))


@api.route("GET /api/v1/workspaces/{workspace_id}", "One workspace")
def get_workspace(workspace_id: str) -> Data[Workspace]:
    return Workspace.data(api.services.get(api.scope))


@api.route("PATCH /api/v1/workspaces/{workspace_id}", "Rename; MFA policy")
def update_workspace(workspace_id: str, body: WorkspaceChanges) -> Data[Workspace]:
    return Workspace.data(
        api.services.update(api.scope, name=body.name, require_mfa=body.require_mfa)
    )


@api.route("DELETE /api/v1/workspaces/{workspace_id}", "Delete (kept for recovery)")
def delete_workspace(workspace_id: str) -> None:
    api.services.delete(api.scope)


# -- members ---------------------------------------------------------------------------------
@api.route("GET /api/v1/workspaces/{workspace_id}/members", "Members", tag=MEMBERS)
def list_members(workspace_id: str, limit: Limit = 20, cursor: Cursor = None) -> DataList[Member]:
    return Member.page(api.services.members(api.scope, limit=limit, cursor=cursor))


@api.route(
    "POST /api/v1/workspaces/{workspace_id}/members",
    "Add a member by email",
    status=201,
    tag=MEMBERS,
)
def add_member(workspace_id: str, body: NewMember) -> Data[Member]:
    return Member.data(api.services.add_member(api.scope, body.email, body.role))


@api.route(
    "PATCH /api/v1/workspaces/{workspace_id}/members/{user_id}", "Change a role", tag=MEMBERS
)
def change_role(workspace_id: str, user_id: str, body: RoleChange) -> Data[Member]:
    return Member.data(api.services.change_role(api.scope, user_id, body.role))


@api.route(
    "DELETE /api/v1/workspaces/{workspace_id}/members/{user_id}",
    "Remove a member, or leave",
    tag=MEMBERS,
)
def remove_member(workspace_id: str, user_id: str) -> None:
    api.services.remove_member(api.scope, user_id)


@api.route(
    "POST /api/v1/workspaces/{workspace_id}/transfer-ownership",
    "Make a member the owner; you become admin",
    status=204,
    tag=MEMBERS,
)
def transfer_ownership(workspace_id: str, body: OwnershipTransfer) -> None:
    api.services.transfer_ownership(api.scope, body.user_id)


lambda_handler = api.handler
