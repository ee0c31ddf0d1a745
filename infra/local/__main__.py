"""`make dev`: serve the template's API locally until Ctrl-C or SIGTERM.

Settings from the environment: HOST (127.0.0.1), PORT (3000), AWS_PORT (4566), AWS_ENDPOINT_URL
(use that endpoint and start no emulator), TEMPLATE (the repository's template.yaml).
Exit status: 0 after a requested stop, 2 when the stack cannot start (the reason on stderr).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Mapping
from pathlib import Path

from infra.local.errors import StartupError
from infra.local.stack import DEFAULT_TEMPLATE, LocalStack
from infra.template import TemplateError

_CANNOT_START = 2
_SIGNAL_CHECK_SECONDS = 0.2


def _port(environment: Mapping[str, str], name: str, default: int) -> int:
    value = environment.get(name, str(default))
    if not value.isascii() or not value.isdigit() or int(value) > 65535:
        raise StartupError(f"{name} must be a port number, got {value!r}")
    return int(value)


def _stack(environment: Mapping[str, str]) -> LocalStack:
    return LocalStack(
        Path(environment.get("TEMPLATE", str(DEFAULT_TEMPLATE))),
        host=environment.get("HOST", "127.0.0.1"),
        port=_port(environment, "PORT", 3000),
        aws_port=_port(environment, "AWS_PORT", 4566),
        endpoint_url=environment.get("AWS_ENDPOINT_URL") or None,
    )


def main() -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    stop_requested = threading.Event()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signal_number, lambda _signal, _frame: stop_requested.set())
    try:
        stack = _stack(os.environ)
        stack.start()
    except (StartupError, TemplateError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return _CANNOT_START
    try:
        # Timed: a signal that lands on another thread runs its Python handler only when this
        # (the main) thread next runs bytecode, which an untimed wait would never do.
        while not stop_requested.wait(timeout=_SIGNAL_CHECK_SECONDS):
            pass
    finally:
        stack.stop()
    print("Railguard local stack stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
