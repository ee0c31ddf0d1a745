"""Throttling of failures (logins now; MFA codes and PIN unlocks later) with fixed windows.

Each (rule, subject, window) is one counter item, incremented with an atomic conditional ADD
before the secret is checked and given back when the secret was right; removed by TTL after its
window. A subject at its limit is refused (429, `Retry-After` = the rest of the window) without
the secret being checked, so a blocked attacker learns nothing more.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from railguard.clock import Clock
from railguard.errors import RateLimited
from railguard.ratelimit import count_one, window
from railguard.store import ConditionFailed, Table
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
        return window(self._clock.now(), rule.window_seconds)

    def _key(self, rule: ThrottleRule, subject: str) -> tuple[str, str]:
        return item_keys.throttle_window(f"{rule.name}#{subject}", self._window(rule)[0])

    def reserve(self, subjects: Sequence[Subject]) -> None:
        """Count one attempt against every subject before the secret is checked, or refuse it.

        Each count is an atomic `ADD` conditioned on the budget, so of concurrent attempts no
        more than the budget pass: a check-then-count would let a burst through. A refused
        subject undoes the reservations already made for the others.
        """
        reserved: list[Subject] = []
        for rule, subject in subjects:
            start, wait = self._window(rule)
            try:
                count_one(
                    self._table,
                    self._key(rule, subject),
                    attribute="failures",
                    limit=rule.limit,
                    expires_at=start + rule.window_seconds + 60,
                )
            except ConditionFailed:
                for done in reserved:
                    self.release(*done)
                raise RateLimited(wait, "Too many failed attempts; retry later.") from None
            reserved.append((rule, subject))

    def release(self, rule: ThrottleRule, subject: str) -> None:
        """Give back a reserved attempt that turned out not to be a failure."""
        self._table.update(
            self._key(rule, subject), "ADD failures :minus_one", values={":minus_one": -1}
        )

    def reset(self, rule: ThrottleRule, subject: str) -> None:
        self._table.delete(self._key(rule, subject))
