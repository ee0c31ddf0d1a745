"""`last_used_at` of things presented as credentials (API keys, webhook triggers): written at most
once a minute per item, by whichever instance sees a use first, with a conditional write."""

from __future__ import annotations

from railguard.store import ItemKey, Table

LAST_USED_RESOLUTION_SECONDS = 60


def note_last_use(table: Table, key: ItemKey, now: int) -> None:
    """Set `last_used_at`, unless it was set less than a minute ago; `ConditionFailed` then."""
    table.update(
        key,
        "SET last_used_at = :now",
        condition=(
            "attribute_exists(pk) AND "
            "(attribute_not_exists(last_used_at) OR last_used_at < :cutoff)"
        ),
        values={":now": now, ":cutoff": now - LAST_USED_RESOLUTION_SECONDS},
        # The roles that note a use may name only these attributes and read nothing back (IAM):
        # an update that may name others could make a key or a trigger out of nothing.
        read_back=False,
    )
