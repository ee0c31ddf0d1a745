"""Refusals and 429s counted in memory by the instance that decided them, and written now and
then: counting must not add a write to every request (issue 21).

An authorizer instance counts the keys and members it refused (`refused_credential`,
`refused_network`, `refused_scope`), a function instance the 429s its rate limit answered
(`rate_limited`), each by workspace, principal and hour; and both count their decisions for the
operators' metrics (`railguard.usage.metrics`). On an invocation, when the oldest count waiting is
`FLUSH_AFTER_SECONDS` old (or `MAX_PENDING` items wait), the instance writes them: one `ADD`
per (principal, hour) item touched and one per (workspace, hour), and one metrics line per
dimension set. A count waits at most that long while the instance is invoked; what an instance
holds when it crashes or is recycled is lost.

A write that fails drops the counts not yet written: an `ADD` whose answer was lost may have
been applied, and trying it again could count twice, so the counts stay at most what happened.
The caller logs the failure; it never changes a decision.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from railguard.core.clock import Clock
from railguard.store import Table
from railguard.usage.repository import Outcome, Series, UsageRepository, hour_of

FLUSH_AFTER_SECONDS = 5.0
# A bound on what an instance holds however varied its refusals (distinct keys and hours).
MAX_PENDING = 1024

# The metrics (`railguard.usage.metrics`), and a metric with its dimensions (few-valued only:
# outcomes, limits, classes).
DECISIONS = "Decisions"
RATE_LIMITED = "RateLimited"
MetricKey = tuple[str, tuple[tuple[str, str], ...]]
_ALLOWED: MetricKey = (DECISIONS, (("outcome", "allowed"),))


class UsageTally:
    def __init__(self, table: Table, clock: Clock):
        self._repository = UsageRepository(table)
        self._clock = clock
        self._counts: dict[tuple[Series, int], Counter[Outcome]] = {}
        self._metrics: Counter[MetricKey] = Counter()
        self._allowed = 0  # the authorizer's allowed decisions: its hot path, kept to an add
        self._oldest: float | None = None

    def count(self, outcome: Outcome, workspace_id: str, subject: str | None) -> None:
        """One request of `subject` (a rate subject; None: a key no principal owns, counted for
        the workspace alone) in the workspace, refused or rate limited now."""
        now = self._note_time()
        series = Series(workspace_id, subject)
        self._counts.setdefault((series, hour_of(now)), Counter())[outcome] += 1

    def allowed(self) -> None:
        """One more allowed decision, for the `Decisions` metric."""
        self._allowed += 1
        if self._oldest is None:
            self._oldest = self._clock.now()

    def metric(self, name: str, **dimensions: str) -> None:
        """One more of the metric `name` with these dimensions, for the next flush."""
        self._note_time()
        self._metrics[(name, tuple(sorted(dimensions.items())))] += 1

    def _note_time(self) -> float:
        now = self._clock.now()
        if self._oldest is None:
            self._oldest = now
        return now

    @property
    def due(self) -> bool:
        """Whether a flush should write now: the oldest count waiting is old enough, or too
        many wait."""
        if self._oldest is None:
            return False
        old = self._clock.now() - self._oldest >= FLUSH_AFTER_SECONDS
        return old or len(self._counts) >= MAX_PENDING

    def flush_if_due(self) -> None:
        """Write what waits, if `due`: the metrics, then the counts. What is taken is forgotten
        first, so a failure (raised to the caller) drops what was not written."""
        if not self.due:
            return
        counts, metrics = self._counts, self._metrics
        if self._allowed:
            metrics[_ALLOWED] += self._allowed
        self._counts, self._metrics, self._allowed, self._oldest = {}, Counter(), 0, None
        if metrics:
            from railguard.usage.metrics import emit  # noqa: PLC0415 - Powertools, on a flush only

            emit(metrics)
        for (series, hour), outcomes in _with_workspace_totals(counts).items():
            self._repository.add(series, hour, outcomes)


def _with_workspace_totals(
    counts: Mapping[tuple[Series, int], Counter[Outcome]],
) -> dict[tuple[Series, int], Counter[Outcome]]:
    """Each principal's counts, and each workspace's: the sum of its principals' with the
    counts of no principal."""
    writes: dict[tuple[Series, int], Counter[Outcome]] = {}
    for (series, hour), outcomes in counts.items():
        if series.subject is not None:
            writes[(series, hour)] = outcomes
        workspace = (Series(series.workspace_id), hour)
        writes.setdefault(workspace, Counter()).update(outcomes)
    return writes
