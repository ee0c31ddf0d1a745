"""Scheduled jobs (contract section 12): the entry point they share, and their reports."""

from railguard.jobs.function import (
    JobFunction,
    JobOptions,
    JobReport,
    KeepGoing,
    while_time_remains,
)

__all__ = ["JobFunction", "JobOptions", "JobReport", "KeepGoing", "while_time_remains"]
