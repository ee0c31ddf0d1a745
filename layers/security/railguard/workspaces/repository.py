"""The storage of workspaces and their members (docs/data-model.md), in one place.

A workspace is one item in its own partition (`WS#<id>` / `META`); each member is one more
(`WS#<id>` / `MEMBER#<user_id>`), which also stands in the member index (gsi1,
`USER#<user_id>` / `WS#<id>`), where a user's workspaces are listed, and keeps the member's last
use of the workspace (written by the shared write of `railguard.access.usage_repository`).
Reads return typed records; writes are built here for the service to commit with its audit
event, each failing as the service declares (`fails_as`). `LiveWorkspaces` is the liveness read
of the credentials that name their workspace (the authorizer's keys, webhook triggers), cached a
moment.

The workspace's item also keeps its plan (absent until the operator sets one: the default plan)
and its count of active API keys (`active_keys`, absent
until its first key): the count changes only in the transactions that change a key's activity,
and a key is created only on condition the count is under the plan's cap.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from railguard.access.plans import DEFAULT_PLAN
from railguard.access.principal import Role
from railguard.core.clock import Clock
from railguard.core.errors import NotFound
from railguard.core.ttl_cache import TtlCache
from railguard.store import Item, ItemKey, Repository, Table, TransactItem
from railguard.store import keys as item_keys

Failure = Callable[[], Exception]

_MEMBER_PREFIX = "MEMBER#"
_WORKSPACE_PREFIX = "WS#"
_NEW = "attribute_not_exists(pk)"
_ROLE = {"#role": "role"}
_STATUS = {"#status": "status"}
_STATUS_AND_PLAN = {**_STATUS, "#plan": "plan"}  # PLAN is one of DynamoDB's reserved words


def _on_plan(value: str) -> str:
    """The condition that the workspace is on the plan `:<value>` names (`#plan` and
    `:default_plan` in the names and values; a workspace made without one is on the default
    plan)."""
    return f"(#plan = :{value} OR (attribute_not_exists(#plan) AND :{value} = :default_plan))"


def member_key(workspace_id: str, user_id: str) -> ItemKey:
    return (item_keys.workspace(workspace_id)[0], f"{_MEMBER_PREFIX}{user_id}")


def is_live(workspace: Item | None) -> bool:
    """Whether a workspace's item, as read (None: not found), is of a workspace not deleted."""
    return workspace is not None and workspace.get("status") == "active"


def still_live(workspace_id: str) -> TransactItem:
    """For a transaction that creates something in a workspace: the workspace is not deleted,
    checked atomically with the write (a deletion in between cancels the transaction, 404)."""
    return TransactItem.check(
        item_keys.workspace(workspace_id),
        "#status = :active",
        names=_STATUS,
        values={":active": "active"},
        fails_as=lambda: NotFound("No such workspace."),
    )


class SlotUncounted(Exception):
    """What freeing a key's slot declares when the workspace counts none (`free_key_slot`)."""


@dataclass(frozen=True)
class WorkspaceRecord:
    id: str
    name: str
    plan: str
    require_mfa: bool
    created_at: int
    active_keys: int = 0  # API keys holding a slot of the plan's cap (`take_key_slot`)

    @classmethod
    def of(cls, item: Item) -> WorkspaceRecord:
        return cls(
            id=item["pk"].removeprefix(_WORKSPACE_PREFIX),
            name=item["name"],
            plan=item.get("plan", DEFAULT_PLAN),  # none written until the operator sets one
            require_mfa=bool(item["require_mfa"]),
            created_at=item["created_at"],
            active_keys=int(item.get("active_keys", 0)),
        )


@dataclass(frozen=True)
class Membership:
    """A user's place in a live workspace: their role there, the workspace, and when they last
    used it (`railguard.access.usage`; the authorizer asks whether a new use is due)."""

    workspace: WorkspaceRecord
    role: Role
    last_used_at: int | None = None


def _membership(workspace: Item | None, member: Item | None) -> Membership | None:
    # An item with no role is no membership: the roles that note a member's last use may
    # update `MEMBER#` items naming those attributes alone, and IAM cannot make them require
    # that the item exists (the code does); such an item must refuse, never fail.
    if member is None or "role" not in member or workspace is None or not is_live(workspace):
        return None
    return Membership(WorkspaceRecord.of(workspace), member["role"], member.get("last_used_at"))


def _item(key: ItemKey, **attributes: object) -> Item:
    return {"pk": key[0], "sk": key[1], **attributes}


def _member_item(workspace_id: str, user_id: str, role: Role, now: int) -> Item:
    return _item(
        member_key(workspace_id, user_id),
        role=role,
        joined_at=now,
        gsi1pk=item_keys.user_partition(user_id),
        gsi1sk=f"{_WORKSPACE_PREFIX}{workspace_id}",
    )


@dataclass(frozen=True)
class MemberRecord:
    """A member, with their last use of the workspace (`railguard.access.usage`: time, source
    address, user agent; None until they use it)."""

    user_id: str
    role: Role
    last_used_at: int | None = None
    last_used_ip: str | None = None
    last_used_user_agent: str | None = None

    @classmethod
    def of(cls, item: Item) -> MemberRecord:
        return cls(
            item["sk"].removeprefix(_MEMBER_PREFIX),
            item["role"],
            item.get("last_used_at"),
            item.get("last_used_ip"),
            item.get("last_used_user_agent"),
        )


class WorkspaceRepository(Repository):
    # -- reads -----------------------------------------------------------------------------
    def live(self, workspace_id: str) -> WorkspaceRecord | None:
        """The workspace (a strongly consistent read); None when it is deleted or unknown."""
        key = item_keys.workspace(workspace_id)
        item = self._table.get(key)
        return self.live_in({key: item} if item is not None else {}, workspace_id)

    @staticmethod
    def live_in(found: Mapping[ItemKey, Item], workspace_id: str) -> WorkspaceRecord | None:
        """The workspace among items a caller's BatchGetItem read (`item_keys.workspace`); None
        when it is deleted or unknown."""
        item = found.get(item_keys.workspace(workspace_id))
        return WorkspaceRecord.of(item) if item is not None and is_live(item) else None

    def member(self, workspace_id: str, user_id: str) -> MemberRecord | None:
        """The user as a member of the workspace; None when they are not one."""
        member = self._table.get(member_key(workspace_id, user_id))
        return MemberRecord.of(member) if member is not None else None

    def members(
        self, workspace_id: str, *, limit: int, cursor: str | None
    ) -> tuple[list[MemberRecord], str | None]:
        """A page of the workspace's members (consistent), by user id."""
        page = self._table.query(
            item_keys.workspace(workspace_id)[0],
            sk_prefix=_MEMBER_PREFIX,
            limit=limit,
            cursor=cursor,
        )
        return [MemberRecord.of(item) for item in page.items], page.next_cursor

    def memberships(
        self, user_id: str, *, limit: int, cursor: str | None
    ) -> tuple[list[Membership], str | None]:
        """A page of the user's memberships by the member index (eventually consistent), with
        their workspaces (one BatchGetItem); those of deleted workspaces are left out."""
        page = self._table.query(
            item_keys.user_partition(user_id),
            index="gsi1",
            sk_prefix=_WORKSPACE_PREFIX,
            limit=limit,
            cursor=cursor,
        )
        keys = [
            item_keys.workspace(member["gsi1sk"].removeprefix(_WORKSPACE_PREFIX))
            for member in page.items
        ]
        found = self._table.get_many(keys)
        memberships = [
            _membership(found.get(key), member)
            for key, member in zip(keys, page.items, strict=True)
        ]
        return [m for m in memberships if m is not None], page.next_cursor

    @staticmethod
    def membership_keys(workspace_id: str, user_id: str) -> list[ItemKey]:
        """The items a membership is read from, for a caller's BatchGetItem that reads more."""
        return [item_keys.workspace(workspace_id), member_key(workspace_id, user_id)]

    @staticmethod
    def membership_in(
        found: Mapping[ItemKey, Item], workspace_id: str, user_id: str
    ) -> Membership | None:
        """The membership among items read by `membership_keys`; None when the user is not a
        member or the workspace is deleted."""
        workspace_key, member = WorkspaceRepository.membership_keys(workspace_id, user_id)
        return _membership(found.get(workspace_key), found.get(member))

    # -- writes, for the service's transaction ---------------------------------------------
    @staticmethod
    def create(
        workspace_id: str, name: str, owner_id: str, now: int
    ) -> tuple[WorkspaceRecord, list[TransactItem]]:
        """A new workspace, its owner its first member: the record, and the writes."""
        workspace = _item(
            item_keys.workspace(workspace_id),
            name=name,
            owner_id=owner_id,
            require_mfa=False,
            status="active",
            created_at=now,
        )
        writes = [
            TransactItem.put(workspace, condition=_NEW),
            TransactItem.put(_member_item(workspace_id, owner_id, "owner", now), condition=_NEW),
        ]
        return WorkspaceRecord.of(workspace), writes

    @staticmethod
    def change_settings(
        workspace_id: str, *, name: str | None, require_mfa: bool | None, fails_as: Failure
    ) -> TransactItem:
        """The settings given (not None) changed, on condition the workspace is live."""
        changes = {
            field: value
            for field, value in (("name", name), ("require_mfa", require_mfa))
            if value is not None
        }
        return TransactItem.update_item(
            item_keys.workspace(workspace_id),
            "SET " + ", ".join(f"#{field} = :{field}" for field in changes),
            condition="#status = :active",
            names={**_STATUS, **{f"#{field}": field for field in changes}},
            values={
                ":active": "active",
                **{f":{field}": value for field, value in changes.items()},
            },
            fails_as=fails_as,
        )

    @staticmethod
    def change_plan(
        workspace_id: str, *, previous: str, plan: str, fails_as: Failure
    ) -> TransactItem:
        """The workspace moved to `plan`, on condition it is live and still on `previous`."""
        return TransactItem.update_item(
            item_keys.workspace(workspace_id),
            "SET #plan = :plan",
            condition=f"#status = :active AND {_on_plan('previous')}",
            names=_STATUS_AND_PLAN,
            values={
                ":plan": plan,
                ":previous": previous,
                ":active": "active",
                ":default_plan": DEFAULT_PLAN,
            },
            fails_as=fails_as,
        )

    @staticmethod
    def take_key_slot(
        workspace_id: str, *, max_active_keys: int, fails_as: Failure
    ) -> TransactItem:
        """One more active key, on condition the workspace is live and has fewer than
        `max_active_keys` (its plan's, as read; in the key's creation: of concurrent creations
        at the cap, exactly as many as it has room for succeed). It does not name the plan: a
        key's writer may not name it at all (IAM), and a plan changed between the read and
        the take admits at most the old plan's cap, as the keys a downgrade leaves do."""
        return TransactItem.update_item(
            item_keys.workspace(workspace_id),
            "ADD active_keys :one",
            condition="#status = :active"
            " AND (attribute_not_exists(active_keys) OR active_keys < :max)",
            names=_STATUS,
            values={":one": 1, ":active": "active", ":max": max_active_keys},
            fails_as=fails_as,
        )

    @staticmethod
    def free_key_slot(workspace_id: str) -> TransactItem:
        """One active key fewer (in the transaction that revokes or expires it), on condition
        the count is above 0: the key's own write is the condition that it held a slot, and a
        deleted workspace keeps its count too. A key made before the count existed holds none
        counted (`SlotUncounted`: its end is then written without this one)."""
        return TransactItem.update_item(
            item_keys.workspace(workspace_id),
            "ADD active_keys :minus_one",
            condition="active_keys > :zero",
            values={":minus_one": -1, ":zero": 0},
            fails_as=SlotUncounted,
        )

    @staticmethod
    def has_mfa(user_id: str, *, fails_as: Failure) -> TransactItem:
        """The condition that the user has MFA on (their profile says so)."""
        return TransactItem.check(
            item_keys.user_profile(user_id),
            "mfa_enabled = :true",
            values={":true": True},
            fails_as=fails_as,
        )

    @staticmethod
    def delete(workspace_id: str, *, owner_id: str, now: int, fails_as: Failure) -> TransactItem:
        """Soft delete, by its owner (as the item says now): marked deleted, by whom and when,
        and put on the retention job's work list."""
        index = item_keys.deleted_index(now, workspace_id)
        return TransactItem.update_item(
            item_keys.workspace(workspace_id),
            "SET #status = :deleted, deleted_at = :now, deleted_by = :by,"
            " gsi1pk = :index, gsi1sk = :order",
            condition="#status = :active AND owner_id = :by",
            names=_STATUS,
            values={
                ":deleted": "deleted",
                ":active": "active",
                ":now": now,
                ":by": owner_id,
                ":index": index["gsi1pk"],
                ":order": index["gsi1sk"],
            },
            fails_as=fails_as,
        )

    @staticmethod
    def add_member(
        workspace_id: str, user_id: str, role: Role, now: int, *, fails_as: Failure
    ) -> TransactItem:
        """A new member; fails if they are one already."""
        return TransactItem.put(
            _member_item(workspace_id, user_id, role, now), condition=_NEW, fails_as=fails_as
        )

    @staticmethod
    def change_role(
        workspace_id: str, user_id: str, role: Role, *, previous: Role, fails_as: Failure
    ) -> TransactItem:
        """The member moved to `role`, on condition they still have `previous`."""
        return TransactItem.update_item(
            member_key(workspace_id, user_id),
            "SET #role = :role",
            condition="#role = :previous",
            names=_ROLE,
            values={":role": role, ":previous": previous},
            fails_as=fails_as,
        )

    @staticmethod
    def remove_member(
        workspace_id: str, user_id: str, *, seen: Role, fails_as: Failure
    ) -> TransactItem:
        """The member removed, on condition they still have the role `seen`."""
        return TransactItem.delete(
            member_key(workspace_id, user_id),
            condition="#role = :seen",
            names=_ROLE,
            values={":seen": seen},
            fails_as=fails_as,
        )

    @staticmethod
    def hand_over(
        workspace_id: str, owner_id: str, new_owner_id: str, *, fails_as: Failure
    ) -> list[TransactItem]:
        """Ownership to `new_owner_id` (a member not yet owner), the owner made admin, and the
        workspace's `owner_id`; each on condition of the state it replaces, so concurrent
        transfers cannot leave two owners or none."""
        return [
            TransactItem.update_item(
                member_key(workspace_id, new_owner_id),
                "SET #role = :owner",
                condition="attribute_exists(pk) AND #role <> :owner",
                names=_ROLE,
                values={":owner": "owner"},
                fails_as=fails_as,
            ),
            TransactItem.update_item(
                member_key(workspace_id, owner_id),
                "SET #role = :admin",
                condition="#role = :owner",
                names=_ROLE,
                values={":admin": "admin", ":owner": "owner"},
                fails_as=fails_as,
            ),
            TransactItem.update_item(
                item_keys.workspace(workspace_id),
                "SET owner_id = :new",
                condition="owner_id = :old AND #status = :active",
                names=_STATUS,
                values={":new": new_owner_id, ":old": owner_id, ":active": "active"},
                fails_as=fails_as,
            ),
        ]


class LiveWorkspaces:
    """Whether a workspace is live, as read at most `MAX_AGE_SECONDS` ago: for the credentials
    that name their workspace in their own record (API keys, webhook tokens), checked at every
    use. A deletion cannot reach an unbounded number of them in one transaction; this check
    stops them all within the contract's 5 seconds, without a read per request."""

    MAX_AGE_SECONDS = 2.0
    MAX_ENTRIES = 4096

    def __init__(self, table: Table, clock: Clock):
        self._workspaces = WorkspaceRepository(table)
        self._read: TtlCache[str, WorkspaceRecord | None] = TtlCache(
            clock, max_age_seconds=self.MAX_AGE_SECONDS, max_entries=self.MAX_ENTRIES
        )

    def find(self, workspace_id: str) -> WorkspaceRecord | None:
        """The workspace while it is live; None when it is deleted or unknown."""
        return self._read.get_or_load(workspace_id, lambda: self._workspaces.live(workspace_id))
