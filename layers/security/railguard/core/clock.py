"""Time, injectable: logic takes a `Clock` so tests can freeze or move it."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch."""
        ...


class SystemClock:
    def now(self) -> float:
        return time.time()


def rfc3339(epoch_seconds: float) -> str:
    """The contract's time format: RFC 3339, UTC, whole seconds (`2026-11-29T04:30:22Z`)."""
    return datetime.fromtimestamp(int(epoch_seconds), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
