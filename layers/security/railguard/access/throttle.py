"""Throttling of failures (passwords, MFA codes, agent UI PINs) with fixed windows.

Each (rule, subject, window) is one counter item, incremented with an atomic conditional ADD
before the secret is checked and given back when the secret was right; removed by TTL after its
window. A subject at its limit is refused (429, `Retry-After` = the rest of the window) without
the secret being checked, so a blocked attacker learns nothing more.

A reservation remembers the counters it added to, window included: checking a secret takes
time (argon2), and a release that worked the window out again at the end would give back an
attempt the next window never counted, raising its budget.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from railguard.access.rate_repository import WindowCounters
from railguard.access.ratelimit import window
from railguard.core.clock import Clock
from railguard.core.errors import RateLimited
from railguard.store import ItemKey, Table

if TYPE_CHECKING:
    from railguard.crypto.server_keys import KeyedHash


@dataclass(frozen=True)
class ThrottleRule:
    name: str
    limit: int
    window_seconds: int


LOGIN_FAILURES_PER_ACCOUNT = ThrottleRule("login-account", limit=5, window_seconds=900)
LOGIN_FAILURES_PER_IP = ThrottleRule("login-ip", limit=20, window_seconds=900)

Subject = tuple[ThrottleRule, str]

ACCOUNT_SUBJECT_KEY_NAME = "throttle-account"


def account_budget(subjects: KeyedHash, email: str) -> Subject:
    """The failure budget of the account an email names, whether or not there is one (else a
    429 would tell which emails have accounts). Named by a keyed hash of the email: a counter's
    key is kept in the table, and an unkeyed hash there would confirm guessed addresses, also
    those of no account, to anyone with a copy of it."""
    return (LOGIN_FAILURES_PER_ACCOUNT, subjects.of(email))


@dataclass(frozen=True)
class Reservation:
    """The counters one attempt was counted in, each in the window it was counted in."""

    counters: tuple[tuple[Subject, ItemKey], ...] = ()

    def of(self, *subjects: Subject) -> Reservation:
        """The part of this reservation that counted against `subjects`."""
        return Reservation(tuple(entry for entry in self.counters if entry[0] in subjects))


class FailureThrottle:
    def __init__(self, table: Table, clock: Clock):
        self._counters = WindowCounters(table)
        self._clock = clock

    def reserve(
        self,
        subjects: Sequence[Subject],
        *,
        refusal: str = "Too many failed attempts; retry later.",
    ) -> Reservation:
        """Count one attempt against every subject before the secret is checked, or refuse it.

        Each count is an atomic `ADD` conditioned on the budget, so of concurrent attempts no
        more than the budget pass: a check-then-count would let a burst through. A refused
        subject undoes the reservations already made for the others.
        """
        counted: list[tuple[Subject, ItemKey]] = []
        for rule, subject in subjects:
            start, wait = window(self._clock.now(), rule.window_seconds)
            key = self._counters.count_failure(
                f"{rule.name}#{subject}",
                start,
                limit=rule.limit,
                expires_at=start + rule.window_seconds + 60,
            )
            if key is None:
                self.release(Reservation(tuple(counted)))
                raise RateLimited(wait, refusal)
            counted.append(((rule, subject), key))
        return Reservation(tuple(counted))

    def release(self, reservation: Reservation) -> None:
        """Give back reserved attempts that turned out not to be failures, in the windows they
        were counted in. A counter already gone (cleared, or swept after its window) stays gone:
        a release never writes a negative count, nor a counter without its `ttl`."""
        for _, key in reservation.counters:
            self._counters.give_back_failure(key)

    def clear(self, reservation: Reservation) -> None:
        """Forget the failures counted in the reservation's counters (a success forgives them)."""
        for _, key in reservation.counters:
            self._counters.forget(key)
