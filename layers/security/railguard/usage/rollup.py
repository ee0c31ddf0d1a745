"""The usage rollup job (hourly): each workspace's minute items of the last whole hours summed
into its hourly usage items, per principal and for the workspace (`allowed`, SET: a rerun
writes the same, so runs may overlap and a missed run is made good by the next).

The workspaces come from the sweep index: the minute items of an hour are the ones whose `ttl`
falls in that hour moved by their life (start + 60 s + 6 h), in each of its 16 shards; only
the workspaces counted that hour are read (a Query of each one's hour of minute items), never a
scan. The index holds other items in the same range (sessions, counters), which are skipped.
"""

from __future__ import annotations

from railguard.access.rate_repository import WORKSPACE_WINDOW_SECONDS
from railguard.core.clock import Clock
from railguard.jobs import JobReport, KeepGoing, while_time_remains
from railguard.store import Table
from railguard.usage.repository import (
    HOUR_SECONDS,
    Series,
    UsageRepository,
    allowed_by_principal,
    hour_of,
)

# Each run sums the last three whole hours: two missed runs lose nothing (minute items live 6 h).
ROLLUP_HOURS = 3
# An hour is summed once it ended this long ago, past any request counted at its very end.
SETTLE_SECONDS = 300


class UsageRollup:
    def __init__(self, table: Table, clock: Clock):
        self._usage = UsageRepository(table)
        self._clock = clock

    def hours_due(self) -> list[int]:
        """The hours a run sums now, oldest first."""
        last = hour_of(self._clock.now() - SETTLE_SECONDS) - HOUR_SECONDS
        return [last - n * HOUR_SECONDS for n in reversed(range(ROLLUP_HOURS))]

    def run(self, keep_going: KeepGoing, report: JobReport) -> None:
        for hour in self.hours_due():
            workspaces = dict.fromkeys(self._usage.workspaces_counted(hour))
            for workspace_id in while_time_remains(workspaces, keep_going, report):
                self._sum(workspace_id, hour, report)
            if not report.complete:
                return

    def _sum(self, workspace_id: str, hour: int, report: JobReport) -> None:
        minutes = self._usage.minutes(
            workspace_id, hour, hour + HOUR_SECONDS - WORKSPACE_WINDOW_SECONDS
        )
        allowed = allowed_by_principal(minutes)
        for subject, requests in allowed.items():
            self._usage.set_allowed(Series(workspace_id, subject), hour, requests)
            report.count("principal_hours")
        self._usage.set_allowed(Series(workspace_id), hour, sum(allowed.values()))
        report.count("workspace_hours")
