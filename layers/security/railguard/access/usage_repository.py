"""Storage of a last use, the one write a use makes on the item presented as a credential (an
API key's record, a webhook trigger's) or on a member's membership of the workspace used:
`last_used_at` and, for a key or a membership, `last_used_ip` and `last_used_user_agent`. The
item belongs to its resource's repository, and this is the write those repositories share."""

from __future__ import annotations

from typing import Any

from railguard.store import ItemKey, Table

# The item exists (a use never makes one), and its last use is older than the cutoff.
_UNLESS_USED_SINCE = (
    "attribute_exists(pk) AND (attribute_not_exists(last_used_at) OR last_used_at < :cutoff)"
)


# Where a use came from: its source address and user agent (either may be unknown).
UseOrigin = tuple[str | None, str | None]


def mark_used(
    table: Table,
    key: ItemKey,
    *,
    now: int,
    unless_used_since: int,
    origin: UseOrigin | None = None,
) -> None:
    """Set the existing item's `last_used_at` to `now` and, with an `origin` (an API key's or a
    member's use), `last_used_ip` and `last_used_user_agent` (one unknown is removed: the
    details are all of one use), unless `last_used_at` is `unless_used_since` or later;
    `ConditionFailed` then (and when there is no item)."""
    values: dict[str, Any] = {":now": now, ":cutoff": unless_used_since}
    sets, removes = ["last_used_at = :now"], []
    if origin is not None:
        for attribute, value in zip(("last_used_ip", "last_used_user_agent"), origin, strict=True):
            if value is None:
                removes.append(attribute)
            else:
                sets.append(f"{attribute} = :{attribute}")
                values[f":{attribute}"] = value
    update = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
    table.update(
        key,
        update,
        condition=_UNLESS_USED_SINCE,
        values=values,
        # The roles that note a use may name only these attributes and read nothing back (IAM):
        # an update that may name others could make a key, a trigger or a member out of nothing.
        read_back="nothing",
    )
