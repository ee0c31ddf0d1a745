"""The credential vault (contract section 7): provider credentials that agents use.

A value is envelope-encrypted (`railguard.crypto.envelope`, owner: purpose `credential`, the
workspace, the credential id) before it is stored, with a data key of its own; a new value gets a
new data key. Its mask is computed at write time and stored, so no read route ever decrypts:
plaintext leaves the vault only through `Vault.reveal`, for the platform's own use, never on a
route.

One default per type: a pointer item per (workspace, type) names the default, and every change of
default moves the pointer and both credentials' flags in one transaction conditioned on the
pointer's previous value, so concurrent changes cannot leave two defaults.

Deletion is soft: a deleted credential is gone from reads, restorable for the retention period
(`RETENTION_DAYS`), then purged by the retention job (`railguard.retention`), which erases
the ciphertext and keeps a tombstone.

Every change is one event in the workspace's audit trail (created, updated, deleted, restored),
naming the credential by id and name and the fields that changed, never a value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from railguard.access.idempotency import IdempotencyKey, RepeatRaced
from railguard.audit.trail import Actor, AppendRefused, AuditEvent, AuditTrail
from railguard.core.clock import Clock
from railguard.core.errors import Conflict, Forbidden, NotFound
from railguard.core.ids import new_id
from railguard.crypto.envelope import Envelope, SecretOwner
from railguard.crypto.sealing import sealed_attributes
from railguard.store import Item, Table, TransactItem
from railguard.store import keys as item_keys
from railguard.store.deletion import soft_deletion
from railguard.workspaces import Listing, ResourceScope, is_live, still_live

CREDENTIAL_PREFIX = "CREDENTIAL#"
ENVELOPE_PURPOSE = "credential"
_MASK_VISIBLE = 4
_MASK_MIN_LENGTH = 16


def mask(value: str) -> str:
    """`sk-p...ZqsA` for values of 16 characters or more, `****` for shorter ones."""
    if len(value) < _MASK_MIN_LENGTH:
        return "****"
    return f"{value[:_MASK_VISIBLE]}...{value[-_MASK_VISIBLE:]}"


def owner_of(workspace_id: str, credential_id: str) -> SecretOwner:
    return SecretOwner(ENVELOPE_PURPOSE, workspace_id, credential_id)


@dataclass(frozen=True)
class CredentialView:
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
class NewCredential:
    name: str
    type: str
    value: str
    category: str | None
    description: str | None
    is_default: bool

    def __repr__(self) -> str:  # the value never reaches a log through repr()
        return f"NewCredential(name={self.name!r}, type={self.type!r}, value=<redacted>)"


def _view(item: Item) -> CredentialView:
    return CredentialView(
        id=item["id"],
        name=item["name"],
        type=item["type"],
        category=item.get("category"),
        description=item.get("description"),
        masked_content=item["masked_content"],
        is_default=bool(item.get("is_default")),
        created_at=item["created_at"],
        updated_at=item["updated_at"],
        deleted_at=item.get("deleted_at"),
    )


def _default_removal(scope: ResourceScope, item: Item) -> TransactItem:
    """Removes the type's default pointer, on condition that it still names this credential."""
    return TransactItem.delete(
        item_keys.credential_default(scope.workspace_id, item["type"]),
        condition="credential_id = :id",
        values={":id": item["id"]},
    )


class Credentials:
    def __init__(
        self,
        table: Table,
        envelope: Envelope,
        clock: Clock,
        audit: AuditTrail,
        *,
        retention_seconds: int,
    ):
        self._table = table
        self._envelope = envelope
        self._clock = clock
        self._audit = audit
        self._retention_seconds = retention_seconds

    # -- reads (never decrypt) ---------------------------------------------------------------
    def _item(self, scope: ResourceScope, credential_id: str, *, deleted: bool = False) -> Item:
        item = self._table.get(item_keys.credential(scope.workspace_id, credential_id))
        if item is None or (item["status"] == "deleted") != deleted:
            raise NotFound("No such credential.")
        return item

    def list_for(
        self, scope: ResourceScope, *, include_deleted: bool, limit: int, cursor: str | None
    ) -> Listing[CredentialView]:
        if include_deleted and not scope.manager:
            raise Forbidden("Only owners and admins can list deleted credentials.")
        page = self._table.query(
            item_keys.workspace(scope.workspace_id)[0],
            sk_prefix=CREDENTIAL_PREFIX,
            limit=limit,
            cursor=cursor,
            newest_first=True,
            keep=lambda item: include_deleted or item["status"] == "active",
        )
        return Listing([_view(item) for item in page.items], page.next_cursor)

    def get(self, scope: ResourceScope, credential_id: str) -> CredentialView:
        return _view(self._item(scope, credential_id))

    # -- writes ------------------------------------------------------------------------------
    def create(
        self,
        scope: ResourceScope,
        new: NewCredential,
        idempotency: IdempotencyKey | None = None,
    ) -> CredentialView:
        """A new credential; with an Idempotency-Key already applied, the one it created (its
        view holds no secret, so the reply can be the same)."""
        now = int(self._clock.now())
        if idempotency is not None:
            earlier = idempotency.earlier(self._table, scope.workspace_id, now)
            if earlier is not None:
                return self.get(scope, earlier)
        credential_id = new_id("cred")
        pk, sk = item_keys.credential(scope.workspace_id, credential_id)
        item: Item = {
            "pk": pk,
            "sk": sk,
            "id": credential_id,
            "name": new.name,
            "type": new.type,
            "category": new.category,
            "description": new.description,
            "masked_content": mask(new.value),
            "ciphertext": self._envelope.encrypt(
                new.value.encode(), owner_of(scope.workspace_id, credential_id)
            ),
            "is_default": False,
            "status": "active",
            "created_at": now,
            "created_by": scope.actor,
            "updated_at": now,
        }
        owner = owner_of(scope.workspace_id, credential_id)
        item |= sealed_attributes((pk, sk), {"ciphertext": (item["ciphertext"], owner)})
        writes = [
            still_live(scope.workspace_id),
            TransactItem.put(item, condition="attribute_not_exists(pk)"),
        ]
        if new.is_default:
            item["is_default"] = True
            writes.extend(self._default_moves(scope, new.type, credential_id, now))
        if idempotency is not None:
            writes.append(idempotency.remembered(scope.workspace_id, credential_id, now))
        event = scope.event(
            "credential.created", credential_id, {"name": new.name, "type": new.type}
        )
        try:
            self._audit.append(event, with_writes=writes)
        except RepeatRaced:
            return self.create(scope, new, idempotency)  # its twin won: answer as it did
        except AppendRefused:
            raise Conflict("The default changed at the same time; retry.") from None
        return _view(item)

    def update(
        self,
        scope: ResourceScope,
        credential_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
        value: str | None = None,
        is_default: bool | None = None,
    ) -> CredentialView:
        item = self._item(scope, credential_id)
        now = int(self._clock.now())
        changes: dict[str, Any] = {}
        if name is not None:
            changes["name"] = name
        if description is not None:
            changes["description"] = description
        if value is not None:
            # A new value gets a new data key: encrypt() asks KMS for one per secret.
            owner = owner_of(scope.workspace_id, credential_id)
            sealed = self._envelope.encrypt(value.encode(), owner)
            changes["ciphertext"] = sealed
            changes |= sealed_attributes((item["pk"], item["sk"]), {"ciphertext": (sealed, owner)})
            changes["masked_content"] = mask(value)
        # What changed, by field name, for the audit event: never the value itself.
        changed = [
            field
            for field, given in (("name", name), ("description", description), ("value", value))
            if given is not None
        ]
        default_writes: list[TransactItem] = []
        if is_default is True and not item.get("is_default"):
            changes["is_default"] = True
            default_writes = self._default_moves(scope, item["type"], credential_id, now)
            changed.append("is_default")
        elif is_default is False and item.get("is_default"):
            changes["is_default"] = False
            default_writes = [_default_removal(scope, item)]
            changed.append("is_default")
        if not changes:
            return _view(item)
        changes["updated_at"] = now
        # The fields, the default's move and the event: one transaction, so all or none.
        change = TransactItem.update_item(
            (item["pk"], item["sk"]),
            "SET " + ", ".join(f"#{field} = :{field}" for field in changes),
            condition="#status = :active",
            names={"#status": "status", **{f"#{field}": field for field in changes}},
            values={":active": "active", **{f":{field}": v for field, v in changes.items()}},
            fails_as=lambda: NotFound("No such credential."),  # deleted meanwhile
        )
        event = scope.event(
            "credential.updated",
            item["id"],
            {"name": str(changes.get("name", item["name"])), "fields": " ".join(changed)},
        )
        try:
            self._audit.append(event, with_writes=[change, *default_writes])
        except AppendRefused:
            raise Conflict("The default changed at the same time; retry.") from None
        return _view({**item, **changes})

    def set_default(self, scope: ResourceScope, credential_id: str) -> CredentialView:
        return self.update(scope, credential_id, is_default=True)

    def _default_moves(
        self, scope: ResourceScope, credential_type: str, credential_id: str, now: int
    ) -> list[TransactItem]:
        """The writes that make `credential_id` its type's default: the pointer, conditioned on
        what it named when read, and the previous default's flag cleared."""
        pointer_key = item_keys.credential_default(scope.workspace_id, credential_type)
        pointer = self._table.get(pointer_key)
        previous = pointer["credential_id"] if pointer else None
        writes = [
            TransactItem.put(
                {"pk": pointer_key[0], "sk": pointer_key[1], "credential_id": credential_id},
                condition=("credential_id = :previous" if previous else "attribute_not_exists(pk)"),
                values={":previous": previous} if previous else {},
            )
        ]
        if previous and previous != credential_id:
            writes.append(
                TransactItem.update_item(
                    item_keys.credential(scope.workspace_id, previous),
                    "SET is_default = :false, updated_at = :now",
                    condition="attribute_exists(pk)",
                    values={":false": False, ":now": now},
                )
            )
        return writes

    def delete(self, scope: ResourceScope, credential_id: str) -> None:
        """Soft delete: gone from reads, kept (ciphertext included) for restore and audit."""
        item = self._item(scope, credential_id)
        now = int(self._clock.now())
        writes = [
            soft_deletion(
                (item["pk"], item["sk"]),
                credential_id,
                now=now,
                by=scope.actor,
                also={"is_default": False},
            )
        ]
        if item.get("is_default"):
            writes.append(_default_removal(scope, item))
        event = scope.event("credential.deleted", credential_id, {"name": item["name"]})
        try:
            self._audit.append_protecting(event, writes)
        except AppendRefused:
            raise NotFound("No such credential.") from None

    def restore(self, scope: ResourceScope, credential_id: str) -> CredentialView:
        """Back from a soft delete within the retention period (not as the default), else 404."""
        item = self._item(scope, credential_id, deleted=True)
        now = int(self._clock.now())
        if now - item["deleted_at"] >= self._retention_seconds or "ciphertext" not in item:
            raise NotFound("No such credential.")
        restoration = TransactItem.update_item(
            (item["pk"], item["sk"]),
            "SET #status = :active, updated_at = :now"
            " REMOVE deleted_at, deleted_by, gsi1pk, gsi1sk",
            # Still holding its value: a purge between the read and now leaves a tombstone.
            condition="#status = :deleted AND deleted_at > :oldest"
            " AND attribute_exists(ciphertext)",
            names={"#status": "status"},
            values={
                ":active": "active",
                ":deleted": "deleted",
                ":now": now,
                ":oldest": now - self._retention_seconds,
            },
        )
        event = scope.event("credential.restored", credential_id, {"name": item["name"]})
        try:
            self._audit.append(event, with_writes=[restoration])
        except AppendRefused:
            raise NotFound("No such credential.") from None
        restored = {**item, "status": "active", "updated_at": now}
        for removed in ("deleted_at", "deleted_by", "gsi1pk", "gsi1sk"):
            restored.pop(removed, None)
        return _view(restored)


class Vault:
    """Plaintext, for the platform's own use (an agent run), by workspace and id. Never behind a
    route; every reveal is recorded."""

    def __init__(self, table: Table, envelope: Envelope, audit: AuditTrail):
        self._table = table
        self._envelope = envelope
        self._audit = audit

    def reveal(self, workspace_id: str, credential_id: str, *, actor: Actor, reason: str) -> str:
        workspace_key = item_keys.workspace(workspace_id)
        credential_key = item_keys.credential(workspace_id, credential_id)
        found = self._table.get_many([workspace_key, credential_key])
        item = found.get(credential_key)
        if not is_live(found.get(workspace_key)) or item is None or item["status"] != "active":
            raise NotFound("No such credential.")
        # Recorded before the value is decrypted, on condition that the credential is still
        # active: a reveal that cannot be recorded does not happen (503), and one is never
        # recorded for a credential deleted meanwhile. A reveal writes nothing else.
        try:
            self._audit.append(
                AuditEvent(
                    "credential.revealed", actor, credential_id, workspace_id, {"reason": reason}
                ),
                [
                    TransactItem.check(
                        credential_key,
                        "#status = :active",
                        names={"#status": "status"},
                        values={":active": "active"},
                    )
                ],
            )
        except AppendRefused:
            raise NotFound("No such credential.") from None
        plaintext = self._envelope.decrypt(
            item["ciphertext"], owner_of(workspace_id, credential_id)
        )
        return plaintext.decode()
