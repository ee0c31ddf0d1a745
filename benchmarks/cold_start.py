"""Cold starts as a user of Lambda sees them: a fresh interpreter, from its first import to the
answer of its first invocation, AWS clients created on the way, DynamoDB answered by a stub.

The stub (`ReplayingDynamoDB`, on 127.0.0.1) first forwards each program's calls to the
emulator and records the answers; the timed runs of that program are then answered from its own
recordings, so every run sees the state of its first (a key never used stays never used) and a
call costs a local HTTP round trip and no emulator work, alike for every program. A request is
answered by the recording of the same body, else (a body with a timestamp in it, such as a write
of `last_used_at`) by the program's last recording of the same operation.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

# Timed inside the program: interpreter start-up is the same for every program, and Lambda's
# runtime pays it before any of our code runs. EVENT and CONTEXT exist before the clock starts.
_PROGRAM = """\
import time
EVENT = {event!r}
class CONTEXT:
    function_name = "cold-start"
    aws_request_id = "cold-start-request"
started = time.perf_counter()
{imports}
imported = time.perf_counter()
{invocation}
done = time.perf_counter()
print(imported - started, done - started)
"""


@dataclass(frozen=True)
class Program:
    """What a fresh process imports, then what its first invocation runs (it must raise
    SystemExit on a wrong answer), from `cwd`."""

    imports: str
    invocation: str
    cwd: Path
    event: Mapping[str, Any]

    def source(self) -> str:
        return _PROGRAM.format(
            event=dict(self.event), imports=self.imports, invocation=self.invocation
        )


def authorizer_program(function_dir: Path, event: Mapping[str, Any]) -> Program:
    """The authorizer's handler module, then its first decision, which must allow."""
    return Program(
        imports="import app",
        invocation=(
            "answer = app.lambda_handler(EVENT, CONTEXT)\n"
            "if answer.get('isAuthorized') is not True:\n"
            "    raise SystemExit(f'not allowed: {answer}')"
        ),
        cwd=function_dir,
        event=event,
    )


def bare_client_program(cwd: Path, table_name: str, key: Mapping[str, str]) -> Program:
    """A handler that only creates a boto3 DynamoDB client and reads one item."""
    item_key = {name: {"S": value} for name, value in key.items()}
    return Program(
        imports="import boto3",
        invocation=(
            "client = boto3.client('dynamodb')\n"
            f"found = client.get_item(TableName={table_name!r}, Key={item_key!r}, "
            "ConsistentRead=True)\n"
            "if 'Item' not in found:\n"
            "    raise SystemExit('no item')"
        ),
        cwd=cwd,
        event={},
    )


@dataclass(frozen=True)
class Timing:
    imported_ms: float  # the program's imports
    total_ms: float  # imports and the first invocation


def run(program: Program, environment: Mapping[str, str]) -> Timing:
    """One fresh process; SystemExit or an exception in it fails the bench."""
    completed = subprocess.run(  # noqa: S603 - our own interpreter and program
        [sys.executable, "-c", program.source()],
        cwd=program.cwd,
        env=dict(environment),
        capture_output=True,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"cold start failed: {completed.stderr.decode()[-2000:]}")
    imported, total = (float(number) for number in completed.stdout.decode().split()[-2:])
    return Timing(imported * 1000, total * 1000)


def medians(
    stub: ReplayingDynamoDB,
    programs: Mapping[str, Program],
    environment: Mapping[str, str],
    runs: int,
) -> dict[str, Timing]:
    """Each program once with `stub` recording, then `runs` times answered from its recordings,
    alternated (so the machine's drift hits all alike); the median of each figure."""
    for name, program in programs.items():
        stub.serve(name, record=True)
        run(program, environment)
    timings: dict[str, list[Timing]] = {name: [] for name in programs}
    for _ in range(runs):
        for name, program in programs.items():
            stub.serve(name, record=False)
            timings[name].append(run(program, environment))
    return {
        name: Timing(
            statistics.median(timing.imported_ms for timing in runs_of),
            statistics.median(timing.total_ms for timing in runs_of),
        )
        for name, runs_of in timings.items()
    }


def function_environment(
    base: Mapping[str, str], function: Mapping[str, str], endpoint: Mapping[str, str]
) -> dict[str, str]:
    """What a function process gets: the template's variables for it and the endpoint's, plus
    only PATH and the locale from `base`; no ~/.aws (Lambda has none)."""
    kept = {name: base[name] for name in ("PATH", "LANG", "LC_ALL") if name in base}
    return {
        **kept,
        **function,
        **endpoint,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }


@dataclass
class _Recording:
    status: int
    headers: Sequence[tuple[str, str]]
    body: bytes


class ReplayingDynamoDB:
    """DynamoDB's JSON protocol on 127.0.0.1, for one program at a time (`serve`): records the
    emulator's answers to it, or answers from its recordings."""

    _KEPT_HEADERS = ("content-type", "x-amz-crc32", "x-amzn-requestid")

    def __init__(self, upstream: str) -> None:
        self._upstream = upstream
        self._program = ""
        self._recording = True
        self._by_body: dict[tuple[str, str, bytes], _Recording] = {}
        self._by_operation: dict[tuple[str, str], _Recording] = {}
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def serve(self, program: str, *, record: bool) -> None:
        self._program, self._recording = program, record

    def answer(self, target: str, body: bytes, headers: Mapping[str, str]) -> _Recording:
        program = self._program
        if self._recording:
            recording = self._forward(body, headers)
            self._by_body[program, target, body] = recording
            self._by_operation[program, target] = recording
            return recording
        found = self._by_body.get((program, target, body)) or self._by_operation.get(
            (program, target)
        )
        if found is None:
            return _Recording(
                500, [("Content-Type", "text/plain")], b"not recorded: " + target.encode()
            )
        return found

    def _forward(self, body: bytes, headers: Mapping[str, str]) -> _Recording:
        request = urllib.request.Request(  # noqa: S310 - the local emulator's http URL
            self._upstream + "/", data=body, headers=dict(headers), method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                return self._kept(response.status, response.headers.items(), response.read())
        except urllib.error.HTTPError as error:  # DynamoDB's errors are answers too
            return self._kept(error.code, error.headers.items(), error.read())

    def _kept(self, status: int, headers: Sequence[tuple[str, str]], body: bytes) -> _Recording:
        kept = [(name, value) for name, value in headers if name.lower() in self._KEPT_HEADERS]
        return _Recording(status, kept, body)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as botocore's pool expects
            # Headers and body go out in two writes: without this, Nagle's algorithm holds the
            # body until the client's delayed ACK, 40 ms a call.
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                target = self.headers.get("X-Amz-Target", "")
                forwarded = {
                    name: value
                    for name, value in self.headers.items()
                    if name.lower()
                    in ("content-type", "x-amz-target", "authorization", "x-amz-date")
                }
                recording = stub.answer(target, body, forwarded)
                self.send_response(recording.status)
                for name, value in recording.headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(recording.body)))
                self.end_headers()
                self.wfile.write(recording.body)

            def log_message(self, format: str, *args: Any) -> None:
                """Silent: the bench prints its figures, not each request."""

        return Handler
