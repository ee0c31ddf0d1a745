"""Storage of the audit trails (`railguard.audit.trail`, `railguard.audit.anchoring`): the
events, in the audit table, where items are only ever added; each trail's head, in the main
table; and the anchor job's work list of heads that moved.

An event is stored under its trail's partition (a workspace's or a user's, `store.keys`), at
`EVENT#<seq, 12 digits>`, so that the sort key orders by sequence number, and in gsi1 under
`<trail>#<action>` for reading one action. A trail's head is the item `AUDITHEAD` of the same
partition in the main table (the one audit item that changes). A head that moves joins the work
list (gsi2, keys only, `ANCHOR#<shard>`, by the time of its first move since its last anchor),
and leaves it when the job has anchored that very head.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from itertools import chain
from typing import Any

from railguard.audit.chain import Head
from railguard.store import ConditionFailed, Item, ItemKey, Page, Table, TransactItem
from railguard.store import keys as item_keys

AUDIT_EVENT_PREFIX = "EVENT#"
_ACTION_INDEX = "gsi1"

# The anchor job's work list (gsi2, keys only): spread over a few partitions like the sweep.
ANCHOR_SHARDS = 16
_WORK_LIST_INDEX = "gsi2"


def audit_event(trail: str, seq: int) -> ItemKey:
    """An event of a trail, in the audit table; zero-padded so the sort key orders by `seq`."""
    return (trail, f"{AUDIT_EVENT_PREFIX}{seq:012d}")


def audit_head(trail: str) -> ItemKey:
    """The trail's last sequence number and hash, in the main table (it is the one audit item
    that changes, so it is kept out of the audit table, where nothing may change)."""
    return (trail, "AUDITHEAD")


def anchor_partition(shard: int) -> str:
    return f"ANCHOR#{shard:02d}"


def anchor_due(trail: str) -> str:
    """The work-list partition a trail's head joins when it moves."""
    return anchor_partition(item_keys.shard_of(trail, ANCHOR_SHARDS))


class AuditStorage:
    def __init__(self, events: Table, heads: Table):
        self._events = events
        self._heads = heads

    # Heads

    def head(self, trail: str) -> Head | None:
        """The trail's head, or None before its first event."""
        item = self._heads.get(audit_head(trail))
        return Head(item["seq"], item["hash"]) if item is not None and "seq" in item else None

    @staticmethod
    def head_move(
        trail: str, previous: Head | None, stored: Item, *, fails_as: Callable[[], Exception]
    ) -> TransactItem:
        """The update moving the trail's head from `previous` (None: no head yet) to the stored
        event, failing as `fails_as` when the head is no longer `previous`. The head joins the
        work list, by the time of its first move since it was last anchored."""
        condition = "attribute_not_exists(seq)" if previous is None else "seq = :previous"
        values: dict[str, Any] = {
            ":seq": stored["seq"],
            ":hash": stored["hash"],
            ":due": anchor_due(trail),
            ":since": stored["occurred_at"],
        }
        if previous is not None:
            values[":previous"] = previous.seq
        # `if_not_exists` leaves the index key as it is on later moves, which then cost the
        # (keys-only) index nothing.
        return TransactItem.update_item(
            audit_head(trail),
            "SET seq = :seq, #hash = :hash,"
            " gsi2pk = if_not_exists(gsi2pk, :due), gsi2sk = if_not_exists(gsi2sk, :since)",
            condition=condition,
            names={"#hash": "hash"},
            values=values,
            fails_as=fails_as,
        )

    def commit(
        self, actions: Sequence[TransactItem], *, guards: Sequence[TransactItem] = ()
    ) -> None:
        """One transaction (`Table.transact`), which may write to both tables."""
        self._heads.transact(actions, guards=guards)

    # Events

    @staticmethod
    def stored_event(trail: str, seq: int, action: str, event: Item) -> Item:
        """The item that stores `event`, the `seq`th of `trail`."""
        pk, sk = audit_event(trail, seq)
        return {"pk": pk, "sk": sk, "gsi1pk": f"{trail}#{action}", "gsi1sk": sk, **event}

    def event_put(self, stored: Item, *, fails_as: Callable[[], Exception]) -> TransactItem:
        """The put of a stored event, failing as `fails_as` when its slot holds one already."""
        return TransactItem.put(
            stored,
            condition="attribute_not_exists(pk)",
            table=self._events.name,
            fails_as=fails_as,
        )

    def page(self, trail: str, *, action: str | None, limit: int, cursor: str | None) -> Page:
        """A page of the trail's events, newest first; with `action`, of that action only."""
        if action is None:
            return self._events.query(
                trail, sk_prefix=AUDIT_EVENT_PREFIX, limit=limit, cursor=cursor, newest_first=True
            )
        return self._events.query(
            f"{trail}#{action}", index=_ACTION_INDEX, limit=limit, cursor=cursor, newest_first=True
        )

    def every_event(self, trail: str) -> Iterator[Item]:
        """The trail's events, oldest first."""
        return self._events.iterate(trail, sk_prefix=AUDIT_EVENT_PREFIX)

    def events_between(
        self, trail: str, first_seq: int, last_seq: int, *, page_size: int
    ) -> Iterator[Item]:
        """The trail's events from `first_seq` to `last_seq` (both included), oldest first."""
        first = audit_event(trail, first_seq)[1]
        last = audit_event(trail, last_seq)[1]
        return self._events.iterate(trail, sk_from=first, sk_until=last, page_size=page_size)

    def has_event_after(self, trail: str, seq: int) -> bool:
        past = audit_event(trail, seq)[1]
        return bool(self._events.query(trail, sk_after=past, limit=1).items)

    # The anchor job's work list

    def due(self) -> Iterator[str | None]:
        """The trails on the work list, shard by shard (None for an entry that is no head: only
        heads join the list, anything else is left be)."""
        entries = chain.from_iterable(
            self._heads.iterate(anchor_partition(shard), index=_WORK_LIST_INDEX, page_size=100)
            for shard in range(ANCHOR_SHARDS)
        )
        for entry in entries:
            trail = entry["pk"]
            yield trail if (trail, entry["sk"]) == audit_head(trail) else None

    def leave_work_list(self, trail: str, head: Head) -> bool:
        """Take the trail off the work list if its head is still `head`; False when it moved
        (then it stays, for the next run)."""
        try:
            self._heads.update(
                audit_head(trail),
                "REMOVE gsi2pk, gsi2sk",
                condition="seq = :seq AND #hash = :hash",
                names={"#hash": "hash"},
                values={":seq": head.seq, ":hash": head.hash},
                read_back="nothing",  # the role may not read a head's partition back (IAM)
            )
        except ConditionFailed:
            return False
        return True
