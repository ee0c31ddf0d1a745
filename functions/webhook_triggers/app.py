"""Webhook trigger management (contract section 8). Tokens and secrets come out once, at
creation (and the token at rotation); reads show only the token's prefix."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, Field, StrictBool

from railguard.core.runtime import Runtime
from railguard.core.settings import AuditSettings, EnvelopeSettings, IdempotencySettings
from railguard.crypto.server_keys import ServerKey
from railguard.http import ApiFunction, Data, DataList, RequestModel, ViewModel
from railguard.http.models import Cursor, DisplayName, IdempotencyKeyHeader, Limit
from railguard.webhooks import TOKEN_LOOKUP_KEY_NAME, TokenLookup, TriggerView, WebhookTriggers
from railguard.workspaces import ResourceScope


@dataclass(frozen=True, kw_only=True)
class TriggerSettings(EnvelopeSettings, IdempotencySettings, AuditSettings):
    """Seals trigger tokens and secrets under KMS, fingerprints Idempotency-Key requests under
    its HMAC key, and records every change."""


def _triggers(runtime: Runtime[TriggerSettings]) -> WebhookTriggers:
    table, envelope, clock = runtime.table, runtime.envelope, runtime.clock
    lookup = TokenLookup(ServerKey(table, envelope, clock, TOKEN_LOOKUP_KEY_NAME))
    return WebhookTriggers(table, envelope, clock, lookup, runtime.audit_trail)


api = ApiFunction(TriggerSettings, _triggers, scope=ResourceScope.of, tag="webhooks")


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


# A trigger's view, less the time of its last change.
class Trigger(ViewModel, view=TriggerView, leave_out={"updated_at"}): ...


class CreatedTrigger(Trigger):
    token: str = Field(description="`wht_...`: shown this once")
    secret: str | None = Field(default=None, description="`whsec_...`: shown this once")


class RotatedToken(BaseModel):
    token: str = Field(description="The new `wht_...`; the old token has stopped")


@api.route("GET /api/v1/webhook-triggers", "The workspace's triggers")
def list_triggers(limit: Limit = 20, cursor: Cursor = None) -> DataList[Trigger]:
    return Trigger.page(api.services.list_for(api.scope, limit=limit, cursor=cursor))


@api.route("POST /api/v1/webhook-triggers", "Create a trigger", status=201)
def create_trigger(
    body: NewTrigger, idempotency_key: IdempotencyKeyHeader = None
) -> Data[CreatedTrigger]:
    issued = api.services.create(
        api.scope,
        name=body.name,
        agent_id=body.agent_id,
        generate_secret=body.generate_secret,
        is_active=body.is_active,
        idempotency=api.idempotency_key(idempotency_key, body),
    )
    return Data(
        data=CreatedTrigger.shown_once(issued.view, token=issued.token, secret=issued.secret)
    )


@api.route("GET /api/v1/webhook-triggers/{trigger_id}", "One trigger")
def get_trigger(trigger_id: str) -> Data[Trigger]:
    return Trigger.data(api.services.get(api.scope, trigger_id))


@api.route("PATCH /api/v1/webhook-triggers/{trigger_id}", "Rename, pause or resume")
def update_trigger(trigger_id: str, body: TriggerChanges) -> Data[Trigger]:
    return Trigger.data(
        api.services.update(api.scope, trigger_id, name=body.name, is_active=body.is_active)
    )


@api.route(
    "POST /api/v1/webhook-triggers/{trigger_id}/rotate-token",
    "A new token; the old one stops at once",
)
def rotate_token(trigger_id: str) -> Data[RotatedToken]:
    return Data(data=RotatedToken(token=api.services.rotate_token(api.scope, trigger_id)))


@api.route("DELETE /api/v1/webhook-triggers/{trigger_id}", "Delete; the token stops")
def delete_trigger(trigger_id: str) -> None:
    api.services.delete(api.scope, trigger_id)


lambda_handler = api.handler
