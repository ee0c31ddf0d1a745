"""The embedded AWS emulator: moto's server on a loopback port, owned by the local stack."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from infra.local.aws import AwsEndpoint
from infra.local.ports import ensure_port_free

if TYPE_CHECKING:
    from werkzeug.serving import BaseWSGIServer

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class SerializedApp:
    """moto's app with one request at a time.

    moto applies a conditional write or a transaction in several Python steps (a transaction
    even deep-copies the table for its rollback), and a threaded server interleaves them: two
    writes conditioned on the same state could both pass. DynamoDB evaluates conditions
    atomically; serializing the emulator restores that, which the concurrency guarantees
    (single-use tokens, one owner, exact rate limits) rely on.
    """

    def __init__(self, app: WsgiApp) -> None:
        self._app = app
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        with self._lock:
            # moto answers with a complete body, so the work is done inside the lock.
            return list(self._app(environ, start_response))


class MotoEmulator:
    """moto's server on `host:port` (port 0 picks a free one), serving from a thread."""

    def __init__(self, host: str = "127.0.0.1", port: int = 4566) -> None:
        self._host = host
        self._port = port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> AwsEndpoint:
        # A bind that fails in the server thread would go unnoticed: check first.
        ensure_port_free(self._host, self._port, "AWS_PORT")
        # Imported here: moto takes a third of a second to import, and a stack given
        # AWS_ENDPOINT_URL never needs it.
        from moto.moto_server.werkzeug_app import (  # noqa: PLC0415
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server  # noqa: PLC0415

        # werkzeug logs every request at INFO; the emulator's traffic is noise in `make dev`.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        app = SerializedApp(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(
            self._host, self._port, app, threaded=True, request_handler=MotoRequestHandler
        )
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        host, port = self._server.server_address[:2]
        return AwsEndpoint(url=f"http://{host}:{port}")

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server = None
        if self._thread is not None:
            self._thread.join()
            self._thread = None
