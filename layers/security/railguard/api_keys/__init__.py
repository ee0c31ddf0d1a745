"""API keys (contract section 6): issued once, stored only as a digest, managed by a workspace's
owners and admins, and read by the authorizer on every keyed request.

Two items per key (docs/data-model.md). The key record, under `APIKEY#<digest>`, is the one copy
of the key's state: the authorizer finds it with one strongly consistent GetItem from the key the
client sent. A pointer under the workspace (`WS#<ws>` / `APIKEY#<id>`) holds the digest, so the
workspace's keys are listed and found by id with consistent reads, and a key id from another
workspace is simply not found there. Both are written in one transaction.

Every change a request makes to a key (created, changed, rotated, revoked) is one event in the
workspace's audit trail, naming the key by id and name, never the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, Literal

from railguard.access.idempotency import IdempotencyKey, RepeatRaced
from railguard.access.network import IpAllowlist, parse_origins
from railguard.access.plans import RateLimit, plan_limit
from railguard.access.policy import SCOPES
from railguard.access.usage import LAST_USED_RESOLUTION_SECONDS, note_last_use
from railguard.audit.trail import AppendRefused, AuditTrail
from railguard.core.clock import Clock
from railguard.core.errors import Conflict, NotFound, ValidationFailed
from railguard.core.ids import new_id
from railguard.crypto import opaque_tokens
from railguard.store import (
    Item,
    ItemKey,
    Table,
    TransactItem,
)
from railguard.store import keys as item_keys
from railguard.store.pointers import follow, follow_page
from railguard.workspaces import Listing, WorkspaceScope, is_live, still_live

API_KEY_PREFIX = "pr_live_"
POINTER_PREFIX = "APIKEY#"
DEFAULT_GRACE_SECONDS = 86_400
MAX_GRACE_SECONDS = 604_800

KeyStatus = Literal["active", "expired", "revoked"]

# The expiry job's index: every active key with an end, in the order of its end (gsi1).
EXPIRY_INDEX_PARTITION = "KEYEXPIRY"


def expiry_index(key_id: str, expires_at: int | None) -> Item:
    """The index attributes of an active key that ends at `expires_at` (none if it never ends)."""
    if expires_at is None:
        return {}
    return {"gsi1pk": EXPIRY_INDEX_PARTITION, "gsi1sk": f"{expires_at:012d}#{key_id}"}


@dataclass(frozen=True)
class KeyRecord:
    """The key as the authorizer uses it: parsed once per cache load, cheap to check."""

    id: str
    workspace_id: str
    scopes: frozenset[str]
    allowed_ips: IpAllowlist
    allowed_origins: frozenset[str]
    expires_at: int | None
    rate_limit: RateLimit | None
    revoked: bool
    last_used_at: int | None

    @classmethod
    def of(cls, item: Item) -> KeyRecord:
        return cls(
            id=item["id"],
            workspace_id=item["workspace_id"],
            scopes=frozenset(item["scopes"]),
            allowed_ips=IpAllowlist.parse(item["allowed_ips"]),
            allowed_origins=frozenset(item["allowed_origins"]),
            expires_at=item.get("expires_at"),
            rate_limit=_rate_limit(item.get("rate_limit")),
            revoked=item["status"] == "revoked",
            last_used_at=item.get("last_used_at"),
        )

    def usable_at(self, now: float) -> bool:
        """Not revoked and not past its end, against the clock now (never DynamoDB's TTL)."""
        return not self.revoked and (self.expires_at is None or now < self.expires_at)


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


@dataclass(frozen=True)
class IssuedKey:
    """A new key: its view, and the raw key, which is shown this once and never stored."""

    view: KeyView
    key: str

    def __repr__(self) -> str:
        return f"IssuedKey(id={self.view.id!r}, key=<redacted>)"


@dataclass(frozen=True)
class KeySettings:
    """What a key may do, validated: the create fields, or a PATCH's changes applied to them."""

    name: str
    scopes: tuple[str, ...]
    allowed_ips: tuple[str, ...]
    allowed_origins: tuple[str, ...]
    expires_at: int | None
    rate_limit: RateLimit | None


def _record_key(pointer: Item) -> ItemKey:
    return item_keys.api_key(pointer["key_digest"])


def _rate_limit(stored: Mapping[str, int] | None) -> RateLimit | None:
    return RateLimit(stored["requests"], stored["window_seconds"]) if stored else None


def _status(item: Item, now: float) -> KeyStatus:
    if item["status"] == "revoked":
        return "revoked"
    expires_at = item.get("expires_at")
    if item["status"] == "expired" or (expires_at is not None and now >= expires_at):
        return "expired"
    return "active"


def _view(item: Item, now: float) -> KeyView:
    return KeyView(
        id=item["id"],
        name=item["name"],
        key_prefix=item["key_prefix"],
        masked_key=item["masked_key"],
        scopes=list(item["scopes"]),
        allowed_ips=list(item["allowed_ips"]),
        allowed_origins=list(item["allowed_origins"]),
        expires_at=item.get("expires_at"),
        rate_limit=_rate_limit(item.get("rate_limit")),
        status=_status(item, now),
        created_at=item["created_at"],
        last_used_at=item.get("last_used_at"),
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


def _settings_attributes(settings: KeySettings) -> Item:
    return {
        "name": settings.name,
        "scopes": list(settings.scopes),
        "allowed_ips": list(settings.allowed_ips),
        "allowed_origins": list(settings.allowed_origins),
        "expires_at": settings.expires_at,
        "rate_limit": (
            {
                "requests": settings.rate_limit.requests,
                "window_seconds": settings.rate_limit.window_seconds,
            }
            if settings.rate_limit
            else None
        ),
    }


def _settings_of(item: Item) -> KeySettings:
    return KeySettings(
        name=item["name"],
        scopes=tuple(item["scopes"]),
        allowed_ips=tuple(item["allowed_ips"]),
        allowed_origins=tuple(item["allowed_origins"]),
        expires_at=item.get("expires_at"),
        rate_limit=_rate_limit(item.get("rate_limit")),
    )


class ApiKeys:
    def __init__(self, table: Table, clock: Clock, audit: AuditTrail):
        self._table = table
        self._clock = clock
        self._audit = audit

    # -- reads -----------------------------------------------------------------------------
    def _workspace_plan(self, scope: WorkspaceScope) -> str | None:
        workspace = self._table.get(item_keys.workspace(scope.workspace_id))
        if not is_live(workspace):
            raise NotFound("No such workspace.")
        assert workspace is not None  # noqa: S101 - narrowed by is_live, for the type checker
        return workspace.get("plan")

    def _record(self, scope: WorkspaceScope, key_id: str) -> Item:
        found = follow(
            self._table, item_keys.api_key_pointer(scope.workspace_id, key_id), _record_key
        )
        if found is None or found[1]["workspace_id"] != scope.workspace_id:
            raise NotFound("No such API key.")
        return found[1]

    def list_for(
        self, scope: WorkspaceScope, *, limit: int, cursor: str | None
    ) -> Listing[KeyView]:
        page = follow_page(
            self._table,
            item_keys.workspace(scope.workspace_id)[0],
            POINTER_PREFIX,
            _record_key,
            limit=limit,
            cursor=cursor,
        )
        now = self._clock.now()
        views = [_view(record, now) for record in page.items]
        return Listing(views, page.next_cursor)

    def get(self, scope: WorkspaceScope, key_id: str) -> KeyView:
        return _view(self._record(scope, key_id), self._clock.now())

    # -- writes ----------------------------------------------------------------------------
    def _new_key_writes(
        self, scope: WorkspaceScope, settings: KeySettings, now: int
    ) -> tuple[IssuedKey, list[TransactItem]]:
        raw = opaque_tokens.new_token(API_KEY_PREFIX)
        digest = opaque_tokens.digest(raw)
        key_id = new_id("key")
        pk, sk = item_keys.api_key(digest)
        record: Item = {
            "pk": pk,
            "sk": sk,
            "id": key_id,
            "workspace_id": scope.workspace_id,
            **_settings_attributes(settings),
            **expiry_index(key_id, settings.expires_at),
            "key_prefix": opaque_tokens.display_prefix(raw, API_KEY_PREFIX),
            "masked_key": opaque_tokens.masked(raw, API_KEY_PREFIX),
            "status": "active",
            "created_at": now,
            "created_by": scope.user_id,
            "updated_at": now,
        }
        pointer_pk, pointer_sk = item_keys.api_key_pointer(scope.workspace_id, key_id)
        pointer: Item = {"pk": pointer_pk, "sk": pointer_sk, "key_digest": digest}
        writes = [
            still_live(scope.workspace_id),
            TransactItem.put(record, condition="attribute_not_exists(pk)"),
            TransactItem.put(pointer, condition="attribute_not_exists(pk)"),
        ]
        return IssuedKey(_view(record, now), raw), writes

    def create(
        self,
        scope: WorkspaceScope,
        settings: KeySettings,
        idempotency: IdempotencyKey | None = None,
    ) -> IssuedKey:
        now = int(self._clock.now())
        if idempotency is not None:
            idempotency.refuse_repeat(self._table, scope.workspace_id, now, created="key")
        settings = validate(settings, now=now, plan=self._workspace_plan(scope))
        issued, writes = self._new_key_writes(scope, settings, now)
        if idempotency is not None:
            writes.append(idempotency.remembered(scope.workspace_id, issued.view.id, now))
        event = scope.event(
            "api_key.created",
            issued.view.id,
            {"name": settings.name, "scopes": " ".join(settings.scopes)},
        )
        try:
            self._audit.append(event, with_writes=writes)
        except (AppendRefused, RepeatRaced) as refused:
            if isinstance(refused, RepeatRaced) and idempotency is not None:
                idempotency.refuse_repeat(self._table, scope.workspace_id, now, created="key")
            raise Conflict("The workspace changed at the same time; retry.") from None
        return issued

    def update(self, scope: WorkspaceScope, key_id: str, changes: Mapping[str, Any]) -> KeyView:
        """Apply the fields present in `changes` (a PATCH); a key that is revoked, expired or
        rotated is not changed, so a change can never bring a key back or extend a rotation."""
        record = self._record(scope, key_id)
        now = int(self._clock.now())
        self._require_changeable(record, now)
        current = _settings_of(record)
        merged = KeySettings(
            **{
                name: changes.get(name, getattr(current, name))
                for name in KeySettings.__dataclass_fields__
            }
        )
        settings = validate(merged, now=now, plan=self._workspace_plan(scope))
        if not changes:  # an empty PATCH changes nothing, and records nothing
            return _view(record, now)
        index = expiry_index(record["id"], settings.expires_at)
        attributes = {**_settings_attributes(settings), **index, "updated_at": now}
        change = TransactItem.update_item(
            (record["pk"], record["sk"]),
            "SET "
            + ", ".join(f"#{name} = :{name}" for name in attributes)
            + ("" if index else " REMOVE gsi1pk, gsi1sk"),
            condition=(
                "#status = :active AND workspace_id = :ws AND attribute_not_exists(replaced_by)"
            ),
            names={"#status": "status", **{f"#{name}": name for name in attributes}},
            values={
                ":active": "active",
                ":ws": scope.workspace_id,
                **{f":{name}": value for name, value in attributes.items()},
            },
        )
        event = scope.event(
            "api_key.updated",
            record["id"],
            {"name": settings.name, "fields": " ".join(sorted(changes))},
        )
        try:
            self._audit.append(event, with_writes=[change])
        except AppendRefused:
            raise Conflict("The key changed at the same time, or was revoked or rotated.") from None
        updated = {**record, **attributes}
        if not index:
            updated.pop("gsi1pk", None)
            updated.pop("gsi1sk", None)
        return _view(updated, now)

    @staticmethod
    def _require_changeable(record: Item, now: int) -> None:
        if _status(record, now) != "active":
            raise Conflict(f"The key is {_status(record, now)}; it can no longer be changed.")
        if record.get("replaced_by"):
            raise Conflict("The key has been rotated; only revoking it is still possible.")

    def rotate(self, scope: WorkspaceScope, key_id: str, grace_seconds: int) -> IssuedKey:
        """A new key with the same settings; the old one ends at `min(its end, now + grace)`,
        so a rotation never lengthens a key's life."""
        record = self._record(scope, key_id)
        now = int(self._clock.now())
        self._require_changeable(record, now)
        settings = _settings_of(record)
        issued, writes = self._new_key_writes(scope, settings, now)
        old_end = record.get("expires_at")
        end = now + grace_seconds if old_end is None else min(old_end, now + grace_seconds)
        writes.append(
            TransactItem.update_item(
                (record["pk"], record["sk"]),
                "SET expires_at = :end, replaced_by = :new, updated_at = :now,"
                " gsi1pk = :index, gsi1sk = :order",
                condition=(
                    "#status = :active AND workspace_id = :ws AND attribute_not_exists(replaced_by)"
                ),
                names={"#status": "status"},
                values={
                    ":end": end,
                    ":index": EXPIRY_INDEX_PARTITION,
                    ":order": expiry_index(record["id"], end)["gsi1sk"],
                    ":new": issued.view.id,
                    ":now": now,
                    ":active": "active",
                    ":ws": scope.workspace_id,
                },
            )
        )
        event = scope.event(
            "api_key.rotated", record["id"], {"name": settings.name, "new_key_id": issued.view.id}
        )
        try:
            self._audit.append(event, with_writes=writes)
        except AppendRefused:
            raise Conflict("The key changed at the same time, or was revoked or rotated.") from None
        return issued

    def revoke(self, scope: WorkspaceScope, key_id: str) -> None:
        """Revoked for good; revoking again changes nothing. The key stays listed, for audit."""
        record = self._record(scope, key_id)
        if record["status"] == "revoked":
            return
        revocation = TransactItem.update_item(
            (record["pk"], record["sk"]),
            "SET #status = :revoked, revoked_at = :now, revoked_by = :by, updated_at = :now"
            " REMOVE gsi1pk, gsi1sk",
            # Not revoked meanwhile: of concurrent revocations, one changes (and records) it.
            condition="workspace_id = :ws AND #status <> :revoked",
            names={"#status": "status"},
            values={
                ":revoked": "revoked",
                ":now": int(self._clock.now()),
                ":by": scope.user_id,
                ":ws": scope.workspace_id,
            },
        )
        event = scope.event("api_key.revoked", record["id"], {"name": record["name"]})
        with suppress(AppendRefused):  # revoked by a concurrent request: nothing to do here
            self._audit.append_protecting(event, [revocation])


class KeyLookup:
    """The authorizer's side: find a presented key's record, and note that it was used."""

    LAST_USED_RESOLUTION_SECONDS = LAST_USED_RESOLUTION_SECONDS

    def __init__(self, table: Table):
        self._table = table

    def find(self, digest: str) -> KeyRecord | None:
        item = self._table.get(item_keys.api_key(digest))
        return KeyRecord.of(item) if item is not None else None

    def note_use(self, digest: str, now: int) -> None:
        """Set `last_used_at`, unless it was set less than a minute ago (by any instance)."""
        note_last_use(self._table, item_keys.api_key(digest), now)
