"""Agent UI deployments (contract section 9): management behind the authorizer, and the two
public routes of a deployment's page: unlock with its PIN, and check the unlocked session."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body
from pydantic import BaseModel, Field, Secret, StringConstraints

from railguard.agent_uis import (
    KEEP,
    PIN_MAX_DIGITS,
    PIN_MIN_DIGITS,
    PIN_PEPPER_KEY_NAME,
    AgentUis,
    AgentUiView,
    PinChange,
)
from railguard.core.runtime import Runtime
from railguard.core.settings import AuditSettings, EnvelopeSettings
from railguard.http import ApiFunction, Data, DataList, RequestModel, ViewModel
from railguard.http.guards import bearer_token
from railguard.http.models import Cursor, DisplayName, Limit
from railguard.workspaces import ResourceScope


@dataclass(frozen=True, kw_only=True)
class AgentUiSettings(EnvelopeSettings, AuditSettings):
    """Records every change to the trail; KMS only for the server key that peppers PINs."""


def _agent_uis(runtime: Runtime[AgentUiSettings]) -> AgentUis:
    return AgentUis(
        runtime.table,
        runtime.clock,
        runtime.audit_trail,
        pin_pepper=runtime.keyed_hash(PIN_PEPPER_KEY_NAME),
    )


api = ApiFunction(AgentUiSettings, _agent_uis, scope=ResourceScope.of, tag="agent-ui")

# A secret (masked in repr, never echoed by validation errors) of 4 to 8 ASCII digits.
Pin = Secret[
    Annotated[str, StringConstraints(pattern=rf"^[0-9]{{{PIN_MIN_DIGITS},{PIN_MAX_DIGITS}}}$")]
]
_PIN_DESCRIPTION = f"{PIN_MIN_DIGITS} to {PIN_MAX_DIGITS} digits; stored hashed, never returned"


class NewAgentUi(RequestModel):
    name: DisplayName
    agent_id: str = Field(min_length=1, max_length=100)
    pin: Pin | None = Field(default=None, description=_PIN_DESCRIPTION)


class AgentUiChanges(RequestModel):
    name: DisplayName | None = None
    pin: Pin | None = Field(default=None, description=f"{_PIN_DESCRIPTION}; null removes it")


class UnlockRequest(RequestModel):
    pin: Pin | None = Field(default=None, description="The deployment's PIN, if it has one")


class AgentUi(ViewModel, view=AgentUiView): ...  # whether it has a PIN, never the PIN


class Unlocked(BaseModel):
    access_token: str = Field(description="`rgu_...`: good for this deployment's session only")
    expires_in: int


class AgentUiSession(BaseModel):
    id: str
    name: str
    agent_id: str


# -- management (authorizer; X-Workspace-ID) ---------------------------------------------------
@api.route("GET /api/v1/agent-uis", "The workspace's agent UI deployments")
def list_agent_uis(limit: Limit = 20, cursor: Cursor = None) -> DataList[AgentUi]:
    return AgentUi.page(api.services.list_for(api.scope, limit=limit, cursor=cursor))


@api.route("POST /api/v1/agent-uis", "Deploy an agent UI", status=201)
def create_agent_ui(body: NewAgentUi) -> Data[AgentUi]:
    pin = body.pin.get_secret_value() if body.pin is not None else None
    return AgentUi.data(
        api.services.create(api.scope, name=body.name, agent_id=body.agent_id, pin=pin)
    )


@api.route("GET /api/v1/agent-uis/{agent_ui_id}", "One deployment")
def get_agent_ui(agent_ui_id: str) -> Data[AgentUi]:
    return AgentUi.data(api.services.get(api.scope, agent_ui_id))


@api.route(
    "PATCH /api/v1/agent-uis/{agent_ui_id}",
    "Rename; set, change or remove the PIN (ends its sessions)",
)
def update_agent_ui(agent_ui_id: str, body: AgentUiChanges) -> Data[AgentUi]:
    # An absent `pin` keeps it; an explicit `"pin": null` removes it.
    pin: PinChange = KEEP
    if "pin" in body.model_fields_set:
        pin = body.pin.get_secret_value() if body.pin is not None else None
    return AgentUi.data(api.services.update(api.scope, agent_ui_id, name=body.name, pin=pin))


@api.route("DELETE /api/v1/agent-uis/{agent_ui_id}", "Delete a deployment; its sessions end")
def delete_agent_ui(agent_ui_id: str) -> None:
    api.services.delete(api.scope, agent_ui_id)


# -- the deployment's page (public: the PIN, then the unlock token, is the credential) ---------
@api.route(
    "POST /api/v1/agent-uis/{agent_ui_id}/unlock",
    "Unlock a deployment with its PIN, for a 15-minute token of that deployment",
)
def unlock_agent_ui(
    agent_ui_id: str, body: Annotated[UnlockRequest | None, Body()] = None
) -> Data[Unlocked]:
    # No body at all is allowed: a deployment without a PIN needs nothing.
    pin = body.pin if body is not None else None
    grant = api.services.unlock(
        agent_ui_id,
        pin.get_secret_value() if pin is not None else None,
        source_ip=api.app.current_event.request_context.http.source_ip,
    )
    return Data(data=Unlocked(access_token=grant.access_token, expires_in=grant.expires_in))


@api.route(
    "GET /api/v1/agent-uis/{agent_ui_id}/session",
    "The deployment an unlock token opens (Authorization: Bearer rgu_...)",
)
def agent_ui_session(agent_ui_id: str) -> Data[AgentUiSession]:
    token = bearer_token(api.app.current_event.headers.get("authorization"))
    view = api.services.session(agent_ui_id, token)
    return Data(data=AgentUiSession(id=view.id, name=view.name, agent_id=view.agent_id))


lambda_handler = api.handler
