"""Webhook trigger management (contract section 8). Tokens and secrets come out once, at
creation (and the token at rotation); reads show only the token's prefix."""

from __future__ import annotations

from dataclasses import dataclass

from aws_lambda_powertools.event_handler import Response
from pydantic import BaseModel, Field, StrictBool

from railguard.core.runtime import Runtime
from railguard.core.settings import AuditSettings, EnvelopeSettings, IdempotencySettings
from railguard.crypto.server_keys import ServerKey
from railguard.http import ApiFunction, Data, DataList, ListMeta
from railguard.http.models import (
    Cursor,
    DisplayName,
    IdempotencyKeyHeader,
    Limit,
    RequestModel,
    Timestamp,
    ViewModel,
)
from railguard.webhooks import TOKEN_LOOKUP_KEY_NAME, TokenLookup, WebhookTriggers
from railguard.workspaces import ResourceScope


@dataclass(frozen=True, kw_only=True)
class TriggerSettings(EnvelopeSettings, IdempotencySettings, AuditSettings):
    """Seals trigger tokens and secrets under KMS, fingerprints Idempotency-Key requests under
    its HMAC key, and records every change."""


def _triggers(runtime: Runtime[TriggerSettings]) -> WebhookTriggers:
    table, envelope, clock = runtime.table, runtime.envelope, runtime.clock
    lookup = TokenLookup(ServerKey(table, envelope, clock, TOKEN_LOOKUP_KEY_NAME))
    return WebhookTriggers(table, envelope, clock, lookup, runtime.audit_trail)


api = ApiFunction(TriggerSettings, _triggers)


class NewTrigger(RequestModel):
    name: DisplayName
    agent_id: str = Field(min_length=1, max_length=100)
    generate_secret: StrictBool = Field(
        default=False, description="Also issue a signing secret; calls must then be signed"
    )
    is_active: StrictBool = True


class TriggerChanges(RequestModel):
    name: DisplayName | None = None
    is_active: StrictBool | None = None


class Trigger(ViewModel):
    id: str
    name: str
    agent_id: str
    token_prefix: str
    is_active: bool
    has_secret: bool
    created_at: Timestamp
    last_used_at: Timestamp | None


class CreatedTrigger(Trigger):
    token: str = Field(description="`wht_...`: shown this once")
    secret: str | None = Field(default=None, description="`whsec_...`: shown this once")


class RotatedToken(BaseModel):
    token: str = Field(description="The new `wht_...`; the old token has stopped")


def _scope() -> ResourceScope:
    return ResourceScope.of(api.principal)


@api.app.get("/api/v1/webhook-triggers", summary="The workspace's triggers", tags=["webhooks"])
def list_triggers(limit: Limit = 20, cursor: Cursor = None) -> DataList[Trigger]:
    listing = api.services.list_for(_scope(), limit=limit, cursor=cursor)
    return DataList(
        data=[Trigger.model_validate(view) for view in listing.items],
        meta=ListMeta(next_cursor=listing.next_cursor),
    )


@api.app.post(
    "/api/v1/webhook-triggers", summary="Create a trigger", tags=["webhooks"], status_code=201
)
def create_trigger(
    body: NewTrigger, idempotency_key: IdempotencyKeyHeader = None
) -> Data[CreatedTrigger]:
    issued = api.services.create(
        _scope(),
        name=body.name,
        agent_id=body.agent_id,
        generate_secret=body.generate_secret,
        is_active=body.is_active,
        idempotency=api.idempotency_key(idempotency_key, body),
    )
    created = CreatedTrigger(
        **Trigger.model_validate(issued.view).model_dump(), token=issued.token, secret=issued.secret
    )
    return Data(data=created)


@api.app.get("/api/v1/webhook-triggers/<trigger_id>", summary="One trigger", tags=["webhooks"])
def get_trigger(trigger_id: str) -> Data[Trigger]:
    return Data(data=Trigger.model_validate(api.services.get(_scope(), trigger_id)))


@api.app.patch(
    "/api/v1/webhook-triggers/<trigger_id>", summary="Rename, pause or resume", tags=["webhooks"]
)
def update_trigger(trigger_id: str, body: TriggerChanges) -> Data[Trigger]:
    view = api.services.update(_scope(), trigger_id, name=body.name, is_active=body.is_active)
    return Data(data=Trigger.model_validate(view))


@api.app.delete(
    "/api/v1/webhook-triggers/<trigger_id>",
    summary="Delete; the token stops",
    tags=["webhooks"],
    status_code=204,
)
def delete_trigger(trigger_id: str) -> Response[None]:
    api.services.delete(_scope(), trigger_id)
    return Response(204)


@api.app.post(
    "/api/v1/webhook-triggers/<trigger_id>/rotate-token",
    summary="A new token; the old one stops at once",
    tags=["webhooks"],
)
def rotate_token(trigger_id: str) -> Data[RotatedToken]:
    return Data(data=RotatedToken(token=api.services.rotate_token(_scope(), trigger_id)))


lambda_handler = api.handler
