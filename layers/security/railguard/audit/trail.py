"""The audit trail (contract section 10): one event for every security-relevant act.

An event names its actor, its target and the request it came from (source IP, user agent,
request id), with details that are ids and reasons, never a secret. Events about a workspace's
resources go to the workspace's trail; a user's own events (sign-up, logins, password, MFA) go to
the user's trail, read at `/me/security-events`.

Each trail is a hash chain (`railguard.audit.chain`) stored in the audit table, where items are
only ever added: an append is one transaction that moves the trail's head (in the main table) from
the sequence number it read to the next, conditioned on the head being unchanged, and puts the
event under that number, conditioned on it being new. Two writers that read the same head cannot
both succeed, so the chain cannot fork; the loser reads the head again and retries. An append may
carry the writes of the act it records (`append(event, with_writes=...)`), so that the act and its
event happen together or not at all; the scheduled jobs use this to stay exactly-once. An act that
protects the user (ending sessions, replacing a password) uses `append_protecting` instead: when
the trail cannot take its event, the act is done without it and the event logged at ERROR. An act
recorded in several trails at once (a sign-up: the user's and the new workspace's) appends its
events in one transaction (`append_all`), moving each trail's head.

Every function's role can write the audit table and the heads, so the chain alone cannot tell a
rewrite from the truth: the anchor job (`railguard.audit.anchoring`) copies heads where no function
can write, and verification holds the chain to the latest copy. A head that moves joins the job's
work list (`railguard.audit.repository`) and stays in it until the job has anchored it.

Where a request came from is a property of the invocation, like the logger's request id: the
function's entry point binds it once (`request_origin`) and every event of that invocation reads
it, instead of every domain call carrying it.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Literal, Protocol

from railguard.audit import chain as audit_chain
from railguard.audit.repository import AuditStorage
from railguard.core.clock import Clock, rfc3339
from railguard.core.errors import ServiceUnavailable, ValidationFailed
from railguard.core.redaction import scrub_text
from railguard.kinds import AUDIT_EVENT, KINDS
from railguard.store import Item, Table, TransactionConflict, TransactItem
from railguard.store import keys as item_keys

if TYPE_CHECKING:
    from railguard.audit.anchors import TrailAnchors

# Every kind's audit actions (`railguard.kinds`); an event's target is of the kind declaring it.
AuditAction = str
_TARGET_TYPES: Mapping[str, str] = {
    action: kind.name for kind in KINDS for action in kind.audit_actions
}
ACTIONS: frozenset[str] = frozenset(_TARGET_TYPES)

ActorType = Literal["user", "api_key", "system", "anonymous"]

_MAX_DETAIL_LENGTH = 256
_MAX_USER_AGENT_LENGTH = 512
# Appends to one trail at once wait for each other; this many tries covers dozens of writers.
_MAX_APPEND_ATTEMPTS = 40


@dataclass(frozen=True)
class Actor:
    type: ActorType
    id: str

    @classmethod
    def of(cls, reference: str) -> Actor:
        """From a principal reference, `user:<id>` or `api_key:<id>` (`Principal.rate_subject`)."""
        kind, _, actor_id = reference.partition(":")
        if kind not in ("user", "api_key") or not actor_id:
            raise ValueError(f"not a principal reference: {reference!r}")
        return cls(kind, actor_id)  # type: ignore[arg-type]  # narrowed by the check above

    @classmethod
    def user(cls, user_id: str) -> Actor:
        return cls("user", user_id)

    @classmethod
    def job(cls, name: str) -> Actor:
        return cls("system", name)


@dataclass(frozen=True)
class AuditEvent:
    """What happened. `workspace_id` set: the workspace's trail; unset: the target user's own."""

    action: AuditAction
    actor: Actor
    target_id: str
    workspace_id: str | None = None
    details: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"no kind declares the audit action {self.action!r}")

    @property
    def target_type(self) -> str:
        return _TARGET_TYPES[self.action]

    @property
    def trail(self) -> str:
        if self.workspace_id is not None:
            return item_keys.workspace_trail(self.workspace_id)
        return item_keys.user_trail(self.target_id)


@dataclass(frozen=True)
class RequestOrigin:
    source_ip: str | None = None
    user_agent: str | None = None
    request_id: str | None = None


_NO_ORIGIN = RequestOrigin()  # frozen: safe to share as the default
_origin: ContextVar[RequestOrigin] = ContextVar("railguard_request_origin", default=_NO_ORIGIN)


@contextmanager
def request_origin(origin: RequestOrigin) -> Iterator[None]:
    """Bind where this invocation's request came from, for every event it records."""
    token = _origin.set(origin)
    try:
        yield
    finally:
        _origin.reset(token)


class AuditTrail(Protocol):
    def record(self, event: AuditEvent, *, provided: Sequence[TransactItem] = ()) -> None: ...

    def append(self, event: AuditEvent, with_writes: Sequence[TransactItem] = ()) -> Item: ...

    def append_all(
        self, events: Sequence[AuditEvent], with_writes: Sequence[TransactItem] = ()
    ) -> list[Item]: ...

    def append_protecting(self, event: AuditEvent, with_writes: Sequence[TransactItem]) -> None: ...


class AppendRefused(Exception):
    """One of the writes carried with the event failed its condition, and declared no failure of
    its own (`TransactItem.fails_as`; a declared one is raised instead): neither happened."""

    def __init__(self) -> None:
        super().__init__("a write carried with the event failed its condition")


class _HeadMoved(Exception):
    """The failure a head move declares: another append took this sequence number first."""


class _SlotTaken(Exception):
    """The failure an event's put declares: its slot holds an event already. It is the first
    guard to fail (the head move before it held) and no item met a concurrent writer
    (`Table.transact`), which makes the trail broken (`TrailBroken`)."""


class TrailBroken(ServiceUnavailable):
    """The head names a free slot that holds an event already (put without moving the head):
    no append can succeed until someone looks. Verification reports the same trail invalid.
    An act that grants access cannot happen meanwhile: clients see a 503, operators the log.
    An act that protects the user happens anyway (`append_protecting`)."""


class TrailBusy(ServiceUnavailable):
    """Every attempt to append lost its race to another writer of the same trail."""


def _refused_unless_declared(writes: Sequence[TransactItem]) -> list[TransactItem]:
    """The carried writes, each failing as it declared, or else as `AppendRefused`: so a
    `TransactionConflict` out of an append's transaction never means a carried write failed."""
    return [
        write if write.fails_as is not None else replace(write, fails_as=AppendRefused)
        for write in writes
    ]


def _clean_details(details: Mapping[str, str]) -> dict[str, str]:
    # Details are ids, names and reasons by construction; scrubbing is the net for a mistake.
    return {name: scrub_text(value)[:_MAX_DETAIL_LENGTH] for name, value in details.items()}


class StoredAuditTrail:
    """Appends events to their trail's chain, and logs each one (`railguard.audit.trail`)."""

    def __init__(self, events: Table, heads: Table, clock: Clock):
        self._storage = AuditStorage(events, heads)
        self._clock = clock
        self._logger = logging.getLogger("railguard.audit.trail")

    def record(self, event: AuditEvent, *, provided: Sequence[TransactItem] = ()) -> None:
        """Append for an act that wrote nothing (a failed login): a failure here is logged,
        loudly, with the event, rather than turned into an error. With `provided` (condition
        checks, in the same transaction), the event is stored only if they hold, and otherwise
        silently not: the calls made are the same either way."""
        if any(write.fails_as is not None for write in provided):
            raise ValueError("a provided check fails silently: it declares no failure")
        try:
            self.append(event, provided)
        except AppendRefused:
            return
        except ServiceUnavailable:  # TrailBroken and TrailBusy among them
            self._log(event, level=logging.ERROR, message="audit event not stored")

    def append_protecting(self, event: AuditEvent, with_writes: Sequence[TransactItem]) -> None:
        """Append for an act that takes access away (ends sessions, replaces a password, revokes
        or deletes): as `append`, but when the trail is broken the writes are done without the
        event, which is logged at ERROR, ids only. Anyone who can break a trail (one `PutItem`)
        must not thereby keep a stolen session or key alive; the break itself is what
        verification reports. Only a break: a trail merely busy (`TrailBusy`, which a flood of
        one's own audited requests can cause) answers 503 and the client retries, or a
        destructive act could be done unrecorded and leave the trail valid. `AppendRefused`
        when a write's condition fails, either way."""
        try:
            self.append(event, with_writes)
        except TrailBroken:
            self._log(event, level=logging.ERROR, message="audit event not stored; act done")
            try:
                self._storage.commit(_refused_unless_declared(with_writes))
            except TransactionConflict:
                # No write failed its condition (each would have raised its failure): another
                # writer was changing the same items. Retry, rather than report the act done.
                raise ServiceUnavailable from None

    def append(self, event: AuditEvent, with_writes: Sequence[TransactItem] = ()) -> Item:
        """Append `event` (with `with_writes`, atomically); returns the stored event."""
        return self.append_all([event], with_writes)[0]

    def append_all(
        self, events: Sequence[AuditEvent], with_writes: Sequence[TransactItem] = ()
    ) -> list[Item]:
        """Append `events`, each to its own trail (at most one per trail), with `with_writes`,
        all in one transaction; returns the stored events. A carried write that fails its
        condition raises what it declared (`TransactItem.fails_as`), else `AppendRefused`."""
        if len({event.trail for event in events}) != len(events):
            raise ValueError("one event per trail in one append")
        for attempt in range(_MAX_APPEND_ATTEMPTS):
            heads = [self._storage.head(event.trail) for event in events]
            stored = [self._stored(event, head) for event, head in zip(events, heads, strict=True)]
            chain_writes = [
                write
                for event, head, item in zip(events, heads, stored, strict=True)
                for write in (
                    self._storage.head_move(event.trail, head, item, fails_as=_HeadMoved),
                    self._storage.event_put(item, fails_as=_SlotTaken),
                )
            ]
            try:
                # Each event's head move, then its put, are the guards: sent first, and what
                # their failures mean counts only when no carried write failed (a carried write
                # raises what it declared, else AppendRefused).
                self._storage.commit(_refused_unless_declared(with_writes), guards=chain_writes)
            except _SlotTaken:
                raise TrailBroken from None
            except (_HeadMoved, TransactionConflict):
                # Another append took this sequence number, or was writing the same items:
                # read the head again, after a pause that grows and is random, so that racing
                # writers spread out.
                time.sleep(random.uniform(0, 0.002 * (attempt + 1)))  # noqa: S311 - not a secret
                continue
            for event in events:
                self._log(event, level=logging.INFO, message=event.action)
            return stored
        raise TrailBusy

    def _stored(self, event: AuditEvent, head: audit_chain.Head | None) -> Item:
        origin = _origin.get()
        seq = head.seq + 1 if head else 1
        stored: Item = {
            "id": AUDIT_EVENT.new_id(),
            "seq": seq,
            "trail": event.trail,
            "occurred_at": rfc3339(self._clock.now()),
            "action": event.action,
            "actor": {"type": event.actor.type, "id": event.actor.id},
            "target": {"type": event.target_type, "id": event.target_id},
            "source_ip": origin.source_ip,
            "user_agent": (origin.user_agent or "")[:_MAX_USER_AGENT_LENGTH] or None,
            "request_id": origin.request_id,
            "details": _clean_details(event.details),
            "prev_hash": head.hash if head else audit_chain.GENESIS_HASH,
        }
        stored["hash"] = audit_chain.event_hash(stored)
        return AuditStorage.stored_event(event.trail, seq, event.action, stored)

    def _log(self, event: AuditEvent, *, level: int, message: str) -> None:
        self._logger.log(
            level,
            message,
            extra={
                "audit_event": event.action,
                "actor_type": event.actor.type,
                "actor_id": event.actor.id,
                "workspace_id": event.workspace_id,
                "target_id": event.target_id,
                **{
                    f"detail_{name}": value for name, value in _clean_details(event.details).items()
                },
            },
        )


@dataclass(frozen=True)
class AuditPage:
    events: list[Item]
    next_cursor: str | None


# What a client sees of an event: what is hashed, and the hash, less the storage's own
# numbering (the trail and the sequence number are the item's key).
_VIEW_FIELDS = (
    *(name for name in audit_chain.HASHED_FIELDS if name not in {"seq", "trail"}),
    "hash",
)


def _view(item: Item) -> Item:
    return {name: item.get(name) for name in _VIEW_FIELDS}


class AuditLog:
    """The reading side: a trail's events, newest first, and the check of its chain against its
    latest anchor."""

    def __init__(self, events: Table, heads: Table, anchors: TrailAnchors | None = None):
        # Without anchors (a reader that only pages), a check is as for a trail never anchored.
        self._storage = AuditStorage(events, heads)
        self._anchors = anchors

    def page(self, trail: str, *, action: str | None, limit: int, cursor: str | None) -> AuditPage:
        if action is not None and action not in ACTIONS:
            # A filter naming no action would match nothing; say so instead of an empty page.
            raise ValidationFailed("Unknown audit action.", details={"field": "action"})
        page = self._storage.page(trail, action=action, limit=limit, cursor=cursor)
        return AuditPage([_view(item) for item in page.items], page.next_cursor)

    def _head(self, trail: str) -> audit_chain.Head | None:
        return self._storage.head(trail)

    def verify(self, trail: str, *, full: bool = False) -> audit_chain.Verification:
        """The chain up to the head as read first, held to the trail's anchors: by default from
        the latest anchor (its event must still hash to it; only the events after it are read),
        or, `full`, from the first event, held to every anchor the trail ever had. Events
        appended while it is read are past that head and not judged. Then, against the head as
        it is now, any event past it was put without moving the head."""
        # Anchors before the head: heads only grow and an anchor never passes the head it
        # copied, so an anchor made while this runs cannot look ahead of the head read here.
        anchors: list[audit_chain.Anchor] = []
        if self._anchors is not None:
            if full:
                anchors = self._anchors.every(trail)
            else:
                anchors = [anchor] if (anchor := self._anchors.latest(trail)) else []
        head = self._head(trail)
        latest_anchor = anchors[-1] if anchors else None
        start = None if full else latest_anchor
        events = self._events_until(trail, head, start)
        result = audit_chain.verify(events, head, start=start, anchors=anchors)
        if result.valid and head is not None:
            current = self._head(trail) or head
            if self._storage.has_event_after(trail, current.seq):
                result = audit_chain.unvouched(result.events_checked, current.seq)
        return replace(result, anchor=latest_anchor, full=start is None)

    def _events_until(
        self, trail: str, head: audit_chain.Head | None, start: audit_chain.Head | None
    ) -> Iterator[Item]:
        """The trail's events, oldest first, from `start`'s (else the first) to the head's."""
        if head is None:
            # No head: whatever is stored was put without one (or there is nothing).
            yield from self._storage.every_event(trail)
            return
        if start is not None and start.seq > head.seq:
            return  # the head is behind its anchor: a break before any event is read
        first = start.seq if start else 1
        yield from self._storage.events_between(trail, first, head.seq, page_size=500)
