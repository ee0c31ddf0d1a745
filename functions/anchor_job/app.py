"""The anchor job (every 5 minutes): each audit trail whose head moved since its last anchor,
once its chain is checked from that anchor, is anchored in the bucket no function can write."""

from __future__ import annotations

from dataclasses import dataclass

from railguard.audit.anchoring import Anchoring
from railguard.core.runtime import Runtime
from railguard.core.settings import AnchorSettings, AuditSettings
from railguard.jobs import JobFunction, JobOptions, JobReport, KeepGoing


@dataclass(frozen=True, kw_only=True)
class AnchorJobSettings(AuditSettings, AnchorSettings):
    """Reads the work list, the heads and the events; adds anchors."""


def _run(
    runtime: Runtime[AnchorJobSettings],
    _options: JobOptions,
    keep_going: KeepGoing,
    report: JobReport,
) -> None:
    anchoring = Anchoring(runtime.table, runtime.audit_events, runtime.anchors)
    anchoring.anchor_changed(keep_going, report)


job = JobFunction("anchor", AnchorJobSettings, JobOptions, _run)
lambda_handler = job.handler
