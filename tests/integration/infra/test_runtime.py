"""Functions run as Lambda runs them: separate processes, exact environment, pooled, timed out."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from infra.http_api.invocation import InvokeResult
from infra.local.aws import AwsEndpoint
from infra.local.runtime import FunctionRuntime
from infra.template import Function

ENDPOINT = AwsEndpoint(url="http://127.0.0.1:9")  # never called: these functions use no AWS
TEMPLATE_ENVIRONMENT = {"TABLE_NAME": "t", "STAGE": "dev"}

FUNCTION_CODE = """
import decimal
import os
import sys
import time

import shared_layer_module  # only importable if the layer directory is on sys.path

invocations = 0


def echo(event, context):
    global invocations
    invocations += 1
    print("printed by the function")
    return {
        "environment": dict(os.environ),
        "sys_path": sys.path,
        "cwd": os.getcwd(),
        "pid": os.getpid(),
        "invocations": invocations,
        "event": event,
        "layer": shared_layer_module.NAME,
        "context": {
            "function_name": context.function_name,
            "function_version": context.function_version,
            "invoked_function_arn": context.invoked_function_arn,
            "memory_limit_in_mb": context.memory_limit_in_mb,
            "aws_request_id": context.aws_request_id,
            "log_group_name": context.log_group_name,
            "log_stream_name": context.log_stream_name,
            "remaining_ms": context.get_remaining_time_in_millis(),
        },
    }


def fail(event, context):
    raise ValueError("boom")


def sleep(event, context):
    time.sleep(event["seconds"])
    return os.getpid()


def crash(event, context):
    os._exit(3)


def decimal_result(event, context):
    return {"price": decimal.Decimal("1.5")}


def unserialisable(event, context):
    return {"value": object()}
"""


@pytest.fixture(scope="module")
def code_dirs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    root = tmp_path_factory.mktemp("functions")
    code, layer, broken = root / "code", root / "layer", root / "broken"
    for directory in (code, layer, broken):
        directory.mkdir()
    (code / "app.py").write_text(FUNCTION_CODE)
    (layer / "shared_layer_module.py").write_text("NAME = 'from the layer'\n")
    (broken / "app.py").write_text("raise RuntimeError('broken at import')\n")
    return code, layer, broken


def _function(
    code_dirs: tuple[Path, Path, Path], handler: str, *, timeout: int = 5, broken: bool = False
) -> Function:
    code, layer, broken_code = code_dirs
    logical_id = handler.replace(".", "_")
    return Function(
        logical_id=logical_id,
        name=f"local-{logical_id}",
        arn=f"arn:aws:lambda:us-east-1:123456789012:function:local-{logical_id}",
        code_dir=broken_code if broken else code,
        handler=handler,
        layer_dirs=(layer,),
        timeout_seconds=timeout,
        memory_mb=256,
        environment=TEMPLATE_ENVIRONMENT,
    )


MakeRuntime = Callable[..., FunctionRuntime]


@pytest.fixture
def runtime_for() -> Iterator[MakeRuntime]:
    runtimes: list[FunctionRuntime] = []

    def make(*functions: Function, max_instances: int = 8) -> FunctionRuntime:
        runtime = FunctionRuntime(functions, ENDPOINT, max_instances)
        runtimes.append(runtime)
        return runtime

    yield make
    for runtime in runtimes:
        runtime.stop()


def _payload(result: InvokeResult) -> Any:
    assert result.error is None, result.error
    return result.payload


def test_function_process_sees_exactly_lambdas_environment(
    runtime_for: MakeRuntime, code_dirs: tuple[Path, Path, Path]
) -> None:
    # Given a function with template variables, in a test process full of other variables
    function = _function(code_dirs, "app.echo")
    runtime = runtime_for(function)
    # When it is invoked
    environment = _payload(runtime.invoke("app_echo", {}))["environment"]
    # Then it sees the template's variables, Lambda's own, and nothing else of this process
    inherited = {name for name in ("PATH", "LANG", "LC_ALL") if name in os.environ}
    assert set(environment) == inherited | set(TEMPLATE_ENVIRONMENT) | {
        "TZ",
        "AWS_ENDPOINT_URL",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_TIMEOUT",
        "_HANDLER",
    }
    assert environment["TABLE_NAME"] == "t"
    assert environment["TZ"] == "UTC"
    assert environment["AWS_ENDPOINT_URL"] == ENDPOINT.url
    assert environment["AWS_LAMBDA_FUNCTION_NAME"] == "local-app_echo"
    assert environment["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert environment["AWS_LAMBDA_FUNCTION_TIMEOUT"] == "5"
    assert environment["_HANDLER"] == "app.echo"


def test_function_imports_from_its_code_then_its_layer_and_nothing_of_the_repo(
    runtime_for: MakeRuntime, code_dirs: tuple[Path, Path, Path]
) -> None:
    # Given a function whose module imports a module of its layer
    code, layer, _ = code_dirs
    runtime = runtime_for(_function(code_dirs, "app.echo"))
    # When it is invoked
    payload = _payload(runtime.invoke("app_echo", {"n": 1}))
    # Then sys.path starts with the code directory and the layer, as /var/task and /opt/python
    assert payload["sys_path"][:2] == [str(code), str(layer)]
    assert payload["layer"] == "from the layer"
    assert payload["cwd"] == str(code)
    assert payload["event"] == {"n": 1}
    # And neither the repository nor the local stack's directory is importable
    repository = Path(__file__).resolve().parents[3]
    assert not any(
        Path(p) in (repository, repository / "infra" / "local") for p in payload["sys_path"]
    )


def test_context_has_lambdas_attributes(
    runtime_for: MakeRuntime, code_dirs: tuple[Path, Path, Path]
) -> None:
    # Given a function with a 5 s timeout
    function = _function(code_dirs, "app.echo")
    runtime = runtime_for(function)
    # When it is invoked twice
    first = _payload(runtime.invoke("app_echo", {}))["context"]
    second = _payload(runtime.invoke("app_echo", {}))["context"]
    # Then the context carries the function's identity and a fresh request id per invocation
    assert first["function_name"] == function.name
    assert first["function_version"] == "$LATEST"
    assert first["invoked_function_arn"] == function.arn
    assert first["memory_limit_in_mb"] == "256"  # Lambda's runtime passes the string through
    assert first["log_group_name"] == f"/aws/lambda/{function.name}"
    assert "[$LATEST]" in first["log_stream_name"]
    assert first["aws_request_id"] != second["aws_request_id"]
    assert 0 < first["remaining_ms"] <= 5000


def test_warm_instance_is_reused_and_prints_go_to_stderr(
    runtime_for: MakeRuntime, code_dirs: tuple[Path, Path, Path], capfd: pytest.CaptureFixture[str]
) -> None:
    # Given a function that prints on stdout
    runtime = runtime_for(_function(code_dirs, "app.echo"))
    # When it is invoked twice in a row
    first = _payload(runtime.invoke("app_echo", {}))
    second = _payload(runtime.invoke("app_echo", {}))
    # Then the same process (imported once) served both, and the print reached stderr
    assert second["pid"] == first["pid"]
    assert (first["invocations"], second["invocations"]) == (1, 2)
    assert "printed by the function" in capfd.readouterr().err


def test_handler_exception_is_lambdas_error_payload(
    runtime_for: MakeRuntime, code_dirs: tuple[Path, Path, Path]
) -> None:
    # Given a handler that raises
    runtime = runtime_for(_function(code_dirs, "app.fail"))
    # When it is invoked
    result = runtime.invoke("app_fail", {})
    # Then the result is Lambda's error payload, with no stack trace in it
    assert result.error is not None
    assert (result.error.error_type, result.error.error_message) == ("ValueError", "boom")


def test_timeout_kills_the_instance_and_the_next_call_gets_a_new_one(
    runtime_for: MakeRuntime, code_dirs: tuple[Path, Path, Path]
) -> None:
    # Given a function with a 1 s timeout
    runtime = runtime_for(_function(code_dirs, "app.sleep", timeout=1))
    first_pid = _payload(runtime.invoke("app_sleep", {"seconds": 0}))
    # When an invocation runs longer than that
    started = time.monotonic()
    result = runtime.invoke("app_sleep", {"seconds": 30})
    elapsed = time.monotonic() - started
    # Then it fails as Lambda's timeout, about when the timeout expires
    assert result.error is not None
    assert result.error.error_type == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in result.error.error_message
    # (well before the 30 s the call asked for: wide, since spawning a process is slow when
    # the machine is busy, as under `pytest -n 2`)
    assert elapsed < 15
    # And the killed instance is replaced by a new process
    assert _payload(runtime.invoke("app_sleep", {"seconds": 0})) != first_pid


def test_concurrent_invocations_run_in_parallel_instances(
    runtime_for: MakeRuntime, code_dirs: tuple[Path, Path, Path]
) -> None:
    # Given a function that sleeps 2 s
    runtime = runtime_for(_function(code_dirs, "app.sleep"))
    # When four invocations arrive at once
    started = time.monotonic()
    with ThreadPoolExecutor(4) as pool:
        pids = list(
            pool.map(lambda _: _payload(runtime.invoke("app_sleep", {"seconds": 2})), range(4))
        )
    elapsed = time.monotonic() - started
    # Then four instances served them side by side: sooner than one after the other (8 s),
    # with room for four process spawns on a busy machine
    assert len(set(pids)) == 4
    assert elapsed < 8


def test_instances_are_capped_and_callers_wait(
    runtime_for: MakeRuntime, code_dirs: tuple[Path, Path, Path]
) -> None:
    # Given a function allowed one instance
    runtime = runtime_for(_function(code_dirs, "app.sleep"), max_instances=1)
    # When two invocations arrive at once
    started = time.monotonic()
    with ThreadPoolExecutor(2) as pool:
        pids = list(
            pool.map(lambda _: _payload(runtime.invoke("app_sleep", {"seconds": 0.4})), range(2))
        )
    elapsed = time.monotonic() - started
    # Then one instance served both, one after the other
    assert len(set(pids)) == 1
    assert elapsed >= 0.8


def test_import_failure_is_lambdas_import_module_error(
    runtime_for: MakeRuntime, code_dirs: tuple[Path, Path, Path]
) -> None:
    # Given a module that raises at import
    function = _function(code_dirs, "app.echo", broken=True)
    runtime = runtime_for(function)
    # When the function is invoked
    result = runtime.invoke(function.logical_id, {})
    # Then the invocation fails with Lambda's init error, naming the module
    assert result.error is not None
    assert result.error.error_type == "Runtime.ImportModuleError"
    assert "Unable to import module 'app': broken at import" in result.error.error_message


def test_missing_handler_is_lambdas_handler_not_found(
    runtime_for: MakeRuntime, code_dirs: tuple[Path, Path, Path]
) -> None:
    # Given a handler name the module does not define
    runtime = runtime_for(_function(code_dirs, "app.missing"))
    # When the function is invoked
    result = runtime.invoke("app_missing", {})
    # Then the invocation fails with Lambda's Runtime.HandlerNotFound
    assert result.error is not None
    assert result.error.error_type == "Runtime.HandlerNotFound"
    assert "Handler 'missing' missing on module 'app'" in result.error.error_message


def test_process_exit_is_a_runtime_exit_error_and_the_function_recovers(
    runtime_for: MakeRuntime, code_dirs: tuple[Path, Path, Path]
) -> None:
    # Given one function whose handler exits the process and one that does not, same pool setup
    crash = _function(code_dirs, "app.crash")
    runtime = runtime_for(crash, _function(code_dirs, "app.echo"))
    # When the crashing one is invoked twice
    results = [runtime.invoke("app_crash", {}) for _ in range(2)]
    # Then each invocation reports the exit, and a new instance was started for the second
    for result in results:
        assert result.error is not None
        assert result.error.error_type == "Runtime.ExitError"
        assert "exit status 3" in result.error.error_message
    # And other functions are unaffected
    assert _payload(runtime.invoke("app_echo", {}))["invocations"] == 1


def test_decimal_results_marshal_as_numbers(
    runtime_for: MakeRuntime, code_dirs: tuple[Path, Path, Path]
) -> None:
    # Given a handler returning a Decimal, as DynamoDB reads do
    runtime = runtime_for(_function(code_dirs, "app.decimal_result"))
    # When it is invoked
    result = runtime.invoke("app_decimal_result", {})
    # Then the payload carries a JSON number, as Lambda's runtime marshals it
    assert result == InvokeResult(payload={"price": 1.5})


def test_unserialisable_result_is_a_marshal_error(
    runtime_for: MakeRuntime, code_dirs: tuple[Path, Path, Path]
) -> None:
    # Given a handler returning something JSON cannot carry
    runtime = runtime_for(_function(code_dirs, "app.unserialisable"))
    # When it is invoked
    result = runtime.invoke("app_unserialisable", {})
    # Then it fails as Lambda's Runtime.MarshalError
    assert result.error is not None
    assert result.error.error_type == "Runtime.MarshalError"


def test_stopped_runtime_kills_instances_and_refuses_work(
    runtime_for: MakeRuntime, code_dirs: tuple[Path, Path, Path]
) -> None:
    # Given a runtime with a warm instance
    runtime = runtime_for(_function(code_dirs, "app.echo"))
    pid = _payload(runtime.invoke("app_echo", {}))["pid"]
    # When it is stopped
    runtime.stop()
    # Then the instance's process is gone and invocations fail fast
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    result = runtime.invoke("app_echo", {})
    assert result.error is not None
    assert result.error.error_type == "Runtime.Unavailable"
