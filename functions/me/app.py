"""GET /api/v1/me: who the caller is, as the authorizer established it (contract section 4)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from railguard.http import ApiFunction, Data
from railguard.settings import TableSettings

api = ApiFunction(TableSettings)


class ApiKeyIdentity(BaseModel):
    type: Literal["api_key"]
    id: str
    workspace_id: str
    scopes: list[str]


@api.app.get("/api/v1/me", summary="The calling principal", tags=["identity"])
def get_me() -> Data[ApiKeyIdentity]:
    principal = api.principal
    return Data(
        data=ApiKeyIdentity(
            type="api_key",
            id=principal.id,
            workspace_id=principal.workspace_id or "",
            scopes=sorted(principal.scopes),
        )
    )


lambda_handler = api.handler
