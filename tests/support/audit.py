"""An audit trail that remembers what it was given, for tests to assert on."""

from __future__ import annotations

from collections.abc import Sequence

from railguard.audit import AppendRefused, AuditEvent
from railguard.store import Item, Table, TransactionConflict, TransactItem


class RecordingAuditTrail:
    """Keeps the events; applies the writes carried with one (to `table`), both or neither."""

    def __init__(self, table: Table | None = None) -> None:
        self.events: list[AuditEvent] = []
        self._table = table

    def record(self, event: AuditEvent) -> None:
        self.events.append(event)

    def append(self, event: AuditEvent, with_writes: Sequence[TransactItem] = ()) -> Item:
        if with_writes:
            assert self._table is not None, "a recorder that applies writes needs the table"
            try:
                self._table.transact(with_writes)
            except TransactionConflict as conflict:
                raise AppendRefused(conflict.reasons) from None
        self.events.append(event)
        return {}

    def types(self) -> list[str]:
        return [event.action for event in self.events]
