"""The public webhook trigger (contract section 8): `POST /api/v1/webhook/trigger` with
`Authorization: Bearer wht_...`, signed when the trigger has a secret. The body is the event's
payload (JSON); the raw bytes are what the signature covers."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

from pydantic import BaseModel

from railguard.core.runtime import Runtime
from railguard.core.settings import EnvelopeSettings, EventBusSettings
from railguard.crypto.server_keys import ServerKey
from railguard.http import ApiFunction, Data
from railguard.http.guards import bearer_token
from railguard.webhooks import (
    TOKEN_LOOKUP_KEY_NAME,
    TokenLookup,
    TriggerCall,
    TriggerIngress,
)


@dataclass(frozen=True, kw_only=True)
class IngressSettings(EnvelopeSettings, EventBusSettings):
    """Reads triggers (and unseals their secrets) and publishes to the bus."""


class IngressServices:
    def __init__(self, runtime: Runtime[IngressSettings]):
        self._runtime = runtime

    @cached_property
    def ingress(self) -> TriggerIngress:
        runtime = self._runtime
        table, envelope, clock = runtime.table, runtime.envelope, runtime.clock
        lookup = TokenLookup(ServerKey(table, envelope, clock, TOKEN_LOOKUP_KEY_NAME))
        return TriggerIngress(table, envelope, clock, lookup, runtime.event_bus)


api = ApiFunction(IngressSettings, IngressServices, tag="webhooks")


class Accepted(BaseModel):
    accepted: Literal[True] = True
    event_id: str


@api.route(
    "POST /api/v1/webhook/trigger", "Start the trigger's agent with this payload", status=202
)
def trigger() -> Data[Accepted]:
    event = api.app.current_event
    headers = event.headers
    body = event.body or ""
    call = TriggerCall(
        token=bearer_token(headers.get("authorization")),
        source_ip=event.request_context.http.source_ip,
        timestamp=headers.get("x-webhook-timestamp"),
        signature=headers.get("x-webhook-signature"),
        # The guards have already decoded and checked the body as UTF-8 JSON: these bytes are
        # the ones the sender signed.
        raw_body=body.encode(),
        payload=json.loads(body) if body else None,
    )
    event_id = api.services.ingress.accept(call)
    return Data(data=Accepted(event_id=event_id))


lambda_handler = api.handler
