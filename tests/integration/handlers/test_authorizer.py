"""The authorizer: API Gateway's refusal protocol, and failing closed."""

from __future__ import annotations

import jwt
import pytest

from railguard.authorizer.decision import Authorizer
from railguard.authorizer.function import Unauthorized
from railguard.core.errors import ServiceUnavailable
from railguard.crypto import key_repository
from railguard.store import Table
from railguard.store import keys as item_keys
from railguard.workspaces.repository import member_key
from tests.integration.conftest import FunctionEnv
from tests.support import accounts
from tests.support.functions import load_function
from tests.support.http_api import authorizer_event_for
from tests.support.lambda_context import FakeLambdaContext

authorizer_module = load_function("authorizer")
authorizer = authorizer_module.authorizer
JWT = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1In0.c2lnbmF0dXJl"


@pytest.fixture(autouse=True)
def _fresh_instance(function_env: FunctionEnv) -> None:
    function_env("AuthorizerFunction")
    authorizer.reset()


def _authorize(headers: list[tuple[str, str]]) -> dict[str, object]:
    event = authorizer_event_for(headers)
    response: dict[str, object] = authorizer_module.lambda_handler(event, FakeLambdaContext())
    return response


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


# Each DynamoDB read the authorizer makes for an access token, the route that makes it, and
# whether the request names a workspace: the signing keys (a cold instance's first read), the
# session with the profile (whose session generation it checks), and those with the workspace
# and membership (each one BatchGetItem).
TOKEN_READS = [
    pytest.param("query", "GET /api/v1/me", False, id="public-keys"),
    pytest.param("get_many", "GET /api/v1/me", False, id="session"),
    pytest.param("get_many", "GET /api/v1/api-keys", True, id="session-and-membership"),
]


@pytest.mark.usefixtures("identity_env")
@pytest.mark.parametrize(("read", "route", "names_workspace"), TOKEN_READS)
def test_a_dynamodb_failure_on_each_read_denies_a_valid_token(
    monkeypatch: pytest.MonkeyPatch, read: str, route: str, names_workspace: bool
) -> None:
    # Given a valid access token of a workspace's owner, on a fresh instance that holds the
    # public keys already unless the keys' read is the one to fail
    email = accounts.new_email()
    signup = accounts.sign_up(email)
    user_id, workspace_id = signup["user"]["id"], signup["workspace"]["id"]
    warm_token = accounts.tokens_for(email)["access_token"]
    token = accounts.tokens_for(email)["access_token"]
    session_id = jwt.decode(token, options={"verify_signature": False})["sid"]
    headers = accounts.bearer(token)
    if names_workspace:
        headers.append(("X-Workspace-ID", workspace_id))
    accounts.reset_instances()
    if read != "query":
        assert isinstance(accounts.authorize(accounts.bearer(warm_token)), dict)
    failed: list[object] = []

    def throttled(_table: Table, what: object, *_args: object, **_kwargs: object) -> None:
        failed.append(what)
        raise ServiceUnavailable

    # When that one read is throttled while the authorizer decides
    with monkeypatch.context() as faults:
        faults.setattr(Table, read, throttled)
        decision = accounts.authorize(headers, route)
    # Then it denies (403), never allows, and the read that failed is the one this case names
    assert decision == 403
    session_key = item_keys.session(user_id, session_id)
    in_workspace = (
        [item_keys.workspace(workspace_id), member_key(workspace_id, user_id)]
        if names_workspace
        else []
    )
    expected = {
        "query": key_repository.SIGNING_KEY_PARTITION,
        "get_many": [session_key, item_keys.user_profile(user_id), *in_workspace],
    }[read]
    assert failed == [expected]
    # And once the read succeeds, the same request is let through: the token was valid
    assert isinstance(accounts.authorize(headers, route), dict)


def test_a_misconfigured_environment_fails_the_cold_start(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given an instance whose TABLE_NAME is missing
    monkeypatch.delenv("TABLE_NAME")
    # When invoked / Then it fails loudly rather than deciding anything
    with pytest.raises(Exception, match="TABLE_NAME"):
        _authorize([])
