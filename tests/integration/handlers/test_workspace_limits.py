"""Contract section 11 (v1.1), limits by endpoint class and plan, through the gateway in process:
a workspace's budget per class is shared by all its keys and members (minting keys adds none), a
key's own limit only narrows it, the count is exact under concurrency across principals, the
classes are counted apart, the public webhook and agent UI routes spend their workspace's
`webhook` and `auth` budgets (an agent UI's session check spends none), a plan change applies within
5 seconds, a key never keeps an owner from revoking it, and a 429 names the limit.

Budgets are made small with `patch_budgets` (the plans' terms, for the test only)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from railguard.access.rate_repository import class_attribute, workspace_window
from railguard.authorizer.decision import STATE_MAX_AGE_SECONDS
from railguard.store import Table
from railguard.webhooks import signature
from tests.support import accounts as a
from tests.support.aws_calls import record_whole_aws_calls
from tests.support.fake_time import FakeClock
from tests.support.inprocess import InProcessClient, Reply
from tests.support.plaintexts import remember
from tests.support.plans import change_plan, patch_budgets

KEYS = "/api/v1/api-keys"
CREDENTIALS = "/api/v1/credentials"
ME = "/api/v1/me"
CACHE_AGED = STATE_MAX_AGE_SECONDS + 0.1

pytestmark = [pytest.mark.usefixtures("clock", "cheap_passwords"), pytest.mark.table_per_test]


@pytest.fixture
def owner(client: InProcessClient) -> a.Account:
    return a.new_account()


def _key(client: InProcessClient, owner: a.Account, *scopes: str, **fields: Any) -> str:
    body = {"name": "ci", "scopes": list(scopes or ["agents:read"]), **fields}
    reply = client.request("POST", KEYS, headers=owner.headers(), body=body)
    assert reply.status == 201, reply.body
    key: str = reply.json()["data"]["key"]
    return key


def _me(client: InProcessClient, key: str) -> Reply:
    return client.request("GET", ME, headers={"X-API-Key": key})


def _limits(reply: Reply) -> tuple[int, int, int]:
    return (
        int(reply.headers["ratelimit-limit"]),
        int(reply.headers["ratelimit-remaining"]),
        int(reply.headers["ratelimit-reset"]),
    )


def _refused_by(reply: Reply) -> tuple[int, str, dict[str, Any]]:
    error = reply.json()["error"]
    return reply.status, error["code"], error["details"]


def _minute(table: Table, workspace_id: str, clock: FakeClock) -> dict[str, Any]:
    now = int(clock.now())
    item = table.get(workspace_window(workspace_id, now - now % 60))
    assert item is not None
    return item


def test_keys_of_a_workspace_share_its_budget_and_a_429_names_it(
    client: InProcessClient,
    owner: a.Account,
    table: Table,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a workspace whose plan allows 6 reads a minute, and three of its keys
    patch_budgets(monkeypatch, read=6)
    keys = [_key(client, owner) for _ in range(3)]
    clock.to_window_start(60)
    # When each key reads twice, then the first once more
    replies = [_me(client, key) for key in keys for _ in range(2)]
    over = _me(client, keys[0])
    # Then the six pass, counting the one budget down, and the seventh is 429: the workspace's
    assert [reply.status for reply in replies] == [200] * 6
    assert [_limits(reply)[:2] for reply in replies] == [(6, n) for n in range(5, -1, -1)]
    assert _refused_by(over) == (
        429,
        "rate_limited",
        {"limit": "workspace", "class": "read"},
    )
    assert _limits(over) == (6, 0, 60)
    assert over.headers["retry-after"] == "60"
    # And a new key brings no budget of its own
    assert _me(client, _key(client, owner)).status == 429
    # And the minute's item holds the class's count and each key's
    minute = _minute(table, owner.workspace, clock)
    assert minute[class_attribute("read")] == 6
    assert sorted(v for k, v in minute.items() if k.startswith("p:api_key:")) == [2, 2, 2]


def test_a_keys_own_limit_narrows_the_workspaces_budget_never_widens_it(
    client: InProcessClient, owner: a.Account, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a workspace allowing 5 reads a minute, a key limited to 2 a minute, and another key
    patch_budgets(monkeypatch, read=5)
    narrow = _key(client, owner, rate_limit={"requests": 2, "window_seconds": 60})
    other = _key(client, owner)
    clock.to_window_start(60)
    # When the narrow key reads three times
    narrow_replies = [_me(client, narrow) for _ in range(3)]
    # Then it passes twice and is refused by its own limit, which its headers described
    assert [reply.status for reply in narrow_replies] == [200, 200, 429]
    assert [_limits(reply)[:2] for reply in narrow_replies[:2]] == [(2, 1), (2, 0)]
    assert _refused_by(narrow_replies[2])[2] == {"limit": "key", "class": "read"}
    # And its refusal spent nothing of the workspace's: the other key gets the 3 left, no more
    others = [_me(client, other).status for _ in range(4)]
    assert others == [200, 200, 200, 429]


def test_members_share_the_workspaces_budget_with_its_keys(
    client: InProcessClient, owner: a.Account, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a workspace allowing 3 reads a minute, and a key of it
    patch_budgets(monkeypatch, read=3)
    key = _key(client, owner)
    clock.to_window_start(60)
    # When the key reads twice, and the owner lists the workspace's credentials twice
    assert [_me(client, key).status for _ in range(2)] == [200, 200]
    first = client.request("GET", CREDENTIALS, headers=owner.headers())
    second = client.request("GET", CREDENTIALS, headers=owner.headers())
    # Then the owner gets the one read left, then the workspace's 429
    assert (first.status, _limits(first)[:2]) == (200, (3, 0))
    assert _refused_by(second) == (429, "rate_limited", {"limit": "workspace", "class": "read"})
    # And outside the workspace the owner is counted apart, by their own limit
    outside = client.request("GET", ME, headers={"Authorization": f"Bearer {owner.token}"})
    assert outside.status == 200


def test_a_user_over_their_own_limit_is_told_the_user_limit(
    client: InProcessClient, owner: a.Account, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a plan allowing one principal 2 requests a minute
    patch_budgets(monkeypatch, principal=2)
    clock.to_window_start(60)
    me = {"Authorization": f"Bearer {owner.token}"}
    # When a user calls outside any workspace three times, and in their workspace three times
    outside = [client.request("GET", ME, headers=me) for _ in range(3)]
    inside = [client.request("GET", CREDENTIALS, headers=owner.headers()) for _ in range(3)]
    # Then the third of each is refused by the user's limit
    assert [reply.status for reply in outside + inside] == [200, 200, 429] * 2
    assert _refused_by(outside[2])[2] == {"limit": "user", "class": "read"}
    assert _refused_by(inside[2])[2] == {"limit": "user", "class": "read"}


def test_reads_spent_leave_writes_their_own_budget(
    client: InProcessClient, owner: a.Account, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a workspace allowing 2 reads and 3 writes a minute, and a key that may write
    patch_budgets(monkeypatch, read=2, write=3)
    key = _key(client, owner, "agent_uis:read", "agent_uis:write")
    clock.to_window_start(60)
    headers = {"X-API-Key": key}
    gone = "/api/v1/agent-uis/aui_01J00000000000000000000000"
    # When it spends the reads, then writes (deleting what is not there: counted all the same)
    reads = [client.request("GET", gone, headers=headers) for _ in range(3)]
    writes = [client.request("DELETE", gone, headers=headers) for _ in range(4)]
    # Then the reads are refused once spent, and the writes still pass, up to their own budget
    assert [reply.status for reply in reads] == [404, 404, 429]
    assert _refused_by(reads[2])[2] == {"limit": "workspace", "class": "read"}
    assert [reply.status for reply in writes] == [404, 404, 404, 429]
    assert _refused_by(writes[3])[2] == {"limit": "workspace", "class": "write"}


def test_a_key_that_spends_the_workspaces_writes_cannot_keep_the_owner_from_revoking_it(
    client: InProcessClient, owner: a.Account, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a workspace allowing 2 writes a minute, spent by a key's creation (counted, as
    # every request of the workspace) and the key's own misuse
    patch_budgets(monkeypatch, write=2)
    clock.to_window_start(60)
    created = client.request(
        "POST", KEYS, headers=owner.headers(), body={"name": "ci", "scopes": ["agent_uis:write"]}
    )
    assert created.status == 201, created.body
    key = remember(created.json()["data"]["key"])
    gone = "/api/v1/agent-uis/aui_01J00000000000000000000000"
    spent = [client.request("DELETE", gone, headers={"X-API-Key": key}) for _ in range(2)]
    assert [reply.status for reply in spent] == [404, 429]
    # When the owner revokes it, in the same minute (a route no key may use)
    revoked = client.request(
        "DELETE", f"{KEYS}/{created.json()['data']['id']}", headers=owner.headers()
    )
    # Then the revocation passes: the workspace's budget counts it but never refuses it
    assert revoked.status == 204
    assert _limits(revoked) == (120, 118, 60)  # the creation and the revocation


def test_of_100_concurrent_requests_over_5_keys_exactly_the_budget_of_50_pass(
    client: InProcessClient,
    owner: a.Account,
    table: Table,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a workspace allowing 50 reads a minute, and five keys of it, each already cached
    patch_budgets(monkeypatch, read=50)
    keys = [_key(client, owner) for _ in range(5)]
    clock.to_window_start(60)
    # (warming counts each key's first request: 5 of the 50)
    assert all(_me(client, key).status == 200 for key in keys)
    # When 100 requests arrive at once, 20 per key
    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(lambda n: _me(client, keys[n % 5]).status, range(100)))
    # Then exactly the 45 left pass, and 55 are refused
    assert (statuses.count(200), statuses.count(429)) == (45, 55)
    assert _minute(table, owner.workspace, clock)[class_attribute("read")] == 50


def test_a_keys_own_limit_over_an_hour_is_counted_apart_and_given_back_when_the_workspace_refuses(
    client: InProcessClient,
    owner: a.Account,
    table: Table,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a workspace allowing 2 reads a minute, and a key limited to 3 an hour
    patch_budgets(monkeypatch, read=2)
    key = _key(client, owner, rate_limit={"requests": 3, "window_seconds": 3600})
    clock.to_window_start(3600)
    assert _me(client, key).status == 200
    calls = record_whole_aws_calls(monkeypatch)
    # When it reads twice more in that minute
    second, third = _me(client, key), _me(client, key)
    # Then the second costs two calls (its own hour, then the workspace's minute), and the
    # third is refused by the workspace, which gives its hour's count back
    assert second.status == 200
    assert _refused_by(third)[2] == {"limit": "workspace", "class": "read"}
    operations = [call.operation for call in calls]
    assert operations == ["UpdateItem", "UpdateItem", "UpdateItem", "UpdateItem", "UpdateItem"]
    # So a minute later, the hour has 1 request left: the refused one was not spent
    clock.advance(60)
    assert [_me(client, key).status for _ in range(2)] == [200, 429]
    assert _refused_by(_me(client, key))[2] == {"limit": "key", "class": "read"}


def test_a_keys_own_window_that_does_not_divide_a_minute_still_holds_the_plans_minute(
    client: InProcessClient, owner: a.Account, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a plan allowing one principal 20 requests a minute, and a key allowed 7 per 21 s
    # (the same rate: within the plan), at a moment both windows start
    patch_budgets(monkeypatch, principal=20)
    key = _key(client, owner, rate_limit={"requests": 7, "window_seconds": 21})
    clock.to_window_start(420)
    # When it spends each of the three 21 s windows that start in the minute
    statuses = []
    for _ in range(3):
        statuses += [_me(client, key).status for _ in range(7)]
        clock.advance(21)
    # Then the plan's 20 a minute hold: the 21st is refused, by the key's limit
    assert statuses == [200] * 20 + [429]


def test_a_plan_change_gives_the_workspace_its_new_budgets_within_5_seconds(
    client: InProcessClient, owner: a.Account, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a free workspace allowing 2 reads a minute, spent, by a key in use
    patch_budgets(monkeypatch, "free", read=2)
    patch_budgets(monkeypatch, "starter", read=4)
    key = _key(client, owner)
    clock.to_window_start(60)
    assert [_me(client, key).status for _ in range(3)] == [200, 200, 429]
    # When the operator moves it to starter
    assert change_plan(workspace_id=owner.workspace, plan="starter")["counts"] == {"changed": 1}
    # Then within 5 seconds (the authorizer's reads live 2 s) the same minute has starter's
    # budget: 2 more reads
    clock.advance(CACHE_AGED)
    replies = [_me(client, key) for _ in range(3)]
    assert [reply.status for reply in replies] == [200, 200, 429]
    assert _limits(replies[0])[:2] == (4, 1)


# -- the public routes: their workspace's webhook and auth budgets -------------------------------
def test_webhook_calls_spend_their_workspaces_webhook_budget(
    client: InProcessClient, owner: a.Account, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a workspace allowing 3 webhook calls a minute, and two triggers of it
    patch_budgets(monkeypatch, webhook=3)
    tokens = []
    for name in ("one", "two"):
        reply = client.request(
            "POST",
            "/api/v1/webhook-triggers",
            headers=owner.headers(),
            body={"name": name, "agent_id": "agent-1"},
        )
        assert reply.status == 201, reply.body
        tokens.append(remember(reply.json()["data"]["token"]))
    clock.to_window_start(60)
    # When they are called four times, from different addresses
    statuses = []
    for n in range(4):
        reply = client.request(
            "POST",
            "/api/v1/webhook/trigger",
            headers={"Authorization": f"Bearer {tokens[n % 2]}"},
            body={"n": n},
            source_ip=f"203.0.113.{n + 1}",
        )
        statuses.append(reply.status)
    # Then three are accepted and the fourth is the workspace's 429, with its headers
    assert statuses == [202, 202, 202, 429]
    assert _refused_by(reply) == (429, "rate_limited", {"limit": "workspace", "class": "webhook"})
    assert _limits(reply) == (3, 0, 60)
    assert reply.headers["retry-after"] == "60"
    # And the workspace's reads are untouched
    assert client.request("GET", KEYS, headers=owner.headers()).status == 200


def test_a_token_alone_spends_none_of_the_webhook_budget_of_a_signed_trigger(
    client: InProcessClient, owner: a.Account, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a workspace allowing 2 webhook calls a minute, and a trigger that signs its calls
    patch_budgets(monkeypatch, webhook=2)
    created = client.request(
        "POST",
        "/api/v1/webhook-triggers",
        headers=owner.headers(),
        body={"name": "signed", "agent_id": "agent-1", "generate_secret": True},
    )
    assert created.status == 201, created.body
    token = remember(created.json()["data"]["token"])
    secret = remember(created.json()["data"]["secret"])
    clock.to_window_start(60)
    # When someone with the token alone calls it unsigned and badly signed, from many addresses
    raw = b'{"n": 1}'
    forged = [
        client.request(
            "POST",
            "/api/v1/webhook/trigger",
            headers={
                "Authorization": f"Bearer {token}",
                "X-Webhook-Timestamp": str(int(clock.now())),
                "X-Webhook-Signature": "sha256=00",
            },
            raw_body=raw,
            source_ip=f"203.0.113.{n}",
        ).status
        for n in range(1, 5)
    ]
    # Then each is refused, and the sender's signed calls still have the whole budget
    assert forged == [401] * 4
    signed = {
        "Authorization": f"Bearer {token}",
        "X-Webhook-Timestamp": str(int(clock.now())),
    }
    statuses = []
    for n in range(3):
        body = f'{{"n": {n}}}'.encode()
        headers = {
            **signed,
            "X-Webhook-Signature": signature(secret, signed["X-Webhook-Timestamp"], body),
        }
        statuses.append(
            client.request("POST", "/api/v1/webhook/trigger", headers=headers, raw_body=body).status
        )
    assert statuses == [202, 202, 429]


def test_agent_ui_unlocks_spend_their_workspaces_auth_budget_and_session_checks_none(
    client: InProcessClient, owner: a.Account, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a workspace allowing 3 authentications and 1 read a minute, and a deployment
    # without a PIN
    patch_budgets(monkeypatch, auth=3, read=1)
    created = client.request(
        "POST",
        "/api/v1/agent-uis",
        headers=owner.headers(),
        body={"name": "bot", "agent_id": "agent-1"},
    )
    assert created.status == 201, created.body
    path = f"/api/v1/agent-uis/{created.json()['data']['id']}"
    clock.to_window_start(60)
    # When it is unlocked four times, from four addresses, then its session checked 60 times
    unlocked = [
        client.request("POST", f"{path}/unlock", body={}, source_ip=f"198.51.100.{n}")
        for n in (1, 2, 3, 4)
    ]
    token = remember(unlocked[0].json()["data"]["access_token"])
    holder = {"Authorization": f"Bearer {token}"}
    checks = [client.request("GET", f"{path}/session", headers=holder) for _ in range(60)]
    # Then the first three unlocks pass and the fourth is the workspace's 429 for its auth class
    assert [reply.status for reply in unlocked[:3]] == [200, 200, 200]
    assert _refused_by(unlocked[3]) == (
        429,
        "rate_limited",
        {"limit": "workspace", "class": "auth"},
    )
    assert unlocked[3].headers["retry-after"] == "60"
    # And the session open is served all the same, spending none of the workspace's budgets:
    # only its own 60 checks a minute, past which it waits
    assert {reply.status for reply in checks} == {200}
    over = client.request("GET", f"{path}/session", headers=holder)
    assert (over.status, over.json()["error"]["code"]) == (429, "rate_limited")
    # And the workspace's one read is still there for its members
    assert client.request("GET", CREDENTIALS, headers=owner.headers()).status == 200


def test_a_pin_attempt_refused_by_the_workspace_is_not_counted_as_a_failure(
    client: InProcessClient,
    owner: a.Account,
    table: Table,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a workspace whose auth budget is spent, and a deployment with a PIN
    patch_budgets(monkeypatch, auth=1)
    pin = remember("90417263")
    created = client.request(
        "POST",
        "/api/v1/agent-uis",
        headers=owner.headers(),
        body={"name": "bot", "agent_id": "agent-1", "pin": pin},
    )
    path = f"/api/v1/agent-uis/{created.json()['data']['id']}"
    clock.to_window_start(60)
    assert client.request("POST", f"{path}/unlock", body={"pin": pin}).status == 200
    # When wrong PINs are tried six times from one address (its failure budget is 5)
    tries = [
        client.request("POST", f"{path}/unlock", body={"pin": "11112222"}, source_ip="192.0.2.9")
        for _ in range(6)
    ]
    # Then each is the workspace's 429, unchecked, and none spent the address's failures: in
    # the next minute the address may still fail 5 times before its own lockout
    assert all(_refused_by(t)[2] == {"limit": "workspace", "class": "auth"} for t in tries)
    patch_budgets(monkeypatch, auth=100)
    clock.advance(60)
    statuses = [
        client.request(
            "POST", f"{path}/unlock", body={"pin": "11112222"}, source_ip="192.0.2.9"
        ).status
        for _ in range(6)
    ]
    assert statuses == [401] * 5 + [429]
