"""Moving time in tests instead of sleeping.

Every function builds its runtime with `Runtime(settings)`, whose clock is a `SystemClock`, and
railguard reads the time nowhere else: patching `SystemClock.now` moves the time of the
authorizer and of every function at once, while botocore, moto and werkzeug (which read
`time.time` themselves) keep the real one.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from railguard.core.clock import SystemClock

# Where a clock of its own starts (given to what takes a `Clock`): 2027-01-15, in round seconds.
START = 1_800_000_000.0


class FakeClock:
    """A clock that tests move: given to what takes a clock, or behind every function instance's
    `SystemClock` (`patched_system_clock`)."""

    def __init__(self, start: float = START):
        self.current = start

    def now(self) -> float:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += seconds

    def to_window_start(self, window_seconds: int) -> None:
        """Half a second into the next fixed window, so a test's requests share one window."""
        self.current = (int(self.current) // window_seconds + 1) * window_seconds + 0.5


# Never backwards from one test to the next: warm instances keep the times they cached.
_LATEST = [0.0]


def patched_system_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeClock]:
    """For a fixture: `SystemClock` made to read a `FakeClock` for the test's duration."""
    fake = FakeClock(max(float(int(time.time())), _LATEST[0]))
    monkeypatch.setattr(SystemClock, "now", lambda _self: fake.now())
    yield fake
    _LATEST[0] = fake.now()
