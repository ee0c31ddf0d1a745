"""A small bounded cache whose entries expire: what a warm instance remembers between requests
(the authorizer's reads, the webhook ingress's workspaces). The age bound is what makes
revocations and deletions apply within seconds."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable

from railguard.core.clock import Clock


class TtlCache[K: Hashable, V]:
    def __init__(self, clock: Clock, *, max_age_seconds: float, max_entries: int):
        self._clock = clock
        self._max_age = max_age_seconds
        self._max_entries = max_entries
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()

    def get(self, key: K, *, now: float | None = None) -> V | None:
        """The value while it is fresh, else None (`now`: the clock's, if the caller has it)."""
        entry = self._entries.get(key)
        if entry is None or (self._clock.now() if now is None else now) - entry[0] >= self._max_age:
            return None
        self._entries.move_to_end(key)
        return entry[1]

    def put(self, key: K, value: V) -> None:
        self._entries[key] = (self._clock.now(), value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    def get_or_load(self, key: K, load: Callable[[], V]) -> V:
        entry = self._entries.get(key)
        if entry is not None and self._clock.now() - entry[0] < self._max_age:
            self._entries.move_to_end(key)
            return entry[1]
        value = load()
        self.put(key, value)
        return value
