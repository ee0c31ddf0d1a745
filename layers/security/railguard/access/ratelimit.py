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
"""

from __future__ import annotations

from dataclasses import dataclass

from railguard.access.plans import RateLimit
from railguard.access.rate_repository import WindowCounters
from railguard.core.clock import Clock
from railguard.store import Table

# Kept a little past their window so a late request still finds its counter.
_TTL_SLACK_SECONDS = 60


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
        self._counters = WindowCounters(table)
        self._clock = clock

    def take(self, subject: str, limit: RateLimit) -> Quota:
        start, reset = window(self._clock.now(), limit.window_seconds)
        used = self._counters.count_request(
            subject,
            limit.window_seconds,
            start,
            limit=limit.requests,
            expires_at=start + limit.window_seconds + _TTL_SLACK_SECONDS,
        )
        if used is None:
            return Quota(allowed=False, limit=limit.requests, remaining=0, reset_seconds=reset)
        return Quota(True, limit.requests, max(0, limit.requests - used), reset)
