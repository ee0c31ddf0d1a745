"""The payload-2.0 events the local gateway builds, checked against the documented shape."""

from __future__ import annotations

import base64

import pytest

from infra.http_api.events import HttpRequest, MatchedRoute, authorizer_event, http_api_event

ROUTE = MatchedRoute("POST /items/{id}", {"id": "7"})
REQUEST = HttpRequest(
    method="post",
    path="/items/7",
    query="b=2&a=1&a=3&empty=",
    headers=[
        ("Content-Type", "application/json"),
        ("X-Multi", "one"),
        ("x-multi", "two"),
        ("Cookie", "s=1; t=2"),
        ("User-Agent", "tests"),
        ("X-Forwarded-For", "203.0.113.9"),
    ],
    body=b'{"name":"x"}',
    source_ip="192.0.2.10",
    request_id="req-1",
    time_epoch_ms=1_700_000_000_000,
)
# "Working with AWS Lambda proxy integrations for HTTP APIs", payload format version 2.0.
DOCUMENTED_KEYS = {
    "version",
    "routeKey",
    "rawPath",
    "rawQueryString",
    "cookies",
    "headers",
    "queryStringParameters",
    "requestContext",
    "body",
    "pathParameters",
    "isBase64Encoded",
}


def test_function_event_has_the_documented_keys() -> None:
    # Given a request with query, cookies, path parameters and a body
    # When the function event is built
    event = http_api_event(REQUEST, ROUTE)
    # Then it has exactly the documented top-level keys and values
    assert set(event) == DOCUMENTED_KEYS
    assert event["version"] == "2.0"
    assert event["routeKey"] == "POST /items/{id}"
    assert event["rawPath"] == "/items/7"
    assert event["rawQueryString"] == "b=2&a=1&a=3&empty="
    assert event["pathParameters"] == {"id": "7"}
    assert event["body"] == '{"name":"x"}'
    assert event["isBase64Encoded"] is False


def test_headers_are_lower_cased_and_repeated_ones_comma_joined() -> None:
    # Given repeated headers in different cases, and a cookie header
    # When the event is built
    headers = http_api_event(REQUEST, ROUTE)["headers"]
    # Then names are lower case, repeats are joined with commas, cookies are not headers
    assert headers["x-multi"] == "one,two"
    assert headers["content-type"] == "application/json"
    assert "cookie" not in headers
    assert all(name == name.lower() for name in headers)


def test_cookies_and_query_parameters_are_split_out() -> None:
    # Given a Cookie header and a query with a repeated and an empty parameter
    # When the event is built
    event = http_api_event(REQUEST, ROUTE)
    # Then cookies are a list and repeated query values are comma-joined
    assert event["cookies"] == ["s=1", "t=2"]
    assert event["queryStringParameters"] == {"b": "2", "a": "1,3", "empty": ""}


def test_request_context_takes_the_source_ip_from_the_request_not_the_headers() -> None:
    # Given a request whose X-Forwarded-For claims another address
    # When the event is built
    context = http_api_event(REQUEST, ROUTE)["requestContext"]
    # Then sourceIp is the request's own (the TCP peer), and the method is upper case
    assert context["http"] == {
        "method": "POST",
        "path": "/items/7",
        "protocol": "HTTP/1.1",
        "sourceIp": "192.0.2.10",
        "userAgent": "tests",
    }
    assert context["requestId"] == "req-1"
    assert context["routeKey"] == "POST /items/{id}"
    assert context["stage"] == "$default"
    assert context["timeEpoch"] == 1_700_000_000_000


def test_the_gateway_adds_forwarding_headers_over_the_clients_own() -> None:
    # Given a request that claims its own X-Forwarded-For, -Proto and -Port
    request = HttpRequest(
        method="GET",
        path="/items/7",
        headers=[
            ("X-Forwarded-For", "203.0.113.9"),
            ("X-Forwarded-Proto", "https"),
            ("X-Forwarded-Port", "443"),
        ],
        source_ip="192.0.2.10",
        scheme="http",
        port=3000,
    )
    # When the event is built
    headers = http_api_event(request, ROUTE)["headers"]
    # Then, as API Gateway does, the source address is appended and the scheme and port are
    # the ones the client used
    assert headers["x-forwarded-for"] == "203.0.113.9, 192.0.2.10"
    assert headers["x-forwarded-proto"] == "http"
    assert headers["x-forwarded-port"] == "3000"


def test_a_request_to_api_gateway_is_https_on_443_by_default() -> None:
    # Given a request that says nothing of how it came
    # When the event is built
    event = http_api_event(HttpRequest(method="GET", path="/items/7"), ROUTE)
    # Then it came as to API Gateway: HTTPS on 443, from its source address, to the default domain
    assert event["headers"] == {
        "x-forwarded-for": "127.0.0.1",
        "x-forwarded-proto": "https",
        "x-forwarded-port": "443",
    }
    assert event["requestContext"]["domainName"] == "localhost"


@pytest.mark.parametrize(
    ("host", "domain_name"),
    [
        ("127.0.0.1:3000", "127.0.0.1"),
        ("API.Example.com", "api.example.com"),
        ("[::1]:3000", "[::1]"),
        ("localhost", "localhost"),
    ],
)
def test_the_domain_name_is_the_host_the_client_addressed(host: str, domain_name: str) -> None:
    # Given a request with a Host header
    request = HttpRequest(method="GET", path="/items/7", headers=[("Host", host)])
    # When the event is built
    context = http_api_event(request, ROUTE)["requestContext"]
    # Then the domain name is that host without its port, as API Gateway names its domain
    assert context["domainName"] == domain_name
    assert context["domainPrefix"] == domain_name.split(".", 1)[0]


def test_non_utf8_body_travels_base64_encoded() -> None:
    # Given a text content type with bytes that are not UTF-8
    request = HttpRequest(
        method="POST", path="/items/7", headers=[("Content-Type", "text/plain")], body=b"\xff\xfe"
    )
    # When the event is built
    event = http_api_event(request, ROUTE)
    # Then the body is base64 and flagged so
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"\xff\xfe"


def test_authorizer_context_is_under_request_context_authorizer_lambda() -> None:
    # Given the context an authorizer returned
    # When the function event is built with it
    event = http_api_event(REQUEST, ROUTE, authorizer_context={"principal": "u1", "scopes": "a b"})
    # Then it is where payload 2.0 puts a Lambda authorizer's context
    assert event["requestContext"]["authorizer"] == {"lambda": {"principal": "u1", "scopes": "a b"}}


def test_authorizer_event_is_a_request_event_with_the_route_arn_and_no_body() -> None:
    # Given a request to a protected route
    # When the authorizer's event is built
    event = authorizer_event(REQUEST, ROUTE)
    # Then it is a REQUEST authorizer event for that route, without the request body
    assert event["type"] == "REQUEST"
    assert event["routeArn"].endswith("/$default/POST/items/{id}")
    assert event["headers"]["x-multi"] == "one,two"
    assert event["requestContext"]["http"]["sourceIp"] == "192.0.2.10"
    assert "body" not in event
