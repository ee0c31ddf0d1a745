"""An audit trail that remembers what it was given, for tests to assert on."""

from __future__ import annotations

from railguard.audit import AuditEvent


class RecordingAuditTrail:
    def __init__(self) -> None:
        self.events: list[AuditEvent] = []

    def record(self, event: AuditEvent) -> None:
        self.events.append(event)

    def types(self) -> list[str]:
        return [event.action for event in self.events]
