"""The expiry job (hourly; contract section 12): keys past their end become `expired`, with an
`api_key.expired` event; keys that end within a week are announced on the event bus."""

from __future__ import annotations

from dataclasses import dataclass

from railguard.api_keys.expiry import KeyExpiry
from railguard.core.runtime import Runtime
from railguard.core.settings import AuditSettings, EventBusSettings
from railguard.jobs import JobFunction, JobOptions, JobReport, KeepGoing


@dataclass(frozen=True, kw_only=True)
class ExpirySettings(AuditSettings, EventBusSettings):
    """Reads and marks key records, appends to the trail, announces on the bus."""


def _run(
    runtime: Runtime[ExpirySettings], _options: JobOptions, keep_going: KeepGoing, report: JobReport
) -> None:
    expiry = KeyExpiry(runtime.table, runtime.audit_trail, runtime.clock, job="expiry")
    expiry.expire_due(keep_going, report, rotated_only=False)
    expiry.announce_expiring(runtime.event_bus, keep_going, report)


job = JobFunction("expiry", ExpirySettings, JobOptions, _run)
lambda_handler = job.handler
