"""Idempotency-Key on the creations a client may retry (keys, credentials, webhook triggers): a
retry with the same key and request is not applied twice; the same key with another request is
a conflict; each caller's keys are their own."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping

import pytest

from railguard.access.throttle import ACCOUNT_SUBJECT_KEY_NAME
from railguard.agent_uis import PIN_PEPPER_KEY_NAME
from railguard.crypto.envelope import KmsMac
from railguard.store import Item, Table
from railguard.store import keys as item_keys
from railguard.webhooks import TOKEN_LOOKUP_KEY_NAME
from tests.support import accounts as a
from tests.support.emulator import AwsEndpoint, Provisioning
from tests.support.fake_time import FakeClock
from tests.support.inprocess import InProcessClient, Reply
from tests.support.plaintexts import remember
from tests.support.server_keys import keyed_hash

KEYS = "/api/v1/api-keys"
CREDENTIALS = "/api/v1/credentials"
TRIGGERS = "/api/v1/webhook-triggers"


pytestmark = pytest.mark.usefixtures("clock", "cheap_passwords")


def _owner(email: str | None = None) -> dict[str, str]:
    return a.new_account(email).headers()


def _signed_in(email: str, workspace: str) -> dict[str, str]:
    token = a.tokens_for(email)["access_token"]
    return {"Authorization": f"Bearer {token}", "X-Workspace-ID": workspace}


@pytest.fixture
def owner(client: InProcessClient) -> dict[str, str]:
    return _owner()


def _post(
    client: InProcessClient, path: str, owner: dict[str, str], body: Mapping[str, object], key: str
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


def _credential_request(body: dict[str, object]) -> bytes:
    """The request an Idempotency-Key is bound to, as the function canonicalizes it: the route
    and the whole validated body, defaults included. Everything in it but the value is what an
    attacker with the table knows (the credential's name and type are stored in the clear)."""
    full = {"category": None, "description": None, "is_default": False, **body}
    canonical = {"operation": f"POST {CREDENTIALS}", "request": full}
    return json.dumps(canonical, sort_keys=True).encode()


def _stored_strings(item: Item) -> set[str]:
    return {str(value) for value in item.values()} | {
        bytes(value).hex() for value in item.values() if isinstance(value, bytes | bytearray)
    }


def _server_key_names(table: Table) -> set[str]:
    """Every server key a function role may unseal: those the stack made, and those it can."""
    made = {str(item["sk"]) for item in table.query("SERVER_KEY", limit=100).items}
    return made | {TOKEN_LOOKUP_KEY_NAME, ACCOUNT_SUBJECT_KEY_NAME, PIN_PEPPER_KEY_NAME}


def _bound(record: Item, workspace: str, request: bytes) -> list[bytes]:
    """Each way the request could be bound to its record: alone, with the record's workspace and
    key digest in front, or that prefix and the request's SHA-256 (what is MACed)."""
    prefix = f"{workspace}\n{record['sk'].removeprefix('IDEMPOTENCY#')}\n"
    return [
        request,
        prefix.encode() + request,
        f"{prefix}{hashlib.sha256(request).hexdigest()}".encode(),
    ]


def test_finding_2_no_role_can_recompute_an_idempotency_fingerprint_offline(
    client: InProcessClient,
    owner: dict[str, str],
    table: Table,
    aws: AwsEndpoint,
    provisioned: Provisioning,
) -> None:
    # Given a credential with a weak value, created with an Idempotency-Key
    value = remember("Summer2024!")
    body: dict[str, object] = {"name": "Weak", "type": "openai", "value": value}
    key = str(uuid.uuid4())
    first = _post(client, CREDENTIALS, owner, body, key)
    assert first.status == 201
    workspace = owner["X-Workspace-ID"]
    (record,) = table.query(item_keys.workspace(workspace)[0], sk_prefix="IDEMPOTENCY#").items
    stored = _stored_strings(record)
    # When someone with the table and every server key a function role can unseal tries a word
    # list on the record: each guess hashed unkeyed, and HMACed under each of those keys
    server_keys = [keyed_hash(aws, provisioned, table, name) for name in _server_key_names(table)]
    for guess in ["password", "letmein", value]:
        shapes = _bound(record, workspace, _credential_request({**body, "value": guess}))
        unkeyed = {hashlib.sha256(shape).hexdigest() for shape in shapes}
        keyed = {server_key.of(shape) for server_key in server_keys for shape in shapes}
        # Then nothing matches what is stored, not even the right value
        assert (unkeyed | keyed).isdisjoint(stored), guess
    # And what is stored is a MAC under the stack's KMS HMAC key, whose material never leaves
    # KMS: only a GenerateMac call (online, throttled, logged) reproduces it
    key_id = provisioned.intrinsics.physical["IdempotencyMacKey"].ref
    kms = aws.client("kms")
    metadata = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert (metadata["KeySpec"], metadata["KeyUsage"]) == ("HMAC_256", "GENERATE_VERIFY_MAC")
    macs = KmsMac(kms, key_id)
    *_, right = _bound(record, workspace, _credential_request(body))
    *_, wrong = _bound(record, workspace, _credential_request({**body, "value": "password"}))
    assert record["request_mac"] == macs.of(right)
    assert record["request_mac"] != macs.of(wrong)
    # And the key still does its work: the same request answers as the first did, another value
    # is a conflict, and one credential exists
    again = _post(client, CREDENTIALS, owner, body, key)
    assert (again.status, again.json()["data"]["id"]) == (201, first.json()["data"]["id"])
    other = _post(client, CREDENTIALS, owner, {**body, "value": remember("Winter2024!")}, key)
    assert (other.status, other.json()["error"]["code"]) == (409, "conflict")
    assert _count(client, CREDENTIALS, owner) == 1
