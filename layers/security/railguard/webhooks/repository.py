"""Where webhook triggers are kept (docs/data-model.md): the record under
`WEBHOOK#<lookup digest> / TRIGGER` (`railguard.store.keys.webhook_trigger`, which retention
also reads), a pointer `WS#<workspace_id> / TRIGGER#<id>` holding that digest, and the signed
calls seen within the timestamp window, `WEBHOOKSEEN#<trigger_id> / <signature digest>`."""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass, field

from railguard.access.usage import note_last_use
from railguard.crypto.envelope import SecretOwner
from railguard.crypto.sealing import sealed_attributes
from railguard.store import (
    ConditionFailed,
    Item,
    ItemKey,
    Repository,
    TransactItem,
    resources,
)
from railguard.store import keys as item_keys
from railguard.store.deletion import soft_deletion
from railguard.store.pointers import follow, follow_page
from railguard.workspaces import Listing

POINTER_PREFIX = "TRIGGER#"
_RECORD_PREFIX = item_keys.webhook_trigger("")[0]
# What an update may change, by the name the record and the item both give it.
_CHANGEABLE = ("name", "is_active", "updated_at")


def pointer_key(workspace_id: str, trigger_id: str) -> ItemKey:
    """A workspace's entry for one of its triggers: lists them and finds them by id."""
    return (f"WS#{workspace_id}", f"{POINTER_PREFIX}{trigger_id}")


def delivery_key(trigger_id: str, signature_digest: str) -> ItemKey:
    """A signed trigger call seen within the timestamp window: a second one is a replay."""
    return (f"WEBHOOKSEEN#{trigger_id}", signature_digest)


@dataclass(frozen=True)
class TriggerRecord:
    # The keyed hash of its token, which keys the record: never logged.
    lookup_digest: str = field(repr=False)
    id: str
    workspace_id: str
    name: str
    agent_id: str
    is_active: bool  # accepts calls
    deleted: bool
    token: bytes = field(repr=False)  # sealed
    token_prefix: str
    created_at: int
    created_by: str
    updated_at: int
    last_used_at: int | None = None
    secret: bytes | None = field(default=None, repr=False)  # sealed; None for unsigned calls

    @property
    def key(self) -> ItemKey:
        return item_keys.webhook_trigger(self.lookup_digest)

    @property
    def has_secret(self) -> bool:
        return self.secret is not None


@dataclass(frozen=True)
class SealedFor:
    """Whom a trigger's sealed token and secret are bound to."""

    token: SecretOwner
    secret: SecretOwner


def _record_key(pointer: Item) -> ItemKey:
    return item_keys.webhook_trigger(pointer["lookup_digest"])


def _record(item: Item) -> TriggerRecord:
    return resources.record_of(
        TriggerRecord,
        item,
        lookup_digest=item["pk"].removeprefix(_RECORD_PREFIX),
        is_active=bool(item["is_active"]),
        deleted=not resources.is_active(item),
        token=item.get("token", b""),  # (erased once purged)
    )


def _item(record: TriggerRecord, sealed_for: SealedFor) -> Item:
    """The active record's item, with what the rotation job needs to seal its token (and
    secret) again."""
    sealed = {"token": (record.token, sealed_for.token)}
    if record.secret is not None:
        sealed["secret"] = (record.secret, sealed_for.secret)
    item = resources.active_item(record.key, record, leave_out=("lookup_digest", "deleted"))
    return item | sealed_attributes(record.key, sealed)


class TriggerRepository(Repository):
    # -- reads -------------------------------------------------------------------------------
    def find(self, workspace_id: str, trigger_id: str) -> TriggerRecord | None:
        """The record the workspace's pointer names (two consistent reads), deleted or not."""
        found = follow(self._table, pointer_key(workspace_id, trigger_id), _record_key)
        return _record(found[1]) if found is not None else None

    def list_page(
        self, workspace_id: str, *, limit: int, cursor: str | None
    ) -> Listing[TriggerRecord]:
        """A page of the workspace's triggers, deleted ones included, newest first."""
        page = follow_page(
            self._table, workspace_id, POINTER_PREFIX, _record_key, limit=limit, cursor=cursor
        )
        return Listing([_record(item) for item in page.items], page.next_cursor)

    def by_lookup_digest(self, lookup_digest: str) -> TriggerRecord | None:
        """The trigger whose token has this keyed hash, if any (one GetItem)."""
        item = self._table.get(item_keys.webhook_trigger(lookup_digest))
        return _record(item) if item is not None else None

    # -- writes, for the service's transaction ------------------------------------------------
    def creation(self, record: TriggerRecord, sealed_for: SealedFor) -> list[TransactItem]:
        """The new trigger's record and its workspace's pointer, each on a free key."""
        pointer_pk, pointer_sk = pointer_key(record.workspace_id, record.id)
        return [
            resources.put_new(_item(record, sealed_for)),
            resources.put_new(
                {"pk": pointer_pk, "sk": pointer_sk, "lookup_digest": record.lookup_digest}
            ),
        ]

    def change(self, before: TriggerRecord, after: TriggerRecord) -> TransactItem:
        """The update from `before` to `after`, on condition that the trigger is still active."""
        sets = {
            name: getattr(after, name)
            for name in _CHANGEABLE
            if getattr(after, name) != getattr(before, name)
        }
        return resources.change_while_active(before.key, sets)

    def deletion(self, record: TriggerRecord, *, now: int, by: str) -> TransactItem:
        return soft_deletion(record.key, record.id, now=now, by=by)

    def token_move(
        self, before: TriggerRecord, after: TriggerRecord, sealed_for: SealedFor
    ) -> list[TransactItem]:
        """The record moved from its old token's digest to its new one's (`after`), and the
        pointer with it, on condition that neither changed since read."""
        return [
            resources.put_new(_item(after, sealed_for)),
            resources.deletion_while_active(before.key),
            TransactItem.update_item(
                pointer_key(before.workspace_id, before.id),
                "SET lookup_digest = :new",
                condition="lookup_digest = :old",
                values={":new": after.lookup_digest, ":old": before.lookup_digest},
            ),
        ]

    # -- writes of their own -------------------------------------------------------------------
    def note_use(self, record: TriggerRecord, now: int) -> None:
        """`last_used_at`, unless it was set less than a minute ago."""
        with suppress(ConditionFailed):
            note_last_use(self._table, record.key, now)

    def remember_delivery(self, trigger_id: str, signature_digest: str, *, until: int) -> bool:
        """Remember a signed call until `until`; False when it was seen already (a replay)."""
        pk, sk = delivery_key(trigger_id, signature_digest)
        try:
            self._table.put(
                {"pk": pk, "sk": sk, "ttl": until, **item_keys.sweep_index(pk, until)},
                condition=resources.ABSENT,
            )
        except ConditionFailed:
            return False
        return True
