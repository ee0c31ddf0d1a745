"""Throttling of failures (logins now; MFA codes and PIN unlocks later) with fixed windows.

Each (rule, subject, window) is one counter item, incremented with an atomic ADD and removed by
TTL after its window. A subject at its limit is refused (429, `Retry-After` = the rest of the
window) before any secret is checked, so a blocked attacker learns nothing more.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from railguard.clock import Clock
from railguard.errors import RateLimited
from railguard.store import Table
from railguard.store import keys as item_keys


@dataclass(frozen=True)
class ThrottleRule:
    name: str
    limit: int
    window_seconds: int


LOGIN_FAILURES_PER_ACCOUNT = ThrottleRule("login-account", limit=5, window_seconds=900)
LOGIN_FAILURES_PER_IP = ThrottleRule("login-ip", limit=20, window_seconds=900)

Subject = tuple[ThrottleRule, str]


class FailureThrottle:
    def __init__(self, table: Table, clock: Clock):
        self._table = table
        self._clock = clock

    def _window(self, rule: ThrottleRule) -> tuple[int, int]:
        now = int(self._clock.now())
        start = now - now % rule.window_seconds
        return start, start + rule.window_seconds - now

    def _key(self, rule: ThrottleRule, subject: str) -> tuple[str, str]:
        return item_keys.throttle_window(f"{rule.name}#{subject}", self._window(rule)[0])

    def check(self, subjects: Sequence[Subject]) -> None:
        """`RateLimited` if any subject has used up its failures in this window (one read)."""
        found = self._table.get_many([self._key(rule, subject) for rule, subject in subjects])
        waits = [
            self._window(rule)[1]
            for rule, subject in subjects
            if found.get(self._key(rule, subject), {}).get("failures", 0) >= rule.limit
        ]
        if waits:
            raise RateLimited(max(waits), "Too many failed attempts; retry later.")

    def record_failure(self, subjects: Sequence[Subject]) -> None:
        for rule, subject in subjects:
            start, _ = self._window(rule)
            self._table.update(
                self._key(rule, subject),
                "ADD failures :one SET #ttl = :ttl",
                names={"#ttl": "ttl"},
                values={":one": 1, ":ttl": start + rule.window_seconds + 60},
            )

    def reset(self, rule: ThrottleRule, subject: str) -> None:
        self._table.delete(self._key(rule, subject))
