"""The HTTP API (`infra.http_api`: route selection, authorizer protocol, response mapping) with
the functions invoked in this process instead of worker processes: fast enough for test matrices,
and the same routing and refusal bodies as `make dev`, which serves the same module."""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3 import HTTPHeaderDict, HTTPResponse

from infra.template import Template
from tests.support.functions import load_function
from tests.support.http_api import FunctionError, Gateway, HttpRequest, Invoker, InvokeResult
from tests.support.lambda_context import FakeLambdaContext


class InProcessInvoker:
    def __init__(self, template: Template):
        self._code_dirs = {
            resource.logical_id: Path(str(resource.properties["CodeUri"])).name
            for resource in template.resources_of_type("AWS::Serverless::Function")
        }

    def invoke(self, function_id: str, event: Mapping[str, Any]) -> InvokeResult:
        module = load_function(self._code_dirs[function_id])
        try:
            payload = module.lambda_handler(dict(event), FakeLambdaContext())
        except Exception as error:  # noqa: BLE001 - what Lambda's runtime does with any error
            return InvokeResult(error=FunctionError(type(error).__name__, str(error)))
        return InvokeResult(payload=payload)


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class InProcessClient:
    def __init__(self, template: Template, invoker: Invoker | None = None):
        self._gateway = Gateway(
            template.routes, template.authorizers, invoker or InProcessInvoker(template)
        )

    def request(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        source_ip: str = "127.0.0.1",
        raw_body: bytes | None = None,
    ) -> Reply:
        """`body` is sent as JSON; `raw_body`, as exactly these bytes (also as JSON)."""
        pairs = list((headers or {}).items())
        if token is not None:
            pairs.append(("Authorization", f"Bearer {token}"))
        raw = raw_body if raw_body is not None else b""
        if body is not None:
            raw = json.dumps(body).encode()
        if raw:
            pairs.append(("Content-Type", "application/json"))
        path, _, query = path.partition("?")
        response = self._gateway.handle(
            HttpRequest(method, path, query=query, headers=pairs, body=raw, source_ip=source_ip)
        )
        return Reply(response.status, {k.lower(): v for k, v in response.headers}, response.body)

    def session(self, source_ip: str = "127.0.0.1") -> requests.Session:
        """A `requests` session whose every request, whatever its URL, goes to this gateway:
        for HTTP clients (schemathesis) without a server or a socket."""
        session = requests.Session()
        adapter = _GatewayAdapter(self._gateway, source_ip)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        return session


class _GatewayAdapter(HTTPAdapter):
    def __init__(self, gateway: Gateway, source_ip: str) -> None:
        super().__init__()
        self._gateway, self._source_ip = gateway, source_ip

    def send(
        self, request: requests.PreparedRequest, *_args: Any, **_kwargs: Any
    ) -> requests.Response:
        url = urlsplit(request.url or "")
        body = request.body if isinstance(request.body, bytes) else str(request.body or "").encode()
        headers = [
            (name, value.decode() if isinstance(value, bytes) else value)
            for name, value in request.headers.items()
        ]
        response = self._gateway.handle(
            HttpRequest(
                request.method or "GET",
                url.path,
                query=url.query,
                headers=headers,
                body=body,
                source_ip=self._source_ip,
            )
        )
        raw = HTTPResponse(
            body=io.BytesIO(response.body),
            headers=HTTPHeaderDict(response.headers),
            status=response.status,
            version=11,
            preload_content=False,
        )
        return self.build_response(request, raw)
