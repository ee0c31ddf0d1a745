"""Agent UI deployments (contract section 9): an agent's chat page, optionally behind a PIN.

Items (docs/data-model.md): the record `WS#<workspace_id> / AGENTUI#<id>` (name, agent, the PIN's
peppered argon2id hash when there is one, `pin_version`, status, times), and the lookup
`AGENTUI#<id> / LOOKUP` that names the workspace, because the public routes arrive with the
deployment id alone. Both are written in one transaction with a check that the workspace is
alive. Deletion is soft (`status = deleted`); the public routes treat a deleted deployment, or
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
unlocks about once per 15-minute session).

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
from dataclasses import dataclass
from typing import Any, Final, Literal

from railguard.access.network import budget_subject
from railguard.access.plans import RateLimit
from railguard.access.ratelimit import RateLimiter
from railguard.access.throttle import FailureThrottle, Subject, ThrottleRule
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
from railguard.core.ids import is_id, new_id
from railguard.crypto import opaque_tokens, passwords
from railguard.crypto.server_keys import KeyedHash
from railguard.store import Item, Table, TransactItem
from railguard.store import keys as item_keys
from railguard.store.deletion import soft_deletion
from railguard.workspaces import Listing, ResourceScope, is_live, still_live

UNLOCK_TOKEN_PREFIX: Final = "rgu_"  # noqa: S105 - a prefix, not a secret
SESSION_SECONDS: Final = 900
PIN_MIN_DIGITS: Final = 4
PIN_MAX_DIGITS: Final = 8
AGENT_UI_PREFIX: Final = "AGENTUI#"

UNLOCK_FAILURES_PER_ADDRESS = ThrottleRule("agent-ui-ip", limit=5, window_seconds=900)
UNLOCK_FAILURES_PER_DEPLOYMENT = ThrottleRule("agent-ui-all", limit=50, window_seconds=3600)
UNLOCKS_WITHOUT_PIN_PER_ADDRESS = RateLimit(requests=60, window_seconds=900)
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
    access_token: str
    expires_in: int

    def __repr__(self) -> str:  # never let a token reach a log through repr()
        return f"UnlockGrant(expires_in={self.expires_in})"


def _view(item: Item) -> AgentUiView:
    return AgentUiView(
        id=item["id"],
        name=item["name"],
        agent_id=item["agent_id"],
        pin_protected="pin_hash" in item,
        created_at=item["created_at"],
        updated_at=item["updated_at"],
    )


def _is_active(item: Item | None) -> bool:
    return item is not None and item.get("status") == "active"


def _new_pin_version() -> str:
    return secrets.token_hex(8)


class AgentUis:
    def __init__(self, table: Table, clock: Clock, audit: AuditTrail, *, pin_pepper: KeyedHash):
        self._table = table
        self._clock = clock
        self._audit = audit
        self._pin_pepper = pin_pepper
        self._throttle = FailureThrottle(table, clock)
        self._rate_limiter = RateLimiter(table, clock)

    def _now(self) -> int:
        return int(self._clock.now())

    def _hashed_pin(self, pin: str) -> Item:
        """The record's attributes for a PIN: argon2id of its HMAC under the pepper key."""
        return {
            "pin_hash": passwords.hash_secret(self._pin_pepper.of(pin)),
        }

    # -- management (X-Workspace-ID; the permission table has admitted the principal) ---------
    def list_for(
        self, scope: ResourceScope, *, limit: int, cursor: str | None
    ) -> Listing[AgentUiView]:
        page = self._table.query(
            item_keys.workspace(scope.workspace_id)[0],
            sk_prefix=AGENT_UI_PREFIX,
            limit=limit,
            cursor=cursor,
            newest_first=True,  # ids are ULIDs: the sort key orders by creation
            keep=_is_active,
        )
        return Listing([_view(item) for item in page.items], page.next_cursor)

    def get(self, scope: ResourceScope, agent_ui_id: str) -> AgentUiView:
        return _view(self._active_item(scope, agent_ui_id))

    def _active_item(self, scope: ResourceScope, agent_ui_id: str) -> Item:
        if not is_id(agent_ui_id, "aui"):
            raise NotFound("No such agent UI.")
        item = self._table.get(item_keys.agent_ui(scope.workspace_id, agent_ui_id))
        if item is None or item.get("status") != "active":
            raise NotFound("No such agent UI.")
        return item

    def create(
        self, scope: ResourceScope, *, name: str, agent_id: str, pin: str | None
    ) -> AgentUiView:
        if pin is not None:
            check_pin(pin)
        now = self._now()
        agent_ui_id = new_id("aui")
        pk, sk = item_keys.agent_ui(scope.workspace_id, agent_ui_id)
        item: Item = {
            "pk": pk,
            "sk": sk,
            "id": agent_ui_id,
            "workspace_id": scope.workspace_id,
            "name": name,
            "agent_id": agent_id,
            "pin_version": _new_pin_version(),
            "status": "active",
            "created_at": now,
            "created_by": scope.actor,
            "updated_at": now,
        }
        if pin is not None:
            item |= self._hashed_pin(pin)
        lookup_pk, lookup_sk = item_keys.agent_ui_lookup(agent_ui_id)
        writes = [
            still_live(scope.workspace_id),
            TransactItem.put(item, condition="attribute_not_exists(pk)"),
            TransactItem.put(
                {"pk": lookup_pk, "sk": lookup_sk, "workspace_id": scope.workspace_id},
                condition="attribute_not_exists(pk)",
            ),
        ]
        try:
            self._audit.append(scope.event("agent_ui.created", agent_ui_id), writes)
        except AppendRefused:
            raise Conflict("The deployment could not be created; retry.") from None
        return _view(item)

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
        if not is_id(agent_ui_id, "aui"):
            raise NotFound("No such agent UI.")
        if isinstance(pin, str):
            check_pin(pin)
        sets: dict[str, Any] = {}
        removes: list[str] = []
        if name is not None:
            sets["name"] = name
        if pin is not KEEP:
            sets["pin_version"] = _new_pin_version()
            if pin is None:
                removes.append("pin_hash")
            else:
                sets |= self._hashed_pin(pin)
        if not sets:
            return self.get(scope, agent_ui_id)
        sets["updated_at"] = self._now()
        expression = "SET " + ", ".join(f"#{field} = :{field}" for field in sets)
        if removes:
            expression += " REMOVE " + ", ".join(f"#{field}" for field in removes)
        names = {f"#{field}": field for field in [*sets, *removes]}
        # Conditioned on the deployment being there and active: no write can resurrect a
        # deleted one or create a stray item for an unknown id.
        change = TransactItem.update_item(
            item_keys.agent_ui(scope.workspace_id, agent_ui_id),
            expression,
            condition="#status = :active",
            names={"#status": "status", **names},
            values={":active": "active", **{f":{field}": v for field, v in sets.items()}},
        )
        try:
            self._audit.append(scope.event("agent_ui.updated", agent_ui_id), [change])
        except AppendRefused:
            raise NotFound("No such agent UI.") from None
        return self.get(scope, agent_ui_id)

    def delete(self, scope: ResourceScope, agent_ui_id: str) -> None:
        """Soft delete: gone from reads, and its unlocks and sessions stop at once."""
        if not is_id(agent_ui_id, "aui"):
            raise NotFound("No such agent UI.")
        now = self._now()
        deletion = soft_deletion(
            item_keys.agent_ui(scope.workspace_id, agent_ui_id),
            agent_ui_id,
            now=now,
            by=scope.actor,
        )
        try:
            self._audit.append_protecting(scope.event("agent_ui.deleted", agent_ui_id), [deletion])
        except AppendRefused:
            raise NotFound("No such agent UI.") from None

    # -- the public side: unlock, and the unlocked session ---------------------------------------
    def _live_record(self, workspace_id: str, agent_ui_id: str) -> Item | None:
        """The deployment's record if it and its workspace are active (one BatchGetItem)."""
        workspace_key = item_keys.workspace(workspace_id)
        record_key = item_keys.agent_ui(workspace_id, agent_ui_id)
        found = self._table.get_many([workspace_key, record_key])
        record = found.get(record_key)
        if not is_live(found.get(workspace_key)) or not _is_active(record):
            return None
        return record

    def unlock(self, agent_ui_id: str, pin: str | None, *, source_ip: str) -> UnlockGrant:
        """A session token for the deployment, given its PIN (none for a deployment without).

        Unknown or deleted: `NotFound`. Over a failure budget: `RateLimited`, the PIN unchecked
        (without a PIN: over the address's unlocks, `RateLimited`).
        Wrong or missing PIN: `WrongPin`, counted and audited.
        """
        lookup = (
            self._table.get(item_keys.agent_ui_lookup(agent_ui_id))
            if is_id(agent_ui_id, "aui")
            else None
        )
        record = self._live_record(lookup["workspace_id"], agent_ui_id) if lookup else None
        if record is None:
            raise NotFound("No such agent UI.")
        address = budget_subject(source_ip)
        if "pin_hash" not in record:
            self._count_unlock_without_pin(agent_ui_id, address)
        else:
            budgets: list[Subject] = [
                (UNLOCK_FAILURES_PER_ADDRESS, f"{agent_ui_id}#{address}"),
                (UNLOCK_FAILURES_PER_DEPLOYMENT, agent_ui_id),
            ]
            reservation = self._throttle.reserve(budgets)
            # A PIN of the wrong shape cannot be right: never hashed, still counted.
            if pin is None or not is_pin(pin) or not self._pin_matches(record, pin):
                self._audit.record(
                    AuditEvent(
                        "agent_ui.unlock_failed",
                        Actor("anonymous", source_ip),
                        agent_ui_id,
                        workspace_id=record["workspace_id"],
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
            raise RateLimited(quota.reset_seconds, "Too many unlocks; retry later.")

    def _pin_matches(self, record: Item, pin: str) -> bool:
        return passwords.verify_secret(record["pin_hash"], self._pin_pepper.of(pin))

    def _open_session(self, record: Item) -> UnlockGrant:
        token = opaque_tokens.new_token(UNLOCK_TOKEN_PREFIX)
        expires_at = self._now() + SESSION_SECONDS
        pk, sk = item_keys.agent_ui_session(opaque_tokens.digest(token))
        self._table.put(
            {
                "pk": pk,
                "sk": sk,
                "agent_ui_id": record["id"],
                "workspace_id": record["workspace_id"],
                "pin_version": record["pin_version"],
                "expires_at": expires_at,
                "ttl": expires_at,
                **item_keys.sweep_index(pk, expires_at),
            },
            condition="attribute_not_exists(pk)",
        )
        return UnlockGrant(token, SESSION_SECONDS)

    def session(self, agent_ui_id: str, token: str) -> SessionView:
        """The deployment an unlock token opens, if it is this one and the session still holds:
        unexpired, the deployment and workspace active, the PIN unchanged. Else
        `Unauthenticated`, the same for every reason."""
        if not opaque_tokens.is_well_formed(token, UNLOCK_TOKEN_PREFIX):
            raise Unauthenticated  # an access token or API key among them: no read at all
        session = self._table.get(item_keys.agent_ui_session(opaque_tokens.digest(token)))
        if (
            session is None
            or session["expires_at"] <= self._now()
            or session["agent_ui_id"] != agent_ui_id  # the token's audience is one deployment
        ):
            raise Unauthenticated
        record = self._live_record(session["workspace_id"], agent_ui_id)
        if record is None or not hmac.compare_digest(record["pin_version"], session["pin_version"]):
            raise Unauthenticated
        return SessionView(id=record["id"], name=record["name"], agent_id=record["agent_id"])
