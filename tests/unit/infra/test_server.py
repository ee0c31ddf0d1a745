"""The HTTP server in front of the gateway: what it hands over and what it refuses (loopback)."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from infra.http_api.events import HttpRequest
from infra.http_api.gateway import HttpResponse
from infra.local.server import MAX_BODY_BYTES, GatewayServer


@dataclass
class RecordingGateway:
    """Answers every request with `response` and keeps what it was given."""

    response: HttpResponse = field(
        default_factory=lambda: HttpResponse(200, (("Content-Type", "text/plain"),), b"hello")
    )
    requests: list[HttpRequest] = field(default_factory=list)
    fail: bool = False

    def handle(self, request: HttpRequest) -> HttpResponse:
        self.requests.append(request)
        if self.fail:
            raise RuntimeError("a bug in the gateway")
        return self.response


@pytest.fixture
def gateway() -> RecordingGateway:
    return RecordingGateway()


@pytest.fixture
def connection(gateway: RecordingGateway) -> Iterator[http.client.HTTPConnection]:
    server = GatewayServer(("127.0.0.1", 0), gateway)
    # A short poll interval keeps shutdown() quick between tests.
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    conn = http.client.HTTPConnection(str(host), port, timeout=5)
    yield conn
    conn.close()
    server.shutdown()
    server.server_close()
    thread.join()


def _send(
    conn: http.client.HTTPConnection,
    method: str,
    target: str,
    headers: list[tuple[str, str]],
    body: bytes = b"",
) -> http.client.HTTPResponse:
    conn.putrequest(method, target, skip_accept_encoding=True)
    for name, value in headers:
        conn.putheader(name, value)
    conn.endheaders(body or None)
    return conn.getresponse()


def test_source_ip_is_the_tcp_peer_whatever_forwarding_headers_claim(
    connection: http.client.HTTPConnection, gateway: RecordingGateway
) -> None:
    # Given a request that claims another client address in every usual header
    spoofing = [
        ("X-Forwarded-For", "203.0.113.7"),
        ("X-Real-IP", "203.0.113.8"),
        ("Forwarded", "for=203.0.113.9"),
    ]
    # When it reaches the server over loopback
    _send(connection, "GET", "/x", spoofing).read()
    # Then the request's source IP is the TCP peer, and the headers are passed on untouched
    (request,) = gateway.requests
    assert request.source_ip == "127.0.0.1"
    assert ("X-Forwarded-For", "203.0.113.7") in list(request.headers)


def test_the_request_came_over_plain_http_to_the_servers_port(
    connection: http.client.HTTPConnection, gateway: RecordingGateway
) -> None:
    # When a request reaches the local server
    _send(connection, "GET", "/x", []).read()
    # Then it is known to have come over HTTP to the port it listens on (X-Forwarded-Proto and
    # -Port, as API Gateway would say of its HTTPS)
    (request,) = gateway.requests
    assert (request.scheme, request.port) == ("http", connection.port)


def test_raw_request_pieces_reach_the_gateway(
    connection: http.client.HTTPConnection, gateway: RecordingGateway
) -> None:
    # Given a request with a query, a repeated header and a body
    headers = [("X-Multi", "one"), ("X-Multi", "two"), ("Content-Length", "5")]
    # When it is sent with a method no stdlib handler knows
    response = _send(connection, "PURGE", "/a/b?x=1&y=2", headers, b"hello")
    response.read()
    # Then the gateway gets the method, path, raw query, both headers in order, and the body
    (request,) = gateway.requests
    assert (request.method, request.path, request.query) == ("PURGE", "/a/b", "x=1&y=2")
    assert [value for name, value in request.headers if name == "X-Multi"] == ["one", "two"]
    assert request.body == b"hello"


def test_response_is_written_as_the_gateway_made_it(
    connection: http.client.HTTPConnection, gateway: RecordingGateway
) -> None:
    # Given a gateway response with repeated headers and its own framing header
    gateway.response = HttpResponse(
        201,
        (("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"), ("Content-Length", "999")),
        b"made",
    )
    # When a request is served
    response = _send(connection, "GET", "/x", [])
    # Then status, repeated headers and body arrive, and the length is the server's own
    assert response.status == 201
    assert response.headers.get_all("Set-Cookie") == ["a=1", "b=2"]
    assert response.headers["Content-Length"] == "4"
    assert response.read() == b"made"


def test_head_response_has_no_body(connection: http.client.HTTPConnection) -> None:
    # Given any route answer
    # When it is requested with HEAD
    response = _send(connection, "HEAD", "/x", [])
    # Then the headers say the length and no body follows
    assert response.headers["Content-Length"] == "5"
    assert response.read() == b""


def test_body_over_the_payload_quota_is_413_before_it_is_read(
    connection: http.client.HTTPConnection, gateway: RecordingGateway
) -> None:
    # Given a request announcing more than API Gateway's 10 MiB
    headers = [("Content-Length", str(MAX_BODY_BYTES + 1))]
    # When only its headers are sent
    response = _send(connection, "POST", "/x", headers)
    # Then API Gateway's 413 comes back without the gateway being asked
    assert response.status == 413
    assert json.loads(response.read()) == {"message": "Request Entity Too Large"}
    assert response.headers["apigw-requestid"]
    assert gateway.requests == []


@pytest.mark.parametrize(
    "headers",
    [
        [("Content-Length", "abc")],
        [("Content-Length", "-1")],
        [("Content-Length", "1"), ("Content-Length", "2")],
    ],
)
def test_unusable_content_length_is_400(
    connection: http.client.HTTPConnection, headers: list[tuple[str, str]]
) -> None:
    # Given a request whose body length cannot be known
    # When it is sent
    response = _send(connection, "POST", "/x", headers)
    # Then it is refused as a bad request
    assert response.status == 400
    assert json.loads(response.read()) == {"message": "Bad Request"}


def test_gateway_bug_costs_one_500_not_the_server(
    connection: http.client.HTTPConnection, gateway: RecordingGateway
) -> None:
    # Given a gateway that raises
    gateway.fail = True
    # When a request is served
    response = _send(connection, "GET", "/x", [])
    # Then the client gets API Gateway's 500
    assert response.status == 500
    assert json.loads(response.read()) == {"message": "Internal Server Error"}
    # And the server keeps serving on the same connection
    gateway.fail = False
    assert _send(connection, "GET", "/x", []).read() == b"hello"


@pytest.mark.parametrize(
    ("host", "status", "reached"),
    [
        ("rebound.attacker.example", 403, False),
        ("rebound.attacker.example:3000", 403, False),
        ("10.0.0.5", 403, False),
        ("localhost:3000", 200, True),
        ("127.0.0.1", 200, True),
        ("[::1]:3000", 200, True),
    ],
)
def test_a_loopback_server_answers_only_requests_for_a_loopback_host(
    connection: http.client.HTTPConnection,
    gateway: RecordingGateway,
    host: str,
    status: int,
    reached: bool,
) -> None:
    # Given the server on 127.0.0.1, and a request naming `host` (a DNS-rebound page names its own)
    connection.putrequest("GET", "/api/v1/me", skip_host=True)
    connection.putheader("Host", host)
    connection.endheaders()
    # When it arrives
    response = connection.getresponse()
    response.read()
    # Then only a loopback name reaches the gateway; another is API Gateway's own 403
    assert response.status == status
    assert bool(gateway.requests) is reached
