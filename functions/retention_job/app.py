"""The retention job (daily; contract section 12): purges what was deleted longer ago than the
retention period (secret material erased, tombstone kept), and removes expired sessions and
rate-limit records without waiting for DynamoDB's TTL."""

from __future__ import annotations

from dataclasses import dataclass

from railguard.core.runtime import Runtime
from railguard.core.settings import AuditSettings, RetentionSettings
from railguard.jobs import JobFunction, JobOptions, JobReport, KeepGoing
from railguard.retention import Retention


@dataclass(frozen=True, kw_only=True)
class RetentionJobSettings(AuditSettings, RetentionSettings):
    """Purges and sweeps the table, appends `credential.purged` to the trail."""


def _run(
    runtime: Runtime[RetentionJobSettings],
    _options: JobOptions,
    keep_going: KeepGoing,
    report: JobReport,
) -> None:
    retention = Retention(
        runtime.table,
        runtime.audit_trail,
        runtime.clock,
        retention_seconds=runtime.settings.retention_seconds,
    )
    retention.purge_deleted(keep_going, report)
    retention.sweep_expired(keep_going, report)


job = JobFunction("retention", RetentionJobSettings, JobOptions, _run)
lambda_handler = job.handler
