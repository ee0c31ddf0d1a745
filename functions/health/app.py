"""GET /api/v1/health: the API is up (contract section 3). Public, no dependencies."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from railguard.core.settings import FunctionSettings
from railguard.http import ApiFunction, Data

api = ApiFunction(FunctionSettings, tag="meta")


class Health(BaseModel):
    status: Literal["ok"]


@api.route("GET /api/v1/health", "Liveness of the API")
def get_health() -> Data[Health]:
    return Data(data=Health(status="ok"))


lambda_handler = api.handler
