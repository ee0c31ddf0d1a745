"""The rules of API keys: `railguard.api_keys`, loaded on first use."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from railguard.access.idempotency import IdempotencyKey, RepeatRaced, ShownOnce
from railguard.access.network import IpAllowlist, parse_origins
from railguard.access.plans import RateLimit, plan_limit, plan_terms
from railguard.access.policy import SCOPES
from railguard.api_keys.key_format import API_KEY_PREFIX, new_key
from railguard.api_keys.repository import (
    ApiKeyRepository,
    KeySettings,
    KeyStatus,
    StoredKey,
    freeing_slot,
    hands_over_slot,
)
from railguard.audit.trail import AppendRefused, AuditTrail
from railguard.core.clock import Clock
from railguard.core.errors import Conflict, NotFound, ValidationFailed
from railguard.crypto import opaque_tokens
from railguard.kinds import API_KEY
from railguard.store import Table, TransactItem
from railguard.workspaces import Listing, Workspaces, WorkspaceScope, still_live
from railguard.workspaces.repository import WorkspaceRepository

DEFAULT_GRACE_SECONDS = 86_400
MAX_GRACE_SECONDS = 604_800
# Revocations that met a concurrent change of the key (rotated, expired) read it again this often.
_REVOKE_ATTEMPTS = 3


class KeyLimitReached(Conflict, code="key_limit_reached"):
    """One more active key than the workspace's plan allows (contract section 11)."""

    default_message = "The workspace has as many active API keys as its plan allows."


class _NoSlot(Exception):
    """What the creation's slot take declares when it fails: the workspace is deleted, changed
    plan, or is at its plan's cap; `create` reads it again to say which."""


@dataclass(frozen=True)
class KeyView:
    id: str
    name: str
    key_prefix: str
    masked_key: str
    scopes: list[str]
    allowed_ips: list[str]
    allowed_origins: list[str]
    expires_at: int | None
    rate_limit: RateLimit | None
    status: KeyStatus
    created_at: int
    last_used_at: int | None
    last_used_ip: str | None
    last_used_user_agent: str | None


@dataclass(frozen=True)
class IssuedKey:
    """A new key: its view, and the raw key, which is shown this once and never stored."""

    view: KeyView
    key: str

    def __repr__(self) -> str:
        return f"IssuedKey(id={self.view.id!r}, key=<redacted>)"


def _status(key: StoredKey, now: float) -> KeyStatus:
    """The key's status now: an active key whose end has passed is expired before the expiry
    job marks it."""
    if key.status == "revoked":
        return "revoked"
    expires_at = key.settings.expires_at
    if key.status == "expired" or (expires_at is not None and now >= expires_at):
        return "expired"
    return "active"


def _view(key: StoredKey, now: float) -> KeyView:
    return KeyView(
        id=key.id,
        name=key.settings.name,
        key_prefix=key.key_prefix,
        masked_key=key.masked_key,
        scopes=list(key.settings.scopes),
        allowed_ips=list(key.settings.allowed_ips),
        allowed_origins=list(key.settings.allowed_origins),
        expires_at=key.settings.expires_at,
        rate_limit=key.settings.rate_limit,
        status=_status(key, now),
        created_at=key.created_at,
        last_used_at=key.last_used_at,
        last_used_ip=key.last_used_ip,
        last_used_user_agent=key.last_used_user_agent,
    )


def validate(settings: KeySettings, *, now: float, plan: str | None) -> KeySettings:
    """The settings in canonical form, or `ValidationFailed` (400) naming the field."""
    unknown = sorted(set(settings.scopes) - set(SCOPES))
    if unknown or not settings.scopes:
        raise ValidationFailed(
            "Scopes must be a non-empty list of the documented scopes.",
            details={"field": "scopes", "unknown": unknown},
        )
    if settings.expires_at is not None and settings.expires_at <= now:
        raise ValidationFailed("expires_at must be in the future.", details={"field": "expires_at"})
    # A key may narrow its workspace's plan, never widen it: neither a higher average rate nor,
    # through a longer window, a bigger burst than the plan's whole window allows.
    if settings.rate_limit is not None and not settings.rate_limit.within(plan_limit(plan)):
        raise ValidationFailed(
            "rate_limit may not allow more than the workspace's plan.",
            details={"field": "rate_limit", "plan_limit": plan_limit(plan).to_text()},
        )
    return KeySettings(
        name=settings.name,
        scopes=tuple(sorted(set(settings.scopes))),
        allowed_ips=IpAllowlist.parse(settings.allowed_ips).entries,
        allowed_origins=parse_origins(settings.allowed_origins),
        expires_at=settings.expires_at,
        rate_limit=settings.rate_limit,
    )


class ApiKeys:
    def __init__(self, table: Table, clock: Clock, audit: AuditTrail):
        self._table = table
        self._keys = ApiKeyRepository(table)
        self._workspaces = Workspaces(table, clock, audit)
        self._clock = clock
        self._audit = audit

    # -- reads -----------------------------------------------------------------------------
    def _workspace_plan(self, scope: WorkspaceScope) -> str:
        return self._workspaces.get(scope).plan  # NotFound once the workspace is deleted

    def _key(self, scope: WorkspaceScope, key_id: str) -> StoredKey:
        key = self._keys.by_id(scope.workspace_id, key_id)
        if key is None or key.workspace_id != scope.workspace_id:
            raise NotFound("No such API key.")
        return key

    def list_for(
        self, scope: WorkspaceScope, *, limit: int, cursor: str | None
    ) -> Listing[KeyView]:
        keys, next_cursor = self._keys.page(scope.workspace_id, limit=limit, cursor=cursor)
        now = self._clock.now()
        return Listing([_view(key, now) for key in keys], next_cursor)

    def get(self, scope: WorkspaceScope, key_id: str) -> KeyView:
        return _view(self._key(scope, key_id), self._clock.now())

    # -- writes ----------------------------------------------------------------------------
    def _new_key_writes(
        self,
        scope: WorkspaceScope,
        settings: KeySettings,
        now: int,
        *,
        workspace: TransactItem,
        taken: Callable[[], Exception] | None = None,
    ) -> tuple[IssuedKey, list[TransactItem]]:
        """The new key and its writes, after `workspace` (its condition on the workspace: live,
        and for a creation its slot taken); `taken`: what it means that its record or pointer
        exists already (an id or digest met twice)."""
        raw = new_key(scope.workspace_id)
        key, writes = ApiKeyRepository.issue(
            scope.workspace_id,
            API_KEY.new_id(),
            opaque_tokens.digest(raw),
            settings,
            key_prefix=opaque_tokens.display_prefix(raw, API_KEY_PREFIX),
            masked_key=opaque_tokens.masked(raw, API_KEY_PREFIX),
            created_by=scope.user_id,
            now=now,
            fails_as=taken,
        )
        return IssuedKey(_view(key, now), raw), [workspace, *writes]

    def create(
        self,
        scope: WorkspaceScope,
        settings: KeySettings,
        idempotency: IdempotencyKey | None = None,
    ) -> IssuedKey:
        """A new active key, in the same transaction as its slot of the plan's cap: with the
        workspace at the cap, 409 `key_limit_reached` (a repeat of an Idempotency-Key is refused
        before, and counts nothing)."""
        now = int(self._clock.now())
        once = ShownOnce(idempotency, self._table, scope.workspace_id, now, created="key")
        once.refuse_repeat()
        plan = self._workspace_plan(scope)
        settings = validate(settings, now=now, plan=plan)
        issued, writes = self._new_key_writes(
            scope, settings, now, workspace=self._slot(scope, plan)
        )
        event = scope.event(
            "api_key.created",
            issued.view.id,
            {"name": settings.name, "scopes": " ".join(settings.scopes)},
        )
        try:
            once.commit(partial(self._audit.append, event), writes, issued.view.id)
        except (AppendRefused, RepeatRaced):
            raise Conflict("The workspace changed at the same time; retry.") from None
        except _NoSlot:
            once.refuse_repeat()  # a concurrent repeat took the last slot: already applied
            raise self._why_no_slot(scope, plan) from None
        return issued

    def _slot(self, scope: WorkspaceScope, plan: str) -> TransactItem:
        """The condition of a new key on its workspace: one more slot of the plan's cap."""
        return WorkspaceRepository.take_key_slot(
            scope.workspace_id,
            max_active_keys=plan_terms(plan).max_active_keys,
            fails_as=_NoSlot,
        )

    def _why_no_slot(self, scope: WorkspaceScope, plan: str) -> Exception:
        """Why a creation's slot take failed, from the workspace as it is now: deleted (404,
        raised by the read), on another plan since (a conflict, to retry), else at its cap."""
        now_plan = self._workspace_plan(scope)
        if now_plan != plan:
            return Conflict("The workspace changed plan at the same time; retry.")
        terms = plan_terms(plan)
        return KeyLimitReached(
            f"The {plan} plan allows {terms.max_active_keys} active API keys; revoke one first.",
            details={"plan": plan, "max_active_keys": terms.max_active_keys},
        )

    def update(self, scope: WorkspaceScope, key_id: str, changes: Mapping[str, Any]) -> KeyView:
        """Apply the fields present in `changes` (a PATCH); a key that is revoked, expired or
        rotated is not changed, so a change can never bring a key back or extend a rotation."""
        key = self._key(scope, key_id)
        now = int(self._clock.now())
        self._require_changeable(key, now)
        merged = KeySettings(
            **{
                name: changes.get(name, getattr(key.settings, name))
                for name in KeySettings.__dataclass_fields__
            }
        )
        settings = validate(merged, now=now, plan=self._workspace_plan(scope))
        if not changes:  # an empty PATCH changes nothing, and records nothing
            return _view(key, now)
        updated, change = ApiKeyRepository.change_settings(
            key, settings, now=now, fails_as=_changed_meanwhile
        )
        event = scope.event(
            "api_key.updated",
            key.id,
            {"name": settings.name, "fields": " ".join(sorted(changes))},
        )
        self._audit.append(event, with_writes=[change])
        return _view(updated, now)

    @staticmethod
    def _require_changeable(key: StoredKey, now: int) -> None:
        if _status(key, now) != "active":
            raise Conflict(f"The key is {_status(key, now)}; it can no longer be changed.")
        if key.replaced_by:
            raise Conflict("The key has been rotated; only revoking it is still possible.")

    def rotate(self, scope: WorkspaceScope, key_id: str, grace_seconds: int) -> IssuedKey:
        """A new key with the same settings; the old one ends at `min(its end, now + grace)`,
        so a rotation never lengthens a key's life. The old key holds its slot while it can
        authenticate, so the new key takes a slot of its own under the cap (409
        `key_limit_reached` at the cap), unless the old one ends now and hands its slot over.
        The settings are copied as they are: a rate limit above a plan lowered since is
        clamped to the plan's by the authorizer."""
        key = self._key(scope, key_id)
        now = int(self._clock.now())
        self._require_changeable(key, now)
        old_end = key.settings.expires_at
        end = now + grace_seconds if old_end is None else min(old_end, now + grace_seconds)
        plan = self._workspace_plan(scope)
        handed_over = hands_over_slot(end, now)
        issued, writes = self._new_key_writes(
            scope,
            key.settings,
            now,
            workspace=still_live(scope.workspace_id) if handed_over else self._slot(scope, plan),
            taken=_changed_meanwhile,
        )
        writes.append(
            ApiKeyRepository.rotate_out(
                key, end=end, successor_id=issued.view.id, now=now, fails_as=_changed_meanwhile
            )
        )
        event = scope.event(
            "api_key.rotated", key.id, {"name": key.settings.name, "new_key_id": issued.view.id}
        )
        try:
            self._audit.append(event, with_writes=writes)
        except _NoSlot:
            raise self._why_no_slot(scope, plan) from None
        return issued

    def revoke(self, scope: WorkspaceScope, key_id: str) -> None:
        """Revoked for good, its slot freed if it held one; revoking again changes nothing. The
        key stays listed, for audit."""
        for _ in range(_REVOKE_ATTEMPTS):
            key = self._key(scope, key_id)
            if key.status == "revoked":
                return
            revocation = ApiKeyRepository.revoke(key, by=scope.user_id, now=int(self._clock.now()))
            event = scope.event("api_key.revoked", key.id, {"name": key.settings.name})
            try:
                freeing_slot(partial(self._audit.append_protecting, event), revocation)
            except AppendRefused:
                continue  # revoked, rotated or expired by a concurrent writer: judged again
            return
        raise Conflict("The key changed at the same time; retry.")


def _changed_meanwhile() -> Exception:
    return Conflict("The key changed at the same time, or was revoked or rotated.")
