"""Storage of `last_used_at`, the one attribute a use writes on the item presented as a
credential (an API key's record, a webhook trigger's): the item belongs to its resource's
repository, and this is the write those repositories share."""

from __future__ import annotations

from railguard.store import ItemKey, Table


def mark_used(table: Table, key: ItemKey, *, now: int, unless_used_since: int) -> None:
    """Set the existing item's `last_used_at` to `now`, unless it is `unless_used_since` or
    later; `ConditionFailed` then (and when there is no item)."""
    table.update(
        key,
        "SET last_used_at = :now",
        condition=(
            "attribute_exists(pk) AND "
            "(attribute_not_exists(last_used_at) OR last_used_at < :cutoff)"
        ),
        values={":now": now, ":cutoff": unless_used_since},
        # The roles that note a use may name only these attributes and read nothing back (IAM):
        # an update that may name others could make a key or a trigger out of nothing.
        read_back=False,
    )
