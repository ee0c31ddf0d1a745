"""Retention (contract section 12): what was deleted long enough ago is purged, and what has
expired is removed without waiting for DynamoDB's TTL (which may take days, and is only ever
a cost saving here: code never trusts an expired item).

Purging erases a resource's secret material and keeps a tombstone: the item stays, marked
`purged_at`, with its id, name and type, so audit events and other references still resolve.
A credential's purge and its `credential.purged` event are one transaction. Deleted resources are
found through the deletion index (gsi1, `DELETED`, by deletion time); expired items through the
sweep index (gsi2, `TTL#<shard>`, by ttl). Each write is conditional on the state that made the
item due and on the item not being purged yet, so a second run, one racing a restore, or one
reading an index that lags, changes nothing it should not.

A deleted workspace is on the same work list. When it is due, every resource in its partition
is purged, whatever its own status (credentials with their `credential.purged` event, which
says `reason: workspace_deleted`), one write each, since a workspace may hold more than one
transaction can; a run cut off leaves on the workspace how far it got. Its idempotency keys
need nothing here: they live a day, less than any retention period, and the sweep removes them.
"""

from __future__ import annotations

from typing import Literal

from railguard.audit.trail import Actor, AppendRefused, AuditEvent, StoredAuditTrail
from railguard.core.clock import Clock
from railguard.core.errors import ServiceUnavailable
from railguard.jobs import JobReport, KeepGoing, while_time_remains
from railguard.retention.repository import DeletedWorkspace, DueResource, RetentionRepository
from railguard.store import Table
from railguard.store import keys as item_keys

_Outcome = Literal["purged", "already_changed", "failed"]


class Retention:
    def __init__(
        self, table: Table, audit: StoredAuditTrail, clock: Clock, *, retention_seconds: int
    ):
        self._resources = RetentionRepository(table)
        self._audit = audit
        self._clock = clock
        self._retention_seconds = retention_seconds
        self._actor = Actor.job("retention")

    def purge_deleted(self, keep_going: KeepGoing, report: JobReport) -> None:
        now = int(self._clock.now())
        cutoff = now - self._retention_seconds
        deleted = self._resources.deleted_until(cutoff)
        for due in while_time_remains(deleted, keep_going, report):
            if isinstance(due, DeletedWorkspace):
                self._purge_workspace(due, now, keep_going, report)
                continue
            outcome = self._purge(due, now, cutoff=cutoff, details={})
            report.count(f"{due.kind}_purged" if outcome == "purged" else outcome)

    def _purge_workspace(
        self, workspace: DeletedWorkspace, now: int, keep_going: KeepGoing, report: JobReport
    ) -> None:
        """Every secret of a deleted workspace: its partition is read in sort-key order and each
        resource purged in its own write, since a workspace may hold more than one transaction
        can; then the workspace is marked purged and leaves the work list. A run cut off (or
        stopped by a failed event) records the last sort key it finished (`purged_through`)
        and the next run resumes after it; a write repeated across that line changes nothing.
        Each resource is also retired, so that nothing of a purged workspace is left active (a
        PIN-less deployment, a key) should its workspace item ever be written back."""
        progress = workspace.purged_through
        stopped = False
        items = self._resources.resources_of(workspace)
        for sort_key, due in while_time_remains(items, keep_going, report):
            if due is not None and not due.purged:
                details = {"reason": "workspace_deleted"}
                outcome = self._purge(due, now, cutoff=None, details=details)
                report.count(f"{due.kind}_purged" if outcome == "purged" else outcome)
                if outcome == "failed":  # its event could not be written: the next run retries
                    stopped = True
                    break
            progress = sort_key
        if stopped or not report.complete:
            if progress is not None and progress != workspace.purged_through:
                self._resources.record_progress(workspace, progress)
            return
        if self._resources.finish(workspace, now):
            report.count("workspace_purged")

    def _purge(
        self, due: DueResource, now: int, *, cutoff: int | None, details: dict[str, str]
    ) -> _Outcome:
        """Erase and mark one resource if it is still due and not yet purged (deleted on its
        own before `cutoff`, or, without one, with its workspace, and then also retired); with
        its event, if its kind writes one, in one transaction."""
        retire = cutoff is None
        action = due.erasure.audit_action
        if action is None:
            purged = self._resources.purge(due, now, cutoff=cutoff, retire=retire)
            return "purged" if purged else "already_changed"  # restored or purged meanwhile
        event = AuditEvent(
            action,
            self._actor,
            due.resource_id,
            due.workspace_id,
            {"name": due.name or "", "type": due.type or "", **details},
        )
        transition = self._resources.purge_write(due, now, cutoff=cutoff, retire=retire)
        try:
            self._audit.append(event, with_writes=[transition])
        except AppendRefused:
            return "already_changed"
        except ServiceUnavailable:  # TrailBroken among them
            return "failed"  # neither happened: it waits for the next run, the others need not
        return "purged"

    def sweep_expired(self, keep_going: KeepGoing, report: JobReport) -> None:
        """Delete items whose ttl has passed: sessions (users' and agent UIs'), refresh tokens,
        MFA challenges, seen webhook signatures, and the counters of rate limits and throttles."""
        now = int(self._clock.now())
        for shard in range(item_keys.SWEEP_SHARDS):
            expired = self._resources.expired(shard, now)
            for key in while_time_remains(expired, keep_going, report):
                if self._resources.remove_expired(key, now):
                    report.count("expired_removed")
                else:
                    report.count("already_gone")  # deleted, or renewed, since the index said
            if not report.complete:
                return
