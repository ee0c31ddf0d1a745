"""The authorizer: API Gateway's refusal protocol, and failing closed."""

from __future__ import annotations

import pytest

from infra.local.events import HttpRequest, MatchedRoute, authorizer_event
from railguard.authorizer.decision import Authorizer
from railguard.authorizer.function import Unauthorized
from railguard.errors import ServiceUnavailable
from railguard.store import Table
from tests.integration.conftest import FunctionEnv
from tests.support import accounts
from tests.support.functions import load_function
from tests.support.lambda_context import FakeLambdaContext

authorizer_module = load_function("authorizer")
authorizer = authorizer_module.authorizer
JWT = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1In0.c2lnbmF0dXJl"


@pytest.fixture(autouse=True)
def _fresh_instance(function_env: FunctionEnv) -> None:
    function_env("AuthorizerFunction")
    authorizer.reset()


def _authorize(headers: list[tuple[str, str]]) -> dict[str, object]:
    event = authorizer_event(
        HttpRequest("GET", "/api/v1/me", headers=headers), MatchedRoute("GET /api/v1/me")
    )
    return authorizer_module.lambda_handler(event, FakeLambdaContext())


@pytest.mark.parametrize(
    "headers",
    [
        [],
        [("Authorization", "Basic dXNlcjpwYXNz")],
        [("X-API-Key", "pr_live_x!")],
        [("Authorization", f"Bearer {JWT}")],
        [("X-API-Key", "pr_live_" + "a" * 40)],
    ],
    ids=["none", "basic", "malformed-key", "unverifiable-jwt", "unknown-key"],
)
def test_without_a_valid_credential_the_gateway_is_told_unauthorized(
    headers: list[tuple[str, str]],
) -> None:
    # When the authorizer sees a request without a credential it can verify
    # Then it raises the error API Gateway turns into 401 {"message": "Unauthorized"}
    with pytest.raises(Unauthorized, match=r"^Unauthorized$"):
        _authorize(headers)


def test_an_unexpected_error_denies_and_never_allows(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a pipeline that blows up (a bug)
    def explode(_self: Authorizer, _event: dict[str, object]) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(Authorizer, "decide", explode)
    # When a request arrives
    response = _authorize([("Authorization", f"Bearer {JWT}")])
    # Then it is denied (403), with no context that could pass for a principal
    assert response == {"isAuthorized": False}


@pytest.mark.usefixtures("identity_env")
def test_a_dynamodb_failure_denies_a_valid_token(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a valid access token, and then DynamoDB throttling every read
    email = accounts.new_email()
    accounts.sign_up(email)
    token = accounts.tokens_for(email)["access_token"]
    accounts.reset_instances()

    def throttled(*_args: object, **_kwargs: object) -> None:
        raise ServiceUnavailable

    monkeypatch.setattr(Table, "get", throttled)
    monkeypatch.setattr(Table, "query", throttled)
    # When the authorizer decides / Then it denies, never allows
    assert accounts.authorize(accounts.bearer(token)) == 403


def test_a_misconfigured_environment_fails_the_cold_start(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given an instance whose TABLE_NAME is missing
    monkeypatch.delenv("TABLE_NAME")
    # When invoked / Then it fails loudly rather than deciding anything
    with pytest.raises(Exception, match="TABLE_NAME"):
        _authorize([])
