"""Anchoring audit trails (the anchor job): each trail whose head moved since its last anchor gets
a new anchor, its head copied into the anchor bucket (`railguard.audit.anchors`), where no function
can write.

The job reads its work list, never the table: a head that moves joins it (by the time of its
first move since the last anchor; `railguard.audit.trail`, `railguard.audit.repository`), and
leaves it when the job has anchored that very head (a removal conditioned on the head being
unchanged, so a move meanwhile keeps it in the list).

The head itself is not trusted: a function's role can rewrite it. Before anchoring, the job walks
the events from the latest anchor (whose event must still hash to it) to the head, and anchors
only a chain that holds; so every anchor extends the one before, and a check may start at the
latest. A chain that does not hold is not anchored, and is logged at ERROR; it leaves the work
list (its next append brings it back), so that broken trails cannot use up every run. Out of time
halfway along a long chain, the job anchors as far as it checked, and the next run goes on from
there.
"""

from __future__ import annotations

import logging

from railguard.audit import chain as audit_chain
from railguard.audit.anchors import TrailAnchors
from railguard.audit.repository import AuditStorage
from railguard.core.errors import ServiceUnavailable
from railguard.jobs import JobReport, KeepGoing, while_time_remains
from railguard.store import Table

_EVENTS_PAGE = 500


class Anchoring:
    def __init__(self, heads: Table, events: Table, anchors: TrailAnchors):
        self._storage = AuditStorage(events, heads)
        self._anchors = anchors
        self._logger = logging.getLogger("railguard.audit.anchoring")

    def anchor_changed(self, keep_going: KeepGoing, report: JobReport) -> None:
        for trail in while_time_remains(self._storage.due(), keep_going, report):
            if trail is None:  # only heads join the list; anything else is left be
                report.count("not_a_trail")
                continue
            try:
                self._anchor(trail, keep_going, report)
            except ServiceUnavailable:
                # Not anchored, still in the list: it waits for the next run, others need not.
                report.count("failed")

    def _anchor(self, trail: str, keep_going: KeepGoing, report: JobReport) -> None:
        head = self._storage.head(trail)
        if head is None:
            return
        latest = self._anchors.latest(trail)
        if latest is not None and (latest.seq, latest.hash) == (head.seq, head.hash):
            report.count("already_anchored")  # a run that stopped between the two steps
            self._storage.leave_work_list(trail, head)
            return
        verification, reached = self._checked(trail, head, latest, keep_going, report)
        if not verification.valid:
            self._broken(trail, verification, report)
            self._storage.leave_work_list(trail, head)
            return
        if reached is None or reached.seq <= (latest.seq if latest is not None else 0):
            return  # out of time before any new event held
        report.count("anchored" if self._anchors.add(trail, reached) else "already_anchored")
        if reached == head:
            self._storage.leave_work_list(trail, head)

    def _checked(
        self,
        trail: str,
        head: audit_chain.Head,
        latest: audit_chain.Anchor | None,
        keep_going: KeepGoing,
        report: JobReport,
    ) -> tuple[audit_chain.Verification, audit_chain.Head | None]:
        """The chain from the latest anchor to the head, and the last event that held. Out of
        time on the way (the report says so), it is judged as far as it was read."""
        behind = audit_chain.behind_anchor(head, [latest] if latest is not None else [])
        if behind is not None:
            return behind, None
        first = latest.seq if latest is not None else 1
        events = self._storage.events_between(trail, first, head.seq, page_size=_EVENTS_PAGE)
        walked = audit_chain.walk(while_time_remains(events, keep_going, report), start=latest)
        reached = (
            audit_chain.Head(walked.last_seq, walked.last_hash)
            if walked.broken_at is None and walked.last_hash is not None
            else None
        )
        if not report.complete:
            partial = audit_chain.Verification(
                walked.broken_at is None, walked.checked, walked.broken_at
            )
            return partial, reached
        return audit_chain.against_head(walked, head), reached

    def _broken(
        self, trail: str, verification: audit_chain.Verification, report: JobReport
    ) -> None:
        report.count("broken")
        broken = verification.broken_at
        self._logger.error(
            "audit trail not anchored: its chain does not hold",
            extra={
                "trail": trail,
                "broken_seq": broken.seq if broken else None,
                "reason": broken.reason if broken else None,
            },
        )
