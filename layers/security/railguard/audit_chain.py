"""The audit trail's hash chain, pure: how an event's hash is computed and how a trail is checked.

Each stored event's `hash` is the SHA-256 of its canonical content (sorted-key, compact JSON of
every field a reader sees, `prev_hash` included), so changing any field, reordering events or
removing one breaks the chain at that point. The first event of a trail follows `GENESIS_HASH`.
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
class Verification:
    valid: bool
    events_checked: int
    broken_at: Break | None = None


@dataclass(frozen=True)
class Head:
    """The trail's last sequence number and hash, kept apart from the events: it shows when
    events were removed from the end, which the chain alone cannot."""

    seq: int
    hash: str


def verify(events: Iterable[Mapping[str, Any]], head: Head | None) -> Verification:
    """Check events given oldest first: consecutive sequence numbers from 1, each linked to the
    previous hash, each hash matching its content, and the last one matching the head."""
    expected_seq, prev_hash, checked = 1, GENESIS_HASH, 0
    for event in events:
        seq, event_id = event.get("seq"), event.get("id")
        if seq != expected_seq:
            return Verification(
                False, checked, Break(expected_seq, None, f"event {expected_seq} is missing")
            )
        if not hmac.compare_digest(str(event.get("prev_hash")), prev_hash):
            return Verification(
                False, checked, Break(seq, event_id, "prev_hash does not match the event before")
            )
        recomputed = event_hash(event)
        if not hmac.compare_digest(str(event.get("hash")), recomputed):
            return Verification(
                False, checked, Break(seq, event_id, "hash does not match the event's content")
            )
        checked += 1
        expected_seq, prev_hash = seq + 1, recomputed
    return _against_head(checked, expected_seq - 1, prev_hash, head)


def unvouched(checked: int, head_seq: int) -> Verification:
    """Events stored past the head: put without moving it, so not appended through the trail."""
    reason = f"events after {head_seq} were not appended through the trail"
    return Verification(False, checked, Break(head_seq + 1, None, reason))


def _against_head(checked: int, last_seq: int, last_hash: str, head: Head | None) -> Verification:
    head_seq = head.seq if head is not None else 0
    if head_seq > last_seq:
        reason = f"events {last_seq + 1} to {head_seq} are missing"
        return Verification(False, checked, Break(last_seq + 1, None, reason))
    if head_seq < last_seq:
        return unvouched(checked, head_seq)
    if head is not None and not hmac.compare_digest(head.hash, last_hash):
        reason = "the last event does not match the trail's head"
        return Verification(False, checked, Break(last_seq, None, reason))
    return Verification(True, checked)
