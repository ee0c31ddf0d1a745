"""Idempotency-Key on the creations a client may retry (keys, credentials, webhook triggers): a
retry with the same key and request is not applied twice; the same key with another request is
a conflict; each caller's keys are their own."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from railguard import passwords
from tests.support import accounts as a
from tests.support.fake_time import FakeClock, patched_system_clock
from tests.support.inprocess import InProcessClient, Reply
from tests.support.plaintexts import remember

KEYS = "/api/v1/api-keys"
CREDENTIALS = "/api/v1/credentials"
TRIGGERS = "/api/v1/webhook-triggers"


@pytest.fixture(autouse=True)
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeClock]:
    yield from patched_system_clock(monkeypatch)


@pytest.fixture(autouse=True)
def _cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(passwords, "_hasher", a.CHEAP_HASHER)


def _owner(email: str | None = None) -> dict[str, str]:
    email = email or a.new_email()
    workspace = a.sign_up(email)["workspace"]["id"]
    return _signed_in(email, workspace)


def _signed_in(email: str, workspace: str) -> dict[str, str]:
    token = a.tokens_for(email)["access_token"]
    return {"Authorization": f"Bearer {token}", "X-Workspace-ID": workspace}


@pytest.fixture
def owner(client: InProcessClient) -> dict[str, str]:
    return _owner()


def _post(
    client: InProcessClient, path: str, owner: dict[str, str], body: dict[str, object], key: str
) -> Reply:
    return client.request("POST", path, headers={**owner, "Idempotency-Key": key}, body=body)


def _count(client: InProcessClient, path: str, owner: dict[str, str]) -> int:
    reply = client.request("GET", f"{path}?limit=100", headers=owner)
    assert reply.status == 200, reply.body
    return len(reply.json()["data"])


def test_a_repeated_key_creation_names_the_key_and_does_not_show_or_make_another(
    client: InProcessClient, owner: dict[str, str]
) -> None:
    # Given a key created with an Idempotency-Key
    body = {"name": "ci", "scopes": ["agents:read"]}
    key = str(uuid.uuid4())
    first = _post(client, KEYS, owner, body, key)
    assert first.status == 201
    # When the same request is sent again with the same key
    again = _post(client, KEYS, owner, body, key)
    # Then it is refused with the first key's id, no secret, and still one key exists
    assert again.status == 409
    error = again.json()["error"]
    assert (error["code"], error["details"]) == (
        "already_applied",
        {"id": first.json()["data"]["id"]},
    )
    assert first.json()["data"]["key"] not in again.body.decode()
    assert _count(client, KEYS, owner) == 1


def test_a_repeated_credential_creation_answers_as_the_first_did(
    client: InProcessClient, owner: dict[str, str]
) -> None:
    # Given a credential created with an Idempotency-Key
    body = {"name": "OpenAI", "type": "openai", "value": remember("sk-idem-0123456789abcdef")}
    key = str(uuid.uuid4())
    first = _post(client, CREDENTIALS, owner, body, key)
    assert first.status == 201
    # When it is sent again
    again = _post(client, CREDENTIALS, owner, body, key)
    # Then the answer is the same credential, and there is one
    assert again.status == 201
    assert again.json()["data"]["id"] == first.json()["data"]["id"]
    assert _count(client, CREDENTIALS, owner) == 1


def test_a_repeated_trigger_creation_is_refused_with_its_id(
    client: InProcessClient, owner: dict[str, str]
) -> None:
    body = {"name": "hook", "agent_id": "agent-1"}
    key = str(uuid.uuid4())
    first = _post(client, TRIGGERS, owner, body, key)
    assert first.status == 201
    again = _post(client, TRIGGERS, owner, body, key)
    assert (again.status, again.json()["error"]["details"]) == (
        409,
        {"id": first.json()["data"]["id"]},
    )
    assert _count(client, TRIGGERS, owner) == 1


def test_the_same_key_with_another_request_is_a_conflict_and_changes_nothing(
    client: InProcessClient, owner: dict[str, str]
) -> None:
    # Given a credential created with a key
    key = str(uuid.uuid4())
    body = {"name": "OpenAI", "type": "openai", "value": remember("sk-idem-first-0123456789")}
    assert _post(client, CREDENTIALS, owner, body, key).status == 201
    # When the key is reused with another value (a secret: it counts, though never stored)
    other = {**body, "value": remember("sk-idem-other-0123456789")}
    reply = _post(client, CREDENTIALS, owner, other, key)
    # Then it is a conflict, and nothing more was stored
    assert (reply.status, reply.json()["error"]["code"]) == (409, "conflict")
    assert _count(client, CREDENTIALS, owner) == 1


def test_keys_are_per_caller_and_expire_after_a_day(
    client: InProcessClient, clock: FakeClock
) -> None:
    # Given two owners using the same Idempotency-Key for the same body
    email = a.new_email()
    owner = _owner(email)
    key = str(uuid.uuid4())
    body = {"name": "hook", "agent_id": "agent-1"}
    other = _owner()
    # When both create / Then both succeed: the key is each caller's own
    assert _post(client, TRIGGERS, owner, body, key).status == 201
    assert _post(client, TRIGGERS, other, body, key).status == 201
    # And after a day the key is forgotten: the same request creates again
    clock.advance(24 * 3600 + 1)
    owner = _signed_in(email, owner["X-Workspace-ID"])
    assert _post(client, TRIGGERS, owner, body, key).status == 201
    assert _count(client, TRIGGERS, owner) == 2


@pytest.mark.parametrize("bad", ["", "has space", "x" * 256, "naïve"])
def test_a_malformed_idempotency_key_is_refused(
    client: InProcessClient, owner: dict[str, str], bad: str
) -> None:
    reply = _post(client, KEYS, owner, {"name": "ci", "scopes": ["agents:read"]}, bad)
    assert (reply.status, reply.json()["error"]["code"]) == (400, "validation_error")
    assert _count(client, KEYS, owner) == 0
