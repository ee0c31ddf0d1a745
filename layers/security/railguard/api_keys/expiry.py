"""The end of API keys' lives (contract section 12): keys past `expires_at` become `expired`,
each with an `api_key.expired` event, and keys that end within a week are announced once.

Keys are found through the expiry index (gsi1, `KEYEXPIRY`, ordered by end), which holds every
active key that has an end and nothing else: a key leaves it when it expires or is revoked, so a
run reads only keys that are due or nearly due, never the table. The index is eventually
consistent; every write is conditional on the key's state, so a stale entry changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import suppress
from functools import partial

from railguard.api_keys.repository import ApiKeyRepository, StoredKey, freeing_slot
from railguard.audit.trail import Actor, AppendRefused, AuditEvent, StoredAuditTrail
from railguard.core.clock import Clock, rfc3339
from railguard.core.errors import ServiceUnavailable
from railguard.core.events import EventBus
from railguard.jobs import JobReport, KeepGoing, while_time_remains
from railguard.store import ConditionFailed, Table

EXPIRING_NOTICE_SECONDS = 7 * 86_400
EVENT_SOURCE = "railguard.api_keys"


class KeyExpiry:
    def __init__(self, table: Table, audit: StoredAuditTrail, clock: Clock, job: str):
        self._keys = ApiKeyRepository(table)
        self._audit = audit
        self._clock = clock
        self._actor = Actor.job(job)

    def expire_due(self, keep_going: KeepGoing, report: JobReport, *, rotated_only: bool) -> None:
        """Mark every key past its end `expired` (only rotated-out keys: `rotated_only`)."""
        now = int(self._clock.now())
        for key in self._indexed_until(now, keep_going, report):
            if rotated_only and not key.replaced_by:
                continue
            self._expire(key, now, report)

    def announce_expiring(self, bus: EventBus, keep_going: KeepGoing, report: JobReport) -> None:
        """Publish `api_key.expiring` for keys that end within the week, once per end date (a
        key whose end moves is announced again). At least once: a crash between the publish and
        the note that it was published repeats the notice, never loses it."""
        now = int(self._clock.now())
        for indexed in self._indexed_until(now + EXPIRING_NOTICE_SECONDS, keep_going, report):
            # The index lags the table: the key as it is now decides (revoked, re-dated).
            key = self._keys.current(indexed)
            if key is None or key.status != "active" or key.settings.expires_at is None:
                continue
            expires_at = key.settings.expires_at
            if expires_at <= now or key.replaced_by:
                continue  # expired (the other step), or rotated out (its successor lives on)
            if expires_at > now + EXPIRING_NOTICE_SECONDS:
                continue  # moved out of the week since the index was written
            if key.expiring_notice_for == expires_at:
                continue
            bus.publish(
                EVENT_SOURCE,
                "api_key.expiring",
                {
                    "key_id": key.id,
                    "workspace_id": key.workspace_id,
                    "name": key.settings.name,
                    "expires_at": rfc3339(expires_at),
                },
            )
            report.count("expiring_announced")
            # Changed since it was read (ConditionFailed): the next run judges it afresh.
            with suppress(ConditionFailed):
                self._keys.note_expiring_announced(key)

    def _indexed_until(
        self, until: int, keep_going: KeepGoing, report: JobReport
    ) -> Iterator[StoredKey]:
        """The indexed keys ending at or before `until`, oldest end first, while time remains
        (when it runs out, the report says the run is incomplete)."""
        yield from while_time_remains(self._keys.ending_until(until), keep_going, report)

    def _expire(self, key: StoredKey, now: int, report: JobReport) -> None:
        expires_at = key.settings.expires_at
        if expires_at is None or expires_at > now:
            return
        event = AuditEvent(
            "api_key.expired",
            self._actor,
            key.id,
            key.workspace_id,
            {"expires_at": rfc3339(expires_at)},
        )
        try:
            expiry = ApiKeyRepository.expire(key, now=now)
            freeing_slot(partial(self._audit.append, event), expiry)
        except AppendRefused:
            report.count("already_changed")  # revoked, rotated or expired since the index said
            return
        except ServiceUnavailable:  # TrailBroken among them
            # Neither happened; this key waits for the next run, the others need not.
            report.count("failed")
            return
        report.count("expired")
