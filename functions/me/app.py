"""The calling principal (contract sections 4 and 10): GET /me for users and API keys, the
signed-in user's own password, and their own security events."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, Field, SecretStr

from railguard.access.principal import Principal
from railguard.core.errors import Forbidden
from railguard.core.settings import AuditSettings, EnvelopeSettings
from railguard.http import ApiFunction, Data, DataList, RequestModel
from railguard.http.audit import ActionFilter, AuditEventOut, event_list
from railguard.http.models import Cursor, Limit
from railguard.identity.accounts import Accounts
from railguard.store import keys as item_keys


@dataclass(frozen=True, kw_only=True)
class MeSettings(EnvelopeSettings, AuditSettings):
    """Reads profiles, changes passwords, and records it in the user's audit trail; KMS only
    for the server key that names accounts' failure budgets."""


api = ApiFunction(MeSettings, Accounts.of_runtime, tag="identity")


class UserIdentity(BaseModel):
    type: Literal["user"]
    id: str
    email: str
    name: str
    mfa_enabled: bool


class ApiKeyIdentity(BaseModel):
    type: Literal["api_key"]
    id: str
    workspace_id: str
    scopes: list[str]


class PasswordChange(RequestModel):
    current_password: SecretStr
    new_password: SecretStr = Field(
        description="12 to 256 characters; common passwords are refused"
    )


def _user(principal: Principal) -> str:
    if principal.kind != "user":
        raise Forbidden("Only a signed-in user can do this.")
    return principal.id


@api.route("GET /api/v1/me", "The calling principal")
def get_me() -> Data[UserIdentity | ApiKeyIdentity]:
    principal = api.principal
    if principal.kind == "api_key":
        return Data(
            data=ApiKeyIdentity(
                type="api_key",
                id=principal.id,
                workspace_id=principal.workspace_id or "",
                scopes=sorted(principal.scopes),
            )
        )
    profile = api.services.profile(principal.id)
    return Data(
        data=UserIdentity(
            type="user",
            id=profile.id,
            email=profile.email,
            name=profile.name,
            mfa_enabled=profile.mfa_enabled,
        )
    )


@api.route("POST /api/v1/me/password", "Change the password; ends every session", status=204)
def change_password(body: PasswordChange) -> None:
    api.services.change_password(
        _user(api.principal),
        body.current_password.get_secret_value(),
        body.new_password.get_secret_value(),
    )


@api.route(
    "GET /api/v1/me/security-events",
    "Your own security events (sign-up, logins, password, MFA), newest first",
)
def list_security_events(
    limit: Limit = 20, cursor: Cursor = None, action: ActionFilter = None
) -> DataList[AuditEventOut]:
    trail = item_keys.user_trail(_user(api.principal))
    return event_list(api.runtime.audit_log.page(trail, action=action, limit=limit, cursor=cursor))


lambda_handler = api.handler
