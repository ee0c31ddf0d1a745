"""The HTTP API of template.yaml (`infra.http_api`) as tests drive it: the one place tests
import it from, and the events they build with it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from infra.http_api.events import HttpRequest, MatchedRoute, authorizer_event, http_api_event
from infra.http_api.gateway import Gateway
from infra.http_api.invocation import FunctionError, Invoker, InvokeResult

__all__ = [
    "FunctionError",
    "Gateway",
    "HttpRequest",
    "InvokeResult",
    "Invoker",
    "MatchedRoute",
    "authorizer_event",
    "authorizer_event_for",
    "http_api_event",
]


def authorizer_event_for(
    headers: Sequence[tuple[str, str]], route_key: str = "GET /api/v1/me"
) -> dict[str, Any]:
    """The authorizer's event for a request with `headers` on `route_key`."""
    method, _, path = route_key.partition(" ")
    return authorizer_event(HttpRequest(method, path, headers=headers), MatchedRoute(route_key))
