"""The HTTP side of the local API Gateway: a threading server handing each request to a gateway."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

from infra.http_api.events import HttpRequest, domain_name
from infra.http_api.gateway import HttpResponse, gateway_response, internal_error
from infra.local.ports import is_loopback

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload quota for HTTP APIs
# How this server frames its own connection; a function's response does not decide these.
_FRAMING_HEADERS = frozenset({"connection", "content-length", "keep-alive", "transfer-encoding"})


class RequestGateway(Protocol):
    def handle(self, request: HttpRequest) -> HttpResponse: ...


class GatewayServer(ThreadingHTTPServer):
    """One thread per connection, so concurrent requests reach the functions concurrently."""

    daemon_threads = True  # an idle keep-alive connection must not hold up shutdown

    def __init__(self, address: tuple[str, int], gateway: RequestGateway) -> None:
        self.gateway = gateway
        super().__init__(address, _RequestHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Instead of socketserver's traceback on stderr: a client that hung up is not an error.
        if isinstance(sys.exception(), ConnectionError):
            return
        logger.exception("connection from %s failed", client_address[0])

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


class _RequestHandler(BaseHTTPRequestHandler):
    server: GatewayServer
    protocol_version = "HTTP/1.1"  # keep-alive, as API Gateway offers
    server_version = "railguard-local"

    def __getattr__(self, name: str) -> Callable[[], None]:
        # The base class dispatches METHOD to do_METHOD; API Gateway takes any method (and
        # answers 404 when no route has it), so every do_* is the same handler.
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def _serve(self) -> None:
        started = time.monotonic()
        path, _, query = self.path.partition("?")
        request = HttpRequest(
            method=self.command,
            path=path,
            query=query,
            headers=tuple(self.headers.items()),  # raw: repeated headers stay repeated
            # The TCP peer, whatever X-Forwarded-For and the like claim: API Gateway's sourceIp.
            source_ip=self.client_address[0],
            scheme="http",
            port=self.server.server_address[1],
        )
        response = self._response(request)
        self._write(response)
        logger.info(
            "%s %s %d %s %.0fms",
            request.method,
            request.path,
            response.status,
            request.request_id,
            (time.monotonic() - started) * 1000,
        )

    def _response(self, request: HttpRequest) -> HttpResponse:
        if not self._addressed_here():
            self.close_connection = True  # the unread body makes the connection unusable
            return gateway_response(403, "Forbidden", request.request_id)
        body = self._read_body(request.request_id)
        if isinstance(body, HttpResponse):
            return body
        try:
            return self.server.gateway.handle(replace(request, body=body))
        except Exception:  # the one broad catch: a bug must cost one 500, not the connection
            logger.exception("unexpected failure (request %s)", request.request_id)
            return internal_error(request.request_id)

    def _addressed_here(self) -> bool:
        """Whether the request names this server. Bound to a loopback address, it answers only
        requests for a loopback host: a web page whose name an attacker's DNS re-points to
        127.0.0.1 (DNS rebinding) arrives with that name as its Host, and would otherwise drive
        the local stack, sessions included, from the attacker's origin."""
        if not is_loopback(str(self.server.server_address[0])):
            return True  # bound to a public address on purpose (HOST=0.0.0.0)
        return is_loopback(domain_name({"host": self.headers.get("Host", "localhost")}))

    def _read_body(self, request_id: str) -> bytes | HttpResponse:
        """The body by Content-Length, or the response that refuses the request."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            return gateway_response(411, "Length Required", request_id)
        lengths = set(self.headers.get_all("Content-Length") or [])
        if not lengths:
            return b""
        value = lengths.pop().strip()
        if lengths or not (value.isascii() and value.isdigit()):
            self.close_connection = True  # where the body ends is unknown
            return gateway_response(400, "Bad Request", request_id)
        length = int(value)
        if length > MAX_BODY_BYTES:
            self.close_connection = True  # the unread body makes the connection unusable
            return gateway_response(413, "Request Entity Too Large", request_id)
        return self.rfile.read(length)

    def _write(self, response: HttpResponse) -> None:
        self.send_response(response.status)
        for name, value in response.headers:
            if name.lower() not in _FRAMING_HEADERS:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def version_string(self) -> str:
        return self.server_version  # not the Python version

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Silenced: `_serve` logs its own line, without the query string (it may hold secrets)."""

    def log_error(self, format: str, *args: Any) -> None:
        logger.warning("rejected a malformed HTTP request from %s", self.client_address[0])
