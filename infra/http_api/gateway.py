"""API Gateway HTTP API behaviour between a request and the functions (payload format 2.0).

Pure apart from the invoker it is given: route selection, the Lambda authorizer with simple
responses, and the mapping of a function's result (or error) to the HTTP response.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from infra.http_api.events import HttpRequest, MatchedRoute, authorizer_event, http_api_event
from infra.http_api.invocation import Invoker, InvokeResult
from infra.http_api.routing import RouteTable
from infra.template import Authorizer, Route

logger = logging.getLogger(__name__)

JSON_CONTENT_TYPE = "application/json"
REQUEST_ID_HEADER = "apigw-requestid"
# The one authorizer error API Gateway turns into a 401 rather than a 500.
_UNAUTHORIZED_ERROR = "Unauthorized"


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes = b""


def gateway_response(status: int, message: str, request_id: str) -> HttpResponse:
    """A response API Gateway makes itself, such as `404 {"message": "Not Found"}`."""
    return HttpResponse(
        status,
        (("Content-Type", JSON_CONTENT_TYPE), (REQUEST_ID_HEADER, request_id)),
        json.dumps({"message": message}, separators=(",", ":")).encode(),  # API Gateway's bytes
    )


def internal_error(request_id: str) -> HttpResponse:
    return gateway_response(500, "Internal Server Error", request_id)


class MalformedResultError(ValueError):
    """A function result API Gateway cannot turn into an HTTP response."""


def function_response(payload: Any, request_id: str) -> HttpResponse:
    """The HTTP response for a function's payload-2.0 result (structured, or inferred)."""
    if isinstance(payload, dict) and "statusCode" in payload:
        status, headers, body = _structured(payload)
    else:
        # API Gateway's inference for a result without statusCode: 200, JSON, the result as body.
        text = payload if isinstance(payload, str) else json.dumps(payload)
        status, headers, body = 200, [("Content-Type", JSON_CONTENT_TYPE)], text.encode()
    return HttpResponse(status, (*headers, (REQUEST_ID_HEADER, request_id)), body)


def _structured(payload: Mapping[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
    status = payload["statusCode"]
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise MalformedResultError(f"statusCode {status!r}")
    headers = payload.get("headers") or {}
    multi_value_headers = payload.get("multiValueHeaders") or {}
    cookies = payload.get("cookies") or []
    body = payload.get("body") or ""
    if not isinstance(headers, dict) or not isinstance(multi_value_headers, dict):
        raise MalformedResultError("headers are not a map")
    if not isinstance(cookies, list) or not isinstance(body, str):
        raise MalformedResultError("cookies are not a list or body is not a string")
    pairs = [(str(name), _header_value(value)) for name, value in headers.items()]
    for name, values in multi_value_headers.items():
        if not isinstance(values, list):
            raise MalformedResultError(f"multiValueHeaders[{name!r}] is not a list")
        pairs.extend((str(name), _header_value(value)) for value in values)
    pairs.extend(("Set-Cookie", _header_value(cookie)) for cookie in cookies)
    if payload.get("isBase64Encoded") is True:
        try:
            return status, pairs, base64.b64decode(body, validate=True)
        except binascii.Error as exc:
            raise MalformedResultError("body is not valid base64") from exc
    return status, pairs, body.encode()


def _header_value(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise MalformedResultError("a header value is not a string")
    text = str(value)
    if "\r" in text or "\n" in text:
        raise MalformedResultError("header value with a line break")
    return text


class Gateway:
    """One HTTP API: the template's routes and authorizers over an invoker of functions."""

    def __init__(
        self, routes: Iterable[Route], authorizers: Mapping[str, Authorizer], invoker: Invoker
    ) -> None:
        self._routes = RouteTable(routes)
        self._authorizers = dict(authorizers)
        self._invoker = invoker

    def handle(self, request: HttpRequest) -> HttpResponse:
        selected = self._routes.select(request.method, request.path)
        if selected is None:
            return gateway_response(404, "Not Found", request.request_id)
        route, matched = selected
        authorizer_context: Mapping[str, Any] | None = None
        if route.authorizer is not None:
            decision = self._authorize(self._authorizers[route.authorizer], request, matched)
            if isinstance(decision, HttpResponse):
                return decision
            authorizer_context = decision
        event = http_api_event(request, matched, authorizer_context=authorizer_context)
        result = self._invoker.invoke(route.function_id, event)
        return self._respond(route.function_id, result, request.request_id)

    def _authorize(
        self, authorizer: Authorizer, request: HttpRequest, matched: MatchedRoute
    ) -> Mapping[str, Any] | HttpResponse:
        """The authorizer's context if it allows the request, else the response that refuses."""
        request_id = request.request_id
        result = self._invoker.invoke(authorizer.function_id, authorizer_event(request, matched))
        if result.error is not None:
            if result.error.error_message == _UNAUTHORIZED_ERROR:
                return gateway_response(401, "Unauthorized", request_id)
            logger.warning(
                "authorizer %s failed with %s (request %s)",
                authorizer.function_id,
                result.error.error_type,
                request_id,
            )
            return internal_error(request_id)
        response = result.payload if isinstance(result.payload, dict) else {}
        decision, context = response.get("isAuthorized"), response.get("context") or {}
        if decision is False:
            return gateway_response(403, "Forbidden", request_id)
        if decision is True and isinstance(context, dict):
            return context
        logger.warning(
            "authorizer %s returned no simple response (request %s)",
            authorizer.function_id,
            request_id,
        )
        return internal_error(request_id)

    def _respond(self, function_id: str, result: InvokeResult, request_id: str) -> HttpResponse:
        if result.error is not None:
            logger.warning(
                "function %s failed with %s (request %s)",
                function_id,
                result.error.error_type,
                request_id,
            )
            return internal_error(request_id)
        try:
            return function_response(result.payload, request_id)
        except MalformedResultError as exc:
            logger.warning(
                "function %s returned a malformed response: %s (request %s)",
                function_id,
                exc,
                request_id,
            )
            return internal_error(request_id)
