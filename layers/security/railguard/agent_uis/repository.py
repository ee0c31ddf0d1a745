"""Where agent UI deployments are kept (docs/data-model.md): the record
`WS#<workspace_id> / AGENTUI#<id>`, the lookup `AGENTUI#<id> / LOOKUP` naming its workspace (the
public routes bring the deployment id alone), and the unlock sessions,
`AGENTUISESSION#<token digest> / SESSION`."""

from __future__ import annotations

from dataclasses import dataclass, field

from railguard.store import ItemKey, Repository, TransactItem, resources
from railguard.store import keys as item_keys
from railguard.store.deletion import soft_deletion
from railguard.workspaces import Listing, is_live
from railguard.workspaces.repository import WorkspaceRecord

AGENT_UI_PREFIX = "AGENTUI#"


def agent_ui_key(workspace_id: str, agent_ui_id: str) -> ItemKey:
    return (f"WS#{workspace_id}", f"{AGENT_UI_PREFIX}{agent_ui_id}")


def lookup_key(agent_ui_id: str) -> ItemKey:
    """Which workspace a deployment is in, for its public routes (which name no workspace)."""
    return (f"{AGENT_UI_PREFIX}{agent_ui_id}", "LOOKUP")


def session_key(token_digest: str) -> ItemKey:
    """A session opened by unlocking a deployment, found by the digest of its token."""
    return (f"AGENTUISESSION#{token_digest}", "SESSION")


@dataclass(frozen=True)
class AgentUiRecord:
    id: str
    workspace_id: str
    name: str
    agent_id: str
    pin_version: str
    created_at: int
    updated_at: int
    pin_hash: str | None = field(default=None, repr=False)

    @property
    def key(self) -> ItemKey:
        return agent_ui_key(self.workspace_id, self.id)

    @property
    def pin_protected(self) -> bool:
        return self.pin_hash is not None


@dataclass(frozen=True)
class UnlockSession:
    agent_ui_id: str  # its audience: the one deployment it opens
    workspace_id: str
    pin_version: str  # of the PIN it was unlocked with
    expires_at: int


class AgentUiRepository(Repository):
    """Reads find active deployments only: a deleted one is as good as unknown."""

    # -- reads -------------------------------------------------------------------------------
    def get(self, workspace_id: str, agent_ui_id: str) -> AgentUiRecord | None:
        item = self._table.get(agent_ui_key(workspace_id, agent_ui_id))
        return (
            resources.record_of(AgentUiRecord, item)
            if item is not None and resources.is_active(item)
            else None
        )

    def get_live(self, workspace_id: str, agent_ui_id: str) -> tuple[AgentUiRecord, str] | None:
        """The deployment if it and its workspace are active, with the workspace's plan (one
        BatchGetItem, so the plan is as fresh as the deployment)."""
        key = agent_ui_key(workspace_id, agent_ui_id)
        found = resources.active_in_live_workspace(self._table, workspace_id, key, is_live=is_live)
        if found is None:
            return None
        item, workspace = found
        return resources.record_of(AgentUiRecord, item), WorkspaceRecord.of(workspace).plan

    def list_page(
        self, workspace_id: str, *, limit: int, cursor: str | None
    ) -> Listing[AgentUiRecord]:
        page = resources.page_of_workspace(
            self._table,
            workspace_id,
            AGENT_UI_PREFIX,
            keep=resources.is_active,
            limit=limit,
            cursor=cursor,
        )
        return Listing(
            [resources.record_of(AgentUiRecord, item) for item in page.items], page.next_cursor
        )

    def workspace_of(self, agent_ui_id: str) -> str | None:
        """The workspace its lookup names (deleted or not), if it was ever created."""
        lookup = self._table.get(lookup_key(agent_ui_id))
        return lookup["workspace_id"] if lookup is not None else None

    def session(self, token_digest: str) -> UnlockSession | None:
        item = self._table.get(session_key(token_digest))
        if item is None:
            return None
        return UnlockSession(
            item["agent_ui_id"], item["workspace_id"], item["pin_version"], item["expires_at"]
        )

    # -- writes, for the service's transaction ------------------------------------------------
    def creation(self, record: AgentUiRecord, *, created_by: str) -> list[TransactItem]:
        """The new deployment's record and its lookup, each on a free key."""
        item = resources.active_item(record.key, record, created_by=created_by)
        lookup_pk, lookup_sk = lookup_key(record.id)
        return [
            resources.put_new(item),
            resources.put_new(
                {"pk": lookup_pk, "sk": lookup_sk, "workspace_id": record.workspace_id}
            ),
        ]

    def change(
        self,
        workspace_id: str,
        agent_ui_id: str,
        *,
        now: int,
        name: str | None = None,
        pin_version: str | None = None,
        pin_hash: str | None = None,
    ) -> TransactItem:
        """The update of what is given (a new `pin_version` without a `pin_hash` removes the
        PIN), on condition that the deployment is active: no write resurrects a deleted one or
        creates a stray item for an unknown id."""
        sets = {
            attribute: value
            for attribute, value in (
                ("name", name),
                ("pin_version", pin_version),
                ("pin_hash", pin_hash),
                ("updated_at", now),
            )
            if value is not None
        }
        removes = ["pin_hash"] if pin_version is not None and pin_hash is None else []
        return resources.change_while_active(
            agent_ui_key(workspace_id, agent_ui_id), sets, removes=removes
        )

    def deletion(self, workspace_id: str, agent_ui_id: str, *, now: int, by: str) -> TransactItem:
        return soft_deletion(agent_ui_key(workspace_id, agent_ui_id), agent_ui_id, now=now, by=by)

    # -- writes of their own -------------------------------------------------------------------
    def open_session(self, token_digest: str, session: UnlockSession) -> None:
        """The session item, until it expires (then swept)."""
        pk, sk = session_key(token_digest)
        self._table.put(
            {
                "pk": pk,
                "sk": sk,
                "agent_ui_id": session.agent_ui_id,
                "workspace_id": session.workspace_id,
                "pin_version": session.pin_version,
                "expires_at": session.expires_at,
                "ttl": session.expires_at,
                **item_keys.sweep_index(pk, session.expires_at),
            },
            condition=resources.ABSENT,
        )
