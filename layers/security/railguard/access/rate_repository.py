"""Storage of the fixed-window counters the rate limits (`railguard.access.ratelimit`) and the
failure throttle (`railguard.access.throttle`) count in: one item per subject and window, under
`RATE#` and `THROTTLE#`, with a `ttl` that also places it on the retention job's sweep index.

A workspace's minute (`workspace_window`) is one item that every request of the workspace counts
in: `c:{class}` (`class_attribute`), the requests of an endpoint class in the minute, all
principals; `p:{rate_subject}` (`principal_attribute`), one principal's requests in the minute
in this workspace, all classes (public routes count no principal). Its `ttl` is kept hours past
the minute, so that usage can be read from these counts (`WORKSPACE_WINDOW_KEPT_SECONDS`)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from railguard.store import ConditionFailed, ItemKey, Repository
from railguard.store import keys as item_keys


def rate_window(subject: str, window_seconds: int, window_start: int) -> ItemKey:
    return (f"RATE#{subject}", f"WINDOW#{window_seconds}#{window_start}")


def throttle_window(subject: str, window_start: int) -> ItemKey:
    return (f"THROTTLE#{subject}", f"WINDOW#{window_start}")


# A workspace's counts: per minute, kept 6 hours past their minute (the usage reader and its
# rollup read the last hours' minutes).
WORKSPACE_WINDOW_SECONDS = 60
WORKSPACE_WINDOW_KEPT_SECONDS = 6 * 3600


_WORKSPACE_SUBJECT = "workspace:"
_WORKSPACE_PARTITION = rate_window(_WORKSPACE_SUBJECT, WORKSPACE_WINDOW_SECONDS, 0)[0]
_PRINCIPAL_PREFIX = "p:"


def workspace_window(workspace_id: str, window_start: int) -> ItemKey:
    """The item of the workspace's minute starting at `window_start` (a multiple of 60)."""
    return rate_window(
        f"{_WORKSPACE_SUBJECT}{workspace_id}", WORKSPACE_WINDOW_SECONDS, window_start
    )


def workspace_of_window(partition: str) -> str | None:
    """The workspace whose minute items are in `partition`; None for any other partition."""
    if not partition.startswith(_WORKSPACE_PARTITION):
        return None
    return partition.removeprefix(_WORKSPACE_PARTITION)


def window_start_of(sort_key: str) -> int:
    """The start of the window whose item has `sort_key`."""
    return int(sort_key.rsplit("#", 1)[1])


def workspace_window_expiry(window_start: int) -> int:
    """The `ttl` of a workspace's minute item."""
    return window_start + WORKSPACE_WINDOW_SECONDS + WORKSPACE_WINDOW_KEPT_SECONDS


def class_attribute(endpoint_class: str) -> str:
    """The attribute of a workspace's minute item counting an endpoint class's requests."""
    return f"c:{endpoint_class}"


def principal_attribute(rate_subject: str) -> str:
    """The attribute of a workspace's minute item counting one principal's requests
    (`api_key:{key_id}` or `user:{user_id}`)."""
    return f"{_PRINCIPAL_PREFIX}{rate_subject}"


def principal_counts(minute: Mapping[str, Any]) -> Iterator[tuple[str, int]]:
    """A workspace minute item's principal counts: (rate subject, requests) each."""
    for name, value in minute.items():
        if name.startswith(_PRINCIPAL_PREFIX):
            yield name.removeprefix(_PRINCIPAL_PREFIX), int(value)


@dataclass(frozen=True)
class MinuteCounts:
    """A request counted in its workspace's minute, or not: the counts after it when counted,
    else as the refusing condition found them (0 for none yet). `principal`: None when the
    request counts no principal."""

    counted: bool
    endpoint_class: int
    principal: int | None


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

    def count_in_workspace(
        self,
        workspace_id: str,
        window_start: int,
        *,
        endpoint_class: str,
        class_budget: int | None,
        principal: str | None = None,
        principal_limit: int | None = None,
    ) -> MinuteCounts:
        """Count one request in its workspace's minute, in one conditional `UpdateItem`: its
        class's count, and its principal's (`principal`, a rate subject) if any; on the
        condition that the class's count is under `class_budget` and the principal's under
        `principal_limit` (each if given), evaluated atomically with the increment. A refusal
        counts nothing and brings back, in the same call, the counts that refused it."""
        key = workspace_window(workspace_id, window_start)
        expires_at = workspace_window_expiry(window_start)
        sweep = item_keys.sweep_index(key[0], expires_at)
        names = {"#class": class_attribute(endpoint_class), "#ttl": "ttl"}
        values: dict[str, Any] = {
            ":one": 1,
            ":ttl": expires_at,
            ":sweep": sweep["gsi2pk"],
            ":order": sweep["gsi2sk"],
        }
        adds = ["#class :one"]
        conditions = []
        if class_budget is not None:
            values[":budget"] = class_budget
            conditions.append("(attribute_not_exists(#class) OR #class < :budget)")
        if principal is not None:
            names["#principal"] = principal_attribute(principal)
            adds.append("#principal :one")
            if principal_limit is not None:
                values[":limit"] = principal_limit
                conditions.append("(attribute_not_exists(#principal) OR #principal < :limit)")
        update = f"ADD {', '.join(adds)} SET #ttl = :ttl, gsi2pk = :sweep, gsi2sk = :order"
        try:
            item = self._table.update(
                key,
                update,
                condition=" AND ".join(conditions) or None,
                names=names,
                values=values,
                read_back="updated",  # the item holds every principal of the minute
                old_on_failure=True,
            )
        except ConditionFailed as refused:
            item, counted = refused.item or {}, False
        else:
            counted = True
        return MinuteCounts(
            counted,
            int(item.get(names["#class"], 0)),
            int(item.get(names["#principal"], 0)) if principal is not None else None,
        )

    def give_back_request(self, subject: str, window_seconds: int, window_start: int) -> None:
        """Take back one request counted by `count_request`, as `give_back_failure` does."""
        self._give_back(rate_window(subject, window_seconds, window_start), "requests")

    def give_back_failure(self, key: ItemKey) -> None:
        """Take one failure back; a counter gone (cleared, or swept after its window) stays gone,
        and none goes below zero."""
        self._give_back(key, "failures")

    def _give_back(self, key: ItemKey, attribute: str) -> None:
        with suppress(ConditionFailed):
            self._table.update(
                key,
                "ADD #count :minus_one",
                condition="#count > :zero",
                names={"#count": attribute},
                values={":minus_one": -1, ":zero": 0},
            )

    def forget(self, key: ItemKey) -> None:
        self._table.delete(key)

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
