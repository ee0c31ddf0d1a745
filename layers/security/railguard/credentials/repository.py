"""Where credentials are kept (docs/data-model.md): `WS#<workspace_id> / CREDENTIAL#<id>`, the
value sealed in `ciphertext` (gone once purged) beside its mask, and one pointer per (workspace,
type), `WS#<workspace_id> / CREDDEFAULT#<type>`, naming the type's default."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from railguard.crypto.envelope import SecretOwner
from railguard.crypto.sealing import sealed_attributes
from railguard.store import Item, ItemKey, Repository, TransactItem, resources
from railguard.store.deletion import soft_deletion
from railguard.workspaces import Listing, is_live

CREDENTIAL_PREFIX = "CREDENTIAL#"
# What an update may change, by the name the record and the item both give it.
_CHANGEABLE = ("name", "description", "ciphertext", "masked_content", "is_default", "updated_at")


def credential_key(workspace_id: str, credential_id: str) -> ItemKey:
    return (f"WS#{workspace_id}", f"{CREDENTIAL_PREFIX}{credential_id}")


def default_key(workspace_id: str, credential_type: str) -> ItemKey:
    """Names the default credential of one type in a workspace (at most one, by construction)."""
    return (f"WS#{workspace_id}", f"CREDDEFAULT#{credential_type}")


@dataclass(frozen=True)
class CredentialView:
    """A credential as reads show it: its value never, only the mask."""

    id: str
    name: str
    type: str
    category: str | None
    description: str | None
    masked_content: str
    is_default: bool
    created_at: int
    updated_at: int
    deleted_at: int | None


@dataclass(frozen=True)
class CredentialRecord(CredentialView):
    workspace_id: str
    active: bool  # else deleted
    ciphertext: bytes | None = field(default=None, repr=False)  # None once purged

    @property
    def key(self) -> ItemKey:
        return credential_key(self.workspace_id, self.id)


def _record(workspace_id: str, item: Item) -> CredentialRecord:
    return resources.record_of(
        CredentialRecord,
        item,
        workspace_id=workspace_id,
        active=resources.is_active(item),
        is_default=bool(item.get("is_default")),
    )


class CredentialRepository(Repository):
    # -- reads -------------------------------------------------------------------------------
    def get(self, workspace_id: str, credential_id: str) -> CredentialRecord | None:
        item = self._table.get(credential_key(workspace_id, credential_id))
        return _record(workspace_id, item) if item is not None else None

    def get_live(self, workspace_id: str, credential_id: str) -> CredentialRecord | None:
        """The credential if it and its workspace are active (one BatchGetItem)."""
        key = credential_key(workspace_id, credential_id)
        found = resources.active_in_live_workspace(self._table, workspace_id, key, is_live=is_live)
        return _record(workspace_id, found[0]) if found is not None else None

    def list_page(
        self, workspace_id: str, *, include_deleted: bool, limit: int, cursor: str | None
    ) -> Listing[CredentialRecord]:
        page = resources.page_of_workspace(
            self._table,
            workspace_id,
            CREDENTIAL_PREFIX,
            keep=lambda item: include_deleted or resources.is_active(item),
            limit=limit,
            cursor=cursor,
        )
        return Listing([_record(workspace_id, item) for item in page.items], page.next_cursor)

    # -- writes, for the service's transaction ------------------------------------------------
    def creation(
        self, record: CredentialRecord, *, created_by: str, owner: SecretOwner
    ) -> TransactItem:
        """The new credential's item (its value sealed for `owner`), on condition that its key
        is free."""
        if record.ciphertext is None:
            raise ValueError("a new credential holds its value")
        item = resources.active_item(
            record.key,
            record,
            leave_out=("workspace_id", "active", "deleted_at"),
            keep_none=True,
            created_by=created_by,
        )
        return resources.put_new(
            item | sealed_attributes(record.key, {"ciphertext": (record.ciphertext, owner)})
        )

    def change(
        self,
        before: CredentialRecord,
        after: CredentialRecord,
        *,
        owner: SecretOwner,
        fails_as: Callable[[], Exception],
    ) -> TransactItem:
        """The update from `before` to `after` (a new value sealed for `owner`), on condition
        that the credential is still active; else it fails as `fails_as`."""
        sets = {
            name: getattr(after, name)
            for name in _CHANGEABLE
            if getattr(after, name) != getattr(before, name)
        }
        if after.ciphertext is not None and "ciphertext" in sets:
            sets |= sealed_attributes(before.key, {"ciphertext": (after.ciphertext, owner)})
        return resources.change_while_active(before.key, sets, fails_as=fails_as)

    def default_moves(
        self, workspace_id: str, credential_type: str, credential_id: str, now: int
    ) -> list[TransactItem]:
        """The writes that make `credential_id` its type's default: the pointer, conditioned on
        what it named when read, and the previous default's flag cleared."""
        pointer_key = default_key(workspace_id, credential_type)
        pointer = self._table.get(pointer_key)
        previous = pointer["credential_id"] if pointer else None
        writes = [
            TransactItem.put(
                {"pk": pointer_key[0], "sk": pointer_key[1], "credential_id": credential_id},
                condition=("credential_id = :previous" if previous else resources.ABSENT),
                values={":previous": previous} if previous else {},
            )
        ]
        if previous and previous != credential_id:
            writes.append(
                TransactItem.update_item(
                    credential_key(workspace_id, previous),
                    "SET is_default = :false, updated_at = :now",
                    condition="attribute_exists(pk)",
                    values={":false": False, ":now": now},
                )
            )
        return writes

    def default_removal(self, record: CredentialRecord) -> TransactItem:
        """Removes the type's default pointer, on condition that it still names `record`."""
        return TransactItem.delete(
            default_key(record.workspace_id, record.type),
            condition="credential_id = :id",
            values={":id": record.id},
        )

    def deletion(self, record: CredentialRecord, *, now: int, by: str) -> list[TransactItem]:
        """The soft delete of the active credential (no longer the default, if it was)."""
        writes = [soft_deletion(record.key, record.id, now=now, by=by, also={"is_default": False})]
        if record.is_default:
            writes.append(self.default_removal(record))
        return writes

    def restoration(
        self, record: CredentialRecord, *, now: int, deleted_since: int
    ) -> tuple[TransactItem, CredentialRecord]:
        """The deleted credential active again (not the default), on condition that it was
        deleted after `deleted_since` and still holds its value (a purge between the read and
        now leaves a tombstone); and the record as it will then be."""
        restoration = TransactItem.update_item(
            record.key,
            "SET #status = :active, updated_at = :now"
            " REMOVE deleted_at, deleted_by, gsi1pk, gsi1sk",
            condition="#status = :deleted AND deleted_at > :oldest"
            " AND attribute_exists(ciphertext)",
            names={"#status": "status"},
            values={
                ":active": "active",
                ":deleted": "deleted",
                ":now": now,
                ":oldest": deleted_since,
            },
        )
        return restoration, replace(record, active=True, updated_at=now, deleted_at=None)

    def active_check(self, record: CredentialRecord) -> TransactItem:
        """For a transaction that must not happen unless the credential is still active."""
        return resources.active_check(record.key)
