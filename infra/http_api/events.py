"""The one builder of API Gateway HTTP API (payload format 2.0) events.

The local stack turns every HTTP request into these events, and the integration tests build their
synthetic events here too, so handlers only ever see one shape: the one API Gateway documents
("Working with AWS Lambda proxy integrations for HTTP APIs", payload format version 2.0, and the
Lambda authorizer payload 2.0 for REQUEST authorizers).
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

ACCOUNT_ID = "000000000000"
API_ID = "local"
DOMAIN_NAME = "localhost"

# API Gateway passes these content types to the function as text; anything else is base64.
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript")
_TEXT_SUFFIXES = ("+json", "+xml")


@dataclass(frozen=True)
class HttpRequest:
    """One request as it reached the gateway: raw pieces, nothing interpreted yet."""

    method: str
    path: str
    query: str = ""
    headers: Iterable[tuple[str, str]] = ()
    body: bytes = b""
    source_ip: str = "127.0.0.1"
    # How the client reached the gateway: API Gateway only serves HTTPS; the local stack, HTTP.
    scheme: str = "https"
    port: int = 443
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    time_epoch_ms: int = field(default_factory=lambda: int(time.time() * 1000))


@dataclass(frozen=True)
class MatchedRoute:
    """What route selection decided: the route key and the values of its path parameters."""

    route_key: str
    path_parameters: Mapping[str, str] = field(default_factory=dict)


def _is_text(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type.startswith(_TEXT_TYPES) or media_type.endswith(_TEXT_SUFFIXES)


def _body_fields(body: bytes, content_type: str) -> dict[str, Any]:
    if not body:
        return {"isBase64Encoded": False}
    if _is_text(content_type):
        try:
            return {"body": body.decode("utf-8"), "isBase64Encoded": False}
        except UnicodeDecodeError:
            pass  # bytes that are not UTF-8 travel base64-encoded, whatever the content type says
    return {"body": base64.b64encode(body).decode("ascii"), "isBase64Encoded": True}


def _headers_and_cookies(request: HttpRequest) -> tuple[dict[str, str], list[str]]:
    """Lower-case names, repeated headers joined with commas, cookies split out, and the
    forwarding headers API Gateway adds: the client's scheme and port in place of any sent, and
    the source address appended to `X-Forwarded-For`."""
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in request.headers:
        key = name.lower()
        if key == "cookie":
            cookies.extend(part.strip() for part in value.split(";") if part.strip())
            continue
        headers[key] = f"{headers[key]},{value}" if key in headers else value
    forwarded_for = headers.get("x-forwarded-for")
    headers["x-forwarded-for"] = (
        f"{forwarded_for}, {request.source_ip}" if forwarded_for else request.source_ip
    )
    headers["x-forwarded-proto"] = request.scheme
    headers["x-forwarded-port"] = str(request.port)
    return headers, cookies


def domain_name(headers: Mapping[str, str]) -> str:
    """The host the client addressed (its Host header without the port), as API Gateway names
    the domain it was reached by."""
    host = headers.get("host", "").strip().lower()
    if host.startswith("["):  # an IPv6 literal: [::1]:3000
        return host.partition("]")[0] + "]"
    return host.partition(":")[0] or DOMAIN_NAME


def _query_parameters(raw_query: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for name, value in parse_qsl(raw_query, keep_blank_values=True):
        params[name] = f"{params[name]},{value}" if name in params else value
    return params


def _request_context(
    request: HttpRequest, route: MatchedRoute, headers: Mapping[str, str]
) -> dict[str, Any]:
    addressed = domain_name(headers)
    return {
        "accountId": ACCOUNT_ID,
        "apiId": API_ID,
        "domainName": addressed,
        "domainPrefix": addressed.split(".", 1)[0],
        "http": {
            "method": request.method.upper(),
            "path": request.path,
            "protocol": "HTTP/1.1",
            "sourceIp": request.source_ip,
            "userAgent": headers.get("user-agent", ""),
        },
        "requestId": request.request_id,
        "routeKey": route.route_key,
        "stage": "$default",
        "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(request.time_epoch_ms / 1000)),
        "timeEpoch": request.time_epoch_ms,
    }


def _common(request: HttpRequest, route: MatchedRoute) -> tuple[dict[str, Any], dict[str, str]]:
    headers, cookies = _headers_and_cookies(request)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.route_key,
        "rawPath": request.path,
        "rawQueryString": request.query,
        "headers": headers,
    }
    if cookies:
        event["cookies"] = cookies
    if request.query:
        event["queryStringParameters"] = _query_parameters(request.query)
    if route.path_parameters:
        event["pathParameters"] = dict(route.path_parameters)
    return event, headers


def http_api_event(
    request: HttpRequest,
    route: MatchedRoute,
    authorizer_context: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The event a function behind an HTTP API route receives."""
    event, headers = _common(request, route)
    context = _request_context(request, route, headers)
    if authorizer_context is not None:
        context["authorizer"] = {"lambda": dict(authorizer_context)}
    event["requestContext"] = context
    event.update(_body_fields(request.body, headers.get("content-type", "")))
    return event


def authorizer_event(request: HttpRequest, route: MatchedRoute) -> dict[str, Any]:
    """The event a REQUEST Lambda authorizer (payload 2.0, no identity source) receives."""
    event, headers = _common(request, route)
    method, _, path = route.route_key.partition(" ")
    event["type"] = "REQUEST"
    event["routeArn"] = (
        f"arn:aws:execute-api:us-east-1:{ACCOUNT_ID}:{API_ID}/$default/{method}{path}"
    )
    event["requestContext"] = _request_context(request, route, headers)
    return event
