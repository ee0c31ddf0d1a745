"""The calling principal (contract section 4): GET /me for users and API keys, and the
signed-in user's own password."""

from __future__ import annotations

from typing import Literal

from aws_lambda_powertools.event_handler import Response
from pydantic import BaseModel, Field, SecretStr

from railguard.accounts import Accounts
from railguard.errors import Forbidden
from railguard.http import ApiFunction, Data
from railguard.http.models import RequestModel
from railguard.principal import Principal
from railguard.runtime import Runtime
from railguard.settings import TableSettings


def _accounts(runtime: Runtime[TableSettings]) -> Accounts:
    return Accounts(runtime.table, runtime.clock)


api = ApiFunction(TableSettings, _accounts)


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


@api.app.get("/api/v1/me", summary="The calling principal", tags=["identity"])
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


@api.app.post(
    "/api/v1/me/password", summary="Change the password; ends every session", tags=["identity"]
)
def change_password(body: PasswordChange) -> Response[None]:
    api.services.change_password(
        _user(api.principal),
        body.current_password.get_secret_value(),
        body.new_password.get_secret_value(),
    )
    return Response(204)


lambda_handler = api.handler
