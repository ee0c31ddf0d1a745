"""Retention (contract section 12): what was deleted long enough ago is purged, and what has
expired is removed without waiting for DynamoDB's TTL (which may take days, and is only ever
a cost saving here: code never trusts an expired item).

Purging erases a resource's secret material and keeps a tombstone: the item stays, marked
`purged_at`, with its id, name and type, so audit events and other references still resolve.
A credential's purge and its `credential.purged` event are one transaction. Deleted resources are
found through the deletion index (gsi1, `DELETED`, by deletion time); expired items through the
sweep index (gsi2, `TTL#<shard>`, by ttl). Each write is conditional on the state that made the
item due, so a second run, or one racing a restore, changes nothing it should not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from railguard.audit import Actor, AppendRefused, AuditEvent, StoredAuditTrail
from railguard.clock import Clock
from railguard.errors import ServiceUnavailable
from railguard.jobs import JobReport, KeepGoing, while_time_remains
from railguard.store import ConditionFailed, Item, Table, TransactItem
from railguard.store import keys as item_keys

_Outcome = Literal["purged", "already_changed", "failed"]


@dataclass(frozen=True)
class _Erasure:
    """How one kind of deleted resource is purged: what it names, what it loses."""

    kind: str
    remove: tuple[str, ...]
    masked: bool = False  # its listing shows a mask of the value: blanked too


def _erasure(item: Item) -> _Erasure | None:
    sk: str = item["sk"]
    if sk.startswith("CREDENTIAL#"):
        return _Erasure("credential", ("ciphertext",), masked=True)
    if sk == "TRIGGER":
        return _Erasure("webhook_trigger", ("#token", "secret"))
    if sk.startswith("AGENTUI#"):
        return _Erasure("agent_ui", ("pin_hash",))
    return None


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
            erasure = _erasure(item)
            if erasure is None or item.get("status") != "deleted":
                continue
            outcome = self._purge(item, erasure, now, cutoff)
            report.count(f"{erasure.kind}_purged" if outcome == "purged" else outcome)

    def _purge(self, item: Item, erasure: _Erasure, now: int, cutoff: int) -> _Outcome:
        """Erase and mark one item, if it is still deleted and due."""
        update = "SET purged_at = :now"
        values: dict[str, object] = {":now": now, ":deleted": "deleted", ":cutoff": cutoff}
        if erasure.masked:
            update += ", masked_content = :blank"
            values[":blank"] = "****"
        update += " REMOVE " + ", ".join((*erasure.remove, "gsi1pk", "gsi1sk"))
        names = {"#status": "status", **({"#token": "token"} if "#token" in erasure.remove else {})}
        key, condition = (item["pk"], item["sk"]), "#status = :deleted AND deleted_at <= :cutoff"
        if erasure.kind != "credential":
            # The contract names no purge event for these; the job's report counts them.
            try:
                self._table.update(key, update, condition=condition, names=names, values=values)
            except ConditionFailed:
                return "already_changed"  # restored since the index said
            return "purged"
        event = AuditEvent(
            "credential.purged",
            self._actor,
            item["id"],
            item["pk"].removeprefix("WS#"),
            {"name": item["name"], "type": item["type"]},
        )
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
