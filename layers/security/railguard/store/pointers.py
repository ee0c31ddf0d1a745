"""Records found through a pointer. An API key's or a webhook trigger's record lives under the
digest a caller presents; a pointer in the workspace's partition names that key, so the
workspace lists its records and finds one by id, and another workspace's id finds nothing."""

from __future__ import annotations

from collections.abc import Callable

from railguard.store import keys
from railguard.store.table import Item, ItemKey, Page, Table

RecordKeyOf = Callable[[Item], ItemKey]  # the record's key, from its pointer


def follow(
    table: Table, pointer_key: ItemKey, record_key_of: RecordKeyOf
) -> tuple[Item, Item] | None:
    """The pointer and its record (two consistent reads), or None if either is missing."""
    pointer = table.get(pointer_key)
    record = table.get(record_key_of(pointer)) if pointer is not None else None
    return (pointer, record) if pointer is not None and record is not None else None


def follow_page(
    table: Table,
    workspace_id: str,
    pointer_prefix: str,
    record_key_of: RecordKeyOf,
    *,
    limit: int,
    cursor: str | None,
) -> Page:
    """A page of the records the workspace's pointers name, newest first (one query, one
    BatchGetItem); a record gone since its pointer was read is left out."""
    pointers = table.query(
        keys.workspace(workspace_id)[0],
        sk_prefix=pointer_prefix,
        limit=limit,
        cursor=cursor,
        newest_first=True,
    )
    record_keys = [record_key_of(pointer) for pointer in pointers.items]
    found = table.get_many(record_keys)
    return Page([found[key] for key in record_keys if key in found], pointers.next_cursor)
