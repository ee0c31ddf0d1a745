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

from dataclasses import dataclass
from typing import Literal

from railguard.audit.trail import Actor, AppendRefused, AuditEvent, StoredAuditTrail
from railguard.core.clock import Clock
from railguard.core.errors import ServiceUnavailable
from railguard.jobs import JobReport, KeepGoing, while_time_remains
from railguard.store import ConditionFailed, Item, ItemKey, Table, TransactItem
from railguard.store import keys as item_keys

_Outcome = Literal["purged", "already_changed", "failed"]


@dataclass(frozen=True)
class _Erasure:
    """How one kind of deleted resource is purged: what it names, what it loses, and the status
    it is left in when its workspace is purged (its own status was never changed then)."""

    kind: str
    remove: tuple[str, ...]
    retired_status: str = "deleted"
    masked: bool = False  # its listing shows a mask of the value: blanked too


_CREDENTIAL = _Erasure("credential", ("ciphertext",), masked=True)
_WEBHOOK_TRIGGER = _Erasure("webhook_trigger", ("#token", "secret"))
_AGENT_UI = _Erasure("agent_ui", ("pin_hash",))
# A key has no secret to erase (its record holds a keyed digest), but it must not outlive its
# workspace's purge as `active`.
_API_KEY = _Erasure("api_key", (), retired_status="revoked")
# Every purge also takes the item off the work list and, with nothing sealed left in it, out of
# the sealing index (so the rotation job never reads it again).
_ALSO_REMOVED = ("gsi1pk", "gsi1sk", "sealed_owners", "gsi3pk", "gsi3sk")

# A purge happens once, however often a lagging index or an overlapping run shows the item.
_NOT_YET_PURGED = "attribute_not_exists(purged_at)"
# A resource deleted on its own: still deleted (not restored since the index said), and due.
_DUE_ON_ITS_OWN = "#status = :deleted AND deleted_at <= :cutoff"
# A resource of a deleted workspace (which is never restored): due with it, whatever its status.
_DUE_WITH_ITS_WORKSPACE = "attribute_exists(pk)"


def _erasure(sk: str) -> _Erasure | None:
    """What a deleted resource loses, by the sort key of the item holding its secrets."""
    if sk.startswith("CREDENTIAL#"):
        return _CREDENTIAL
    if sk == "TRIGGER":
        return _WEBHOOK_TRIGGER
    if sk.startswith("AGENTUI#"):
        return _AGENT_UI
    return None


def _resource_of_workspace(item: Item) -> tuple[ItemKey, _Erasure] | None:
    """For an item of a workspace's partition that names a credential of any kind: the key of
    its record (a trigger's or key's, named by its pointer) and what it loses. Each is also
    retired, so that nothing of a purged workspace is left active (a PIN-less deployment, a
    key) should its workspace item ever be written back."""
    if item["sk"].startswith("TRIGGER#"):
        return item_keys.webhook_trigger(item["lookup_digest"]), _WEBHOOK_TRIGGER
    if item["sk"].startswith("APIKEY#"):
        return item_keys.api_key(item["key_digest"]), _API_KEY
    erasure = _erasure(item["sk"])
    return ((item["pk"], item["sk"]), erasure) if erasure is not None else None


class Retention:
    def __init__(
        self, table: Table, audit: StoredAuditTrail, clock: Clock, *, retention_seconds: int
    ):
        self._table = table
        self._audit = audit
        self._clock = clock
        self._retention_seconds = retention_seconds
        self._actor = Actor.job("retention")

    def purge_deleted(self, keep_going: KeepGoing, report: JobReport) -> None:
        now = int(self._clock.now())
        cutoff = now - self._retention_seconds
        deleted = self._table.iterate(
            item_keys.DELETED_INDEX_PARTITION, index="gsi1", sk_until=f"{cutoff:012d}#~"
        )
        for item in while_time_remains(deleted, keep_going, report):
            if item.get("status") != "deleted":
                continue
            if (item["pk"], item["sk"]) == item_keys.workspace(item["pk"].removeprefix("WS#")):
                self._purge_workspace(item, now, keep_going, report)
                continue
            erasure = _erasure(item["sk"])
            if erasure is None:
                continue
            outcome = self._purge(
                (item["pk"], item["sk"]),
                erasure,
                now,
                due=_DUE_ON_ITS_OWN,
                due_values={":deleted": "deleted", ":cutoff": cutoff},
                event=self._purged_event(item, erasure, {}),
            )
            report.count(f"{erasure.kind}_purged" if outcome == "purged" else outcome)

    def _purge_workspace(
        self, workspace: Item, now: int, keep_going: KeepGoing, report: JobReport
    ) -> None:
        """Every secret of a deleted workspace: its partition is read in sort-key order and each
        resource purged in its own write, since a workspace may hold more than one transaction
        can; then the workspace is marked purged and leaves the work list. A run cut off (or
        stopped by a failed event) records the last sort key it finished (`purged_through`)
        and the next run resumes after it; a write repeated across that line changes nothing."""
        workspace_key = (workspace["pk"], workspace["sk"])
        progress: str | None = workspace.get("purged_through")
        items = self._table.iterate(workspace["pk"], sk_after=progress)
        stopped = False
        for item in while_time_remains(items, keep_going, report):
            resource = _resource_of_workspace(item)
            if resource is not None and "purged_at" not in item:
                key, erasure = resource
                details = {"reason": "workspace_deleted"}
                outcome = self._purge(
                    key,
                    erasure,
                    now,
                    due=_DUE_WITH_ITS_WORKSPACE,
                    due_values={},
                    event=self._purged_event(item, erasure, details),
                    retire=True,
                )
                report.count(f"{erasure.kind}_purged" if outcome == "purged" else outcome)
                if outcome == "failed":  # its event could not be written: the next run retries
                    stopped = True
                    break
            progress = item["sk"]
        if stopped or not report.complete:
            if progress != workspace.get("purged_through"):
                update = "SET purged_through = :progress"
                self._workspace_update(workspace_key, update, {":progress": progress})
            return
        finish = "SET purged_at = :now REMOVE gsi1pk, gsi1sk, purged_through"
        if self._workspace_update(workspace_key, finish, {":now": now}):
            report.count("workspace_purged")

    def _workspace_update(self, key: ItemKey, update: str, values: dict[str, object]) -> bool:
        """`update` on a deleted workspace not yet purged; False when another run has finished
        it meanwhile."""
        try:
            self._table.update(
                key,
                update,
                condition=f"#status = :deleted AND {_NOT_YET_PURGED}",
                names={"#status": "status"},
                values={":deleted": "deleted", **values},
            )
        except ConditionFailed:
            return False
        return True

    def _purged_event(
        self, item: Item, erasure: _Erasure, details: dict[str, str]
    ) -> AuditEvent | None:
        """`credential.purged` for a credential; the contract names no purge event for the
        others (the job's report counts them)."""
        if erasure is not _CREDENTIAL:
            return None
        return AuditEvent(
            "credential.purged",
            self._actor,
            item["id"],
            item["pk"].removeprefix("WS#"),
            {"name": item["name"], "type": item["type"], **details},
        )

    def _purge(
        self,
        key: ItemKey,
        erasure: _Erasure,
        now: int,
        *,
        due: str,
        due_values: dict[str, object],
        event: AuditEvent | None,
        retire: bool = False,
    ) -> _Outcome:
        """Erase and mark one item if it is still `due` and not yet purged (`retire`: and leave
        it in its erasure's retired status); with its event, if it has one, in one
        transaction."""
        update = "SET purged_at = :now"
        values: dict[str, object] = {":now": now, **due_values}
        if erasure.masked:
            update += ", masked_content = :blank"
            values[":blank"] = "****"
        if retire:
            update += ", #status = :retired"
            values[":retired"] = erasure.retired_status
        update += " REMOVE " + ", ".join((*erasure.remove, *_ALSO_REMOVED))
        names = {"#token": "token"} if "#token" in erasure.remove else {}
        if "#status" in due or retire:
            names["#status"] = "status"
        condition = f"{due} AND {_NOT_YET_PURGED}"
        if event is None:
            try:
                self._table.update(key, update, condition=condition, names=names, values=values)
            except ConditionFailed:
                return "already_changed"  # restored or purged since the index said
            return "purged"
        transition = TransactItem.update_item(
            key, update, condition=condition, names=names, values=values
        )
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
            expired = self._table.iterate(
                item_keys.sweep_partition(shard), index="gsi2", sk_until=f"{now:012d}"
            )
            for key in while_time_remains(expired, keep_going, report):
                try:
                    self._table.delete(
                        (key["pk"], key["sk"]),
                        condition="#ttl <= :now",
                        names={"#ttl": "ttl"},
                        values={":now": now},
                    )
                except ConditionFailed:
                    report.count("already_gone")  # deleted, or renewed, since the index said
                    continue
                report.count("expired_removed")
            if not report.complete:
                return
