"""The storage of API keys (docs/data-model.md), in one place.

Two items per key. The key record, under `APIKEY#<digest>` / `KEY`, is the one copy of the key's
state, found from the key a client presents (by its digest). A pointer under the workspace
(`WS#<ws>` / `APIKEY#<id>`) holds the digest, so the workspace's keys are listed and found by id
with consistent reads. While a key is active and has an end, its record is also in the expiry
index (gsi1, `KEYEXPIRY` / `<end>#<id>`), the expiry job's work list. Reads return `StoredKey`s;
writes are built here for the service to commit with its audit event. The authorizer's side,
`KeyLookup`, finds a presented key's record as a `KeyRecord` and notes its use.

A key holds one slot of its workspace's count of active keys (`holds_slot`) while it can
authenticate: from its creation until it is revoked or marked expired, a key rotated out in its
grace included (its successor takes a slot of its own). The writes that end a slot-holding key
free its slot in the same transaction, on condition it still holds it (`freeing_slot`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

from railguard.access.network import IpAllowlist
from railguard.access.plans import RateLimit
from railguard.access.usage import LAST_USED_RESOLUTION_SECONDS
from railguard.store import Item, ItemKey, Repository, Table, TransactItem
from railguard.store import keys as item_keys
from railguard.store.pointers import follow, follow_page
from railguard.workspaces.repository import SlotUncounted, WorkspaceRecord, WorkspaceRepository

KeyStatus = Literal["active", "expired", "revoked"]
Failure = Callable[[], Exception]

_POINTER_PREFIX = "APIKEY#"

# The expiry job's index: every active key with an end, in the order of its end (gsi1).
EXPIRY_INDEX_PARTITION = "KEYEXPIRY"

# That a key holds its workspace's slot (`StoredKey.holds_slot`): active, rotated out or not.
_HOLDS_SLOT = "#status = :active"
# A key's writes after its creation: active, not rotated out, in its workspace.
_CHANGEABLE = f"{_HOLDS_SLOT} AND attribute_not_exists(replaced_by) AND workspace_id = :ws"
_STATUS = {"#status": "status"}


def pointer_key(workspace_id: str, key_id: str) -> ItemKey:
    """A workspace's entry for one of its keys: lists them and finds them by id."""
    return (item_keys.workspace(workspace_id)[0], f"{_POINTER_PREFIX}{key_id}")


def _record_key(pointer: Item) -> ItemKey:
    return item_keys.api_key(pointer["key_digest"])


def _expiry_index(key_id: str, expires_at: int | None) -> Item:
    """The index attributes of an active key that ends at `expires_at` (none if it never ends)."""
    if expires_at is None:
        return {}
    return {"gsi1pk": EXPIRY_INDEX_PARTITION, "gsi1sk": f"{expires_at:012d}#{key_id}"}


@dataclass(frozen=True)
class KeySettings:
    """What a key may do, validated: the create fields, or a PATCH's changes applied to them."""

    name: str
    scopes: tuple[str, ...]
    allowed_ips: tuple[str, ...]
    allowed_origins: tuple[str, ...]
    expires_at: int | None
    rate_limit: RateLimit | None


def _rate_limit(stored: Mapping[str, int] | None) -> RateLimit | None:
    return RateLimit(stored["requests"], stored["window_seconds"]) if stored else None


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


@dataclass(frozen=True)
class StoredKey:
    """A key's record as stored: its state as last written (`status` does not know of an end
    that has passed since)."""

    id: str
    workspace_id: str
    settings: KeySettings
    key_prefix: str
    masked_key: str
    status: KeyStatus
    replaced_by: str | None
    created_at: int
    last_used_at: int | None
    last_used_ip: str | None  # where the last use came from (`railguard.access.usage`)
    last_used_user_agent: str | None
    expiring_notice_for: int | None  # the end last announced as near
    record_key: ItemKey = field(repr=False)  # names the key's digest: never logged

    @property
    def holds_slot(self) -> bool:
        """Whether the key, as read, counts in its workspace's active keys: active as stored
        (even past its end, until the expiry job marks it; rotated out in its grace too)."""
        return self.status == "active"

    @classmethod
    def of(cls, item: Item) -> StoredKey:
        return cls(
            id=item["id"],
            workspace_id=item["workspace_id"],
            settings=KeySettings(
                name=item["name"],
                scopes=tuple(item["scopes"]),
                allowed_ips=tuple(item["allowed_ips"]),
                allowed_origins=tuple(item["allowed_origins"]),
                expires_at=item.get("expires_at"),
                rate_limit=_rate_limit(item.get("rate_limit")),
            ),
            key_prefix=item["key_prefix"],
            masked_key=item["masked_key"],
            status=item["status"],
            replaced_by=item.get("replaced_by"),
            created_at=item["created_at"],
            last_used_at=item.get("last_used_at"),
            last_used_ip=item.get("last_used_ip"),
            last_used_user_agent=item.get("last_used_user_agent"),
            expiring_notice_for=item.get("expiring_notice_for"),
            record_key=(item["pk"], item["sk"]),
        )


class ApiKeyRepository(Repository):
    # -- reads -----------------------------------------------------------------------------
    def find(self, digest: str) -> StoredKey | None:
        """The key whose digest a client presented (one strongly consistent GetItem)."""
        return self._read(item_keys.api_key(digest))

    def current(self, key: StoredKey) -> StoredKey | None:
        """The key as it is now (one strongly consistent GetItem), e.g. after an index read."""
        return self._read(key.record_key)

    def _read(self, record_key: ItemKey) -> StoredKey | None:
        item = self._table.get(record_key)
        return StoredKey.of(item) if item is not None else None

    @staticmethod
    def record_in(found: Mapping[ItemKey, Item], record_key: ItemKey) -> StoredKey | None:
        """The key among items a caller's BatchGetItem read (`item_keys.api_key(digest)`)."""
        item = found.get(record_key)
        return StoredKey.of(item) if item is not None else None

    def by_id(self, workspace_id: str, key_id: str) -> StoredKey | None:
        """The key the workspace's pointer names (two consistent reads)."""
        found = follow(self._table, pointer_key(workspace_id, key_id), _record_key)
        return StoredKey.of(found[1]) if found is not None else None

    def page(
        self, workspace_id: str, *, limit: int, cursor: str | None
    ) -> tuple[list[StoredKey], str | None]:
        """A page of the workspace's keys, newest first."""
        page = follow_page(
            self._table, workspace_id, _POINTER_PREFIX, _record_key, limit=limit, cursor=cursor
        )
        return [StoredKey.of(item) for item in page.items], page.next_cursor

    def ending_until(self, until: int) -> Iterator[StoredKey]:
        """The keys in the expiry index that end at or before `until`, soonest first (the index
        is eventually consistent: an entry may be stale)."""
        for item in self._table.iterate(
            EXPIRY_INDEX_PARTITION, index="gsi1", sk_until=f"{until:012d}#~"
        ):
            yield StoredKey.of(item)

    # -- writes ----------------------------------------------------------------------------
    def note_expiring_announced(self, key: StoredKey) -> None:
        """Note that the key's end, as read, was announced; `ConditionFailed` if the key is no
        longer active or its end moved since."""
        self._table.update(
            key.record_key,
            "SET expiring_notice_for = :end",
            condition="#status = :active AND expires_at = :end",
            names=_STATUS,
            values={":end": key.settings.expires_at, ":active": "active"},
        )

    # -- writes, for the service's transaction ---------------------------------------------
    @staticmethod
    def issue(
        workspace_id: str,
        key_id: str,
        digest: str,
        settings: KeySettings,
        *,
        key_prefix: str,
        masked_key: str,
        created_by: str,
        now: int,
        fails_as: Failure | None = None,
    ) -> tuple[StoredKey, list[TransactItem]]:
        """A new active key, by the digest of the key: its record, and the writes of the record
        and its pointer, both new (`fails_as`: what it means that either exists already)."""
        pk, sk = item_keys.api_key(digest)
        record: Item = {
            "pk": pk,
            "sk": sk,
            "id": key_id,
            "workspace_id": workspace_id,
            **_settings_attributes(settings),
            **_expiry_index(key_id, settings.expires_at),
            "key_prefix": key_prefix,
            "masked_key": masked_key,
            "status": "active",
            "created_at": now,
            "created_by": created_by,
            "updated_at": now,
        }
        pointer_pk, pointer_sk = pointer_key(workspace_id, key_id)
        pointer: Item = {"pk": pointer_pk, "sk": pointer_sk, "key_digest": digest}
        writes = [
            TransactItem.put(record, condition="attribute_not_exists(pk)", fails_as=fails_as),
            TransactItem.put(pointer, condition="attribute_not_exists(pk)", fails_as=fails_as),
        ]
        return StoredKey.of(record), writes

    @staticmethod
    def change_settings(
        key: StoredKey, settings: KeySettings, *, now: int, fails_as: Failure
    ) -> tuple[StoredKey, TransactItem]:
        """The key with `settings`, and the write, on condition it is still changeable."""
        index = _expiry_index(key.id, settings.expires_at)
        attributes = {**_settings_attributes(settings), **index, "updated_at": now}
        change = TransactItem.update_item(
            key.record_key,
            "SET "
            + ", ".join(f"#{name} = :{name}" for name in attributes)
            + ("" if index else " REMOVE gsi1pk, gsi1sk"),
            condition=_CHANGEABLE,
            names={**_STATUS, **{f"#{name}": name for name in attributes}},
            values={
                ":active": "active",
                ":ws": key.workspace_id,
                **{f":{name}": value for name, value in attributes.items()},
            },
            fails_as=fails_as,
        )
        return replace(key, settings=settings), change

    @staticmethod
    def rotate_out(
        key: StoredKey, *, end: int, successor_id: str, now: int, fails_as: Failure
    ) -> TransactItem:
        """The key replaced by `successor_id`, ending at `end`, on condition it is still
        changeable. A key that ends now (no grace) is marked expired at once: its successor
        takes over its slot (`hands_over_slot`)."""
        if hands_over_slot(end, now):
            return TransactItem.update_item(
                key.record_key,
                "SET #status = :expired, expired_at = :now, expires_at = :now,"
                " replaced_by = :new, updated_at = :now REMOVE gsi1pk, gsi1sk",
                condition=_CHANGEABLE,
                names=_STATUS,
                values={
                    ":expired": "expired",
                    ":new": successor_id,
                    ":now": now,
                    ":active": "active",
                    ":ws": key.workspace_id,
                },
                fails_as=fails_as,
            )
        return TransactItem.update_item(
            key.record_key,
            "SET expires_at = :end, replaced_by = :new, updated_at = :now,"
            " gsi1pk = :index, gsi1sk = :order",
            condition=_CHANGEABLE,
            names=_STATUS,
            values={
                ":end": end,
                ":index": EXPIRY_INDEX_PARTITION,
                ":order": _expiry_index(key.id, end)["gsi1sk"],
                ":new": successor_id,
                ":now": now,
                ":active": "active",
                ":ws": key.workspace_id,
            },
            fails_as=fails_as,
        )

    @staticmethod
    def revoke(key: StoredKey, *, by: str, now: int) -> list[TransactItem]:
        """The key revoked for good, on condition it is in its workspace and as read: a key that
        holds its slot still holds it (and frees it), any other is not revoked already. Of
        concurrent revocations, one changes it."""
        writes = [
            TransactItem.update_item(
                key.record_key,
                "SET #status = :revoked, revoked_at = :now, revoked_by = :by, updated_at = :now"
                " REMOVE gsi1pk, gsi1sk",
                condition="workspace_id = :ws AND "
                + (_HOLDS_SLOT if key.holds_slot else "#status <> :revoked"),
                names=_STATUS,
                values={
                    ":revoked": "revoked",
                    ":now": now,
                    ":by": by,
                    ":ws": key.workspace_id,
                    **({":active": "active"} if key.holds_slot else {}),
                },
            )
        ]
        return [*writes, *_slot_freed(key)]

    @staticmethod
    def expire(key: StoredKey, *, now: int) -> list[TransactItem]:
        """The key marked expired and out of the expiry index, on condition it is active, its
        end is still the one read (its slot freed)."""
        expiry = TransactItem.update_item(
            key.record_key,
            "SET #status = :expired, expired_at = :now, updated_at = :now REMOVE gsi1pk, gsi1sk",
            condition=f"{_HOLDS_SLOT} AND expires_at = :end",
            names=_STATUS,
            values={
                ":expired": "expired",
                ":active": "active",
                ":now": now,
                ":end": key.settings.expires_at,
            },
        )
        return [expiry, *_slot_freed(key)]


def _slot_freed(key: StoredKey) -> list[TransactItem]:
    """The write that frees the key's slot, if it holds one as read."""
    return [WorkspaceRepository.free_key_slot(key.workspace_id)] if key.holds_slot else []


def hands_over_slot(end: int, now: int) -> bool:
    """Whether a rotation that ends its key at `end` hands the key's slot to the successor
    (the key ends now: `rotate_out` marks it expired) rather than take one more."""
    return end <= now


def freeing_slot(
    commit: Callable[[list[TransactItem]], object], writes: list[TransactItem]
) -> None:
    """`commit` the writes that end a key (`revoke`, `expire`); when its workspace counts no
    slot to free (`SlotUncounted`: keys made before the count existed), the key ends all the
    same, the count left as it is (never below 0)."""
    try:
        commit(writes)
    except SlotUncounted:
        commit([write for write in writes if write.fails_as is not SlotUncounted])


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
    def of(cls, key: StoredKey) -> KeyRecord:
        return cls(
            id=key.id,
            workspace_id=key.workspace_id,
            scopes=frozenset(key.settings.scopes),
            allowed_ips=IpAllowlist.parse(key.settings.allowed_ips),
            allowed_origins=frozenset(key.settings.allowed_origins),
            expires_at=key.settings.expires_at,
            rate_limit=key.settings.rate_limit,
            revoked=key.status != "active",  # revoked, or expired by the job (its end passed too)
            last_used_at=key.last_used_at,
        )

    def usable_at(self, now: float) -> bool:
        """Not revoked and not past its end, against the clock now (never DynamoDB's TTL)."""
        return not self.revoked and (self.expires_at is None or now < self.expires_at)


class KeyLookup:
    """The authorizer's side: a presented key's record, with the workspace the key names."""

    LAST_USED_RESOLUTION_SECONDS = LAST_USED_RESOLUTION_SECONDS

    def __init__(self, table: Table):
        self._table = table

    def find(
        self, digest: str, workspace_id: str
    ) -> tuple[KeyRecord | None, WorkspaceRecord | None]:
        """The key whose digest a client presented, and the workspace its key names (None when
        deleted or unknown), in one strongly consistent BatchGetItem. A record of another
        workspace than the key names is no key of it (None)."""
        record_key = item_keys.api_key(digest)
        found = self._table.get_many([record_key, item_keys.workspace(workspace_id)])
        key = ApiKeyRepository.record_in(found, record_key)
        record = KeyRecord.of(key) if key is not None and key.workspace_id == workspace_id else None
        return record, WorkspaceRepository.live_in(found, workspace_id)
