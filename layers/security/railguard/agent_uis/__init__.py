"""Agent UI deployments (contract section 9): an agent's chat page, optionally behind a PIN.

Items (docs/data-model.md, `railguard.agent_uis.repository`): the record in the workspace's
partition (name, agent, the PIN's peppered argon2id hash when there is one, `pin_version`, status,
times), and the lookup by deployment id that names the workspace, because the public routes arrive
with the deployment id alone. Both are written in one transaction with a check that the workspace
is alive. Deletion is soft (`status = deleted`); the public routes treat a deleted deployment, or
one of a deleted workspace, as unknown (404 or 401).

Unlocking. A PIN has 4 to 8 digits: at most 10^8 candidates, and 10^4 for the shortest, so a
hash alone would fall to an offline search. The hash is therefore of the PIN's HMAC-SHA256 under
a server key (`railguard.crypto.server_keys`, sealed by KMS): a copy of the table alone leaves
nothing to search. Online, the budgets are what count: every
attempt is counted before the PIN is checked, against two fixed windows: 5 per 15 minutes per
(deployment, source address; an IPv6 address counts as its /64) and 50 per hour per deployment
from all addresses together (an attacker with many addresses still gets 50 guesses an hour, not
50 per address). At either limit the attempt is refused (429 with `Retry-After`) unchecked, even
with the right PIN; a right PIN gives its counts back. Each wrong PIN is an
`agent_ui.unlock_failed` audit event (ids and the address, never the PIN). A deployment without
a PIN unlocks without one, but every unlock writes a session, so those are limited too: 60 per
15 minutes per (deployment, address), enough for an office behind one address (a visitor
unlocks about once per 15-minute session). Past those, every unlock and every session check
counts against its workspace's `auth` budget (its plan's, shared by all its deployments; the
plan read with the deployment, so a change applies at once): a refusal there gives a reserved
PIN attempt back, as it was never checked.

The unlock token (`rgu_` + 190 random bits + checksum, `railguard.crypto.opaque_tokens`) is opaque,
not a JWT, so the authorizer refuses it on every other route; it is stored only as the digest that
keys its session item. A session names its deployment (its audience: a token of another
deployment is 401) and the `pin_version` it was issued under. Every PIN change or removal writes
a fresh `pin_version`, so the sessions of the old PIN end at once without finding and deleting
them; a deleted deployment ends them by its status.
"""

from __future__ import annotations

import enum
import hmac
import secrets
from dataclasses import dataclass, field
from typing import Final, Literal

from railguard.access.network import budget_subject
from railguard.access.plans import RateLimit, plan_terms
from railguard.access.ratelimit import RateLimiter
from railguard.access.throttle import FailureThrottle, Subject, ThrottleRule
from railguard.agent_uis.repository import AgentUiRecord, AgentUiRepository, UnlockSession
from railguard.audit.trail import Actor, AppendRefused, AuditEvent, AuditTrail
from railguard.core.clock import Clock
from railguard.core.errors import (
    Conflict,
    NotFound,
    RateLimited,
    Unauthenticated,
    ValidationFailed,
    WrongPin,
)
from railguard.crypto import opaque_tokens, passwords
from railguard.crypto.server_keys import KeyedHash
from railguard.kinds import AGENT_UI
from railguard.store import Table
from railguard.store.resources import project
from railguard.workspaces import Listing, ResourceScope, still_live

UNLOCK_TOKEN_PREFIX: Final = "rgu_"  # noqa: S105 - a prefix, not a secret
SESSION_SECONDS: Final = 900
PIN_MIN_DIGITS: Final = 4
PIN_MAX_DIGITS: Final = 8

UNLOCK_FAILURES_PER_ADDRESS = ThrottleRule("agent-ui-ip", limit=5, window_seconds=900)
UNLOCK_FAILURES_PER_DEPLOYMENT = ThrottleRule("agent-ui-all", limit=50, window_seconds=3600)
UNLOCKS_WITHOUT_PIN_PER_ADDRESS = RateLimit(requests=60, window_seconds=900)
# The checks of one session: the page holding it asks far less often.
SESSION_CHECKS_PER_SESSION = RateLimit(requests=60, window_seconds=60)
PIN_PEPPER_KEY_NAME: Final = "agent-ui-pin-pepper"

_ASCII_DIGITS = frozenset("0123456789")


class _Keep(enum.Enum):
    KEEP = "keep"


KEEP: Final = _Keep.KEEP
"""`update(pin=KEEP)`: leave the PIN as it is (`pin=None` removes it)."""

PinChange = str | None | Literal[_Keep.KEEP]


def is_pin(value: str) -> bool:
    """4 to 8 ASCII digits (`str.isdigit` would also take other scripts' digits)."""
    return PIN_MIN_DIGITS <= len(value) <= PIN_MAX_DIGITS and _ASCII_DIGITS.issuperset(value)


def check_pin(value: str) -> None:
    """Before any hashing: a PIN of the wrong shape is a 400 (the route model says so first)."""
    if not is_pin(value):
        raise ValidationFailed(
            f"A PIN has {PIN_MIN_DIGITS} to {PIN_MAX_DIGITS} digits.",
            details={"field": "pin", "reason": "format"},
        )


@dataclass(frozen=True)
class AgentUiView:
    """What management routes show: whether there is a PIN, never the PIN or its hash."""

    id: str
    name: str
    agent_id: str
    pin_protected: bool
    created_at: int
    updated_at: int


@dataclass(frozen=True)
class SessionView:
    """What an unlocked page may know about its deployment."""

    id: str
    name: str
    agent_id: str


@dataclass(frozen=True)
class UnlockGrant:
    access_token: str = field(repr=False)  # never let a token reach a log through repr()
    expires_in: int


def _view(record: AgentUiRecord) -> AgentUiView:
    return project(AgentUiView, record)


def _new_pin_version() -> str:
    return secrets.token_hex(8)


class AgentUis:
    def __init__(self, table: Table, clock: Clock, audit: AuditTrail, *, pin_pepper: KeyedHash):
        self._agent_uis = AgentUiRepository(table)
        self._clock = clock
        self._audit = audit
        self._pin_pepper = pin_pepper
        self._throttle = FailureThrottle(table, clock)
        self._rate_limiter = RateLimiter(table, clock)

    def _now(self) -> int:
        return int(self._clock.now())

    def _hashed_pin(self, pin: str) -> str:
        """A PIN as the record keeps it: argon2id of its HMAC under the pepper key."""
        return passwords.hash_secret(self._pin_pepper.of(pin))

    # -- management (X-Workspace-ID; the permission table has admitted the principal) ---------
    def list_for(
        self, scope: ResourceScope, *, limit: int, cursor: str | None
    ) -> Listing[AgentUiView]:
        page = self._agent_uis.list_page(scope.workspace_id, limit=limit, cursor=cursor)
        return Listing([_view(record) for record in page.items], page.next_cursor)

    def get(self, scope: ResourceScope, agent_ui_id: str) -> AgentUiView:
        return _view(self._active_record(scope, agent_ui_id))

    def _active_record(self, scope: ResourceScope, agent_ui_id: str) -> AgentUiRecord:
        record = (
            self._agent_uis.get(scope.workspace_id, agent_ui_id)
            if AGENT_UI.is_id(agent_ui_id)
            else None
        )
        if record is None:
            raise NotFound("No such agent UI.")
        return record

    def create(
        self, scope: ResourceScope, *, name: str, agent_id: str, pin: str | None
    ) -> AgentUiView:
        if pin is not None:
            check_pin(pin)
        now = self._now()
        agent_ui_id = AGENT_UI.new_id()
        record = AgentUiRecord(
            id=agent_ui_id,
            workspace_id=scope.workspace_id,
            name=name,
            agent_id=agent_id,
            pin_version=_new_pin_version(),
            created_at=now,
            updated_at=now,
            pin_hash=self._hashed_pin(pin) if pin is not None else None,
        )
        writes = [
            still_live(scope.workspace_id),
            *self._agent_uis.creation(record, created_by=scope.actor),
        ]
        try:
            self._audit.append(scope.event("agent_ui.created", agent_ui_id), writes)
        except AppendRefused:
            raise Conflict("The deployment could not be created; retry.") from None
        return _view(record)

    def update(
        self,
        scope: ResourceScope,
        agent_ui_id: str,
        *,
        name: str | None = None,
        pin: PinChange = KEEP,
    ) -> AgentUiView:
        """Rename, set or change the PIN (`pin="1234"`), or remove it (`pin=None`). Any change of
        PIN, removal included, gives a new `pin_version`: the old sessions end."""
        if not AGENT_UI.is_id(agent_ui_id):
            raise NotFound("No such agent UI.")
        if isinstance(pin, str):
            check_pin(pin)
        if name is None and pin is KEEP:
            return self.get(scope, agent_ui_id)
        change = self._agent_uis.change(
            scope.workspace_id,
            agent_ui_id,
            now=self._now(),
            name=name,
            pin_version=None if pin is KEEP else _new_pin_version(),
            pin_hash=self._hashed_pin(pin) if isinstance(pin, str) else None,
        )
        try:
            self._audit.append(scope.event("agent_ui.updated", agent_ui_id), [change])
        except AppendRefused:
            raise NotFound("No such agent UI.") from None
        return self.get(scope, agent_ui_id)

    def delete(self, scope: ResourceScope, agent_ui_id: str) -> None:
        """Soft delete: gone from reads, and its unlocks and sessions stop at once."""
        if not AGENT_UI.is_id(agent_ui_id):
            raise NotFound("No such agent UI.")
        deletion = self._agent_uis.deletion(
            scope.workspace_id, agent_ui_id, now=self._now(), by=scope.actor
        )
        try:
            self._audit.append_protecting(scope.event("agent_ui.deleted", agent_ui_id), [deletion])
        except AppendRefused:
            raise NotFound("No such agent UI.") from None

    # -- the public side: unlock, and the unlocked session ---------------------------------------
    def unlock(self, agent_ui_id: str, pin: str | None, *, source_ip: str) -> UnlockGrant:
        """A session token for the deployment, given its PIN (none for a deployment without).

        Unknown or deleted: `NotFound`. Over a failure budget: `RateLimited`, the PIN unchecked
        (without a PIN: over the address's unlocks, `RateLimited`).
        Wrong or missing PIN: `WrongPin`, counted and audited.
        """
        workspace_id = (
            self._agent_uis.workspace_of(agent_ui_id) if AGENT_UI.is_id(agent_ui_id) else None
        )
        live = self._agent_uis.get_live(workspace_id, agent_ui_id) if workspace_id else None
        if live is None:
            raise NotFound("No such agent UI.")
        record, plan = live
        address = budget_subject(source_ip)
        if record.pin_hash is None:
            self._count_unlock_without_pin(agent_ui_id, address)
            self._count_in_workspace(record.workspace_id, plan)
        else:
            budgets: list[Subject] = [
                (UNLOCK_FAILURES_PER_ADDRESS, f"{agent_ui_id}#{address}"),
                (UNLOCK_FAILURES_PER_DEPLOYMENT, agent_ui_id),
            ]
            reservation = self._throttle.reserve(budgets)
            try:
                self._count_in_workspace(record.workspace_id, plan)
            except RateLimited:
                self._throttle.release(reservation)  # refused unchecked: not a failure
                raise
            # A PIN of the wrong shape cannot be right: never hashed, still counted.
            if pin is None or not is_pin(pin) or not self._pin_matches(record.pin_hash, pin):
                self._audit.record(
                    AuditEvent(
                        "agent_ui.unlock_failed",
                        Actor("anonymous", source_ip),
                        agent_ui_id,
                        workspace_id=record.workspace_id,
                        details={"source_ip": source_ip},
                    )
                )
                raise WrongPin  # the reserved attempts stay counted as failures
            self._throttle.release(reservation)
        return self._open_session(record)

    def _count_unlock_without_pin(self, agent_ui_id: str, address: str) -> None:
        quota = self._rate_limiter.take(
            f"agent-ui:{agent_ui_id}:{address}", UNLOCKS_WITHOUT_PIN_PER_ADDRESS
        )
        if not quota.allowed:
            raise quota.refusal("Too many unlocks; retry later.")

    def _count_in_workspace(self, workspace_id: str, plan: str) -> None:
        """Count the request against its workspace's `auth` budget, shared by its deployments
        (after the per-address budgets, so that one address spends its own first)."""
        quota = self._rate_limiter.take_in_workspace(workspace_id, "auth", plan_terms(plan))
        if not quota.allowed:
            raise quota.refusal("The workspace's unlocks are spent; retry later.", "auth")

    def _pin_matches(self, pin_hash: str, pin: str) -> bool:
        return passwords.verify_secret(pin_hash, self._pin_pepper.of(pin))

    def _open_session(self, record: AgentUiRecord) -> UnlockGrant:
        token = opaque_tokens.new_token(UNLOCK_TOKEN_PREFIX)
        self._agent_uis.open_session(
            opaque_tokens.digest(token),
            UnlockSession(
                record.id, record.workspace_id, record.pin_version, self._now() + SESSION_SECONDS
            ),
        )
        return UnlockGrant(token, SESSION_SECONDS)

    def session(self, agent_ui_id: str, token: str) -> SessionView:
        """The deployment an unlock token opens, if it is this one and the session still holds:
        unexpired, the deployment and workspace active, the PIN unchanged. Else
        `Unauthenticated`, the same for every reason."""
        if not opaque_tokens.is_well_formed(token, UNLOCK_TOKEN_PREFIX):
            raise Unauthenticated  # an access token or API key among them: no read at all
        digest = opaque_tokens.digest(token)
        session = self._agent_uis.session(digest)
        if (
            session is None
            or session.expires_at <= self._now()
            or session.agent_ui_id != agent_ui_id  # the token's audience is one deployment
        ):
            raise Unauthenticated
        live = self._agent_uis.get_live(session.workspace_id, agent_ui_id)
        if live is None or not hmac.compare_digest(live[0].pin_version, session.pin_version):
            raise Unauthenticated
        record, _ = live
        # Counted per session (its item is found by the same digest), in no workspace budget:
        # anyone may unlock a deployment without a PIN, and a session holder must spend neither
        # the `auth` budget (a flood of unlocks would then close the sessions open) nor the
        # `read` budget the workspace's keys and members read with.
        quota = self._rate_limiter.take(f"agent-ui-session:{digest}", SESSION_CHECKS_PER_SESSION)
        if not quota.allowed:
            raise quota.refusal("Too many checks of this session; retry later.")
        return SessionView(id=record.id, name=record.name, agent_id=record.agent_id)
