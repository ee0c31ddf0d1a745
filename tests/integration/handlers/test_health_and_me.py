"""The foundation's own routes, through their real function modules."""

from __future__ import annotations

import pytest

from tests.integration.conftest import FunctionEnv
from tests.support.functions import call_route, load_function
from tests.support.http_api import HttpRequest

health = load_function("health")
me = load_function("me")


@pytest.fixture(autouse=True)
def _fresh_instances(function_env: FunctionEnv) -> None:
    function_env("MeFunction")
    health.api.reset()
    me.api.reset()


def test_health_is_ok_with_the_contract_headers() -> None:
    # When the health route is called
    result = call_route(
        health.lambda_handler, HttpRequest("GET", "/api/v1/health"), "GET /api/v1/health"
    )
    # Then it is the contract's body, not cacheable, with a request id
    assert result.status == 200
    assert result.json() == {"data": {"status": "ok"}}
    assert result.headers["cache-control"] == "no-store"
    assert result.headers["x-request-id"]


def test_me_describes_an_api_key_principal_from_the_authorizer_context() -> None:
    # Given the context the authorizer passes for an API key
    context = {
        "principal_type": "api_key",
        "principal_id": "key_1",
        "workspace_id": "ws_1",
        "scopes": "agents:read credentials:read",
    }
    # When /me is called
    result = call_route(
        me.lambda_handler,
        HttpRequest("GET", "/api/v1/me"),
        "GET /api/v1/me",
        authorizer_context=context,
    )
    # Then it describes that key and nothing more
    assert result.status == 200
    assert result.json() == {
        "data": {
            "type": "api_key",
            "id": "key_1",
            "workspace_id": "ws_1",
            "scopes": ["agents:read", "credentials:read"],
        }
    }


def test_me_without_an_authorizer_context_is_401_not_a_crash() -> None:
    # Given a misrouted request that reached the function with no authorizer in front
    result = call_route(me.lambda_handler, HttpRequest("GET", "/api/v1/me"), "GET /api/v1/me")
    # Then the function refuses on its own (defence in depth)
    assert result.status == 401
    assert result.json()["error"]["code"] == "unauthenticated"
