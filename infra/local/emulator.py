"""The embedded AWS emulator: moto's server on a loopback port, owned by the local stack."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from infra.local.aws import AwsEndpoint
from infra.local.ports import ensure_port_free

if TYPE_CHECKING:
    from moto.server import ThreadedMotoServer


class MotoEmulator:
    """moto's ThreadedMotoServer on `host:port` (port 0 picks a free one)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 4566) -> None:
        self._host = host
        self._port = port
        self._server: ThreadedMotoServer | None = None

    def start(self) -> AwsEndpoint:
        # ThreadedMotoServer waits forever if the bind in its thread fails: check first.
        ensure_port_free(self._host, self._port, "AWS_PORT")
        # Imported here: moto takes a third of a second to import, and a stack given
        # AWS_ENDPOINT_URL never needs it.
        from moto.server import ThreadedMotoServer  # noqa: PLC0415

        # werkzeug logs every request at INFO; the emulator's traffic is noise in `make dev`.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self._server = ThreadedMotoServer(ip_address=self._host, port=self._port, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        return AwsEndpoint(url=f"http://{host}:{port}")

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
