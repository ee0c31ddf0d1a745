"""Storage of the fixed-window counters the rate limits (`railguard.access.ratelimit`) and the
failure throttle (`railguard.access.throttle`) count in: one item per subject and window, under
`RATE#` and `THROTTLE#`, with a `ttl` just past its window that also places it on the retention
job's sweep index."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from typing import Any

from railguard.store import ConditionFailed, ItemKey, Repository, TransactItem
from railguard.store import keys as item_keys

Failure = Callable[[], Exception]


def rate_window(subject: str, window_seconds: int, window_start: int) -> ItemKey:
    return (f"RATE#{subject}", f"WINDOW#{window_seconds}#{window_start}")


def throttle_window(subject: str, window_start: int) -> ItemKey:
    return (f"THROTTLE#{subject}", f"WINDOW#{window_start}")


class WindowCounters(Repository):
    def count_request(
        self, subject: str, window_seconds: int, window_start: int, *, limit: int, expires_at: int
    ) -> int | None:
        """Count one request in its window; the new count, or None at the limit (then nothing
        is counted)."""
        key = rate_window(subject, window_seconds, window_start)
        return self._count(key, attribute="requests", limit=limit, expires_at=expires_at)

    def count_failure(
        self, subject: str, window_start: int, *, limit: int, expires_at: int
    ) -> ItemKey | None:
        """Count one failure in its window; the counter's key (for `give_back` and `forget`), or
        None at the limit (then nothing is counted)."""
        key = throttle_window(subject, window_start)
        counted = self._count(key, attribute="failures", limit=limit, expires_at=expires_at)
        return key if counted is not None else None

    def give_back_failure(self, key: ItemKey) -> None:
        """Take one failure back; a counter gone (cleared, or swept after its window) stays gone,
        and none goes below zero."""
        with suppress(ConditionFailed):
            self._table.update(
                key,
                "ADD failures :minus_one",
                condition="failures > :zero",
                values={":minus_one": -1, ":zero": 0},
            )

    def forget(self, key: ItemKey) -> None:
        self._table.delete(key)

    def count_first_request(
        self,
        subject: str,
        window_seconds: int,
        window_start: int,
        *,
        expires_at: int,
        fails_as: Failure,
        with_write: TransactItem,
    ) -> None:
        """Count the window's first request and make `with_write`, in one transaction: both or
        neither. The count is then 1, known without reading it back (a transaction reads
        nothing back); `fails_as`: what it means that the window has a count already."""
        key = rate_window(subject, window_seconds, window_start)
        update, names, values = _counting(key, "requests", expires_at)
        first = TransactItem.update_item(
            key,
            update,
            condition="attribute_not_exists(#count)",
            names=names,
            values=values,
            fails_as=fails_as,
        )
        self._table.transact([first, with_write])

    def _count(self, key: ItemKey, *, attribute: str, limit: int, expires_at: int) -> int | None:
        """One atomic `ADD` conditioned on the count being under `limit`: of concurrent counts,
        no more than the limit pass."""
        update, names, values = _counting(key, attribute, expires_at)
        try:
            item = self._table.update(
                key,
                update,
                condition="attribute_not_exists(#count) OR #count < :limit",
                names=names,
                values={**values, ":limit": limit},
            )
        except ConditionFailed:
            return None
        return int(item[attribute])


def _counting(
    key: ItemKey, attribute: str, expires_at: int
) -> tuple[str, dict[str, str], dict[str, Any]]:
    """The update that counts one more in the window counter `key` (its `attribute`), with its
    TTL and its place on the retention job's sweep index: its expression, names and values."""
    sweep = item_keys.sweep_index(key[0], expires_at)
    return (
        "ADD #count :one SET #ttl = :ttl, gsi2pk = :sweep, gsi2sk = :order",
        {"#count": attribute, "#ttl": "ttl"},
        {":one": 1, ":ttl": expires_at, ":sweep": sweep["gsi2pk"], ":order": sweep["gsi2sk"]},
    )
