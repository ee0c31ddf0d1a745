"""`last_used_at` of things presented as credentials (API keys, webhook triggers): written at most
once a minute per item, by whichever instance sees a use first, with a conditional write
(`railguard.access.usage_repository`)."""

from __future__ import annotations

from railguard.access.usage_repository import mark_used
from railguard.store import ItemKey, Table

LAST_USED_RESOLUTION_SECONDS = 60


def note_last_use(table: Table, key: ItemKey, now: int) -> None:
    """Set `last_used_at`, unless it was set less than a minute ago; `ConditionFailed` then."""
    mark_used(table, key, now=now, unless_used_since=now - LAST_USED_RESOLUTION_SECONDS)
