"""Starting and stopping `python -m infra.local` as a real process, as `make dev` does."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 10.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True)
class StackProcess:
    process: subprocess.Popen[bytes]
    port: int
    aws_port: int
    stdout_path: Path
    stderr_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def aws_endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.aws_port}"

    @property
    def stdout(self) -> str:
        return self.stdout_path.read_text()

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def run_job(self, name: str, detail: dict[str, Any] | None = None) -> Any:
        """`make job NAME=<name> [DETAIL=...]` (or `make plan`, the job `plan`), pointed at this
        stack's emulator; its report."""
        environment = {**os.environ, "AWS_ENDPOINT_URL": self.aws_endpoint_url}
        completed = subprocess.run(  # noqa: S603 - our own module, no shell
            [sys.executable, "-m", "infra.local.job", name, "--detail", json.dumps(detail or {})],
            cwd=ROOT,
            env=environment,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert completed.returncode == 0, completed.stderr
        return json.loads(completed.stdout)

    def wait_until_healthy(self) -> None:
        """Poll the health route; fail with the process's output if it never answers."""
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"local stack exited {self.process.returncode}:\n{self.stderr}")
            try:
                if requests.get(f"{self.url}/api/v1/health", timeout=2).status_code == 200:
                    return
            except requests.ConnectionError:
                time.sleep(0.1)
        self.process.kill()
        pytest.fail(f"local stack not healthy in {STARTUP_TIMEOUT_SECONDS}s:\n{self.stderr}")

    def interrupt(self) -> int:
        """Ctrl-C, and the exit status."""
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout=STOP_TIMEOUT_SECONDS)

    def wait(self) -> int:
        return self.process.wait(timeout=STOP_TIMEOUT_SECONDS)


def launch(
    logs: Path, *, port: int | None = None, aws_port: int | None = None, **settings: str
) -> StackProcess:
    """Start the local stack on free (or the given) ports with `settings` added to the env."""
    port = port or free_port()
    aws_port = aws_port or free_port()
    inherited = {name: value for name, value in os.environ.items() if name != "AWS_ENDPOINT_URL"}
    environment = {
        **inherited,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "AWS_PORT": str(aws_port),
        **settings,
    }
    logs.mkdir(parents=True, exist_ok=True)
    stdout_path, stderr_path = logs / "stdout.log", logs / "stderr.log"
    # Files, not pipes: nobody reads a pipe while tests run, and a full pipe blocks the server.
    with stdout_path.open("wb") as stdout, stderr_path.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "infra.local"],
            cwd=ROOT,
            env=environment,
            stdout=stdout,
            stderr=stderr,
        )
    return StackProcess(process, port, aws_port, stdout_path, stderr_path)
