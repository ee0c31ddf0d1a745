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

from dataclasses import dataclass, replace

from railguard.access.idempotency import IdempotencyKey, RepeatRaced
from railguard.audit.trail import Actor, AppendRefused, AuditEvent, AuditTrail
from railguard.core.clock import Clock
from railguard.core.errors import Conflict, Forbidden, NotFound
from railguard.credentials.repository import CredentialRecord, CredentialRepository
from railguard.credentials.repository import CredentialView as CredentialView  # what reads return
from railguard.crypto.envelope import Envelope, SecretOwner
from railguard.kinds import CREDENTIAL
from railguard.store import Table, TransactItem
from railguard.store.resources import project
from railguard.workspaces import Listing, ResourceScope, still_live

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


def _no_such_credential() -> NotFound:
    return NotFound("No such credential.")


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


def _view(record: CredentialRecord) -> CredentialView:
    return project(CredentialView, record)


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
        self._credentials = CredentialRepository(table)
        self._envelope = envelope
        self._clock = clock
        self._audit = audit
        self._retention_seconds = retention_seconds

    # -- reads (never decrypt) ---------------------------------------------------------------
    def _record(
        self, scope: ResourceScope, credential_id: str, *, deleted: bool = False
    ) -> CredentialRecord:
        record = self._credentials.get(scope.workspace_id, credential_id)
        if record is None or record.active == deleted:
            raise _no_such_credential()
        return record

    def list_for(
        self, scope: ResourceScope, *, include_deleted: bool, limit: int, cursor: str | None
    ) -> Listing[CredentialView]:
        if include_deleted and not scope.manager:
            raise Forbidden("Only owners and admins can list deleted credentials.")
        page = self._credentials.list_page(
            scope.workspace_id, include_deleted=include_deleted, limit=limit, cursor=cursor
        )
        return Listing([_view(record) for record in page.items], page.next_cursor)

    def get(self, scope: ResourceScope, credential_id: str) -> CredentialView:
        return _view(self._record(scope, credential_id))

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
        credential_id = CREDENTIAL.new_id()
        owner = owner_of(scope.workspace_id, credential_id)
        record = CredentialRecord(
            workspace_id=scope.workspace_id,
            id=credential_id,
            name=new.name,
            type=new.type,
            category=new.category,
            description=new.description,
            masked_content=mask(new.value),
            is_default=new.is_default,
            active=True,
            created_at=now,
            updated_at=now,
            deleted_at=None,
            ciphertext=self._envelope.encrypt(new.value.encode(), owner),
        )
        writes = [
            still_live(scope.workspace_id),
            self._credentials.creation(record, created_by=scope.actor, owner=owner),
        ]
        if new.is_default:
            writes.extend(
                self._credentials.default_moves(scope.workspace_id, new.type, credential_id, now)
            )
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
        return _view(record)

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
        record = self._record(scope, credential_id)
        now = int(self._clock.now())
        owner = owner_of(scope.workspace_id, credential_id)
        changed = replace(
            record,
            name=record.name if name is None else name,
            description=record.description if description is None else description,
        )
        if value is not None:
            # A new value gets a new data key: encrypt() asks KMS for one per secret.
            changed = replace(
                changed,
                ciphertext=self._envelope.encrypt(value.encode(), owner),
                masked_content=mask(value),
            )
        # What changed, by field name, for the audit event: never the value itself.
        fields = [
            field
            for field, given in (("name", name), ("description", description), ("value", value))
            if given is not None
        ]
        default_writes: list[TransactItem] = []
        if is_default is not None and is_default != record.is_default:
            changed = replace(changed, is_default=is_default)
            default_writes = (
                self._credentials.default_moves(scope.workspace_id, record.type, credential_id, now)
                if is_default
                else [self._credentials.default_removal(record)]
            )
            fields.append("is_default")
        if not fields:
            return _view(record)
        changed = replace(changed, updated_at=now)
        # The fields, the default's move and the event: one transaction, so all or none.
        change = self._credentials.change(
            record,
            changed,
            owner=owner,
            fails_as=_no_such_credential,  # deleted meanwhile
        )
        event = scope.event(
            "credential.updated", record.id, {"name": changed.name, "fields": " ".join(fields)}
        )
        try:
            self._audit.append(event, with_writes=[change, *default_writes])
        except AppendRefused:
            raise Conflict("The default changed at the same time; retry.") from None
        return _view(changed)

    def set_default(self, scope: ResourceScope, credential_id: str) -> CredentialView:
        return self.update(scope, credential_id, is_default=True)

    def delete(self, scope: ResourceScope, credential_id: str) -> None:
        """Soft delete: gone from reads, kept (ciphertext included) for restore and audit."""
        record = self._record(scope, credential_id)
        now = int(self._clock.now())
        writes = self._credentials.deletion(record, now=now, by=scope.actor)
        event = scope.event("credential.deleted", credential_id, {"name": record.name})
        try:
            self._audit.append_protecting(event, writes)
        except AppendRefused:
            raise _no_such_credential() from None

    def restore(self, scope: ResourceScope, credential_id: str) -> CredentialView:
        """Back from a soft delete within the retention period (not as the default), else 404."""
        record = self._record(scope, credential_id, deleted=True)
        now = int(self._clock.now())
        deleted_at = record.deleted_at
        if (
            deleted_at is None
            or now - deleted_at >= self._retention_seconds
            or record.ciphertext is None
        ):
            raise _no_such_credential()
        restoration, restored = self._credentials.restoration(
            record, now=now, deleted_since=now - self._retention_seconds
        )
        event = scope.event("credential.restored", credential_id, {"name": record.name})
        try:
            self._audit.append(event, with_writes=[restoration])
        except AppendRefused:
            raise _no_such_credential() from None
        return _view(restored)


class Vault:
    """Plaintext, for the platform's own use (an agent run), by workspace and id. Never behind a
    route; every reveal is recorded."""

    def __init__(self, table: Table, envelope: Envelope, audit: AuditTrail):
        self._credentials = CredentialRepository(table)
        self._envelope = envelope
        self._audit = audit

    def reveal(self, workspace_id: str, credential_id: str, *, actor: Actor, reason: str) -> str:
        record = self._credentials.get_live(workspace_id, credential_id)
        if record is None or record.ciphertext is None:
            raise _no_such_credential()
        # Recorded before the value is decrypted, on condition that the credential is still
        # active: a reveal that cannot be recorded does not happen (503), and one is never
        # recorded for a credential deleted meanwhile. A reveal writes nothing else.
        try:
            self._audit.append(
                AuditEvent(
                    "credential.revealed", actor, credential_id, workspace_id, {"reason": reason}
                ),
                [self._credentials.active_check(record)],
            )
        except AppendRefused:
            raise _no_such_credential() from None
        plaintext = self._envelope.decrypt(record.ciphertext, owner_of(workspace_id, credential_id))
        return plaintext.decode()
