"""`make dev`: serve the template's API locally until Ctrl-C or SIGTERM.

Settings from the environment: HOST (127.0.0.1), PORT (3000), AWS_PORT (4566), AWS_ENDPOINT_URL
(use that endpoint and start no emulator), TEMPLATE (the repository's template.yaml).
Exit status: 0 after a requested stop, 2 when the stack cannot start (the reason on stderr).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from infra.local.errors import StartupError
from infra.local.ports import port_setting
from infra.local.stack import DEFAULT_TEMPLATE, LocalStack
from infra.local.stopping import StopSignals
from infra.template import TemplateError

_CANNOT_START = 2


def _stack(environment: Mapping[str, str]) -> LocalStack:
    return LocalStack(
        Path(environment.get("TEMPLATE", str(DEFAULT_TEMPLATE))),
        host=environment.get("HOST", "127.0.0.1"),
        port=port_setting(environment, "PORT", 3000),
        aws_port=port_setting(environment, "AWS_PORT", 4566),
        endpoint_url=environment.get("AWS_ENDPOINT_URL") or None,
    )


def main() -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    stop_signals = StopSignals()
    try:
        stack = _stack(os.environ)
        stack.start()
    except (StartupError, TemplateError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return _CANNOT_START
    try:
        stop_signals.wait()
    finally:
        stack.stop()
    print("Railguard local stack stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
