"""The gateway's behaviour without processes: authorizer outcomes and the response mapping."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from infra.http_api.events import HttpRequest
from infra.http_api.gateway import Gateway, HttpResponse
from infra.http_api.invocation import FunctionError, InvokeResult
from infra.template import Authorizer, Route

AUTHORIZER = Authorizer("Guard", "GuardFunction", "2.0", simple_responses=True)
ROUTES = [
    Route("GET", "/public", "PublicFunction", None),
    Route("GET", "/private/{id}", "PrivateFunction", "Guard"),
]
ALLOW = InvokeResult(payload={"isAuthorized": True, "context": {"principal": "u1"}})
OK = InvokeResult(payload={"statusCode": 200, "body": "fine"})


@dataclass
class FakeInvoker:
    """Answers each function id with a canned result and records the events it was sent."""

    results: Mapping[str, InvokeResult]
    calls: list[tuple[str, Mapping[str, Any]]] = field(default_factory=list)

    def invoke(self, function_id: str, event: Mapping[str, Any]) -> InvokeResult:
        self.calls.append((function_id, event))
        return self.results[function_id]


def _handle(path: str, **results: InvokeResult) -> tuple[HttpResponse, FakeInvoker, HttpRequest]:
    invoker = FakeInvoker(results)
    request = HttpRequest(method="GET", path=path, headers=[("Authorization", "Bearer t")])
    return Gateway(ROUTES, {"Guard": AUTHORIZER}, invoker).handle(request), invoker, request


def _json(response: HttpResponse) -> Any:
    return json.loads(response.body)


def _header(response: HttpResponse, name: str) -> list[str]:
    return [value for key, value in response.headers if key.lower() == name.lower()]


def test_unknown_path_is_api_gateways_404() -> None:
    # Given no route for the path
    # When it is requested
    response, invoker, request = _handle("/nowhere")
    # Then API Gateway's own 404 comes back and no function runs
    assert response.status == 404
    assert response.body == b'{"message":"Not Found"}'
    assert _header(response, "Content-Type") == ["application/json"]
    assert _header(response, "apigw-requestid") == [request.request_id]
    assert invoker.calls == []


def test_public_route_invokes_its_function_without_the_authorizer() -> None:
    # Given a public route
    # When it is requested
    response, invoker, request = _handle("/public", PublicFunction=OK)
    # Then only its function runs, with the request's id in the event and in the response
    assert [function_id for function_id, _ in invoker.calls] == ["PublicFunction"]
    event = invoker.calls[0][1]
    assert event["routeKey"] == "GET /public"
    assert "authorizer" not in event["requestContext"]
    assert response.status == 200
    assert response.body == b"fine"
    assert _header(response, "apigw-requestid") == [request.request_id]
    assert event["requestContext"]["requestId"] == request.request_id


def test_authorized_request_carries_the_authorizer_context() -> None:
    # Given an authorizer that allows with a context
    # When a protected route is requested
    response, invoker, _ = _handle("/private/42", GuardFunction=ALLOW, PrivateFunction=OK)
    # Then the authorizer got the REQUEST event and the function got the context
    (guard_id, guard_event), (function_id, event) = invoker.calls
    assert (guard_id, function_id) == ("GuardFunction", "PrivateFunction")
    assert guard_event["type"] == "REQUEST"
    assert guard_event["routeKey"] == "GET /private/{id}"
    assert event["requestContext"]["authorizer"] == {"lambda": {"principal": "u1"}}
    assert event["pathParameters"] == {"id": "42"}
    assert response.status == 200


# API Gateway's own answers: status and body, to the byte.
FORBIDDEN = (403, b'{"message":"Forbidden"}')
UNAUTHORIZED = (401, b'{"message":"Unauthorized"}')
INTERNAL_ERROR = (500, b'{"message":"Internal Server Error"}')


@pytest.mark.parametrize(
    ("authorizer_result", "status", "body"),
    [
        (InvokeResult(payload={"isAuthorized": False}), *FORBIDDEN),
        (InvokeResult(error=FunctionError("Unauthorized", "Unauthorized")), *UNAUTHORIZED),
        (InvokeResult(error=FunctionError("Exception", "Unauthorized")), *UNAUTHORIZED),
        (InvokeResult(error=FunctionError("ValueError", "unauthorized")), *INTERNAL_ERROR),
        (InvokeResult(error=FunctionError("Sandbox.Timedout", "Task timed out")), *INTERNAL_ERROR),
        (InvokeResult(payload={"isAuthorized": "true"}), *INTERNAL_ERROR),
        (InvokeResult(payload={"allow": True}), *INTERNAL_ERROR),
        (InvokeResult(payload="yes"), *INTERNAL_ERROR),
        (InvokeResult(payload={"isAuthorized": True, "context": ["x"]}), *INTERNAL_ERROR),
    ],
)
def test_authorizer_refusals_and_failures_look_like_api_gateways(
    authorizer_result: InvokeResult, status: int, body: bytes
) -> None:
    # Given an authorizer that refuses, raises, times out or answers something malformed
    # When a protected route is requested
    response, invoker, request = _handle("/private/1", GuardFunction=authorizer_result)
    # Then API Gateway's response comes back and the route's function never runs
    assert (response.status, response.body) == (status, body)
    assert _header(response, "apigw-requestid") == [request.request_id]
    assert [function_id for function_id, _ in invoker.calls] == ["GuardFunction"]


def test_function_error_is_a_500_without_details() -> None:
    # Given a function that raised
    failed = InvokeResult(error=FunctionError("KeyError", "'secret-key-name'"))
    # When its route is requested
    response, _, _ = _handle("/public", PublicFunction=failed)
    # Then the client sees API Gateway's 500 and nothing of the error
    assert response.status == 500
    assert response.body == b'{"message":"Internal Server Error"}'


def test_structured_result_maps_headers_cookies_and_status() -> None:
    # Given a structured result with headers, multi-value headers and cookies
    result = InvokeResult(
        payload={
            "statusCode": 201,
            "headers": {"Content-Type": "application/json", "X-Count": 3},
            "multiValueHeaders": {"Vary": ["Origin", "Accept"]},
            "cookies": ["a=1; HttpOnly", "b=2"],
            "body": '{"ok":true}',
            "isBase64Encoded": False,
        }
    )
    # When it is mapped
    response, _, _ = _handle("/public", PublicFunction=result)
    # Then every header survives, each cookie becomes a Set-Cookie header
    assert response.status == 201
    assert response.body == b'{"ok":true}'
    assert _header(response, "X-Count") == ["3"]
    assert _header(response, "Vary") == ["Origin", "Accept"]
    assert _header(response, "Set-Cookie") == ["a=1; HttpOnly", "b=2"]


def test_base64_body_is_decoded() -> None:
    # Given a binary body the function base64-encoded
    raw = bytes(range(256))
    result = InvokeResult(
        payload={
            "statusCode": 200,
            "body": base64.b64encode(raw).decode(),
            "isBase64Encoded": True,
        }
    )
    # When it is mapped
    response, _, _ = _handle("/public", PublicFunction=result)
    # Then the client gets the original bytes
    assert response.body == raw


@pytest.mark.parametrize(
    ("payload", "body"),
    [
        ({"message": "hi"}, b'{"message": "hi"}'),
        ("plain text", b"plain text"),
        ([1, 2], b"[1, 2]"),
    ],
)
def test_result_without_status_code_is_inferred_as_json_200(payload: Any, body: bytes) -> None:
    # Given a function that returns something other than a structured response
    # When it is mapped
    response, _, _ = _handle("/public", PublicFunction=InvokeResult(payload=payload))
    # Then API Gateway's inference applies: 200, JSON, the result as the body
    assert response.status == 200
    assert response.body == body
    assert _header(response, "Content-Type") == ["application/json"]


@pytest.mark.parametrize(
    "payload",
    [
        {"statusCode": "200"},
        {"statusCode": 99},
        {"statusCode": True},
        {"statusCode": 200, "body": {"not": "a string"}},
        {"statusCode": 200, "headers": ["X-A: 1"]},
        {"statusCode": 200, "headers": {"X-A": {"nested": 1}}},
        {"statusCode": 200, "headers": {"X-A": "1\r\nSet-Cookie: injected=1"}},
        {"statusCode": 200, "multiValueHeaders": {"X-A": "not a list"}},
        {"statusCode": 200, "cookies": "a=1"},
        {"statusCode": 200, "body": "***", "isBase64Encoded": True},
    ],
)
def test_malformed_result_is_a_500(payload: dict[str, Any]) -> None:
    # Given a structured result API Gateway cannot map
    # When it is mapped
    response, _, _ = _handle("/public", PublicFunction=InvokeResult(payload=payload))
    # Then the client gets API Gateway's 500
    assert response.status == 500
    assert _json(response) == {"message": "Internal Server Error"}
