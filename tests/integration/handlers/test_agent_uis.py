"""Contract section 9 beyond the permission matrix, through the gateway logic with every function
in-process on a frozen clock: management and isolation, PINs hashed and never returned, unlock
and its two failure budgets, the unlock token's single audience, sessions ended by a PIN change,
a PIN removal or a deletion, keys by scope, roles, and the audit events."""

from __future__ import annotations

import itertools
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest

from railguard.agent_uis import PIN_PEPPER_KEY_NAME, AgentUis
from railguard.agent_uis import repository as agent_ui_store
from railguard.core.clock import SystemClock
from railguard.core.errors import RateLimited, WrongPin
from railguard.crypto import passwords
from railguard.store import Table
from tests.support import accounts as a
from tests.support.audit import RecordingAuditTrail
from tests.support.emulator import AwsEndpoint, Provisioning
from tests.support.fake_time import FakeClock
from tests.support.inprocess import InProcessClient, Reply
from tests.support.plaintexts import remember
from tests.support.plans import change_plan
from tests.support.server_keys import keyed_hash

# Eight digits: long enough that the session's scan for plaintext secrets finds no false match.
PIN = remember("90417263")
NEW_PIN = remember("58302917")
WRONG_PIN = "11112222"

_ADDRESSES = (f"127.1.{high}.{low}" for high, low in itertools.product(range(250), range(1, 250)))


def _address() -> str:
    """A source address no other test of this module has used: failure budgets are per address."""
    return next(_ADDRESSES)


pytestmark = pytest.mark.usefixtures("cheap_passwords")


@dataclass
class Deployer:
    """A workspace with an owner and a plain member, and an owner of another workspace."""

    client: InProcessClient
    clock: FakeClock
    workspace: str
    owner_id: str
    owner: dict[str, str]  # headers of the owner
    user: dict[str, str]  # headers of a plain member
    other: dict[str, str]  # headers of the owner of another workspace

    def create(self, headers: dict[str, str] | None = None, **fields: Any) -> dict[str, Any]:
        body = {"name": "Support bot", "agent_id": "agent-support", **fields}
        reply = self.client.request(
            "POST", "/api/v1/agent-uis", headers=headers or self.owner, body=body
        )
        assert reply.status == 201, reply.body
        data: dict[str, Any] = reply.json()["data"]
        return data

    def unlock(self, agent_ui_id: str, body: Any = None, *, source_ip: str) -> Reply:
        return self.client.request(
            "POST",
            f"/api/v1/agent-uis/{agent_ui_id}/unlock",
            body={"pin": PIN} if body is None else body,
            source_ip=source_ip,
        )

    def token(self, agent_ui_id: str, pin: str | None = PIN) -> str:
        reply = self.unlock(agent_ui_id, {"pin": pin} if pin else {}, source_ip=_address())
        assert reply.status == 200, reply.body
        token = str(reply.json()["data"]["access_token"])
        remember(token)  # stored only as its digest
        return token

    def session(self, agent_ui_id: str, token: str | None) -> Reply:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        return self.client.request(
            "GET", f"/api/v1/agent-uis/{agent_ui_id}/session", headers=headers
        )

    def manage(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> Reply:
        return self.client.request(method, path, headers=headers or self.owner, body=body)


@pytest.fixture
def deployer(client: InProcessClient, clock: FakeClock) -> Deployer:
    owner, user, other = a.team(client, "user")
    return Deployer(
        client,
        clock,
        owner.workspace,
        owner.user_id,
        owner.headers(),
        user.headers(owner.workspace),
        other.headers(),
    )


def _key(deployer: Deployer, scopes: list[str]) -> dict[str, str]:
    reply = deployer.manage("POST", "/api/v1/api-keys", {"name": "agent-ui", "scopes": scopes})
    assert reply.status == 201, reply.body
    return {"X-API-Key": reply.json()["data"]["key"]}


def _audited(caplog: pytest.LogCaptureFixture) -> list[Any]:
    """The audit records the functions logged during the test (log records with the audit
    event's fields as attributes: Any, to read them)."""
    return [record for record in caplog.records if hasattr(record, "audit_event")]


def _error_code(reply: Reply) -> str:
    return str(reply.json()["error"]["code"])


# -- management --------------------------------------------------------------------------------
def test_a_deployment_is_created_listed_read_renamed_and_deleted(deployer: Deployer) -> None:
    # Given two deployments, the second with a PIN
    first = deployer.create(name="First")
    second = deployer.create(name="Second", agent_id="agent-2", pin=PIN)
    path = f"/api/v1/agent-uis/{second['id']}"
    # Then creation answers the contract's fields, with whether there is a PIN
    assert set(second) >= {"id", "name", "agent_id", "pin_protected", "created_at"}
    assert second["id"].startswith("aui_")
    assert (first["pin_protected"], second["pin_protected"]) == (False, True)
    assert second["agent_id"] == "agent-2"
    # When they are listed / Then newest first
    listing = deployer.manage("GET", "/api/v1/agent-uis")
    assert listing.status == 200
    assert [item["id"] for item in listing.json()["data"]] == [second["id"], first["id"]]
    assert listing.json()["meta"] == {"next_cursor": None}
    # And a page of one has a cursor to the next
    page = deployer.manage("GET", "/api/v1/agent-uis?limit=1")
    cursor = page.json()["meta"]["next_cursor"]
    rest = deployer.manage("GET", f"/api/v1/agent-uis?limit=1&cursor={cursor}")
    assert [item["id"] for item in rest.json()["data"]] == [first["id"]]
    # When one is read and renamed
    read = deployer.manage("GET", path)
    deployer.clock.advance(5)
    renamed = deployer.manage("PATCH", path, {"name": "Renamed"})
    # Then the rename keeps the PIN (no `pin` in the body is not `pin: null`)
    assert read.json()["data"] == second | {"updated_at": second["created_at"]}
    assert renamed.status == 200
    assert renamed.json()["data"]["name"] == "Renamed"
    assert renamed.json()["data"]["pin_protected"] is True
    assert renamed.json()["data"]["updated_at"] > renamed.json()["data"]["created_at"]
    # When it is deleted / Then it is gone from reads, and a second delete or a change is 404
    assert deployer.manage("DELETE", path).status == 204
    assert deployer.manage("GET", path).status == 404
    assert deployer.manage("DELETE", path).status == 404
    assert deployer.manage("PATCH", path, {"name": "Back"}).status == 404
    remaining = deployer.manage("GET", "/api/v1/agent-uis").json()["data"]
    assert [item["id"] for item in remaining] == [first["id"]]


def test_another_workspaces_deployment_does_not_exist_for_the_caller(deployer: Deployer) -> None:
    # Given a deployment of the owner's workspace
    created = deployer.create(pin=PIN)
    path = f"/api/v1/agent-uis/{created['id']}"
    # When the owner of another workspace reads, changes or deletes it
    replies = [
        deployer.manage("GET", path, headers=deployer.other),
        deployer.manage("PATCH", path, {"name": "Mine"}, headers=deployer.other),
        deployer.manage("PATCH", path, {"pin": None}, headers=deployer.other),
        deployer.manage("DELETE", path, headers=deployer.other),
    ]
    # Then it does not exist for them, is not in their list, and is unchanged
    assert [reply.status for reply in replies] == [404] * 4
    assert {_error_code(reply) for reply in replies} == {"not_found"}
    assert deployer.manage("GET", "/api/v1/agent-uis", headers=deployer.other).json()["data"] == []
    assert deployer.manage("GET", path).json()["data"] == created | {
        "updated_at": created["created_at"]
    }
    # And the owner naming the other workspace in X-Workspace-ID is refused
    smuggled = {**deployer.owner, "X-Workspace-ID": deployer.other["X-Workspace-ID"]}
    assert deployer.manage("GET", path, headers=smuggled).status == 403


@pytest.mark.parametrize("agent_ui_id", ["aui_01ARZ3NDEKTSV4RRFFQ69G5FAV", "not-an-id", "x" * 300])
def test_unknown_ids_are_not_found_everywhere(deployer: Deployer, agent_ui_id: str) -> None:
    # When a made-up id is read, changed, deleted, unlocked or asked for its session
    path = f"/api/v1/agent-uis/{agent_ui_id}"
    replies = [
        deployer.manage("GET", path),
        deployer.manage("PATCH", path, {"name": "x"}),
        deployer.manage("DELETE", path),
        deployer.unlock(agent_ui_id, source_ip=_address()),
    ]
    # Then 404 for each, and a session check is 401 (no token can be for it)
    assert [reply.status for reply in replies] == [404] * 4
    assert deployer.session(agent_ui_id, "rgu_" + "A" * 38).status == 401


def test_a_pin_is_stored_hashed_and_never_returned(
    deployer: Deployer,
    table: Table,
    caplog: pytest.LogCaptureFixture,
    aws: AwsEndpoint,
    provisioned: Provisioning,
) -> None:
    # Given a deployment created with a PIN, read, listed, given a new PIN and unlocked, with
    # every log captured
    caplog.set_level(logging.DEBUG)
    created = deployer.create(pin=PIN)
    path = f"/api/v1/agent-uis/{created['id']}"
    replies = [
        deployer.manage("GET", path),
        deployer.manage("GET", "/api/v1/agent-uis", headers=deployer.user),
        deployer.manage("PATCH", path, {"pin": NEW_PIN}),
        deployer.unlock(created["id"], {"pin": NEW_PIN}, source_ip=_address()),
        deployer.unlock(created["id"], {"pin": PIN}, source_ip=_address()),
    ]
    assert [reply.status for reply in replies] == [200, 200, 200, 200, 401]
    token = remember(replies[3].json()["data"]["access_token"])
    # Then no response and no log line holds a PIN, a hash or the token
    for reply in replies:
        assert PIN.encode() not in reply.body
        assert NEW_PIN.encode() not in reply.body
        assert b"argon2" not in reply.body
        assert b"pin_hash" not in reply.body
    logged = str([record.__dict__ for record in caplog.records]) + caplog.text
    assert PIN not in logged
    assert NEW_PIN not in logged
    assert token not in logged
    # And the record holds an argon2id hash of the new PIN (peppered) only; the token only as
    # its digest
    record = table.get(agent_ui_store.agent_ui_key(deployer.workspace, created["id"]))
    assert record is not None
    assert record["pin_hash"].startswith("$argon2id$")
    pepper = keyed_hash(aws, provisioned, table, PIN_PEPPER_KEY_NAME)
    assert passwords.verify_secret(record["pin_hash"], pepper.of(NEW_PIN))
    items = str(table._client.scan(TableName=table.name)["Items"])
    assert PIN not in items
    assert NEW_PIN not in items
    assert token not in items


def test_finding_10_a_pin_hash_leaves_no_offline_search_without_the_server_key(
    deployer: Deployer, table: Table, aws: AwsEndpoint, provisioned: Provisioning
) -> None:
    # Given a deployment with a PIN
    created = deployer.create(pin=PIN)
    record = table.get(agent_ui_store.agent_ui_key(deployer.workspace, created["id"]))
    assert record is not None
    # When someone with a copy of the table searches the PIN space against its hash
    candidates = [WRONG_PIN, "00000000", PIN]
    # Then no PIN matches, not even the right one: what was hashed is the PIN's HMAC under the
    # sealed server key, which the table alone does not give
    assert [passwords.verify_secret(record["pin_hash"], pin) for pin in candidates] == [False] * 3
    pepper = keyed_hash(aws, provisioned, table, PIN_PEPPER_KEY_NAME)
    assert passwords.verify_secret(record["pin_hash"], pepper.of(PIN))
    # And the PIN still unlocks, and a wrong one does not
    assert deployer.unlock(created["id"], source_ip=_address()).status == 200
    assert deployer.unlock(created["id"], {"pin": WRONG_PIN}, source_ip=_address()).status == 401


def test_finding_10_unlocks_without_a_pin_are_limited_per_address(deployer: Deployer) -> None:
    # Given a deployment without a PIN, at the start of a 15-minute window, in a workspace whose
    # plan's auth budget (150 a minute) leaves the per-address budget to decide
    assert change_plan(workspace_id=deployer.workspace, plan="starter")["counts"]["changed"] == 1
    created = deployer.create()
    deployer.clock.to_window_start(900)
    # When one IPv6 /64 unlocks it 61 times, from addresses across it
    statuses = [
        deployer.unlock(created["id"], {}, source_ip=f"2001:db8:61:1::{n:x}").status
        for n in range(1, 62)
    ]
    # Then 60 open a session and the 61st is refused with Retry-After, whatever the PIN says
    assert (statuses.count(200), statuses[-1]) == (60, 429)
    blocked = deployer.unlock(created["id"], {"pin": PIN}, source_ip="2001:db8:61:1::ffff")
    assert (blocked.status, _error_code(blocked)) == (429, "rate_limited")
    assert 0 < int(blocked.headers["retry-after"]) <= 900
    # And another address is not affected, and after the window the /64 may unlock again
    assert deployer.unlock(created["id"], {}, source_ip="2001:db8:61:2::1").status == 200
    deployer.clock.advance(900)
    assert deployer.unlock(created["id"], {}, source_ip="2001:db8:61:1::1").status == 200


@pytest.mark.parametrize(
    "pin",
    ["123", "123456789", "12a4", "12 34", "\u0661\u0662\u0663\u0664", "", 1234, ["1234"]],
    ids=["short", "long", "letter", "space", "arabic-digits", "empty", "number", "list"],
)
def test_a_pin_is_4_to_8_ascii_digits(deployer: Deployer, pin: Any) -> None:
    # Given a deployment without a PIN
    created = deployer.create()
    path = f"/api/v1/agent-uis/{created['id']}"
    # When a malformed PIN is given at creation or in a change
    body = {"name": "Bot", "agent_id": "agent-1", "pin": pin}
    replies = [
        deployer.manage("POST", "/api/v1/agent-uis", body),
        deployer.manage("PATCH", path, {"pin": pin}),
    ]
    # Then both are 400 validation errors that do not echo the value, and nothing changed
    for reply in replies:
        assert (reply.status, _error_code(reply)) == (400, "validation_error")
        assert reply.json()["error"]["details"]["fields"][0]["field"].endswith("pin")
        if isinstance(pin, str) and len(pin) >= 3:
            assert pin.encode() not in reply.body
    assert deployer.manage("GET", path).json()["data"]["pin_protected"] is False
    assert len(deployer.manage("GET", "/api/v1/agent-uis").json()["data"]) == 1


@pytest.mark.parametrize(
    "body",
    [
        {"name": "", "agent_id": "agent-1"},
        {"name": "x" * 101, "agent_id": "agent-1"},
        {"name": "Bot"},
        {"name": "Bot", "agent_id": "a" * 101},
        {"name": "Bot", "agent_id": "agent-1", "pin_hash": "$argon2id$"},
        {"name": "Bot", "agent_id": "agent-1", "workspace_id": "ws_01ARZ3NDEKTSV4RRFFQ69G5FAV"},
    ],
    ids=["empty-name", "long-name", "no-agent", "long-agent", "pin-hash", "workspace"],
)
def test_creation_validates_its_fields(deployer: Deployer, body: dict[str, Any]) -> None:
    reply = deployer.manage("POST", "/api/v1/agent-uis", body)
    assert (reply.status, _error_code(reply)) == (400, "validation_error")


def test_a_deployments_agent_cannot_be_changed_in_place(deployer: Deployer) -> None:
    # Given a deployment / When a change names another agent / Then 400: PATCH is name and PIN
    created = deployer.create()
    reply = deployer.manage("PATCH", f"/api/v1/agent-uis/{created['id']}", {"agent_id": "other"})
    assert (reply.status, _error_code(reply)) == (400, "validation_error")


# -- unlock ------------------------------------------------------------------------------------
def test_the_right_pin_unlocks_for_fifteen_minutes(deployer: Deployer) -> None:
    # Given a deployment with a PIN
    created = deployer.create(name="Help desk", agent_id="agent-help", pin=PIN)
    # When it is unlocked with its PIN
    reply = deployer.unlock(created["id"], {"pin": PIN}, source_ip=_address())
    # Then a token for 900 seconds that opens the deployment's session
    assert reply.status == 200, reply.body
    data = reply.json()["data"]
    assert data["expires_in"] == 900
    assert data["access_token"].startswith("rgu_")
    remember(data["access_token"])
    session = deployer.session(created["id"], data["access_token"])
    assert session.status == 200
    assert session.json()["data"] == {
        "id": created["id"],
        "name": "Help desk",
        "agent_id": "agent-help",
    }
    assert session.headers["cache-control"] == "no-store"
    # And the session ends with its fifteen minutes
    deployer.clock.advance(899)
    assert deployer.session(created["id"], data["access_token"]).status == 200
    deployer.clock.advance(1)
    assert deployer.session(created["id"], data["access_token"]).status == 401


def test_a_wrong_or_missing_pin_is_401_and_audited(
    deployer: Deployer, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a deployment with a PIN
    caplog.set_level(logging.INFO)
    created = deployer.create(pin=PIN)
    address = _address()
    # When a wrong PIN, then no PIN, then no body, is sent
    wrong = deployer.unlock(created["id"], {"pin": WRONG_PIN}, source_ip=address)
    missing = deployer.unlock(created["id"], {}, source_ip=address)
    no_body = deployer.client.request(
        "POST", f"/api/v1/agent-uis/{created['id']}/unlock", source_ip=address
    )
    # Then 401 invalid_pin for each, with no token
    for reply in (wrong, missing, no_body):
        assert (reply.status, _error_code(reply)) == (401, "invalid_pin")
        assert b"access_token" not in reply.body
    # And each is an audit event naming the deployment and the address, never the PIN
    failures = [r for r in _audited(caplog) if r.audit_event == "agent_ui.unlock_failed"]
    assert len(failures) == 3
    for record in failures:
        assert record.target_id == created["id"]
        assert record.workspace_id == deployer.workspace
        assert record.detail_source_ip == address
    assert WRONG_PIN not in str([record.__dict__ for record in caplog.records])


def test_a_deployment_without_a_pin_unlocks_without_one(deployer: Deployer) -> None:
    # Given a deployment without a PIN
    created = deployer.create()
    # When it is unlocked with an empty object, with no body at all, and with some PIN
    no_body = deployer.client.request(
        "POST", f"/api/v1/agent-uis/{created['id']}/unlock", source_ip=_address()
    )
    replies = [
        deployer.unlock(created["id"], {}, source_ip=_address()),
        no_body,
        deployer.unlock(created["id"], {"pin": WRONG_PIN}, source_ip=_address()),
    ]
    # Then each opens a session (there is nothing to check)
    assert [reply.status for reply in replies] == [200, 200, 200]
    token = remember(replies[0].json()["data"]["access_token"])
    assert deployer.session(created["id"], token).status == 200


def test_five_failures_from_one_address_lock_it_out_for_that_deployment(
    deployer: Deployer,
) -> None:
    # Given two deployments with the same PIN, and five wrong PINs for the first from one address
    locked, other = deployer.create(pin=PIN), deployer.create(pin=PIN)
    attacker, neighbour = _address(), _address()
    statuses = [
        deployer.unlock(locked["id"], {"pin": WRONG_PIN}, source_ip=attacker).status
        for _ in range(5)
    ]
    assert statuses == [401] * 5
    # When the sixth attempt from that address brings the right PIN
    blocked = deployer.unlock(locked["id"], {"pin": PIN}, source_ip=attacker)
    # Then 429 with Retry-After, the PIN unchecked
    assert (blocked.status, _error_code(blocked)) == (429, "rate_limited")
    assert 0 < int(blocked.headers["retry-after"]) <= 900
    # And another address, and the same address on another deployment, are unaffected
    assert deployer.unlock(locked["id"], {"pin": PIN}, source_ip=neighbour).status == 200
    assert deployer.unlock(other["id"], {"pin": PIN}, source_ip=attacker).status == 200
    # And after the fifteen-minute window the address may try again
    deployer.clock.advance(900)
    assert deployer.unlock(locked["id"], {"pin": PIN}, source_ip=attacker).status == 200


def test_finding_9_the_addresses_of_one_ipv6_64_share_one_unlock_budget(
    deployer: Deployer,
) -> None:
    # Given five wrong PINs, each from another address of one IPv6 /64
    created = deployer.create(pin=PIN)
    statuses = [
        deployer.unlock(created["id"], {"pin": WRONG_PIN}, source_ip=f"2001:db8:5:6::{n}").status
        for n in range(1, 6)
    ]
    assert statuses == [401] * 5
    # When a sixth address of that /64 brings the right PIN
    blocked = deployer.unlock(created["id"], source_ip="2001:db8:5:6:ffff:ffff:ffff:fffe")
    # Then it is refused unchecked: the /64 is one budget, not 2^64 of them
    assert (blocked.status, _error_code(blocked)) == (429, "rate_limited")
    # And an address of another /64 has a budget of its own
    assert deployer.unlock(created["id"], source_ip="2001:db8:5:7::1").status == 200


def test_concurrent_failures_pass_the_budget_exactly_five_times(
    deployer: Deployer, table: Table, aws: AwsEndpoint, provisioned: Provisioning
) -> None:
    # Given twelve wrong PINs racing from one address, each on its own instance and client
    created = deployer.create(pin=PIN)
    address = _address()
    trails = [RecordingAuditTrail() for _ in range(12)]

    def attempt(index: int) -> str:
        instance_table = Table(aws.client("dynamodb"), table.name)
        pepper = keyed_hash(aws, provisioned, instance_table, PIN_PEPPER_KEY_NAME)
        agent_uis = AgentUis(instance_table, SystemClock(), trails[index], pin_pepper=pepper)
        try:
            agent_uis.unlock(created["id"], WRONG_PIN, source_ip=address)
        except WrongPin:
            return "wrong"
        except RateLimited:
            return "throttled"  # over the budget of attempts in flight: not checked
        return "unlocked"

    with ThreadPoolExecutor(max_workers=12) as pool:
        outcomes = list(pool.map(attempt, range(12)))
    # Then exactly five were checked (and audited), the rest refused unchecked: the budget is
    # counted before the PIN is, so a burst cannot outrun it
    assert sorted(outcomes) == ["throttled"] * 7 + ["wrong"] * 5
    assert sum(len(trail.events) for trail in trails) == 5
    assert deployer.unlock(created["id"], {"pin": PIN}, source_ip=address).status == 429


def test_a_right_pin_gives_its_attempt_back(deployer: Deployer) -> None:
    # Given four wrong PINs from one address, then three right ones
    created = deployer.create(pin=PIN)
    address = _address()
    wrong = [
        deployer.unlock(created["id"], {"pin": WRONG_PIN}, source_ip=address).status
        for _ in range(4)
    ]
    right = [deployer.unlock(created["id"], source_ip=address).status for _ in range(3)]
    # Then the right ones pass: they did not count as failures
    assert (wrong, right) == ([401] * 4, [200] * 3)
    # And the fifth failure is still allowed (401), and only then is the address locked out
    fifth = deployer.unlock(created["id"], {"pin": WRONG_PIN}, source_ip=address)
    assert fifth.status == 401
    assert deployer.unlock(created["id"], source_ip=address).status == 429


def test_finding_5_a_right_pin_checked_across_a_window_boundary_keeps_the_next_budget_exact(
    deployer: Deployer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a right PIN whose check (argon2 takes time) ends just after its 15-minute window
    created = deployer.create(pin=PIN)
    address = _address()
    deployer.clock.to_window_start(900)
    deployer.clock.advance(899)
    verify = passwords.verify_secret

    def slow_verify(stored_hash: str | None, candidate: str) -> bool:
        deployer.clock.advance(1)
        return verify(stored_hash, candidate)

    monkeypatch.setattr(passwords, "verify_secret", slow_verify)
    assert deployer.unlock(created["id"], source_ip=address).status == 200
    monkeypatch.setattr(passwords, "verify_secret", verify)
    # When five wrong PINs follow from that address in the new window
    statuses = [
        deployer.unlock(created["id"], {"pin": WRONG_PIN}, source_ip=address).status
        for _ in range(5)
    ]
    # Then the sixth attempt is refused unchecked: the attempt given back went to the window it
    # was taken from, not into this one as an extra try
    assert statuses == [401] * 5
    assert deployer.unlock(created["id"], source_ip=address).status == 429


def test_fifty_failures_in_an_hour_lock_out_every_address(deployer: Deployer) -> None:
    # Given a deployment, and 50 wrong PINs within an hour from 25 addresses (2 each: no
    # address reaches its own limit), in a workspace whose plan's auth budget (150 a minute)
    # leaves the deployment's budget to decide
    assert change_plan(workspace_id=deployer.workspace, plan="starter")["counts"]["changed"] == 1
    created, other = deployer.create(pin=PIN), deployer.create(pin=PIN)
    # (Moved after creating: the owner's access token lives 15 minutes, the window an hour.)
    deployer.clock.to_window_start(3600)
    statuses = [
        deployer.unlock(created["id"], {"pin": WRONG_PIN}, source_ip=address).status
        for address in [_address() for _ in range(25)]
        for _ in range(2)
    ]
    assert statuses == [401] * 50
    # When an address never seen before brings the right PIN
    fresh = _address()
    blocked = deployer.unlock(created["id"], {"pin": PIN}, source_ip=fresh)
    # Then 429 with Retry-After: the deployment's budget is spent for everyone
    assert blocked.status == 429
    assert 0 < int(blocked.headers["retry-after"]) <= 3600
    # And another deployment is unaffected
    assert deployer.unlock(other["id"], {"pin": PIN}, source_ip=fresh).status == 200
    # And the refused attempt did not use the fresh address's own budget: after the hour, it
    # unlocks at once
    deployer.clock.advance(3600)
    assert deployer.unlock(created["id"], {"pin": PIN}, source_ip=fresh).status == 200


# -- the unlock token --------------------------------------------------------------------------
def test_a_token_of_one_deployment_is_refused_by_another(deployer: Deployer, table: Table) -> None:
    # Given two deployments of one workspace, and a token of the first
    first, second = deployer.create(pin=PIN), deployer.create()
    token = deployer.token(first["id"])
    # When it is shown to the second's session route
    reply = deployer.session(second["id"], token)
    # Then 401: its audience is the first alone
    assert (reply.status, _error_code(reply)) == (401, "unauthenticated")
    assert deployer.session(first["id"], token).status == 200
    # And that holds by the audience itself, not by the two PIN versions differing
    first_record = table.get(agent_ui_store.agent_ui_key(deployer.workspace, first["id"]))
    assert first_record is not None
    table.update(
        agent_ui_store.agent_ui_key(deployer.workspace, second["id"]),
        "SET pin_version = :version",
        values={":version": first_record["pin_version"]},
    )
    assert deployer.session(second["id"], token).status == 401


def test_the_unlock_token_is_refused_by_the_rest_of_the_api(deployer: Deployer) -> None:
    # Given a token of a deployment
    created = deployer.create(pin=PIN)
    token = deployer.token(created["id"])
    # When it is used as a credential on protected routes
    me = deployer.client.request("GET", "/api/v1/me", token=token)
    listing = deployer.client.request(
        "GET",
        "/api/v1/agent-uis",
        headers={"Authorization": f"Bearer {token}", "X-Workspace-ID": deployer.workspace},
    )
    as_key = deployer.client.request(
        "GET", f"/api/v1/agent-uis/{created['id']}", headers={"X-API-Key": token}
    )
    # Then the authorizer refuses it as no credential at all
    for reply in (me, listing, as_key):
        assert reply.status == 401
        assert reply.json() == {"message": "Unauthorized"}


@pytest.mark.parametrize(
    "authorization",
    [None, "rgu_", "Basic abc", "Bearer rgu_" + "A" * 38, "Bearer ", "Bearer a b"],
    ids=["none", "no-scheme", "basic", "unknown", "empty", "two-values"],
)
def test_the_session_route_refuses_anything_but_a_live_unlock_token(
    deployer: Deployer, authorization: str | None
) -> None:
    created = deployer.create()
    headers = {"Authorization": authorization} if authorization is not None else {}
    reply = deployer.client.request(
        "GET", f"/api/v1/agent-uis/{created['id']}/session", headers=headers
    )
    assert (reply.status, _error_code(reply)) == (401, "unauthenticated")


def test_an_access_token_or_api_key_does_not_open_a_session(deployer: Deployer) -> None:
    # Given a deployment, the owner's access token and a key that may read deployments
    created = deployer.create()
    key = _key(deployer, ["agent_uis:read"])["X-API-Key"]
    # When they are shown to the session route / Then 401
    for credential in (deployer.owner["Authorization"].removeprefix("Bearer "), key):
        assert deployer.session(created["id"], credential).status == 401


def test_changing_the_pin_ends_the_sessions_of_the_old_one(deployer: Deployer) -> None:
    # Given an unlocked session
    created = deployer.create(pin=PIN)
    path = f"/api/v1/agent-uis/{created['id']}"
    token = deployer.token(created["id"])
    # When the deployment is renamed / Then the session holds, with the new name
    deployer.manage("PATCH", path, {"name": "Renamed"})
    assert deployer.session(created["id"], token).json()["data"]["name"] == "Renamed"
    # When the PIN is changed
    changed = deployer.manage("PATCH", path, {"pin": NEW_PIN})
    assert changed.status == 200
    # Then the session ends, the old PIN is wrong, and the new one opens a new session
    assert deployer.session(created["id"], token).status == 401
    assert deployer.unlock(created["id"], {"pin": PIN}, source_ip=_address()).status == 401
    assert deployer.session(created["id"], deployer.token(created["id"], NEW_PIN)).status == 200


def test_setting_the_same_pin_again_still_ends_the_sessions(deployer: Deployer) -> None:
    # Given an unlocked session / When the PIN is set again to the same value
    created = deployer.create(pin=PIN)
    token = deployer.token(created["id"])
    deployer.manage("PATCH", f"/api/v1/agent-uis/{created['id']}", {"pin": PIN})
    # Then it ends: a PIN set is a new PIN (an owner resetting it wants everyone out)
    assert deployer.session(created["id"], token).status == 401


def test_removing_the_pin_ends_the_sessions_and_opens_without_one(deployer: Deployer) -> None:
    # Given an unlocked session
    created = deployer.create(pin=PIN)
    token = deployer.token(created["id"])
    # When the PIN is removed (an explicit null)
    removed = deployer.manage("PATCH", f"/api/v1/agent-uis/{created['id']}", {"pin": None})
    # Then the deployment has no PIN, the session ends, and an unlock needs no PIN
    assert removed.status == 200
    assert removed.json()["data"]["pin_protected"] is False
    assert deployer.session(created["id"], token).status == 401
    assert deployer.session(created["id"], deployer.token(created["id"], None)).status == 200


def test_deleting_a_deployment_ends_its_sessions_and_unlocks(deployer: Deployer) -> None:
    # Given an unlocked session
    created = deployer.create(pin=PIN)
    token = deployer.token(created["id"])
    # When the deployment is deleted
    assert deployer.manage("DELETE", f"/api/v1/agent-uis/{created['id']}").status == 204
    # Then the session ends, and unlocking is 404 even with the right PIN
    assert deployer.session(created["id"], token).status == 401
    unlock = deployer.unlock(created["id"], {"pin": PIN}, source_ip=_address())
    assert (unlock.status, _error_code(unlock)) == (404, "not_found")


def test_deleting_the_workspace_ends_its_deployments_sessions(deployer: Deployer) -> None:
    # Given an unlocked session of a deployment
    created = deployer.create(pin=PIN)
    token = deployer.token(created["id"])
    # When the owner deletes the workspace
    deleted = deployer.client.request(
        "DELETE",
        f"/api/v1/workspaces/{deployer.workspace}",
        headers={"Authorization": deployer.owner["Authorization"]},
    )
    assert deleted.status == 204, deleted.body
    # Then the session ends and the deployment cannot be unlocked
    assert deployer.session(created["id"], token).status == 401
    assert deployer.unlock(created["id"], {"pin": PIN}, source_ip=_address()).status == 404


# -- who may do what ---------------------------------------------------------------------------
def test_keys_act_by_their_scopes(deployer: Deployer) -> None:
    # Given a deployment, a key that reads deployments, one that writes, and one of other scopes
    created = deployer.create()
    path = f"/api/v1/agent-uis/{created['id']}"
    reader = _key(deployer, ["agent_uis:read"])
    writer = _key(deployer, ["agent_uis:read", "agent_uis:write"])
    unrelated = _key(deployer, ["credentials:read"])
    new = {"name": "By key", "agent_id": "agent-k"}
    # Then the reader lists and reads but cannot create, change or delete
    assert deployer.manage("GET", "/api/v1/agent-uis", headers=reader).status == 200
    assert deployer.manage("GET", path, headers=reader).status == 200
    assert deployer.manage("POST", "/api/v1/agent-uis", new, headers=reader).status == 403
    assert deployer.manage("PATCH", path, {"name": "x"}, headers=reader).status == 403
    assert deployer.manage("DELETE", path, headers=reader).status == 403
    # And the writer manages
    assert deployer.manage("POST", "/api/v1/agent-uis", new, headers=writer).status == 201
    assert deployer.manage("PATCH", path, {"pin": PIN}, headers=writer).status == 200
    # And a key without an agent_uis scope reads nothing
    assert deployer.manage("GET", "/api/v1/agent-uis", headers=unrelated).status == 403


def test_members_read_and_only_owners_and_admins_manage(deployer: Deployer) -> None:
    # Given a deployment of the workspace
    created = deployer.create(pin=PIN)
    path = f"/api/v1/agent-uis/{created['id']}"
    # When a plain member reads and tries to change it
    listing = deployer.manage("GET", "/api/v1/agent-uis", headers=deployer.user)
    read = deployer.manage("GET", path, headers=deployer.user)
    writes = [
        deployer.manage("POST", "/api/v1/agent-uis", {"name": "x", "agent_id": "y"}, deployer.user),
        deployer.manage("PATCH", path, {"pin": None}, headers=deployer.user),
        deployer.manage("DELETE", path, headers=deployer.user),
    ]
    # Then reads succeed and every write is 403, changing nothing
    assert (listing.status, read.status) == (200, 200)
    assert read.json()["data"]["pin_protected"] is True
    assert [reply.status for reply in writes] == [403] * 3
    assert deployer.manage("GET", path).json()["data"]["pin_protected"] is True


def test_management_changes_are_audited_with_ids_only(
    deployer: Deployer, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a deployment created, renamed, given a new PIN, and deleted by the owner
    caplog.set_level(logging.INFO)
    created = deployer.create(pin=PIN)
    path = f"/api/v1/agent-uis/{created['id']}"
    deployer.manage("PATCH", path, {"name": "Renamed"})
    deployer.manage("PATCH", path, {"pin": NEW_PIN})
    deployer.manage("PATCH", path, {})  # no change: nothing to record
    deployer.manage("DELETE", path)
    # Then each change is one audit event naming the actor, the workspace and the deployment
    records = _audited(caplog)
    assert [record.audit_event for record in records] == [
        "agent_ui.created",
        "agent_ui.updated",
        "agent_ui.updated",
        "agent_ui.deleted",
    ]
    for record in records:
        assert (record.actor_type, record.actor_id) == ("user", deployer.owner_id)
        assert record.workspace_id == deployer.workspace
        assert record.target_id == created["id"]
    logged = str([record.__dict__ for record in records])
    assert PIN not in logged
    assert NEW_PIN not in logged
    assert "argon2" not in logged
