"""The usage rollup job (hourly, issue 21): the last whole hours' workspace minute items summed
into hourly usage items, per key, member and workspace (`railguard.usage.rollup`)."""

from __future__ import annotations

from dataclasses import dataclass

from railguard.core.runtime import Runtime
from railguard.core.settings import TableSettings
from railguard.jobs import JobFunction, JobOptions, JobReport, KeepGoing
from railguard.usage.rollup import UsageRollup


@dataclass(frozen=True, kw_only=True)
class UsageJobSettings(TableSettings):
    """Reads the minute items and writes the hourly usage items, in the table alone."""


def _run(
    runtime: Runtime[UsageJobSettings],
    _options: JobOptions,
    keep_going: KeepGoing,
    report: JobReport,
) -> None:
    UsageRollup(runtime.table, runtime.clock).run(keep_going, report)


job = JobFunction("usage", UsageJobSettings, JobOptions, _run)
lambda_handler = job.handler
