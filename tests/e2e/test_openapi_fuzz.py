"""Schema fuzzing over real HTTP: one valid request per operation, generated from the served
OpenAPI document, sent to a local stack as a signed-in owner; every answer must be one the
document declares.

The many generated cases, valid and invalid, run in process through the same gateway code
(tests/integration/test_openapi_fuzz.py): this keeps the sockets, the server and the worker
processes under every operation. `python -m fuzz.api` runs every check over HTTP with many more
examples.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from fuzz.api import OwnerPool
from infra.openapi import DOCUMENT_PATH
from tests.e2e.local_stack import StackProcess, launch
from tests.support.schema_fuzz import is_protected, per_operation

EXAMPLES_PER_OPERATION = 1
CONFORMANCE_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


@pytest.fixture(scope="module")
def fuzzed_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackProcess]:
    """A stack of its own, not the session's: fuzzed logins, unlocks and webhook calls spend
    the per-source-IP failure budgets (20 failed logins per 15 minutes from 127.0.0.1) that
    every other e2e test's `new_owner` login shares, and would make those tests flaky."""
    running = launch(tmp_path_factory.mktemp("fuzzed-stack"))
    running.wait_until_healthy()
    yield running
    status = running.interrupt()
    assert status == 0, running.stderr


@pytest.fixture(scope="module")
def owners(fuzzed_stack: StackProcess) -> OwnerPool:
    """Owners shared by the operations, a new one every 100 requests (the free plan allows 120
    a minute). Sharing is safe: no generated case can know an owner's refresh token, password
    or workspace id, so none can log it out, change its password or delete its workspace."""
    return OwnerPool(fuzzed_stack)


# The shipped document, read at collection so that each operation is a test of its own; the
# stack serves this very file (`test_the_stack_serves_the_shipped_document`).
schema = schemathesis.openapi.from_path(DOCUMENT_PATH)
# The caller's credential comes from `owner`; generated ones would double it (401).
schema.config.generation.update(
    with_security_parameters=False, modes=[schemathesis.GenerationMode.POSITIVE]
)


def test_the_stack_serves_the_shipped_document(fuzzed_stack: StackProcess) -> None:
    # When the stack is asked for its document
    served = requests.get(f"{fuzzed_stack.url}/api/v1/openapi.json", timeout=10)
    # Then it is the file the fuzzing below is generated from
    assert served.status_code == 200
    assert served.json() == json.loads(DOCUMENT_PATH.read_text(encoding="utf-8"))


@schema.parametrize()
@per_operation(EXAMPLES_PER_OPERATION)
def test_every_answer_is_declared_by_the_document(
    case: schemathesis.Case[Any], owners: OwnerPool, fuzzed_stack: StackProcess
) -> None:
    # Given a request generated from the document, sent as a signed-in owner of a workspace
    # (a public route gets no credential: it needs none)
    headers = owners.headers() if is_protected(case) else {}
    # When the stack answers it
    # Then it is no 5xx, and its status, content type and body are the document's
    case.call_and_validate(base_url=fuzzed_stack.url, headers=headers, checks=CONFORMANCE_CHECKS)
