"""Refusals and 429s counted in memory by the instance that decided them, and written now and
then: counting must not add a write to every request (issue 21).

An authorizer instance counts the keys and members it refused (`refused_credential`,
`refused_network`, `refused_scope`), a function instance the 429s its rate limit answered
(`rate_limited`), each by workspace, principal and hour; and both count their decisions for the
operators' metrics (`railguard.usage.metrics`). On an invocation, when the oldest count waiting is
`FLUSH_AFTER_SECONDS` old, the instance writes them: one `ADD` per (workspace, hour) item and per
(principal, hour) item touched, and one metrics line per dimension set. What an instance holds
when it crashes or is recycled is lost.

A flush runs inside the invocation that finds it due, whoever's it is: so it writes at most
`MAX_WRITES_PER_FLUSH` items (the workspaces' first), and the rest wait for the next; and an
instance holds at most `MAX_PENDING` principals' items (`MAX_PENDING_PER_WORKSPACE` of any one
workspace), beyond which a new principal's counts are kept for its workspace alone, and at most
`MAX_PENDING_WORKSPACES` workspaces' items, beyond which a new workspace's are dropped. A flood
of refusals of many keys (revoked on purpose) thus costs any one request at most that many
writes, loses detail rather than delay decisions, and never pushes another workspace's keys out.

A write that fails drops the counts not yet written: an `ADD` whose answer was lost may have
been applied, and trying it again could count twice, so the counts stay at most what happened.
The caller logs the failure; it never changes a decision.
"""

from __future__ import annotations

from collections import Counter

from railguard.core.clock import Clock
from railguard.store import Table
from railguard.usage.repository import Outcome, Series, UsageRepository, hour_of

FLUSH_AFTER_SECONDS = 5.0
# How often an instance with no refusal waiting looks at the clock for its allowed decisions.
ALLOWED_PER_CHECK = 16
# Bounds on what an instance holds however varied its refusals: the workspaces' hours, and the
# principals' hours of all workspaces and of any one (so that one workspace's keys, revoked on
# purpose, never push another's out); and on the writes one flush adds to the invocation that
# runs it.
MAX_PENDING_WORKSPACES = 4096
MAX_PENDING = 512
MAX_PENDING_PER_WORKSPACE = 32
MAX_WRITES_PER_FLUSH = 25

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
        self._principals_waiting: Counter[str] = Counter()  # by workspace
        self._metrics: Counter[MetricKey] = Counter()
        self._allowed = 0  # the authorizer's allowed decisions (`allowed`)
        self._oldest: float | None = None

    def count(self, outcome: Outcome, workspace_id: str, subject: str) -> None:
        """One request of `subject` (a rate subject) in the workspace, refused or rate limited
        now: in the workspace's hour, and the principal's."""
        hour = hour_of(self._note_time())
        workspaces = len(self._counts) - self._principals_waiting.total()
        if self._add((Series(workspace_id), hour), outcome, workspaces < MAX_PENDING_WORKSPACES):
            room = (
                self._principals_waiting.total() < MAX_PENDING
                and self._principals_waiting[workspace_id] < MAX_PENDING_PER_WORKSPACE
            )
            self._add((Series(workspace_id, subject), hour), outcome, room)

    def _add(self, item: tuple[Series, int], outcome: Outcome, room: bool) -> bool:
        """One more `outcome` in the item waiting to be written; False when it is not waiting
        and there is no `room` for one more (the count is dropped)."""
        counts = self._counts.get(item)
        if counts is None:
            if not room:
                return False
            counts = self._counts[item] = Counter()
            if item[0].subject is not None:
                self._principals_waiting[item[0].workspace_id] += 1
        counts[outcome] += 1
        return True

    def allowed(self) -> None:
        """One more allowed decision, for the `Decisions` metric; then a flush, if due. The
        authorizer's hot path, kept to an add and a test: the clock is read while a
        workspace's counts wait (so they are written on time), else at every
        `ALLOWED_PER_CHECK`-th decision (the metrics alone may wait that many decisions more)."""
        self._allowed += 1
        if self._counts or not self._allowed % ALLOWED_PER_CHECK:
            self._note_time()
            self.flush_if_due()

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
        """Whether a flush should write now: the oldest count waiting is old enough."""
        return self._oldest is not None and self._clock.now() - self._oldest >= FLUSH_AFTER_SECONDS

    def flush_if_due(self) -> None:
        """Write what waits, if `due`: the metrics, then at most `MAX_WRITES_PER_FLUSH` items,
        the workspaces' first (what is left waits another `FLUSH_AFTER_SECONDS`). What is taken
        is forgotten first, so a failure (raised to the caller) drops what was not written."""
        if not self.due:
            return
        metrics = self._metrics
        if self._allowed:
            metrics[_ALLOWED] += self._allowed
        self._metrics, self._allowed = Counter(), 0
        taken = sorted(self._counts, key=lambda item: item[0].subject is not None)
        taken = taken[:MAX_WRITES_PER_FLUSH]
        writes = [(item, self._counts.pop(item)) for item in taken]
        for series, _ in taken:
            if series.subject is not None:
                self._principals_waiting[series.workspace_id] -= 1
        self._oldest = self._clock.now() if self._counts else None
        if metrics:
            from railguard.usage.metrics import emit  # noqa: PLC0415 - Powertools, on a flush only

            emit(metrics)
        for (series, hour), outcomes in writes:
            self._repository.add(series, hour, outcomes)
