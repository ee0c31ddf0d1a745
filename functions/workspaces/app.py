"""Workspaces and members (contract section 5). Who may do what is the permission table's
business (railguard.access.policy), enforced before any route here runs; routes only shape."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from aws_lambda_powertools.event_handler import Response
from pydantic import Field, StrictBool

from railguard.core.runtime import Runtime
from railguard.core.settings import AuditSettings
from railguard.http import ApiFunction, Data, DataList, ListMeta
from railguard.http.models import Cursor, DisplayName, Limit, RequestModel, Timestamp, ViewModel
from railguard.workspaces import Workspaces, WorkspaceScope


@dataclass(frozen=True, kw_only=True)
class WorkspaceSettings(AuditSettings):
    """Keeps workspaces and members in the table, and records every change to the trail."""


def _workspaces(runtime: Runtime[WorkspaceSettings]) -> Workspaces:
    return Workspaces(runtime.table, runtime.clock, runtime.audit_trail)


api = ApiFunction(WorkspaceSettings, _workspaces)

AssignableRole = Literal["admin", "user"]


class Workspace(ViewModel):
    id: str
    name: str
    role: Literal["owner", "admin", "user"]
    require_mfa: bool
    plan: str
    created_at: Timestamp


class Member(ViewModel):
    user_id: str
    email: str
    name: str
    role: Literal["owner", "admin", "user"]
    mfa_enabled: bool


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


def _scope() -> WorkspaceScope:
    return WorkspaceScope.of(api.principal)


@api.app.get("/api/v1/workspaces", summary="The caller's workspaces", tags=["workspaces"])
def list_workspaces(limit: Limit = 20, cursor: Cursor = None) -> DataList[Workspace]:
    listing = api.services.list_for(api.principal.id, limit=limit, cursor=cursor)
    return DataList(
        data=[Workspace.model_validate(view) for view in listing.items],
        meta=ListMeta(next_cursor=listing.next_cursor),
    )


@api.app.post(
    "/api/v1/workspaces", summary="Create a workspace you own", tags=["workspaces"], status_code=201
)
def create_workspace(body: NewWorkspace) -> Data[Workspace]:
    return Data(data=Workspace.model_validate(api.services.create(api.principal.id, body.name)))


@api.app.get("/api/v1/workspaces/<workspace_id>", summary="One workspace", tags=["workspaces"])
def get_workspace(workspace_id: str) -> Data[Workspace]:
    return Data(data=Workspace.model_validate(api.services.get(_scope())))


@api.app.patch(
    "/api/v1/workspaces/<workspace_id>", summary="Rename; MFA policy", tags=["workspaces"]
)
def update_workspace(workspace_id: str, body: WorkspaceChanges) -> Data[Workspace]:
    view = api.services.update(_scope(), name=body.name, require_mfa=body.require_mfa)
    return Data(data=Workspace.model_validate(view))


@api.app.delete(
    "/api/v1/workspaces/<workspace_id>",
    summary="Delete (kept for recovery)",
    tags=["workspaces"],
    status_code=204,
)
def delete_workspace(workspace_id: str) -> Response[None]:
    api.services.delete(_scope())
    return Response(204)


@api.app.get("/api/v1/workspaces/<workspace_id>/members", summary="Members", tags=["members"])
def list_members(workspace_id: str, limit: Limit = 20, cursor: Cursor = None) -> DataList[Member]:
    listing = api.services.members(_scope(), limit=limit, cursor=cursor)
    return DataList(
        data=[Member.model_validate(view) for view in listing.items],
        meta=ListMeta(next_cursor=listing.next_cursor),
    )


@api.app.post(
    "/api/v1/workspaces/<workspace_id>/members",
    summary="Add a member by email",
    tags=["members"],
    status_code=201,
)
def add_member(workspace_id: str, body: NewMember) -> Data[Member]:
    return Data(
        data=Member.model_validate(api.services.add_member(_scope(), body.email, body.role))
    )


@api.app.patch(
    "/api/v1/workspaces/<workspace_id>/members/<user_id>", summary="Change a role", tags=["members"]
)
def change_role(workspace_id: str, user_id: str, body: RoleChange) -> Data[Member]:
    return Data(data=Member.model_validate(api.services.change_role(_scope(), user_id, body.role)))


@api.app.delete(
    "/api/v1/workspaces/<workspace_id>/members/<user_id>",
    summary="Remove a member, or leave",
    tags=["members"],
    status_code=204,
)
def remove_member(workspace_id: str, user_id: str) -> Response[None]:
    api.services.remove_member(_scope(), user_id)
    return Response(204)


@api.app.post(
    "/api/v1/workspaces/<workspace_id>/transfer-ownership",
    summary="Make a member the owner; you become admin",
    tags=["members"],
    status_code=204,
)
def transfer_ownership(workspace_id: str, body: OwnershipTransfer) -> Response[None]:
    api.services.transfer_ownership(_scope(), body.user_id)
    return Response(204)


lambda_handler = api.handler
