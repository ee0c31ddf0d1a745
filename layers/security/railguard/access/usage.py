"""`last_used_at` of things presented as credentials (API keys, webhook triggers): written at most
once a minute per item, by whichever instance sees a use first, with a conditional write
(`railguard.access.usage_repository`). An API key's is written by the function serving the
request, with its count of the request when it can be (`railguard.access.ratelimit`)."""

from __future__ import annotations

from collections.abc import Callable

from railguard.access.usage_repository import mark_used, used_mark
from railguard.store import ItemKey, Table, TransactItem

LAST_USED_RESOLUTION_SECONDS = 60


def note_last_use(table: Table, key: ItemKey, now: int) -> None:
    """Set `last_used_at`, unless it was set less than a minute ago; `ConditionFailed` then."""
    mark_used(table, key, now=now, unless_used_since=now - LAST_USED_RESOLUTION_SECONDS)


def last_use(key: ItemKey, now: int, *, fails_as: Callable[[], Exception]) -> TransactItem:
    """`note_last_use`'s write, for a transaction; `fails_as`: what it means that it was set
    less than a minute ago."""
    return used_mark(
        key, now=now, unless_used_since=now - LAST_USED_RESOLUTION_SECONDS, fails_as=fails_as
    )
