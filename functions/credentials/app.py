"""The credential vault (contract section 7). Values go in, masks come out: no route decrypts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import Field, SecretStr, StrictBool

from railguard.core.runtime import Runtime
from railguard.core.settings import (
    AuditSettings,
    EnvelopeSettings,
    IdempotencySettings,
    RetentionSettings,
)
from railguard.credentials import Credentials, CredentialView, NewCredential
from railguard.http import ApiFunction, Data, DataList, RequestModel, ViewModel
from railguard.http.models import Cursor, DisplayName, IdempotencyKeyHeader, Limit, Timestamp
from railguard.workspaces import ResourceScope


@dataclass(frozen=True, kw_only=True)
class CredentialSettings(EnvelopeSettings, IdempotencySettings, AuditSettings, RetentionSettings):
    """Seals values under KMS, fingerprints Idempotency-Key requests under its HMAC key, records
    every change, restores within the retention period."""


def _credentials(runtime: Runtime[CredentialSettings]) -> Credentials:
    return Credentials(
        runtime.table,
        runtime.envelope,
        runtime.clock,
        runtime.audit_trail,
        retention_seconds=runtime.settings.retention_seconds,
    )


api = ApiFunction(CredentialSettings, _credentials, scope=ResourceScope.of, tag="vault")

TYPE_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,49}$"


class NewCredentialBody(RequestModel):
    name: DisplayName
    type: str = Field(pattern=TYPE_PATTERN, description="e.g. openai, anthropic, postgres")
    category: str | None = Field(default=None, min_length=1, max_length=50)
    value: SecretStr = Field(min_length=1, max_length=10_000)
    description: str | None = Field(default=None, max_length=500)
    is_default: StrictBool = False

    def credential(self) -> NewCredential:
        return NewCredential(
            name=self.name,
            type=self.type,
            value=self.value.get_secret_value(),
            category=self.category,
            description=self.description,
            is_default=self.is_default,
        )


class CredentialChanges(RequestModel):
    name: DisplayName | None = None
    description: str | None = Field(default=None, max_length=500)
    value: SecretStr | None = Field(default=None, min_length=1, max_length=10_000)
    is_default: StrictBool | None = None


class Credential(ViewModel, view=CredentialView):
    deleted_at: Timestamp | None = None


@api.route("GET /api/v1/credentials", "The workspace's credentials, masked")
def list_credentials(
    limit: Limit = 20,
    cursor: Cursor = None,
    include_deleted: Annotated[bool, Query(description="Owners and admins")] = False,
) -> DataList[Credential]:
    listing = api.services.list_for(
        api.scope, include_deleted=include_deleted, limit=limit, cursor=cursor
    )
    return Credential.page(listing)


@api.route("POST /api/v1/credentials", "Store a credential (encrypted)", status=201)
def create_credential(
    body: NewCredentialBody, idempotency_key: IdempotencyKeyHeader = None
) -> Data[Credential]:
    idempotency = api.idempotency_key(idempotency_key, body)
    return Credential.data(api.services.create(api.scope, body.credential(), idempotency))


@api.route("GET /api/v1/credentials/{credential_id}", "One credential")
def get_credential(credential_id: str) -> Data[Credential]:
    return Credential.data(api.services.get(api.scope, credential_id))


@api.route("PATCH /api/v1/credentials/{credential_id}", "Rename, describe, replace")
def update_credential(credential_id: str, body: CredentialChanges) -> Data[Credential]:
    view = api.services.update(
        api.scope,
        credential_id,
        name=body.name,
        description=body.description,
        value=body.value.get_secret_value() if body.value is not None else None,
        is_default=body.is_default,
    )
    return Credential.data(view)


@api.route(
    "POST /api/v1/credentials/{credential_id}/restore",
    "Restore a deleted credential within retention",
)
def restore_credential(credential_id: str) -> Data[Credential]:
    return Credential.data(api.services.restore(api.scope, credential_id))


@api.route("POST /api/v1/credentials/{credential_id}/set-default", "Make it its type's default")
def set_default(credential_id: str) -> Data[Credential]:
    return Credential.data(api.services.set_default(api.scope, credential_id))


@api.route("DELETE /api/v1/credentials/{credential_id}", "Delete (restorable 30 days)")
def delete_credential(credential_id: str) -> None:
    api.services.delete(api.scope, credential_id)


lambda_handler = api.handler
