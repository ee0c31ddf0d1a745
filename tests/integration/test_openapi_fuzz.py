"""Schema fuzzing in process: schemathesis generates requests from the shipped OpenAPI document,
valid and invalid, and sends them through the local stack's gateway code (routing, authorizer,
response mapping) to the functions in this process, as a signed-in owner. Every answer must be
one the document declares, and every invalid request must be refused.

The same cases as over real HTTP, without a server, worker processes or sockets: the e2e tier
keeps one real-HTTP case per operation (tests/e2e/test_openapi_fuzz.py), and `python -m fuzz.api`
runs the same checks over HTTP with many more examples.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck

from fuzz.api import CHECKS, REQUESTS_PER_OWNER
from infra.openapi import DOCUMENT_PATH
from railguard.crypto import passwords
from tests.support import accounts as a
from tests.support.inprocess import InProcessClient
from tests.support.schema_fuzz import is_protected, per_operation

EXAMPLES_PER_OPERATION = 3
BASE_URL = "http://railguard.invalid"

schema = schemathesis.openapi.from_path(DOCUMENT_PATH)
# The caller's credential comes from the owner; generated ones would double it (401).
schema.config.generation.update(with_security_parameters=False)


class Owners:
    """Owners shared by the operations, a new one every `REQUESTS_PER_OWNER` requests. Sharing
    is safe: no generated case can know an owner's refresh token, password or workspace id.
    They sign up and in from addresses of their own, so that the fuzzed logins (from
    127.0.0.1) spending that address's failure budget cannot refuse them."""

    def __init__(self) -> None:
        self._headers: dict[str, str] = {}
        self._requests = 0
        self._signed_up = 0

    def headers(self, client: InProcessClient) -> dict[str, str]:
        if not self._headers or self._requests >= REQUESTS_PER_OWNER:
            self._signed_up += 1
            address = f"10.77.{self._signed_up // 250}.{self._signed_up % 250 + 1}"
            email = f"fuzz-{uuid.uuid4().hex[:12]}@example.com"
            credentials = {"email": email, "password": a.STRONG_PASSWORD}
            signup = client.request(
                "POST",
                "/api/v1/auth/signup",
                body={**credentials, "name": "Fuzz"},
                source_ip=address,
            )
            assert signup.status == 201, signup.body
            login = client.request(
                "POST", "/api/v1/auth/login", body=credentials, source_ip=address
            )
            assert login.status == 200, login.body
            self._headers = {
                "Authorization": f"Bearer {login.json()['data']['access_token']}",
                "X-Workspace-ID": signup.json()["data"]["workspace"]["id"],
            }
            self._requests = 0
        self._requests += 1
        return dict(self._headers)


_OWNERS = Owners()


@pytest.fixture
def session(client: InProcessClient, monkeypatch: pytest.MonkeyPatch) -> Iterator[requests.Session]:
    # Password hashing cost is not what this test is about (fuzzed sign-ups and logins hash).
    monkeypatch.setattr(passwords, "_hasher", a.CHEAP_HASHER)
    with client.session() as routed:
        yield routed


@schema.parametrize()
@per_operation(EXAMPLES_PER_OPERATION, HealthCheck.function_scoped_fixture)
def test_every_answer_is_declared_by_the_document(
    case: schemathesis.Case[Any], client: InProcessClient, session: requests.Session
) -> None:
    # Given a request generated from the document (valid or not), sent as a signed-in owner of
    # a workspace (a public route gets no credential: it needs none)
    headers = _OWNERS.headers(client) if is_protected(case) else {}
    # When the gateway and the function answer it
    # Then it is no 5xx, its status, content type and body are the document's, and an invalid
    # request is refused
    case.call_and_validate(base_url=BASE_URL, session=session, headers=headers, checks=CHECKS)
