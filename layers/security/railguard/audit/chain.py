"""The audit trail's hash chain, pure: how an event's hash is computed and how a trail is checked.

Each stored event's `hash` is the SHA-256 of its canonical content (sorted-key, compact JSON of
every field a reader sees, `prev_hash` included), so changing any field, reordering events or
removing one breaks the chain at that point. The first event of a trail follows `GENESIS_HASH`.

The hash is unkeyed: whoever can write the events and the head can also recompute a consistent
forgery. An anchor (a head copied where no function can write, `railguard.audit.anchors`) is what
such a forgery cannot match: every event up to an anchored one is fixed by that anchor's hash. So an
anchor is also a checkpoint: a check may start at the anchored event, verify that it still
hashes to the anchor, and walk only the events after it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

GENESIS_HASH = "0" * 64

# What the hash covers: everything `GET /audit-events` shows, except the hash itself.
HASHED_FIELDS = (
    "id",
    "seq",
    "trail",
    "occurred_at",
    "action",
    "actor",
    "target",
    "source_ip",
    "user_agent",
    "request_id",
    "details",
    "prev_hash",
)


def canonical(event: Mapping[str, Any]) -> bytes:
    content = {name: event.get(name) for name in HASHED_FIELDS}
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def event_hash(event: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical(event)).hexdigest()


@dataclass(frozen=True)
class Break:
    """Where a trail stops being trustworthy: the first event (by sequence number) that fails."""

    seq: int
    event_id: str | None
    reason: str


@dataclass(frozen=True)
class Head:
    """The trail's last sequence number and hash, kept apart from the events: it shows when
    events were removed from the end, which the chain alone cannot."""

    seq: int
    hash: str


@dataclass(frozen=True)
class Anchor(Head):
    """A head as it was copied where no function can write, and when (RFC 3339)."""

    anchored_at: str


@dataclass(frozen=True)
class Verification:
    valid: bool
    events_checked: int
    broken_at: Break | None = None
    # Set by the reader (`railguard.audit.trail.AuditLog`): the latest anchor it held the chain to
    # (None: the trail has none yet), and whether it read every event from the first rather
    # than starting at that anchor.
    anchor: Anchor | None = None
    full: bool = True


@dataclass(frozen=True)
class Walk:
    """How far a walk along the chain got: `last_seq` and `last_hash` are those of the last event
    that held (`last_hash` is None when a walk from a checkpoint read no event at all)."""

    checked: int
    last_seq: int
    last_hash: str | None
    broken_at: Break | None = None


def walk(
    events: Iterable[Mapping[str, Any]],
    *,
    start: Head | None = None,
    anchors: Iterable[Head] = (),
) -> Walk:
    """Check events given oldest first, from seq 1, or from `start` (a checkpoint: the event at
    its seq must hash to it; its link to the event before is not read): consecutive sequence
    numbers, each linked to the previous hash, each hash matching its content, and each anchored
    event matching every anchor of its sequence number."""
    anchored: dict[int, list[str]] = {}
    for anchor in (*anchors, *((start,) if start is not None else ())):
        anchored.setdefault(anchor.seq, []).append(anchor.hash)
    expected_seq = start.seq if start is not None else 1
    prev_hash: str | None = None if start is not None else GENESIS_HASH
    checked = 0

    def broken(seq: int, event_id: str | None, reason: str) -> Walk:
        return Walk(checked, expected_seq - 1, prev_hash, Break(seq, event_id, reason))

    for event in events:
        seq, event_id = event.get("seq"), event.get("id")
        if seq != expected_seq:
            return broken(expected_seq, None, f"event {expected_seq} is missing")
        if prev_hash is not None and not hmac.compare_digest(
            str(event.get("prev_hash")), prev_hash
        ):
            return broken(seq, event_id, "prev_hash does not match the event before")
        recomputed = event_hash(event)
        if not hmac.compare_digest(str(event.get("hash")), recomputed):
            return broken(seq, event_id, "hash does not match the event's content")
        if any(not hmac.compare_digest(h, recomputed) for h in anchored.get(seq, ())):
            return broken(seq, event_id, "the event does not match the trail's anchor")
        checked += 1
        expected_seq, prev_hash = seq + 1, recomputed
    return Walk(checked, expected_seq - 1, prev_hash)


def verify(
    events: Iterable[Mapping[str, Any]],
    head: Head | None,
    *,
    start: Head | None = None,
    anchors: Iterable[Head] = (),
) -> Verification:
    """`walk` the events, then hold the last one to the head. A head behind an anchor is a
    break before any event is read: events were removed, or the head was moved back."""
    anchors = (*anchors, *((start,) if start is not None else ()))
    behind = behind_anchor(head, anchors)
    if behind is not None:
        return behind
    return against_head(walk(events, start=start, anchors=anchors), head)


def behind_anchor(head: Head | None, anchors: Iterable[Head]) -> Verification | None:
    head_seq = head.seq if head is not None else 0
    furthest = max((anchor.seq for anchor in anchors), default=0)
    if furthest <= head_seq:
        return None
    reason = f"the trail's head is at {head_seq}, behind its anchor at {furthest}"
    return Verification(False, 0, Break(head_seq + 1, None, reason))


def unvouched(checked: int, head_seq: int) -> Verification:
    """Events stored past the head: put without moving it, so not appended through the trail."""
    reason = f"events after {head_seq} were not appended through the trail"
    return Verification(False, checked, Break(head_seq + 1, None, reason))


def against_head(walked: Walk, head: Head | None) -> Verification:
    """A walk's end held to the trail's head: the chain must end exactly where the head says."""
    if walked.broken_at is not None:
        return Verification(False, walked.checked, walked.broken_at)
    checked, last_seq = walked.checked, walked.last_seq
    head_seq = head.seq if head is not None else 0
    if head_seq > last_seq:
        reason = f"events {last_seq + 1} to {head_seq} are missing"
        return Verification(False, checked, Break(last_seq + 1, None, reason))
    if head_seq < last_seq:
        return unvouched(checked, head_seq)
    if head is not None and not hmac.compare_digest(head.hash, walked.last_hash or ""):
        reason = "the last event does not match the trail's head"
        return Verification(False, checked, Break(last_seq, None, reason))
    return Verification(True, checked)
