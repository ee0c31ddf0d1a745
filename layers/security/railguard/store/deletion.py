"""The one form of a soft delete: an active item marked deleted, by whom and when, and put on the
retention job's work list (gsi1 `DELETED`, by deletion time), for the domains to carry in the
transaction that records it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from railguard.store import keys as item_keys
from railguard.store.table import ItemKey, TransactItem


def soft_deletion(
    key: ItemKey, item_id: str, *, now: int, by: str, also: Mapping[str, Any] | None = None
) -> TransactItem:
    """The update deleting the active item at `key`; `also` sets more attributes with it. Its
    condition fails when the item is not active (deleted meanwhile, or never was)."""
    index = item_keys.deleted_index(now, item_id)
    extra = dict(also or {})
    assignments = "".join(f", #{name} = :{name}" for name in extra)
    return TransactItem.update_item(
        key,
        "SET #status = :deleted, deleted_at = :now, deleted_by = :by, updated_at = :now,"
        f" gsi1pk = :index, gsi1sk = :order{assignments}",
        condition="#status = :active",
        names={"#status": "status", **{f"#{name}": name for name in extra}},
        values={
            ":deleted": "deleted",
            ":active": "active",
            ":now": now,
            ":by": by,
            ":index": index["gsi1pk"],
            ":order": index["gsi1sk"],
            **{f":{name}": value for name, value in extra.items()},
        },
    )
