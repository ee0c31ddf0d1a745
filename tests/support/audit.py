"""An audit trail that remembers what it was given, for tests to assert on; and a forger."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from railguard.audit import repository as audit_repository
from railguard.audit.chain import event_hash
from railguard.audit.trail import AppendRefused, AuditEvent
from railguard.store import Item, Table, TransactionConflict, TransactItem


class RecordingAuditTrail:
    """Keeps the events; applies the writes carried with one (to `table`), both or neither."""

    def __init__(self, table: Table | None = None) -> None:
        self.events: list[AuditEvent] = []
        self._table = table

    def record(self, event: AuditEvent, *, provided: Sequence[TransactItem] = ()) -> None:
        try:
            self.append(event, provided)
        except AppendRefused:
            return

    def append(self, event: AuditEvent, with_writes: Sequence[TransactItem] = ()) -> Item:
        return self.append_all([event], with_writes)[0]

    def append_all(
        self, events: Sequence[AuditEvent], with_writes: Sequence[TransactItem] = ()
    ) -> list[Item]:
        if with_writes:
            assert self._table is not None, "a recorder that applies writes needs the table"
            try:
                self._table.transact(with_writes)
            except TransactionConflict:
                raise AppendRefused from None
        self.events.extend(events)
        return [{} for _ in events]

    def append_protecting(self, event: AuditEvent, with_writes: Sequence[TransactItem]) -> None:
        self.append(event, with_writes)

    def types(self) -> list[str]:
        return [event.action for event in self.events]


def forge(events: Table, heads: Table, trail: str, seq: int, details: dict[str, str]) -> str:
    """What someone holding any function's role can do: rewrite event `seq` (PutItem, which
    overwrites), recompute the hash of it and of every later event, put them back, and move the
    head to the new end. Returns the forged head's hash."""
    stored = list(events.iterate(trail, sk_from=audit_repository.audit_event(trail, seq)[1]))
    stored[0]["details"] = details
    prev: str = stored[0]["prev_hash"]
    for event in stored:
        event["prev_hash"] = prev
        event["hash"] = prev = event_hash(event)
        events.put(event)  # no condition: it overwrites
    heads.update(
        audit_repository.audit_head(trail),
        "SET #hash = :hash",
        names={"#hash": "hash"},
        values={":hash": prev},
    )
    return prev


def unstored_events(records: Sequence[logging.LogRecord]) -> list[str]:
    """The actions of the audit events logged at ERROR as not stored (a broken trail), in order."""
    return [
        record.audit_event
        for record in records
        if record.levelno == logging.ERROR and hasattr(record, "audit_event")
    ]


def logged_events(records: Sequence[logging.LogRecord]) -> list[str]:
    """The actions of the audit events the functions logged, in order."""
    return [record.audit_event for record in records if hasattr(record, "audit_event")]
