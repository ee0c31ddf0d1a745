"""IAM in the integration tier: every AWS call a function's handler makes, checked against that
function's own policy in template.yaml (`infra.iam`), since the emulator enforces none.

`load_function` wraps each handler so that the calls it makes know whose they are; the
integration tier's conftest installs an `IamCheck` around every test that provisions a stack, and
fails the test if any call was one its function may not make. A new code path that needs a grant
the template does not give fails its own test, with the request IAM would refuse.

`RAILGUARD_IAM_LOG=<file>` also appends every checked request, as JSON lines, to that file: what
a function really asks for, when writing its policy or the table of tests/unit/infra/test_iam.py.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import pytest
from botocore.client import BaseClient

from infra.iam import PolicyError, Request, Stack

_running: ContextVar[str | None] = ContextVar("railguard_running_function", default=None)


@contextmanager
def running(function_id: str) -> Iterator[None]:
    """The AWS calls made in this block are function `function_id`'s."""
    token = _running.set(function_id)
    try:
        yield
    finally:
        _running.reset(token)


def as_function(function_id: str, handler: Callable[..., Any]) -> Callable[..., Any]:
    """`handler`, making its AWS calls as function `function_id`."""

    def invoke(*args: Any, **kwargs: Any) -> Any:
        with running(function_id):
            return handler(*args, **kwargs)

    return invoke


@dataclass
class IamCheck:
    """Between every botocore client and AWS while installed: each call a function makes is
    turned into the requests IAM would authorize, and each is checked against its policy."""

    stack: Stack
    refusals: list[str] = field(default_factory=list)

    @classmethod
    def installed(cls, stack: Stack, monkeypatch: pytest.MonkeyPatch) -> IamCheck:
        check = cls(stack)
        real = BaseClient._make_api_call  # type: ignore[attr-defined]  # botocore's one call path
        monkeypatch.setattr(BaseClient, "_make_api_call", check._around(real))
        return check

    def _around(self, original: Callable[..., Any]) -> Callable[..., Any]:
        check = self
        log = os.environ.get("RAILGUARD_IAM_LOG")

        def make_api_call(client: BaseClient, operation: str, params: Mapping[str, Any]) -> Any:
            function_id = _running.get()
            if function_id is not None:
                service = client.meta.service_model.service_name
                try:
                    requests = check.stack.requests_of(service, operation, params)
                except PolicyError as error:  # the check's limit, not the function's
                    check.refusals.append(f"{function_id}: cannot check {operation}: {error}")
                    requests = []
                policy = check.stack.policy(function_id)
                for request in requests:
                    if not policy.allows(request):
                        check.refusals.append(
                            f"{function_id} may not {request} (in {service}:{operation})"
                        )
                    if log:
                        _append(log, function_id, request)
            return original(client, operation, params)

        return make_api_call


def _append(path: str, function_id: str, request: Request) -> None:
    line = {
        "function": function_id,
        "action": request.action,
        "resource": request.resource,
        "context": {key: list(values) for key, values in request.context.items()},
    }
    with open(path, "a", encoding="utf-8") as file:
        file.write(json.dumps(line, sort_keys=True) + "\n")
