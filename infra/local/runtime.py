"""Run functions the way Lambda does: isolated processes, pooled per function, with time limits.

Each execution environment is a `lambda_worker.py` process started with only the function's
environment. An environment serves one invocation at a time; a function gets more environments
while all are busy (up to `max_instances`, then callers wait), so concurrent requests run
concurrently. Environments start lazily, on the invocation that finds none idle: the first request
to a function pays its cold start, as on Lambda.
"""

from __future__ import annotations

import json
import logging
import os
import select
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO, Any, cast

from infra.http_api.invocation import FunctionError, InvokeResult
from infra.local.aws import AwsEndpoint
from infra.local.lambda_worker import FRAME_HEADER, encode_frame
from infra.template import Function

logger = logging.getLogger(__name__)

_WORKER_SCRIPT = Path(__file__).with_name("lambda_worker.py")
_INIT_TIMEOUT_SECONDS = 10.0  # Lambda's limit for the init phase (the import of the handler)
_INHERITED_VARIABLES = ("PATH", "LANG", "LC_ALL")
DEFAULT_MAX_INSTANCES = 8


def worker_environment(function: Function, endpoint: AwsEndpoint) -> dict[str, str]:
    """Exactly what a function's process sees: the template's variables and Lambda's own."""
    inherited = {name: os.environ[name] for name in _INHERITED_VARIABLES if name in os.environ}
    return {
        **inherited,
        "TZ": "UTC",
        **function.environment,
        # Lambda reserves these names: the template cannot override them.
        **endpoint.environment(),
        "AWS_LAMBDA_FUNCTION_NAME": function.name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_mb),
        "AWS_LAMBDA_FUNCTION_TIMEOUT": str(function.timeout_seconds),
        "_HANDLER": function.handler,
    }


class _EnvironmentLostError(Exception):
    """The environment timed out or died; it has been killed and `error` is what Lambda says."""

    def __init__(self, error: FunctionError) -> None:
        super().__init__(error.error_message)
        self.error = error


class _ExecutionEnvironment:
    """One worker process. Not thread-safe: the pool hands it to one invocation at a time."""

    def __init__(self, function: Function, endpoint: AwsEndpoint) -> None:
        layer_arguments = [arg for d in function.layer_dirs for arg in ("--layer-dir", str(d))]
        self._function = function
        self._process = subprocess.Popen(  # noqa: S603 - our own worker, no shell
            [
                sys.executable,
                "-I",  # isolated: no PYTHON* variables, no script directory on sys.path
                str(_WORKER_SCRIPT),
                "--function-arn",
                function.arn,
                "--code-dir",
                str(function.code_dir),
                *layer_arguments,
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=None,  # the function's logs go straight to the local stack's stderr
            env=worker_environment(function, endpoint),
            cwd=function.code_dir,
            bufsize=0,
            # Ctrl-C in the terminal is for the local stack, which then kills its workers.
            start_new_session=True,
        )
        # Popen(stdin=PIPE, stdout=PIPE) always sets both; the casts only tell the type checker.
        self._stdin = cast(IO[bytes], self._process.stdin)
        self._stdout = cast(IO[bytes], self._process.stdout)

    @property
    def pid(self) -> int:
        return self._process.pid

    def initialise(self) -> None:
        """Wait for the handler's import; raise `_EnvironmentLostError` if it failed."""
        request_id = str(uuid.uuid4())
        reply = self._reply(_INIT_TIMEOUT_SECONDS, request_id)
        if "error" in reply:
            self.kill()
            raise _EnvironmentLostError(_function_error(reply["error"]))

    def invoke(self, event: Mapping[str, Any]) -> InvokeResult:
        request_id = str(uuid.uuid4())
        timeout = float(self._function.timeout_seconds)
        deadline_ms = int((time.time() + timeout) * 1000)
        frame = encode_frame({"event": event, "requestId": request_id, "deadlineMs": deadline_ms})
        try:
            self._write(frame)
        except BrokenPipeError:
            raise self._lost(request_id) from None
        reply = self._reply(timeout, request_id)
        if "error" in reply:
            return InvokeResult(error=_function_error(reply["error"]))
        return InvokeResult(payload=reply["result"])

    def terminate(self) -> None:
        """Kill the process only; safe while another thread is invoking."""
        self._process.kill()

    def kill(self) -> None:
        """Kill the process and release its pipes; only by the thread that holds it."""
        self._process.kill()
        self._process.wait()
        self._stdin.close()
        self._stdout.close()

    def _write(self, frame: bytes) -> None:
        view = memoryview(frame)
        while view:  # a raw pipe may take part of a large frame per write
            view = view[self._stdin.write(view) :]

    def _reply(self, timeout: float, request_id: str) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        header = self._read_exactly(FRAME_HEADER.size, deadline, timeout, request_id)
        (length,) = FRAME_HEADER.unpack(header)
        reply: dict[str, Any] = json.loads(
            self._read_exactly(length, deadline, timeout, request_id)
        )
        return reply

    def _read_exactly(self, size: int, deadline: float, timeout: float, request_id: str) -> bytes:
        fd = self._stdout.fileno()
        data = bytearray()
        while len(data) < size:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                self.kill()
                message = f"Task timed out after {timeout:.2f} seconds"
                raise _EnvironmentLostError(
                    FunctionError("Sandbox.Timedout", f"RequestId: {request_id} Error: {message}")
                )
            chunk = os.read(fd, size - len(data))
            if not chunk:
                raise self._lost(request_id)
            data += chunk
        return bytes(data)

    def _lost(self, request_id: str) -> _EnvironmentLostError:
        self.kill()
        code = self._process.returncode
        status = f"signal: {-code}" if code < 0 else f"exit status {code}"
        return _EnvironmentLostError(
            FunctionError(
                "Runtime.ExitError",
                f"RequestId: {request_id} Error: Runtime exited with error: {status}",
            )
        )


def _function_error(error: Mapping[str, Any]) -> FunctionError:
    return FunctionError(str(error.get("errorType")), str(error.get("errorMessage")))


class _FunctionPool:
    """The execution environments of one function."""

    def __init__(self, function: Function, endpoint: AwsEndpoint, max_instances: int) -> None:
        self._function = function
        self._endpoint = endpoint
        self._max_instances = max_instances
        self._condition = threading.Condition()
        self._idle: list[_ExecutionEnvironment] = []
        self._live: set[_ExecutionEnvironment] = set()  # idle, busy and starting
        self._stopped = False

    def invoke(self, event: Mapping[str, Any]) -> InvokeResult:
        try:
            environment = self._acquire()
        except _EnvironmentLostError as lost:
            return InvokeResult(error=lost.error)
        try:
            result = environment.invoke(event)
        except _EnvironmentLostError as lost:
            self._forget(environment)
            return InvokeResult(error=lost.error)
        self._release(environment)
        return result

    def stop(self) -> None:
        with self._condition:
            self._stopped = True
            idle, busy = list(self._idle), self._live.difference(self._idle)
            self._idle.clear()
            self._condition.notify_all()
        for environment in idle:
            environment.kill()
        for environment in busy:
            # Its invocation thread sees the end of the pipe and cleans up after itself.
            environment.terminate()

    def _acquire(self) -> _ExecutionEnvironment:
        with self._condition:
            while not self._stopped and not self._idle and len(self._live) >= self._max_instances:
                self._condition.wait()
            if self._stopped:
                raise _EnvironmentLostError(
                    FunctionError("Runtime.Unavailable", "the local stack is stopping")
                )
            if self._idle:
                return self._idle.pop()  # the most recently used: the warmest
            environment = _ExecutionEnvironment(self._function, self._endpoint)
            self._live.add(environment)
        started = time.monotonic()
        try:
            environment.initialise()
        except _EnvironmentLostError:
            self._forget(environment)
            raise
        logger.info(
            "cold start %s (pid %d) in %.0f ms",
            self._function.logical_id,
            environment.pid,
            (time.monotonic() - started) * 1000,
        )
        return environment

    def _release(self, environment: _ExecutionEnvironment) -> None:
        with self._condition:
            if not self._stopped:
                self._idle.append(environment)
                self._condition.notify()
                return
        environment.kill()

    def _forget(self, environment: _ExecutionEnvironment) -> None:
        with self._condition:
            self._live.discard(environment)
            self._condition.notify()


class FunctionRuntime:
    """Invokes the template's functions by logical id."""

    def __init__(
        self,
        functions: Iterable[Function],
        endpoint: AwsEndpoint,
        max_instances: int = DEFAULT_MAX_INSTANCES,
    ) -> None:
        self._pools = {f.logical_id: _FunctionPool(f, endpoint, max_instances) for f in functions}

    def invoke(self, function_id: str, event: Mapping[str, Any]) -> InvokeResult:
        return self._pools[function_id].invoke(event)

    def stop(self) -> None:
        """Kill every execution environment; later invocations fail fast."""
        for pool in self._pools.values():
            pool.stop()
