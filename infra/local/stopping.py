"""Stopping a local server the way both of ours stop (`make dev`, `infra.local.sam`): on Ctrl-C or
SIGTERM."""

from __future__ import annotations

import signal
import threading

_SIGNAL_CHECK_SECONDS = 0.2


class StopSignals:
    """Ctrl-C and SIGTERM, caught from the moment this is made (so one that comes while the
    server starts is not lost); `wait` returns once either has come."""

    def __init__(self) -> None:
        self._requested = threading.Event()
        for signal_number in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signal_number, lambda _signal, _frame: self._requested.set())

    def wait(self) -> None:
        # Timed: a signal that lands on another thread runs its Python handler only when the
        # main thread next runs bytecode, which an untimed wait would never do.
        while not self._requested.wait(timeout=_SIGNAL_CHECK_SECONDS):
            pass
