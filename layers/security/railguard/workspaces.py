"""Workspaces and memberships. Every workspace-scoped item lives in the workspace's partition;
a member item is also indexed under its user (gsi1) so a user's workspaces are one query."""

from __future__ import annotations

from dataclasses import dataclass

from railguard.principal import Role
from railguard.store import Item, TransactItem
from railguard.store import keys as item_keys


@dataclass(frozen=True)
class WorkspaceMembership:
    workspace_id: str
    name: str
    role: Role


def new_workspace(workspace_id: str, name: str, owner_id: str, now: int) -> list[TransactItem]:
    """The writes that create a workspace owned by `owner_id`, for the caller's transaction."""
    ws_pk, ws_sk = item_keys.workspace(workspace_id)
    member_pk, member_sk = item_keys.member(workspace_id, owner_id)
    return [
        TransactItem.put(
            {
                "pk": ws_pk,
                "sk": ws_sk,
                "name": name,
                "owner_id": owner_id,
                "plan": "free",
                "require_mfa": False,
                "status": "active",
                "created_at": now,
            },
            condition="attribute_not_exists(pk)",
        ),
        TransactItem.put(
            {
                "pk": member_pk,
                "sk": member_sk,
                "role": "owner",
                "joined_at": now,
                "gsi1pk": item_keys.user_partition(owner_id),
                "gsi1sk": f"WS#{workspace_id}",
            },
            condition="attribute_not_exists(pk)",
        ),
    ]


def is_live(workspace: Item | None) -> bool:
    return workspace is not None and workspace.get("status") == "active"
