"""The writes and reads the repositories of a workspace's resources share: an item is created
once (never over another), changed only while it is active, and read beside its workspace when
both must be live."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import fields
from typing import TYPE_CHECKING, Any

from railguard.store import keys as item_keys
from railguard.store.table import Item, ItemKey, Page, Table, TransactItem

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

# A put that never replaces an item: it fails its condition if the key is taken.
ABSENT = "attribute_not_exists(pk)"
_ACTIVE = "#status = :active"
_ACTIVE_NAMES = {"#status": "status"}
_ACTIVE_VALUES = {":active": "active"}


def is_active(item: Item | None) -> bool:
    return item is not None and item.get("status") == "active"


def record_of[R: DataclassInstance](cls: type[R], item: Item, **derived: Any) -> R:
    """A record (the dataclass `cls`) from the item's attributes of the same names (None where
    absent), but for the `derived` fields, given."""
    stored = {
        field.name: item.get(field.name) for field in fields(cls) if field.name not in derived
    }
    return cls(**stored, **derived)


def project[V: DataclassInstance](cls: type[V], record: object) -> V:
    """The dataclass `cls` (a view) from the record's attributes of the same names."""
    return cls(**{shown.name: getattr(record, shown.name) for shown in fields(cls)})


def active_item(
    key: ItemKey,
    record: DataclassInstance,
    *,
    leave_out: Collection[str] = (),
    keep_none: bool = False,
    **more: Any,
) -> Item:
    """A new resource's item: its key, the record's fields (but `leave_out`, and those that are
    None unless `keep_none`), `more`, and `status` active."""
    stored = {
        field.name: getattr(record, field.name)
        for field in fields(record)
        if field.name not in leave_out
    }
    return {
        "pk": key[0],
        "sk": key[1],
        **{name: value for name, value in stored.items() if keep_none or value is not None},
        **more,
        "status": "active",
    }


def put_new(item: Item) -> TransactItem:
    """The put that creates `item`, on condition that its key is free."""
    return TransactItem.put(item, condition=ABSENT)


def active_check(key: ItemKey) -> TransactItem:
    """For a transaction that must not happen unless the item at `key` is active."""
    return TransactItem.check(key, _ACTIVE, names=_ACTIVE_NAMES, values=_ACTIVE_VALUES)


def deletion_while_active(key: ItemKey) -> TransactItem:
    """The delete of the item at `key`, on condition that it is active."""
    return TransactItem.delete(key, _ACTIVE, names=_ACTIVE_NAMES, values=_ACTIVE_VALUES)


def change_while_active(
    key: ItemKey,
    sets: Mapping[str, Any],
    *,
    removes: Sequence[str] = (),
    fails_as: Callable[[], Exception] | None = None,
) -> TransactItem:
    """The update setting `sets` (and removing `removes`) on the item at `key`, on condition
    that it is active: no change resurrects a deleted item or makes one for an unknown key."""
    expression = "SET " + ", ".join(f"#{name} = :{name}" for name in sets)
    if removes:
        expression += " REMOVE " + ", ".join(f"#{name}" for name in removes)
    return TransactItem.update_item(
        key,
        expression,
        condition=_ACTIVE,
        names={**_ACTIVE_NAMES, **{f"#{name}": name for name in [*sets, *removes]}},
        values={**_ACTIVE_VALUES, **{f":{name}": value for name, value in sets.items()}},
        fails_as=fails_as,
    )


def page_of_workspace(
    table: Table,
    workspace_id: str,
    sk_prefix: str,
    *,
    keep: Callable[[Item], bool],
    limit: int,
    cursor: str | None,
) -> Page:
    """A page of the workspace's items under `sk_prefix` that `keep` keeps, newest first (their
    ids are ULIDs, so the sort key orders them by creation)."""
    return table.query(
        item_keys.workspace(workspace_id)[0],
        sk_prefix=sk_prefix,
        limit=limit,
        cursor=cursor,
        newest_first=True,
        keep=keep,
    )


def active_in_live_workspace(
    table: Table, workspace_id: str, key: ItemKey, *, is_live: Callable[[Item | None], bool]
) -> tuple[Item, Item] | None:
    """The active item at `key` of the workspace's partition, with the workspace's item, if the
    workspace `is_live` too (one BatchGetItem for both)."""
    workspace_key = item_keys.workspace(workspace_id)
    found = table.get_many([workspace_key, key])
    item, workspace = found.get(key), found.get(workspace_key)
    if item is None or workspace is None or not is_live(workspace) or not is_active(item):
        return None
    return item, workspace
