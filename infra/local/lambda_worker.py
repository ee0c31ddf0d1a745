"""One Lambda execution environment: import the handler once, then serve invocations.

The runtime starts this file as a script in isolated mode (`python -I lambda_worker.py ...`) with
only the function's environment, so nothing of the local stack is on the function's `sys.path`;
it therefore imports nothing but the standard library.

Protocol over stdin/stdout: frames of a 4-byte big-endian length and UTF-8 JSON. After the import
(cold start) the worker sends `{"result": null}` or `{"error": ...}`; then for each request
`{"event", "requestId", "deadlineMs"}` it answers `{"result": <payload>}` or
`{"error": {"errorType", "errorMessage"}}`. The function's output goes to stderr.
"""

from __future__ import annotations

import argparse
import decimal
import importlib
import json
import os
import secrets
import struct
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any, BinaryIO

FRAME_HEADER = struct.Struct(">I")


def encode_frame(message: Any) -> bytes:
    data = json.dumps(message, default=_json_default).encode("utf-8")
    return FRAME_HEADER.pack(len(data)) + data


def _json_default(value: object) -> object:
    # Lambda's Python runtime serialises Decimal (what DynamoDB returns) as a JSON number.
    if isinstance(value, decimal.Decimal):
        return float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _read_frame(stream: BinaryIO) -> Any:
    header = stream.read(FRAME_HEADER.size)
    if len(header) < FRAME_HEADER.size:
        return None  # the runtime closed the pipe: this environment is done
    (length,) = FRAME_HEADER.unpack(header)
    return json.loads(stream.read(length))


def _error(error_type: str, message: str) -> dict[str, Any]:
    return {"error": {"errorType": error_type, "errorMessage": message}}


class LambdaContext:
    """The attributes of the context object of Lambda's Python runtime."""

    function_version = "$LATEST"
    identity = None
    client_context = None

    def __init__(self, function_arn: str, log_stream_name: str, request: dict[str, Any]) -> None:
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        # Lambda's runtime passes the memory size through as the environment's string.
        self.memory_limit_in_mb = os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]
        self.invoked_function_arn = function_arn
        self.aws_request_id: str = request["requestId"]
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = log_stream_name
        self._deadline_ms: int = request["deadlineMs"]

    def get_remaining_time_in_millis(self) -> int:
        return max(self._deadline_ms - int(time.time() * 1000), 0)


def _load_handler(handler: str) -> Callable[[Any, LambdaContext], Any] | dict[str, Any]:
    """The handler function, or the init error Lambda would report."""
    module_name, _, function_name = handler.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # noqa: BLE001 - the function's own init failure, reported as Lambda does
        traceback.print_exc()
        return _error(
            "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}"
        )
    function = getattr(module, function_name, None)
    if not callable(function):
        return _error(
            "Runtime.HandlerNotFound",
            f"Handler '{function_name}' missing on module '{module_name}'",
        )
    return function  # type: ignore[no-any-return]


def _invoke(
    function: Callable[[Any, LambdaContext], Any], context: LambdaContext, event: Any
) -> bytes:
    try:
        result = function(event, context)
    except Exception as exc:  # noqa: BLE001 - the handler's failure, logged and answered as Lambda does
        traceback.print_exc()
        return encode_frame(_error(type(exc).__name__, str(exc)))
    try:
        return encode_frame({"result": result})
    except (TypeError, ValueError) as exc:
        return encode_frame(_error("Runtime.MarshalError", f"Unable to marshal response: {exc}"))


def _take_standard_streams() -> tuple[BinaryIO, BinaryIO]:
    """Keep stdin/stdout for the protocol; give the function /dev/null and stderr instead."""
    protocol_in = os.fdopen(os.dup(0), "rb")
    protocol_out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # even output written straight to fd 1 must not corrupt the protocol
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    sys.stdout = sys.stderr
    return protocol_in, protocol_out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--function-arn", required=True)
    parser.add_argument("--code-dir", required=True)
    parser.add_argument("--layer-dir", action="append", default=[])
    args = parser.parse_args()

    protocol_in, protocol_out = _take_standard_streams()
    # Lambda's order: the function's code (/var/task), then the layers (/opt/python).
    sys.path[0:0] = [args.code_dir, *args.layer_dir]
    log_stream_name = f"{time.strftime('%Y/%m/%d')}/[$LATEST]{secrets.token_hex(16)}"

    loaded = _load_handler(os.environ["_HANDLER"])
    protocol_out.write(encode_frame(loaded if isinstance(loaded, dict) else {"result": None}))
    protocol_out.flush()
    if isinstance(loaded, dict):
        return
    while (request := _read_frame(protocol_in)) is not None:
        context = LambdaContext(args.function_arn, log_stream_name, request)
        protocol_out.write(_invoke(loaded, context, request["event"]))
        protocol_out.flush()


if __name__ == "__main__":
    main()
