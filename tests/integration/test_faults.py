"""Issue 10: the system under failing dependencies. DynamoDB and KMS calls fail (throttling,
throughput, a condition or a transaction at the worst moment, KMS's internal error, timeouts, a
write that applied but whose reply was lost), at every call a request makes, one at a time, and at
random with fixed seeds.

What must hold: the authorizer denies whenever a read it decides on failed; a function answers
503 (or the domain's 409/404 when a condition failed) with the error envelope, never a 500 or its
internals; stored state has no orphans and an unbroken audit trail; and a retry of the same
request settles where a clean call would have.
"""

from __future__ import annotations

import json
import uuid
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from infra.template import Template
from railguard.audit import repository as audit_repository
from railguard.core.clock import rfc3339
from railguard.core.errors import ServiceUnavailable
from railguard.store import Table
from railguard.store import keys as item_keys
from tests.support import accounts as a
from tests.support.consistency import IncrementalCheck, problems, written_keys
from tests.support.fake_time import FakeClock
from tests.support.faults import (
    Fault,
    FaultInjector,
    SelectiveInvoker,
    at_call,
    at_random,
    ways_to_fail,
)
from tests.support.functions import load_function, run_job
from tests.support.http_api import Invoker
from tests.support.inprocess import InProcessClient, InProcessInvoker, Reply
from tests.support.lambda_context import FakeLambdaContext
from tests.support.plaintexts import remember

AUTHORIZER = "AuthorizerFunction"
SECRET = "sk-proj-fault-injection-0123456789"
# What an error body may never show of the code behind it.
INTERNALS = ("Traceback", "botocore", "ClientError", "injected fault", "Exception", ".py")
# Past every per-minute window: each attempt starts with fresh rate-limit counters.
NEXT_WINDOW = 61.0


# Faults are what is tested here, not passwords: a fast argon2 keeps sign-ups cheap.
pytestmark = pytest.mark.usefixtures("clock", "cheap_passwords")


@pytest.fixture
def faults(monkeypatch: pytest.MonkeyPatch) -> FaultInjector:
    return FaultInjector.installed(monkeypatch)


@pytest.fixture
def invoker(template: Template, faults: FaultInjector) -> SelectiveInvoker:
    return SelectiveInvoker(InProcessInvoker(template), faults)


@pytest.fixture
def client(template: Template, api_env: None, invoker: Invoker) -> InProcessClient:
    return InProcessClient(template, invoker)


@dataclass(frozen=True)
class Owner:
    email: str
    workspace: str
    headers: dict[str, str]  # updated in place when the access token is renewed


@dataclass(frozen=True)
class Rig:
    """The client, the owner calling, the invoker that arms faults, and the stored state."""

    client: InProcessClient
    owner: Owner
    invoker: SelectiveInvoker
    faults: FaultInjector
    table: Table
    audit_table: Table
    clock: FakeClock
    incremental: IncrementalCheck
    windows: list[float] = field(default_factory=list)

    def problems(self) -> list[str]:
        """Everything inconsistent, read whole (a scan, the whole trail): once per test."""
        return problems(self.table, self.audit_table, self.owner.workspace)

    def new_problems(self) -> list[str]:
        """The same, as far as the writes since the last check (the calls the injector saw) and
        the trail past the last verified head can have changed it."""
        written = written_keys(self.faults.history)
        self.faults.history.clear()
        return self.incremental.problems(written)

    def next_window(self) -> None:
        """Past every per-minute rate-limit window, with an access token that is still fresh."""
        self.clock.advance(NEXT_WINDOW)
        self.windows.append(NEXT_WINDOW)
        if len(self.windows) % 10 == 0:  # well within the access token's 15 minutes
            token = a.tokens_for(self.owner.email)["access_token"]
            self.owner.headers["Authorization"] = f"Bearer {token}"


@pytest.fixture
def rig(  # noqa: PLR0917 - the fixtures it bundles
    client: InProcessClient,
    owner: Owner,
    invoker: SelectiveInvoker,
    faults: FaultInjector,
    table: Table,
    audit_table: Table,
    clock: FakeClock,
) -> Rig:
    incremental = IncrementalCheck(table, audit_table, owner.workspace)
    return Rig(client, owner, invoker, faults, table, audit_table, clock, incremental)


@pytest.fixture
def owner(client: InProcessClient) -> Owner:
    remember(SECRET)
    remember(SECRET + "-v2")
    email = a.new_email()
    workspace = a.sign_up(email)["workspace"]["id"]
    token = a.tokens_for(email)["access_token"]
    # The operator's largest plan: the acts make a key per fault tried, more than free's cap.
    change = load_function("plan_change").lambda_handler
    change({"detail": {"workspace_id": workspace, "plan": "enterprise"}}, FakeLambdaContext())
    return Owner(
        email, workspace, {"Authorization": f"Bearer {token}", "X-Workspace-ID": workspace}
    )


# -- the acts ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Act:
    """One request of a route, on targets made fresh for each attempt, and its clean status."""

    route: str  # "METHOD /path" with {key}, {credential} or {trigger} for a target
    function: str
    status: int
    body: dict[str, Any] | None = None
    # Whether doing it twice is the same as once (else a retry may meet its own first try).
    repeatable: bool = True

    @property
    def method(self) -> str:
        return self.route.split(" ", 1)[0]

    def __str__(self) -> str:
        return self.route


KEY_ACTS = [
    # A repeated creation of a key or a trigger answers 409 `already_applied`: its secret was
    # shown once. A repeated credential creation answers as the first did.
    Act(
        "POST /api/v1/api-keys",
        "ApiKeysFunction",
        201,
        {"name": "f", "scopes": ["agents:read"]},
        repeatable=False,
    ),
    Act("GET /api/v1/api-keys", "ApiKeysFunction", 200),
    Act("GET /api/v1/api-keys/{key}", "ApiKeysFunction", 200),
    Act("PATCH /api/v1/api-keys/{key}", "ApiKeysFunction", 200, {"name": "renamed"}),
    Act("POST /api/v1/api-keys/{key}/rotate", "ApiKeysFunction", 201, {}, repeatable=False),
    Act("DELETE /api/v1/api-keys/{key}", "ApiKeysFunction", 204),
]
CREDENTIAL_ACTS = [
    Act(
        "POST /api/v1/credentials",
        "CredentialsFunction",
        201,
        {"name": "OpenAI", "type": "openai", "value": SECRET, "is_default": True},
    ),
    Act("GET /api/v1/credentials", "CredentialsFunction", 200),
    Act("GET /api/v1/credentials/{credential}", "CredentialsFunction", 200),
    Act(
        "PATCH /api/v1/credentials/{credential}",
        "CredentialsFunction",
        200,
        {"value": SECRET + "-v2", "name": "renamed"},
    ),
    Act("POST /api/v1/credentials/{credential}/set-default", "CredentialsFunction", 200),
    Act("DELETE /api/v1/credentials/{credential}", "CredentialsFunction", 204, repeatable=False),
    Act(
        "POST /api/v1/credentials/{credential}/restore",
        "CredentialsFunction",
        200,
        repeatable=False,
    ),
]
TRIGGER_ACTS = [
    Act(
        "POST /api/v1/webhook-triggers",
        "WebhookTriggersFunction",
        201,
        {"name": "f", "agent_id": "agent-1", "generate_secret": True},
        repeatable=False,
    ),
    Act(
        "POST /api/v1/webhook-triggers/{trigger}/rotate-token",
        "WebhookTriggersFunction",
        200,
        repeatable=False,
    ),
    Act(
        "DELETE /api/v1/webhook-triggers/{trigger}",
        "WebhookTriggersFunction",
        204,
        repeatable=False,
    ),
]
ACTS = KEY_ACTS + CREDENTIAL_ACTS + TRIGGER_ACTS


def _send(
    client: InProcessClient,
    owner: Owner,
    act: Act,
    targets: dict[str, str],
    idempotency_key: str | None = None,
) -> Reply:
    method, path = act.route.split(" ", 1)
    headers = dict(owner.headers)
    if idempotency_key is not None:
        headers["Idempotency-Key"] = idempotency_key
    return client.request(method, path.format(**targets), headers=headers, body=act.body)


# The creations a client may retry safely, and the pointer prefix their resources are listed by.
CREATIONS = {
    "POST /api/v1/api-keys": "APIKEY#",
    "POST /api/v1/credentials": "CREDENTIAL#",
    "POST /api/v1/webhook-triggers": "TRIGGER#",
}


def _count(rig: Rig, act: Act) -> int:
    prefix = CREATIONS[act.route]
    return sum(1 for _ in rig.table.iterate(f"WS#{rig.owner.workspace}", sk_prefix=prefix))


def _targets(client: InProcessClient, owner: Owner, act: Act) -> dict[str, str]:
    """What the act needs, made without faults: a key, a credential (deleted, to be restored)
    or a trigger of the owner's workspace."""
    targets: dict[str, str] = {}
    if "{key}" in act.route:
        reply = client.request(
            "POST",
            "/api/v1/api-keys",
            headers=owner.headers,
            body={"name": "target", "scopes": ["agents:read"]},
        )
        assert reply.status == 201, reply.body
        targets["key"] = reply.json()["data"]["id"]
    if "{credential}" in act.route:
        body = {"name": "target", "type": "anthropic", "value": remember(SECRET + "-target")}
        reply = client.request("POST", "/api/v1/credentials", headers=owner.headers, body=body)
        assert reply.status == 201, reply.body
        targets["credential"] = reply.json()["data"]["id"]
        if act.route.endswith("/restore"):
            path = f"/api/v1/credentials/{targets['credential']}"
            assert client.request("DELETE", path, headers=owner.headers).status == 204
    if "{trigger}" in act.route:
        body = {"name": "target", "agent_id": "agent-1"}
        reply = client.request("POST", "/api/v1/webhook-triggers", headers=owner.headers, body=body)
        assert reply.status == 201, reply.body
        targets["trigger"] = reply.json()["data"]["id"]
    return targets


def _assert_answer_is_sound(reply: Reply, act: Act, fault: Fault) -> None:
    """The clean status, or a refusal the contract knows, in the error envelope and nothing
    more: never a 500, never the code behind it."""
    allowed = {act.status, 503}
    if fault in (Fault.CONDITION, Fault.CANCELLED):
        # What the domain makes of a condition that did not hold: gone (404), changed at the
        # same time (409), or, for the rate limiter's counter, over the limit (429).
        allowed |= {404, 409, 429}
    assert reply.status in allowed, (act, fault, reply.status, reply.body)
    if reply.status < 400:
        return
    text = reply.body.decode()
    assert not any(marker in text for marker in INTERNALS), text
    error = reply.json()["error"]
    assert set(error) == {"code", "message", "details"}
    if reply.status == 503:
        assert error["code"] == "service_unavailable"
        assert int(reply.headers["retry-after"]) >= 1


def _cold(function_id: str, template: Template) -> None:
    """A new instance of one function (its start-up reads and KMS calls happen again); the
    others stay warm, as they would in Lambda."""
    code_dir = Path(str(template.resources[function_id].properties["CodeUri"])).name
    load_function(code_dir).api.reset()


@pytest.fixture
def stack_name(request: pytest.FixtureRequest) -> str:
    """A table per act: each leaves many resources behind, and the checks scan the table."""
    act = request.node.callspec.params.get("act") if hasattr(request.node, "callspec") else None
    return f"faults-{ACTS.index(act)}" if act else "faults-authorizer"


@pytest.mark.parametrize("act", ACTS, ids=str)
def test_a_fault_at_any_call_leaves_a_sound_answer_and_consistent_state(
    act: Act, rig: Rig, template: Template
) -> None:
    client, owner = rig.client, rig.owner
    # Given the calls the act makes when nothing fails (cold: start-up reads included), the
    # second time: the first makes what the service makes once ever (the server key)
    for _ in range(2):
        rig.next_window()
        targets = _targets(client, owner, act)
        _cold(act.function, template)
        key = str(uuid.uuid4()) if act.route in CREATIONS else None
        with rig.invoker.targeting(frozenset({act.function}), lambda _index, _call: None):
            assert _send(client, owner, act, targets, key).status == act.status
    clean_calls = list(rig.faults.calls)
    assert clean_calls, f"{act} makes no DynamoDB or KMS call"
    # The rate limiter's counter is the same code before every route: tried on one per function.
    first_of_function = next(other for other in ACTS if other.function == act.function) is act
    tried = 0
    for position, call in enumerate(clean_calls):
        if call.partition == "RATE" and not first_of_function:
            continue
        for fault in ways_to_fail(call, position):
            # Given fresh targets and a cold function
            rig.next_window()
            targets = _targets(client, owner, act)
            _cold(act.function, template)
            # When that call fails that way (a creation carrying an Idempotency-Key)
            key = str(uuid.uuid4()) if act.route in CREATIONS else None
            before = _count(rig, act) if key else 0
            with rig.invoker.targeting(frozenset({act.function}), at_call(position, fault)):
                reply = _send(client, owner, act, targets, key)
            assert rig.faults.injected, (act, position, call.operation, fault)
            tried += 1
            # Then the answer is sound and nothing is half-written
            _assert_answer_is_sound(reply, act, fault)
            assert rig.new_problems() == [], (act, call.operation, fault)
            # And a retry settles: the clean outcome, or (if the first applied) the domain's word
            retry = _send(client, owner, act, targets, key)
            settled = {act.status} if act.repeatable else {act.status, 404, 409}
            assert retry.status in settled, (act, call.operation, fault, reply.status, retry.body)
            if key:  # retried with its key, a creation happened exactly once
                assert _count(rig, act) == before + 1, (act, call.operation, fault)
    assert tried >= len(clean_calls) - 1
    assert rig.problems() == []


# -- the authorizer -----------------------------------------------------------------------------
def _api_key(client: InProcessClient, owner: Owner) -> str:
    body = {"name": "k", "scopes": ["agents:read", "credentials:read"]}
    reply = client.request("POST", "/api/v1/api-keys", headers=owner.headers, body=body)
    assert reply.status == 201, reply.body
    return str(reply.json()["data"]["key"])


@pytest.mark.parametrize("caller", ["session", "api_key"])
def test_the_authorizer_never_allows_when_a_read_it_decides_on_fails(caller: str, rig: Rig) -> None:
    client, owner = rig.client, rig.owner
    # Given a caller the authorizer lets in when nothing fails, and the calls a cold
    # authorizer makes to decide (signing keys, then session, profile and membership; or the
    # key with its workspace), all reads: it writes nothing
    headers = (  # the owner's are renewed in place by next_window
        {"X-API-Key": _api_key(client, owner), "X-Workspace-ID": owner.workspace}
        if caller == "api_key"
        else owner.headers
    )
    route = "/api/v1/credentials"
    rig.next_window()
    a.reset_instances()
    with rig.invoker.targeting(frozenset({AUTHORIZER}), lambda _index, _call: None):
        assert client.request("GET", route, headers=headers).status == 200
    clean_calls = list(rig.faults.calls)
    if caller == "api_key":
        assert len(clean_calls) == 1  # the key's record and its workspace, in one batch
    else:
        assert len(clean_calls) >= 2
    assert not any(call.is_write for call in clean_calls)
    for position, call in enumerate(clean_calls):
        for fault in ways_to_fail(call, position):
            # When that call of a cold authorizer fails that way
            rig.next_window()
            a.reset_instances()
            with rig.invoker.targeting(frozenset({AUTHORIZER}), at_call(position, fault)):
                reply = client.request("GET", route, headers=headers)
            assert rig.faults.injected, (position, call.operation, fault)
            # Then it denies
            assert (reply.status, json.loads(reply.body)) == (
                403,
                {"message": "Forbidden"},
            ), (call.operation, fault, reply.body)


@pytest.mark.parametrize("seed", range(6))
def test_random_faults_on_both_sides_never_let_a_request_through_wrongly(
    seed: int, rig: Rig
) -> None:
    client, owner = rig.client, rig.owner
    # Given a key that may read credentials but not write them
    reader = {"X-API-Key": _api_key(client, owner), "X-Workspace-ID": owner.workspace}
    functions = frozenset({AUTHORIZER, "ApiKeysFunction", "CredentialsFunction"})
    outcomes = []
    for round_number in range(12):
        rig.next_window()
        if round_number % 3 == 0:
            a.reset_instances()
        # When a mix of allowed and refused requests meets faults at random (fixed seed)
        with rig.invoker.targeting(functions, at_random(seed * 100 + round_number, rate=0.2)):
            allowed = client.request("GET", "/api/v1/credentials", headers=reader)
            refused = client.request(
                "POST",
                "/api/v1/credentials",
                headers=reader,
                body={"name": "x", "type": "openai", "value": remember(SECRET + "-refused")},
            )
            created = client.request(
                "POST",
                "/api/v1/credentials",
                headers=owner.headers,
                body={"name": "y", "type": "openai", "value": remember(SECRET + "-y")},
            )
        outcomes.append((allowed.status, refused.status, created.status))
        # Then a refused act stays refused, the others succeed or answer 403 (denied) or 503,
        # or 429 when the fault is a condition failure of the rate limiter's counter (over the
        # limit, as its condition says)
        assert allowed.status in {200, 403, 429, 503}
        assert refused.status == 403
        assert created.status in {201, 403, 409, 429, 503}
        assert rig.new_problems() == []
    assert {200, 201} & {status for outcome in outcomes for status in outcome}
    assert rig.problems() == []


# -- the jobs -----------------------------------------------------------------------------------
def _audited(rig: Rig, action: str) -> int:
    trail = item_keys.workspace_trail(rig.owner.workspace)
    return sum(
        1
        for event in rig.audit_table.iterate(trail, sk_prefix=audit_repository.AUDIT_EVENT_PREFIX)
        if event["action"] == action
    )


@pytest.mark.parametrize("seed", range(4))
def test_jobs_under_random_faults_leave_consistent_state_that_a_clean_run_finishes(
    seed: int, rig: Rig
) -> None:
    # Given keys past their end and credentials deleted longer ago than the retention period
    client, owner = rig.client, rig.owner
    now = int(rig.clock.now())
    for index in range(4):
        body = {"name": f"k{index}", "scopes": ["agents:read"], "expires_at": rfc3339(now + 60)}
        assert (
            client.request("POST", "/api/v1/api-keys", headers=owner.headers, body=body).status
            == 201
        )
    for index in range(3):
        body = {"name": f"c{index}", "type": "openai", "value": remember(f"{SECRET}-job-{index}")}
        created = client.request("POST", "/api/v1/credentials", headers=owner.headers, body=body)
        path = f"/api/v1/credentials/{created.json()['data']['id']}"
        assert client.request("DELETE", path, headers=owner.headers).status == 204
    rig.clock.advance(31 * 86_400)
    # When the jobs run while DynamoDB and KMS fail at random (fixed seed)
    injected = 0
    for name in ("expiry", "retention"):
        a.reset_instances()
        # A failing invocation is fine: its schedule (and Lambda's retries) run it again.
        schedule = at_random(seed * 10 + len(name), rate=0.25)
        with rig.faults.armed(schedule), suppress(ServiceUnavailable):
            run_job(name)
        injected += len(rig.faults.injected)
    assert injected > 0
    # Then what they did is whole
    assert rig.problems() == []
    # And clean runs finish the work: each key expired and each credential purged once. A run
    # stops at its time budget (real seconds) and leaves the rest to the next, as scheduled.
    for name in ("expiry", "retention"):
        runs = 1
        while not run_job(name)["complete"]:
            runs += 1
            assert runs <= 5, f"{name} did not finish in 5 runs"
    assert _audited(rig, "api_key.expired") == 4
    assert _audited(rig, "credential.purged") == 3
