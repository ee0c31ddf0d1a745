"""Storage of `last_used_at`, the one attribute a use writes on the item presented as a
credential (an API key's record, a webhook trigger's): the item belongs to its resource's
repository, and this is the write those repositories share."""

from __future__ import annotations

from collections.abc import Callable

from railguard.store import ItemKey, Table, TransactItem

_MARK = "SET last_used_at = :now"
# The item exists (a use never makes one), and its last use is older than the cutoff.
_UNLESS_USED_SINCE = (
    "attribute_exists(pk) AND (attribute_not_exists(last_used_at) OR last_used_at < :cutoff)"
)


def mark_used(table: Table, key: ItemKey, *, now: int, unless_used_since: int) -> None:
    """Set the existing item's `last_used_at` to `now`, unless it is `unless_used_since` or
    later; `ConditionFailed` then (and when there is no item)."""
    table.update(
        key,
        _MARK,
        condition=_UNLESS_USED_SINCE,
        values={":now": now, ":cutoff": unless_used_since},
        # The roles that note a use may name only these attributes and read nothing back (IAM):
        # an update that may name others could make a key or a trigger out of nothing.
        read_back=False,
    )


def used_mark(
    key: ItemKey, *, now: int, unless_used_since: int, fails_as: Callable[[], Exception]
) -> TransactItem:
    """`mark_used`'s write, for a transaction (which reads nothing back); `fails_as`: what it
    means that its condition does not hold."""
    return TransactItem.update_item(
        key,
        _MARK,
        condition=_UNLESS_USED_SINCE,
        values={":now": now, ":cutoff": unless_used_since},
        fails_as=fails_as,
    )
