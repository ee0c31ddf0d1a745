"""Webhook triggers (contract section 8): a token (`wht_...`) that lets an outside system start an
agent, optionally with HMAC-signed calls, and nothing else.

Two items per trigger, as for API keys (docs/data-model.md, `railguard.webhooks.repository`). The
record, keyed by the keyed hash of the token, is the one copy of the trigger's state: a call finds
it from the token with one GetItem and no KMS call, since the keyed hash is an HMAC under a server
key (`railguard.crypto.server_keys`) unsealed once per instance. A pointer in the workspace holds
that hash, so triggers are listed and found by id there. The token and the signing secret
(`whsec_...`) are also kept envelope-encrypted, bound to the workspace and the trigger, and never
returned after creation (or rotation, for the token). Rotation moves the record to the new token's
hash in one transaction, so the old token stops at once.

A call: the token's shape and checksum, the record, its workspace live (a deleted workspace's
tokens are unknown; its triggers are many, so this is checked at use, from a 2-second cache,
rather than by the deletion), 30 calls a minute per source address (an IPv6 address counts as
its /64) and trigger, the workspace's `webhook` budget of its plan (read from the same cache, so
a plan change applies within 2 seconds; `railguard.access.ratelimit`), the active flag, then
(with a secret) `X-Webhook-Timestamp` within 300 seconds and
`X-Webhook-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + raw body)>`, compared in
constant time; a signed call is accepted once (its signature is remembered for the
window). The event goes to the stack's EventBridge bus.
"""

from __future__ import annotations

import hashlib
import hmac
from contextlib import suppress
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

from railguard.access.idempotency import IdempotencyKey, RepeatRaced, ShownOnce
from railguard.access.network import budget_subject
from railguard.access.plans import RateLimit, plan_terms
from railguard.access.ratelimit import RateLimiter
from railguard.audit.trail import AppendRefused, AuditTrail
from railguard.core.clock import Clock
from railguard.core.errors import (
    Conflict,
    Forbidden,
    InvalidSignature,
    NotFound,
    ServiceUnavailable,
    Unauthenticated,
)
from railguard.core.events import EventBus
from railguard.crypto import opaque_tokens
from railguard.crypto.envelope import Envelope, SecretOwner
from railguard.crypto.server_keys import KeyedHash
from railguard.kinds import AUDIT_EVENT, WEBHOOK_TRIGGER
from railguard.store import Table
from railguard.store.resources import project
from railguard.webhooks.repository import SealedFor, TriggerRecord, TriggerRepository
from railguard.workspaces import Listing, ResourceScope, still_live
from railguard.workspaces.repository import LiveWorkspaces, WorkspaceRecord

TOKEN_PREFIX = "wht_"  # noqa: S105 - a prefix, not a secret
SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
TOKEN_LOOKUP_KEY_NAME = "webhook-token-lookup"  # noqa: S105 - a key's name
# The KMS encryption context's purpose of a trigger's sealed token and signing secret.
TOKEN_PURPOSE = "webhook-token"  # noqa: S105 - a purpose's name
SECRET_PURPOSE = "webhook-secret"  # noqa: S105 - a purpose's name
SIGNATURE_WINDOW_SECONDS = 300
CALLS_PER_SOURCE = RateLimit(requests=30, window_seconds=60)
EVENT_SOURCE = "railguard.webhooks"
EVENT_DETAIL_TYPE = "webhook.triggered"


def _token_owner(workspace_id: str, trigger_id: str) -> SecretOwner:
    return SecretOwner(TOKEN_PURPOSE, workspace_id, trigger_id)


def _secret_owner(workspace_id: str, trigger_id: str) -> SecretOwner:
    return SecretOwner(SECRET_PURPOSE, workspace_id, trigger_id)


def _sealed_for(workspace_id: str, trigger_id: str) -> SealedFor:
    return SealedFor(
        _token_owner(workspace_id, trigger_id), _secret_owner(workspace_id, trigger_id)
    )


def signature(secret: str, timestamp: str, raw_body: bytes) -> str:
    """The `X-Webhook-Signature` value a sender computes (and this service checks)."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + raw_body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


class TokenLookup(KeyedHash):
    """The keyed hash that finds a trigger from its token: HMAC-SHA256 under a server key, so a
    copy of the table alone cannot confirm a guessed token."""

    def for_new_token(self, token: str) -> str:
        return self.of(token)

    def for_presented_token(self, token: str) -> str | None:
        """None when no trigger was ever made (there is no key yet, so no token can match)."""
        return self.of_existing(token)


@dataclass(frozen=True)
class TriggerView:
    id: str
    name: str
    agent_id: str
    token_prefix: str
    is_active: bool
    has_secret: bool
    created_at: int
    updated_at: int
    last_used_at: int | None


@dataclass(frozen=True)
class IssuedTrigger:
    """A trigger as created: with its token and secret, shown this once."""

    view: TriggerView
    token: str
    secret: str | None

    def __repr__(self) -> str:  # never let a token reach a log through repr()
        return f"IssuedTrigger(id={self.view.id!r}, token=<redacted>)"


@dataclass(frozen=True)
class _NewToken:
    value: str = field(repr=False)
    lookup_digest: str  # its keyed hash, which finds the record
    sealed: bytes = field(repr=False)
    prefix: str  # what is shown of it


def _view(record: TriggerRecord) -> TriggerView:
    return project(TriggerView, record)


class WebhookTriggers:
    """Management, for a workspace's owners and admins and its keys with the write scope."""

    def __init__(
        self, table: Table, envelope: Envelope, clock: Clock, lookup: TokenLookup, audit: AuditTrail
    ):
        self._table = table
        self._triggers = TriggerRepository(table)
        self._envelope = envelope
        self._clock = clock
        self._lookup = lookup
        self._audit = audit

    def _record(self, scope: ResourceScope, trigger_id: str) -> TriggerRecord:
        """The trigger's record, or 404 (deleted, or another workspace's)."""
        record = self._triggers.find(scope.workspace_id, trigger_id)
        if record is None or record.workspace_id != scope.workspace_id or record.deleted:
            raise NotFound("No such webhook trigger.")
        return record

    # -- reads -----------------------------------------------------------------------------
    def list_for(
        self, scope: ResourceScope, *, limit: int, cursor: str | None
    ) -> Listing[TriggerView]:
        page = self._triggers.list_page(scope.workspace_id, limit=limit, cursor=cursor)
        views = [_view(record) for record in page.items if not record.deleted]
        return Listing(views, page.next_cursor)

    def get(self, scope: ResourceScope, trigger_id: str) -> TriggerView:
        return _view(self._record(scope, trigger_id))

    # -- writes ----------------------------------------------------------------------------
    def _new_token(self, scope: ResourceScope, trigger_id: str) -> _NewToken:
        token = opaque_tokens.new_token(TOKEN_PREFIX)
        return _NewToken(
            token,
            self._lookup.for_new_token(token),
            self._envelope.encrypt(token.encode(), _token_owner(scope.workspace_id, trigger_id)),
            opaque_tokens.display_prefix(token, TOKEN_PREFIX),
        )

    def create(
        self,
        scope: ResourceScope,
        *,
        name: str,
        agent_id: str,
        generate_secret: bool,
        is_active: bool,
        idempotency: IdempotencyKey | None = None,
    ) -> IssuedTrigger:
        now = int(self._clock.now())
        once = ShownOnce(idempotency, self._table, scope.workspace_id, now, created="trigger")
        once.refuse_repeat()
        trigger_id = WEBHOOK_TRIGGER.new_id()
        token = self._new_token(scope, trigger_id)
        secret = opaque_tokens.new_token(SECRET_PREFIX) if generate_secret else None
        record = TriggerRecord(
            id=trigger_id,
            workspace_id=scope.workspace_id,
            name=name,
            agent_id=agent_id,
            is_active=is_active,
            deleted=False,
            lookup_digest=token.lookup_digest,
            token=token.sealed,
            token_prefix=token.prefix,
            created_at=now,
            created_by=scope.actor,
            updated_at=now,
            secret=(
                self._envelope.encrypt(
                    secret.encode(), _secret_owner(scope.workspace_id, trigger_id)
                )
                if secret is not None
                else None
            ),
        )
        writes = [
            still_live(scope.workspace_id),
            *self._triggers.creation(record, _sealed_for(scope.workspace_id, trigger_id)),
        ]
        event = scope.event("webhook_trigger.created", trigger_id)
        try:
            once.commit(partial(self._audit.append, event), writes, trigger_id)
        except (AppendRefused, RepeatRaced):
            raise Conflict("The workspace changed at the same time; retry.") from None
        return IssuedTrigger(_view(record), token.value, secret)

    def update(
        self, scope: ResourceScope, trigger_id: str, *, name: str | None, is_active: bool | None
    ) -> TriggerView:
        record = self._record(scope, trigger_id)
        if name is None and is_active is None:
            return _view(record)
        changed = replace(
            record,
            name=record.name if name is None else name,
            is_active=record.is_active if is_active is None else is_active,
            updated_at=int(self._clock.now()),
        )
        try:
            self._audit.append(
                scope.event("webhook_trigger.updated", trigger_id),
                [self._triggers.change(record, changed)],
            )
        except AppendRefused:
            raise NotFound("No such webhook trigger.") from None
        return _view(changed)

    def delete(self, scope: ResourceScope, trigger_id: str) -> None:
        """Soft: the token stops at once; the record is kept, for audit."""
        record = self._record(scope, trigger_id)
        deletion = self._triggers.deletion(record, now=int(self._clock.now()), by=scope.actor)
        try:
            self._audit.append_protecting(
                scope.event("webhook_trigger.deleted", trigger_id), [deletion]
            )
        except AppendRefused:
            raise NotFound("No such webhook trigger.") from None

    def rotate_token(self, scope: ResourceScope, trigger_id: str) -> str:
        """A new token; the old one stops at once (its record moves to the new token's hash)."""
        record = self._record(scope, trigger_id)
        token = self._new_token(scope, trigger_id)
        moved = replace(
            record,
            lookup_digest=token.lookup_digest,
            token=token.sealed,
            token_prefix=token.prefix,
            updated_at=int(self._clock.now()),
        )
        writes = self._triggers.token_move(
            record, moved, _sealed_for(scope.workspace_id, trigger_id)
        )
        try:
            self._audit.append(scope.event("webhook_trigger.token_rotated", trigger_id), writes)
        except AppendRefused:
            raise Conflict("The trigger changed at the same time; retry.") from None
        return token.value


@dataclass(frozen=True)
class TriggerCall:
    """What a trigger call brings: the token, the TCP peer, the signature headers, the body."""

    token: str
    source_ip: str
    timestamp: str | None
    signature: str | None
    raw_body: bytes
    payload: Any

    def __repr__(self) -> str:  # never let a token reach a log through repr()
        return f"TriggerCall(source_ip={self.source_ip!r})"


class TriggerIngress:
    """The public `POST /webhook/trigger`: checks a call and publishes its event."""

    def __init__(
        self,
        table: Table,
        envelope: Envelope,
        clock: Clock,
        lookup: TokenLookup,
        bus: EventBus,
    ):
        self._triggers = TriggerRepository(table)
        self._envelope = envelope
        self._clock = clock
        self._lookup = lookup
        self._bus = bus
        self._rate_limiter = RateLimiter(table, clock)
        self._workspaces = LiveWorkspaces(table, clock)

    def accept(self, call: TriggerCall) -> str:
        """The id of the event published for the call, or a typed refusal."""
        record, workspace = self._find(call.token)
        trigger_id, workspace_id = record.id, record.workspace_id
        source = budget_subject(call.source_ip)
        quota = self._rate_limiter.take(f"webhook:{trigger_id}:{source}", CALLS_PER_SOURCE)
        if not quota.allowed:
            raise quota.refusal("Too many calls of this trigger; retry later.")
        if not record.is_active:
            raise Forbidden("The webhook trigger is inactive.")
        delivery = None
        if record.secret is not None:
            secret = self._envelope.decrypt(record.secret, _secret_owner(workspace_id, trigger_id))
            delivery = self._signed(secret.decode(), call)
        # Then the workspace's webhook budget, shared by all its triggers: only a call that would
        # be delivered spends it, so a token alone (unsigned or badly signed calls, or calls of
        # an inactive trigger) cannot spend the budget of the workspace's signed triggers.
        quota = self._rate_limiter.take_in_workspace(
            workspace_id, "webhook", plan_terms(workspace.plan)
        )
        if not quota.allowed:
            raise quota.refusal("The workspace's webhook calls are spent; retry later.", "webhook")
        # Remembered once counted: a call refused by the budget may be sent again as it was.
        if delivery is not None:
            self._remember(trigger_id, *delivery)
        event_id = AUDIT_EVENT.new_id()
        self._bus.publish(
            EVENT_SOURCE,
            EVENT_DETAIL_TYPE,
            {
                "event_id": event_id,
                "trigger_id": trigger_id,
                "agent_id": record.agent_id,
                "workspace_id": workspace_id,
                "payload": call.payload,
            },
        )
        # Bookkeeping after the event, never a reason to refuse it.
        with suppress(ServiceUnavailable):
            self._triggers.note_use(record, int(self._clock.now()))
        return event_id

    def _find(self, token: str) -> tuple[TriggerRecord, WorkspaceRecord]:
        """The token's trigger, and its live workspace (its plan read at most 2 s ago)."""
        if not opaque_tokens.is_well_formed(token, TOKEN_PREFIX):
            raise Unauthenticated("The trigger token is malformed.")
        digest = self._lookup.for_presented_token(token)
        record = self._triggers.by_lookup_digest(digest) if digest else None
        workspace = self._workspaces.find(record.workspace_id) if record is not None else None
        if record is None or record.deleted or workspace is None:
            raise Unauthenticated("Unknown webhook trigger token.")
        return record, workspace

    def _signed(self, secret: str, call: TriggerCall) -> tuple[str, int]:
        """The checked signature and timestamp of a signed call, or `InvalidSignature`."""
        timestamp, presented = call.timestamp, call.signature
        if timestamp is None or presented is None or not timestamp.isascii():
            raise InvalidSignature("X-Webhook-Timestamp and X-Webhook-Signature are required.")
        if not timestamp.isdigit() or len(timestamp) > 12:
            raise InvalidSignature("X-Webhook-Timestamp must be Unix seconds.")
        now = int(self._clock.now())
        if abs(now - int(timestamp)) > SIGNATURE_WINDOW_SECONDS:
            raise InvalidSignature("The webhook timestamp is outside the 300-second window.")
        expected = signature(secret, timestamp, call.raw_body)
        if not hmac.compare_digest(expected.encode(), presented.strip().lower().encode()):
            raise InvalidSignature
        return expected, int(timestamp)

    def _remember(self, trigger_id: str, expected: str, timestamp: int) -> None:
        """The same signed request again within the window is a replay: remembered until the
        timestamp can no longer pass the window check."""
        if not self._triggers.remember_delivery(
            trigger_id,
            hashlib.sha256(expected.encode()).hexdigest(),
            until=timestamp + 2 * SIGNATURE_WINDOW_SECONDS,
        ):
            raise InvalidSignature("This signed request was already received.")
