"""Request rate limits (contract section 11): a fixed-window counter per principal, in DynamoDB.

Each (principal, window) is one item (`railguard.access.rate_repository`), counted with one
conditional `UpdateItem`: `ADD` on the condition that the count is still under the limit. The
condition is evaluated atomically with the increment, so of N + k concurrent requests exactly N
pass, on any number of instances; a read-then-write would let a burst through. Items carry a TTL
just past their window.

Why in the function and not the authorizer: an HTTP API Lambda authorizer can only allow (with
a context), deny (403) or fail (401/500); it cannot answer 429 with `Retry-After`. So the
authorizer decides *which* limit applies (the key's own, or the plan's) and passes it in its
context, and the function's entry point (`railguard.http`) counts the request before any route
runs, and answers 429 itself.

The count also carries an API key's `last_used_at` when it is due (the authorizer says so, and
writes nothing): a request of a key unused for a while is usually its window's first, so one
transaction makes the window's counter (condition: no count yet, which makes the count 1 without
reading it back, since a transaction reads nothing back) and notes the use. Otherwise (the
window had a count already) the request is counted as usual and the use noted by its own write;
a use another instance noted first refuses nothing, and costs a second call in that race only.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass

from railguard.access.plans import RateLimit
from railguard.access.rate_repository import WindowCounters
from railguard.access.usage import last_use, note_last_use
from railguard.core.clock import Clock
from railguard.core.errors import ServiceUnavailable
from railguard.core.ttl_cache import TtlCache
from railguard.store import ConditionFailed, ItemKey, Table, TransactionConflict

# Kept a little past their window so a late request still finds its counter.
_TTL_SLACK_SECONDS = 60
# The windows this instance has counted in, remembered this long: there a due last use is noted
# by its own write, without first trying a transaction that would find the count.
_STARTED_WINDOWS_SECONDS = 3600
_STARTED_WINDOWS_ENTRIES = 4096


class _WindowStarted(Exception):
    """The window has a count already: the transaction of its first request does not hold."""


class _NotedElsewhere(Exception):
    """Another instance noted the last use less than a minute ago."""


@dataclass(frozen=True)
class Quota:
    """The outcome of counting one request, and what the `RateLimit-*` headers say."""

    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int

    def headers(self) -> dict[str, str]:
        headers = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_seconds),
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.reset_seconds)
        return headers


def window(now: float, window_seconds: int) -> tuple[int, int]:
    """The fixed window `now` falls in: its start, and the whole seconds until it ends (>= 1)."""
    seconds = int(now)
    start = seconds - seconds % window_seconds
    return start, max(1, start + window_seconds - seconds)


class RateLimiter:
    def __init__(self, table: Table, clock: Clock):
        self._table = table
        self._counters = WindowCounters(table)
        self._clock = clock
        self._started: TtlCache[tuple[str, int, int], bool] = TtlCache(
            clock, max_age_seconds=_STARTED_WINDOWS_SECONDS, max_entries=_STARTED_WINDOWS_ENTRIES
        )

    def take(self, subject: str, limit: RateLimit, *, last_use_of: ItemKey | None = None) -> Quota:
        """Count one request of `subject` against `limit`; `last_use_of`: the item (an API key's
        record) whose `last_used_at` the request notes, at most once a minute."""
        now = self._clock.now()
        start, reset = window(now, limit.window_seconds)
        if last_use_of is None:
            used = self._count(subject, limit, start)
        else:
            used = self._count_noting_use(subject, limit, start, last_use_of, int(now))
        self._started.put((subject, limit.window_seconds, start), True)
        if used is None:
            return Quota(allowed=False, limit=limit.requests, remaining=0, reset_seconds=reset)
        return Quota(True, limit.requests, max(0, limit.requests - used), reset)

    def _count(self, subject: str, limit: RateLimit, start: int) -> int | None:
        return self._counters.count_request(
            subject,
            limit.window_seconds,
            start,
            limit=limit.requests,
            expires_at=start + limit.window_seconds + _TTL_SLACK_SECONDS,
        )

    def _count_noting_use(
        self, subject: str, limit: RateLimit, start: int, item: ItemKey, now: int
    ) -> int | None:
        """The request's count, with the last use of `item` noted: in one transaction when the
        window is new, else by a write of its own."""
        if self._started.get((subject, limit.window_seconds, start)) is None:
            try:
                self._counters.count_first_request(
                    subject,
                    limit.window_seconds,
                    start,
                    expires_at=start + limit.window_seconds + _TTL_SLACK_SECONDS,
                    fails_as=_WindowStarted,
                    with_write=last_use(item, now, fails_as=_NotedElsewhere),
                )
            except _NotedElsewhere:
                return self._count(subject, limit, start)  # noted already: count alone
            except (_WindowStarted, TransactionConflict):
                pass  # counted meanwhile, or being counted or noted by another request now
            else:
                return 1
        used = self._count(subject, limit, start)
        # Bookkeeping, not part of the decision: its failure never refuses the request.
        with suppress(ConditionFailed, ServiceUnavailable):
            note_last_use(self._table, item, now)
        return used
