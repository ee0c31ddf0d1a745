"""Contract section 1, as every API function gets it from `ApiFunction`.

A small function declared here exercises the shared resolver setup the way a real function does:
pydantic validation, the error envelope, the body guards and the standard headers.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import Field

from railguard.core.errors import Conflict, RateLimited, ServiceUnavailable
from railguard.core.settings import FunctionSettings
from railguard.http import ApiFunction, Data
from railguard.http.models import RequestModel
from tests.integration.conftest import FunctionEnv
from tests.support.functions import HttpResult, call_route
from tests.support.http_api import HttpRequest

api = ApiFunction(FunctionSettings)


class Thing(RequestModel):
    name: str = Field(min_length=1, max_length=50)
    count: int = Field(ge=0, default=0)


@api.app.post("/api/v1/things")
def create_thing(thing: Thing) -> tuple[Data[Thing], int]:
    return Data(data=thing), 201


@api.app.get("/api/v1/things/conflict")
def conflicting() -> None:
    raise Conflict("That thing exists.", details={"field": "name"})


@api.app.get("/api/v1/things/busy")
def busy() -> None:
    raise RateLimited(retry_after_seconds=7)


@api.app.get("/api/v1/things/down")
def down() -> None:
    raise ServiceUnavailable


@api.app.get("/api/v1/things/bug")
def bug() -> None:
    raise KeyError("internal detail: /var/task/secret_path.py")


@pytest.fixture(autouse=True)
def _fresh_instance(function_env: FunctionEnv) -> None:
    function_env("HealthFunction")
    api.reset()


def _post(body: bytes, content_type: str = "application/json") -> HttpResult:
    request = HttpRequest(
        "POST", "/api/v1/things", headers=[("Content-Type", content_type)], body=body
    )
    return call_route(api.handler, request, "POST /api/v1/things")


def _get(path: str) -> HttpResult:
    return call_route(api.handler, HttpRequest("GET", path), f"GET {path}")


def _assert_error(result: HttpResult, status: int, code: str) -> dict[str, Any]:
    assert result.status == status
    body = result.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    error: dict[str, Any] = body["error"]
    assert error["code"] == code
    return error


def test_a_valid_body_is_accepted_with_the_data_envelope() -> None:
    result = _post(b'{"name": "alpha", "count": 2}')
    assert result.status == 201
    assert result.json() == {"data": {"name": "alpha", "count": 2}}


def test_every_response_has_no_store_and_the_gateway_request_id() -> None:
    # Given a request with a known gateway request id, and a client trying to set its own
    request = HttpRequest(
        "GET",
        "/api/v1/things/conflict",
        headers=[("X-Request-ID", "client-made")],
        request_id="gw-req-123",
    )
    # When handled (an error response, to show it holds for errors too)
    result = call_route(api.handler, request, "GET /api/v1/things/conflict")
    # Then the headers are the contract's, and the id is the gateway's
    assert result.headers["cache-control"] == "no-store"
    assert result.headers["x-request-id"] == "gw-req-123"


def test_a_validation_failure_is_400_validation_error_not_422() -> None:
    error = _assert_error(_post(b'{"name": "", "count": -1}'), 400, "validation_error")
    fields = {item["field"] for item in error["details"]["fields"]}
    assert fields == {"body.name", "body.count"}


def test_validation_details_never_echo_the_input() -> None:
    result = _post(b'{"name": "pr_live_SECRETSECRETSECRET", "count": "pr_live_NOPE"}')
    _assert_error(result, 400, "validation_error")
    assert "pr_live_" not in result.body


def test_unknown_fields_are_refused_against_mass_assignment() -> None:
    error = _assert_error(_post(b'{"name": "a", "workspace_id": "ws_x"}'), 400, "validation_error")
    assert error["details"]["fields"][0]["field"] == "body.workspace_id"


def test_a_missing_body_is_a_validation_error() -> None:
    _assert_error(_post(b""), 400, "validation_error")


def test_invalid_json_is_400() -> None:
    _assert_error(_post(b'{"name": '), 400, "malformed_body")


def test_a_body_that_is_not_utf8_is_400_never_500() -> None:
    # Given raw bytes the gateway passes base64-encoded
    result = _post(b'{"name": "\xff\xfe"}')
    _assert_error(result, 400, "malformed_body")


def test_a_body_over_64_kib_is_413() -> None:
    big = json.dumps({"name": "a", "pad": "x" * 70_000}).encode()
    _assert_error(_post(big), 413, "payload_too_large")


def test_a_form_body_is_400_as_the_contract_says() -> None:
    _assert_error(
        _post(b"name=a", "application/x-www-form-urlencoded"), 400, "unsupported_media_type"
    )


def test_typed_errors_map_to_their_status_and_code() -> None:
    error = _assert_error(_get("/api/v1/things/conflict"), 409, "conflict")
    assert error == {
        "code": "conflict",
        "message": "That thing exists.",
        "details": {"field": "name"},
    }


def test_429_and_503_carry_retry_after() -> None:
    busy_result = _get("/api/v1/things/busy")
    _assert_error(busy_result, 429, "rate_limited")
    assert busy_result.headers["retry-after"] == "7"
    down_result = _get("/api/v1/things/down")
    _assert_error(down_result, 503, "service_unavailable")
    assert down_result.headers["retry-after"] == "1"


def test_an_unexpected_error_is_a_500_envelope_without_internals() -> None:
    result = _get("/api/v1/things/bug")
    _assert_error(result, 500, "internal_error")
    assert "secret_path" not in result.body
    assert "KeyError" not in result.body


def test_a_route_this_function_does_not_own_is_a_404_envelope() -> None:
    _assert_error(_get("/api/v1/nowhere"), 404, "not_found")


def test_a_body_without_content_type_is_read_as_json() -> None:
    # Given a client that sends JSON and no Content-Type at all
    request = HttpRequest("POST", "/api/v1/things", body=b'{"name": "gamma"}')
    # When handled / Then the body is taken as the JSON the contract says it is
    result = call_route(api.handler, request, "POST /api/v1/things")
    assert result.status == 201
