"""The local stack assembled: template, AWS emulator, provisioning, functions, gateway, the
dashboard's files, server."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from infra.dashboard import dashboard_site
from infra.http_api.gateway import Gateway
from infra.local.aws import AwsEndpoint
from infra.local.emulator import MotoEmulator
from infra.local.ports import ensure_port_free, port_error
from infra.local.provisioning import provision
from infra.local.runtime import DEFAULT_MAX_INSTANCES, FunctionRuntime
from infra.local.server import GatewayServer
from infra.local.site import SiteGateway
from infra.template import Route, load_template

DEFAULT_TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
# How often serve_forever() looks for a shutdown request (the stdlib's 0.5 s makes stop slow).
_SHUTDOWN_POLL_SECONDS = 0.1


def _print_line(line: str) -> None:
    print(line, flush=True)


def _route_line(route: Route) -> str:
    auth = f"authorizer {route.authorizer}" if route.authorizer else "public"
    return f"route {route.key} -> {route.function_id} ({auth})"


class LocalStack:
    """Everything `make dev` runs, startable and stoppable in-process.

    `start()` raises `TemplateError` or `StartupError` (with what to change) and leaves nothing
    running when it does; `stop()` is idempotent.
    """

    def __init__(
        self,
        template_path: Path = DEFAULT_TEMPLATE,
        *,
        host: str = "127.0.0.1",
        port: int = 3000,
        aws_port: int = 4566,
        endpoint_url: str | None = None,
        max_instances: int = DEFAULT_MAX_INSTANCES,
        report: Callable[[str], None] = _print_line,
    ) -> None:
        self._template_path = template_path
        self._host = host
        self._port = port
        self._aws_port = aws_port
        self._endpoint_url = endpoint_url
        self._max_instances = max_instances
        self._report = report
        self._emulator: MotoEmulator | None = None
        self._runtime: FunctionRuntime | None = None
        self._server: GatewayServer | None = None
        self._serving: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the local stack is not started")
        return self._server.url

    def start(self) -> None:
        template = load_template(self._template_path)
        # Before anything starts: a taken port must fail fast, with nothing to clean up.
        ensure_port_free(self._host, self._port, "PORT")
        try:
            endpoint = self._aws_endpoint()
            provisioning = provision(template, endpoint)
            for resource in provisioning.resources:
                self._report(resource.describe())
            functions = template.functions(provisioning.intrinsics)
            self._runtime = FunctionRuntime(functions, endpoint, self._max_instances)
            self._report(
                f"functions (started on first request, up to {self._max_instances} instances"
                f" each): {', '.join(f.logical_id for f in functions)}"
            )
            for route in template.routes:
                self._report(_route_line(route))
            api = Gateway(template.routes, template.authorizers, self._runtime)
            site = dashboard_site(template)
            to_api = ", ".join(site.api_path_patterns)
            self._report(f"dashboard: {site.content_dir} at /; to the API: {to_api}")
            try:
                self._server = GatewayServer((self._host, self._port), SiteGateway(site, api))
            except OSError as exc:
                raise port_error(self._host, self._port, "PORT", exc) from exc
        except BaseException:
            self.stop()
            raise
        self._serving = threading.Thread(
            target=self._server.serve_forever,
            args=(_SHUTDOWN_POLL_SECONDS,),
            name="local-api-gateway",
            daemon=True,
        )
        self._serving.start()
        self._report(f"Railguard local stack on {self.url}")

    def stop(self) -> None:
        """Stop accepting requests, kill the function processes, stop the emulator."""
        if self._server is not None:
            if self._serving is not None:  # shutdown() waits for a serve_forever() that ran
                self._server.shutdown()
                self._serving.join()
                self._serving = None
            self._server.server_close()
            self._server = None
        if self._runtime is not None:
            self._runtime.stop()
            self._runtime = None
        if self._emulator is not None:
            self._emulator.stop()
            self._emulator = None

    def _aws_endpoint(self) -> AwsEndpoint:
        if self._endpoint_url:
            self._report(f"AWS endpoint {self._endpoint_url} (AWS_ENDPOINT_URL; no emulator)")
            return AwsEndpoint(url=self._endpoint_url)
        self._emulator = MotoEmulator("127.0.0.1", self._aws_port)
        endpoint = self._emulator.start()
        self._report(f"AWS emulator (moto) on {endpoint.url}")
        return endpoint
