"""Issue 16, finding 4. What each function's role may do, in ONE table, checked both ways
against template.yaml with `infra.iam`: everything a function needs is allowed, and everything
else is refused (every action of the services the stack uses, on every resource, in every kind
of partition, under every encryption-context purpose).

The table is the promise; the integration tier proves it is enough (tests/support/iam.py checks
every AWS call a handler makes against its function's policy). To extend it: add the grant to the
function's row here and the statement to template.yaml; both must agree.

The function of a kind of workspace resource (railguard.kinds) has its row derived from the
kind's declaration (`kind_grants`), so a new kind needs no row here; only what such a function
needs beyond its kind is written by hand (`BEYOND_THE_KIND`).

`dynamodb:LeadingKeys` is the partition key of the item, or of the index for a query on an index
(so an index grant names the index's partitions: `KEYEXPIRY`, `DELETED`, `TTL#*` ...).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from infra.iam import (
    ATTRIBUTES,
    LEADING_KEYS,
    RETURN_VALUES,
    Policy,
    PolicyError,
    Request,
    Stack,
    Statement,
    matches,
    stand_in_resources,
)
from infra.openapi import DOCUMENT_PATH
from infra.template import PseudoParameters, Template, load_template
from railguard import kinds
from railguard.access import rate_repository
from railguard.access.throttle import ACCOUNT_SUBJECT_KEY_NAME
from railguard.agent_uis import PIN_PEPPER_KEY_NAME
from railguard.agent_uis import repository as agent_ui_store
from railguard.api_keys.repository import EXPIRY_INDEX_PARTITION
from railguard.audit import repository as audit_repository
from railguard.credentials import ENVELOPE_PURPOSE as CREDENTIAL
from railguard.crypto import key_repository
from railguard.crypto.server_keys import ENVELOPE_PURPOSE as SERVER_KEY
from railguard.crypto.signing_keys import ENVELOPE_PURPOSE as TOKEN_SIGNING_KEY
from railguard.identity.mfa import ENVELOPE_PURPOSE as TOTP_SECRET
from railguard.identity.mfa_repository import mfa_challenge_key
from railguard.identity.session_repository import refresh_token_key
from railguard.store import keys as item_keys
from railguard.usage.repository import Series
from railguard.webhooks import SECRET_PURPOSE as WEBHOOK_SECRET
from railguard.webhooks import TOKEN_LOOKUP_KEY_NAME
from railguard.webhooks import TOKEN_PURPOSE as WEBHOOK_TOKEN
from railguard.webhooks import repository as trigger_store

TEMPLATE = Path(__file__).resolve().parents[3] / "template.yaml"
PSEUDO = PseudoParameters("eu-west-1", "111122223333", "railguard-test")

# ---------------------------------------------------------------- the grants


@dataclass(frozen=True)
class Items:
    """DynamoDB `actions` on `table` (or its `index`), in the partitions matching `partitions`."""

    actions: frozenset[str]
    partitions: frozenset[str]
    table: str = "Table"
    index: str | None = None

    def allows(self, probe: Probe) -> bool:
        return (
            probe.service == "dynamodb"
            and (probe.resource, probe.index) == (self.table, self.index)
            and probe.action in self.actions
            and probe.partition is not None
            and any(matches(pattern, probe.partition) for pattern in self.partitions)
        )


@dataclass(frozen=True)
class Sealing:
    """KMS `actions` on the stack's key, with encryption-context purpose in `purposes` (and, for
    server keys, item_id in `names`); `earlier_keys`: also on the other keys tagged as this
    stack's (the rotation job's re-seal)."""

    actions: frozenset[str]
    purposes: frozenset[str]
    names: frozenset[str] | None = None
    earlier_keys: bool = False

    def allows(self, probe: Probe) -> bool:
        keys = {"DataKey", "EarlierDataKey"} if self.earlier_keys else {"DataKey"}
        return (
            probe.service == "kms"
            and probe.resource in keys
            and probe.action in self.actions
            and probe.purpose in self.purposes
            and (self.names is None or probe.item_id in self.names)
        )


@dataclass(frozen=True)
class Plain:
    """An action on a resource, unconditioned: `Bus` (the event bus), `DataKey`,
    `AnchorBucket` (the bucket) or `Anchor` (an object in it)."""

    action: str
    resource: str

    def allows(self, probe: Probe) -> bool:
        return (probe.qualified_action, probe.resource) == (self.action, self.resource)


Grant = Items | Sealing | Plain


def items(actions: str, *partitions: str, table: str = "Table", index: str | None = None) -> Items:
    return Items(frozenset(actions.split()), frozenset(partitions), table, index)


def sealing(actions: str, *purposes: str, names: tuple[str, ...] | None = None) -> Sealing:
    return Sealing(
        frozenset(actions.split()), frozenset(purposes), frozenset(names) if names else None
    )


MAKE_AND_READ = "GenerateDataKey Decrypt"
WS, USER, EMAIL, RATE, THROTTLE = "WS#*", "USER#*", "EMAIL#*", "RATE#*", "THROTTLE#*"
# Usage (railguard.usage): the hourly items, and the workspace minute items of the rate limiter.
USAGE, WORKSPACE_MINUTES = "USAGE#*", "RATE#workspace:*"
APIKEY, WEBHOOK = "APIKEY#*", "WEBHOOK#*"
SERVER_KEYS = key_repository.server_key("-")[0]
SIGNING_KEYS = key_repository.SIGNING_KEY_PARTITION
SEALED_SECRETS = (
    CREDENTIAL,
    TOTP_SECRET,
    WEBHOOK_TOKEN,
    WEBHOOK_SECRET,
    SERVER_KEY,
    TOKEN_SIGNING_KEY,
)


def append_to(*trails: str) -> Items:
    """Add events to the trails in these partitions of the audit table (PutItem only: no
    function may change or remove an event; the table's own policy denies it too)."""
    return items("PutItem", *trails, table="AuditTable")


def server_key(name: str, actions: str = MAKE_AND_READ) -> tuple[Grant, ...]:
    """Use the server key `name`: unseal it and, if it may make it, keep it in the table."""
    keeps = "GetItem PutItem" if "GenerateDataKey" in actions else "GetItem"
    return (
        items(keeps, SERVER_KEYS),
        sealing(actions, SERVER_KEY, names=(name,)),
    )


# Fingerprint an Idempotency-Key request: a MAC by KMS under the HMAC key, which no role opens.
IDEMPOTENCY_MAC = Plain("kms:GenerateMac", "MacKey")
# A function serving routes an API key may call notes the key's last use after the request's count
# (naming only `last_used_at`, `last_used_ip` and `last_used_user_agent`, reading nothing back:
# test_finding_4_noting_a_last_use_...).
NOTE_KEY_USE = items("UpdateItem", APIKEY)
# A function serving routes where a member acts in a workspace notes the member's last use there
# after the request's count, on the membership (naming only `last_used_at`, `last_used_ip` and
# `last_used_user_agent`, reading nothing back: test_finding_4_noting_a_members_last_use_...).
NOTE_MEMBER_USE = items("UpdateItem", WS)
# A function serving routes that act in a workspace counts the 429s it answers in the workspace's
# usage (naming only `rate_limited` and `ttl`, reading nothing back: test_usage_writers_...).
COUNT_429S = items("UpdateItem", USAGE)

# THE TABLE, with ALLOWED below: every function, and everything its role may do. Nothing else is
# allowed.
HAND_WRITTEN: dict[str, tuple[Grant, ...]] = {
    # Reads, and the refusals it decided added to usage items; a key's last use is noted by the
    # function the key calls (NOTE_KEY_USE).
    "AuthorizerFunction": (
        items("BatchGetItem", USER, WS, APIKEY),
        items("Query", SIGNING_KEYS),
        items("UpdateItem", USAGE),
    ),
    "AuthFunction": (
        append_to(USER, WS),
        items("GetItem PutItem UpdateItem", EMAIL, USER, WS, "REFRESH#*", "MFACHALLENGE#*"),
        items("ConditionCheckItem", EMAIL, USER),
        items("UpdateItem DeleteItem", THROTTLE),
        items("Query PutItem", SIGNING_KEYS),
        sealing(MAKE_AND_READ, TOKEN_SIGNING_KEY),
        sealing("Decrypt", TOTP_SECRET),
        *server_key(ACCOUNT_SUBJECT_KEY_NAME),
    ),
    "WorkspacesFunction": (
        append_to(WS),
        items("GetItem BatchGetItem ConditionCheckItem", WS, USER, EMAIL),
        items("Query PutItem UpdateItem DeleteItem", WS),
        items("Query", USER, index="gsi1"),
        items("UpdateItem", RATE),
        NOTE_MEMBER_USE,
        COUNT_429S,
    ),
    # GET /me admits any API key (`me:read`).
    "MeFunction": (
        append_to(USER),
        items("Query", USER, table="AuditTable"),
        items("Query", USER, table="AuditTable", index="gsi1"),
        items("GetItem Query UpdateItem", USER, EMAIL),
        items("UpdateItem", RATE, THROTTLE),
        NOTE_KEY_USE,
        COUNT_429S,
        *server_key(ACCOUNT_SUBJECT_KEY_NAME),
    ),
    "MfaFunction": (
        append_to(USER),
        items("GetItem Query PutItem UpdateItem DeleteItem ConditionCheckItem", USER),
        items("GetItem", EMAIL),
        items("UpdateItem", RATE, THROTTLE),
        sealing(MAKE_AND_READ, TOTP_SECRET),
        *server_key(ACCOUNT_SUBJECT_KEY_NAME),
    ),
    # Public, no authorizer: reads the trigger, its workspace and the token-hashing key; writes
    # only the trigger's last use, its rate limit and the signatures it has seen.
    "WebhookIngressFunction": (
        items("GetItem", WEBHOOK, WS),
        items("UpdateItem", WEBHOOK, RATE),
        items("PutItem", "WEBHOOKSEEN#*"),
        sealing("Decrypt", WEBHOOK_SECRET),
        *server_key(TOKEN_LOOKUP_KEY_NAME, "Decrypt"),
        Plain("events:PutEvents", "Bus"),
    ),
    "AuditFunction": (
        items("Query", WS, table="AuditTable"),
        items("Query", WS, table="AuditTable", index="gsi1"),
        items("GetItem", WS),
        items("UpdateItem", RATE),
        NOTE_MEMBER_USE,
        COUNT_429S,
        Plain("s3:ListBucketVersions", "AnchorBucket"),
    ),
    "PreflightFunction": (),
    "HealthFunction": (),
    "DocsFunction": (),
    "ExpiryJobFunction": (
        items("Query", EXPIRY_INDEX_PARTITION, index="gsi1"),
        items("GetItem UpdateItem", APIKEY, WS),
        append_to(WS),
        Plain("events:PutEvents", "Bus"),
    ),
    "RotationJobFunction": (
        items("Query", SIGNING_KEYS),
        items("Query", EXPIRY_INDEX_PARTITION, index="gsi1"),
        items("Query", "SEALED#*", index="gsi3"),
        items("GetItem UpdateItem", APIKEY, WS, USER, WEBHOOK, SERVER_KEYS, SIGNING_KEYS),
        items("PutItem DeleteItem", SIGNING_KEYS),
        append_to(WS),
        Plain("kms:DescribeKey", "DataKey"),
        sealing("GenerateDataKey", *SEALED_SECRETS),
        Sealing(frozenset({"Decrypt"}), frozenset(SEALED_SECRETS), earlier_keys=True),
    ),
    "AnchorJobFunction": (
        items("Query", "ANCHOR#*", index="gsi2"),
        items("GetItem UpdateItem", WS, USER),
        items("Query", WS, USER, table="AuditTable"),
        Plain("s3:ListBucketVersions", "AnchorBucket"),
        Plain("s3:PutObject", "Anchor"),
    ),
    # The hour's workspaces from the sweep index, their minute items, their hourly usage items.
    "UsageJobFunction": (
        items("Query", "TTL#*", index="gsi2"),
        items("Query", WORKSPACE_MINUTES),
        items("UpdateItem", USAGE),
    ),
    # The operator's plan change: the workspace (read, its plan moved), its trail.
    "PlanChangeFunction": (
        items("GetItem UpdateItem", WS),
        append_to(WS),
    ),
    "RetentionJobFunction": (
        items("Query", item_keys.DELETED_INDEX_PARTITION, index="gsi1"),
        items("Query", "TTL#*", index="gsi2"),
        items("Query", WS),
        items("GetItem UpdateItem", WS, WEBHOOK, APIKEY),
        items(
            "DeleteItem",
            WS,
            USER,
            "REFRESH#*",
            "MFACHALLENGE#*",
            "AGENTUISESSION#*",
            "WEBHOOKSEEN#*",
            RATE,
            THROTTLE,
        ),
        append_to(WS),
    ),
}

# The kinds of workspace resource: each has its entry in its workspace's partition.
WORKSPACE_KINDS = tuple(kind for kind in kinds.KINDS if kind.placement is not None)
# On its workspace's partition: list (Query), read (GetItem), create and change (PutItem,
# UpdateItem, with the trail's head), and check the workspace is live (ConditionCheckItem).
ENTRY_ACTIONS = "GetItem Query PutItem UpdateItem ConditionCheckItem"
# On the record found from its secret: find one or several, make it, change it.
RECORD_ACTIONS = "GetItem BatchGetItem PutItem UpdateItem"


def idempotent_routes() -> frozenset[str]:
    """The routes that take an Idempotency-Key, as the functions declare them."""
    document = json.loads(DOCUMENT_PATH.read_text())
    return frozenset(
        f"{method.upper()} {path}"
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if any(p.get("name") == "idempotency-key" for p in operation.get("parameters", ()))
    )


def _admits_a_member(rule: kinds.Rule) -> bool:
    """Whether `rule` admits a member acting in a workspace (whose last use there is noted)."""
    return rule.workspace != "none"


def _acts_in_a_workspace(rule: kinds.Rule) -> bool:
    """Whether a caller admitted by `rule` acts in a workspace (whose usage its 429s count in):
    a member on a workspace's route, or an API key, which acts in its own."""
    return rule.workspace != "none" or rule.scope is not None or rule.any_api_key


def kind_grants(kind: kinds.ResourceKind, idempotent: frozenset[str]) -> tuple[Grant, ...]:
    """What the function serving a kind of workspace resource needs, from its declaration: its
    entries, its records (if a secret finds it), its audit trail, the rate limit of each
    request and the last use of the API keys and members its rules admit, sealing its secrets, and
    fingerprinting its Idempotency-Key requests."""
    placement = kind.placement
    assert placement is not None
    grants: list[Grant] = [items(ENTRY_ACTIONS, WS), items("UpdateItem", RATE)]
    if any(rule.scope is not None or rule.any_api_key for rule in kind.actions.values()):
        grants.append(NOTE_KEY_USE)
    if any(_admits_a_member(rule) for rule in kind.actions.values()):
        grants.append(NOTE_MEMBER_USE)
    if any(_acts_in_a_workspace(rule) for rule in kind.actions.values()):
        grants.append(COUNT_429S)
    if placement.record_partition is not None:
        grants.append(items(RECORD_ACTIONS, placement.record_partition + "*"))
    if kind.audit_actions:
        grants.append(append_to(WS))
    if kind.sealed_purposes:
        grants.append(sealing("GenerateDataKey", *kind.sealed_purposes))
    if idempotent & set(kind.routes):
        grants.append(IDEMPOTENCY_MAC)
    return tuple(grants)


def kind_functions(template: Template) -> dict[str, kinds.ResourceKind]:
    """The function serving each kind of workspace resource, by its routes in the template."""
    function_of = {route.key: route.function_id for route in template.routes}
    return {function_of[next(iter(kind.routes))]: kind for kind in WORKSPACE_KINDS}


# What the function of a kind needs beyond what its kind declares.
BEYOND_THE_KIND: dict[str, tuple[Grant, ...]] = {
    # Usage (its routes serve a key's and the workspace's): the hourly items and the minute items.
    "ApiKeysFunction": (items("Query", USAGE, WORKSPACE_MINUTES),),
    # Reads one with its workspace in one batch; removes a type's default pointer.
    "CredentialsFunction": (items("BatchGetItem DeleteItem", WS),),
    # A rotation moves a trigger's record to its new token's key; the token-hashing key.
    "WebhookTriggersFunction": (
        items("DeleteItem", WEBHOOK),
        *server_key(TOKEN_LOOKUP_KEY_NAME),
    ),
    # Reads one with its workspace in one batch; unlocking: the UI's lookup and sessions, the
    # failed-PIN throttle, the PINs' pepper.
    "AgentUisFunction": (
        items("BatchGetItem", WS),
        items("GetItem PutItem", "AGENTUI#*", "AGENTUISESSION#*"),
        items("UpdateItem", THROTTLE),
        *server_key(PIN_PEPPER_KEY_NAME),
    ),
}

_IDEMPOTENT = idempotent_routes()
DERIVED = kind_functions(load_template(TEMPLATE))
ALLOWED: dict[str, tuple[Grant, ...]] = HAND_WRITTEN | {
    function_id: (*kind_grants(kind, _IDEMPOTENT), *BEYOND_THE_KIND.get(function_id, ()))
    for function_id, kind in DERIVED.items()
}

# ---------------------------------------------------------------- what is probed

# One partition of every kind the table holds (railguard.store.keys), of each index, and some
# that look alike.
PARTITIONS = (
    item_keys.user_partition("u1"),
    item_keys.login("a@example.com")[0],
    refresh_token_key("d1")[0],
    rate_repository.throttle_window("login#s", 0)[0],
    SIGNING_KEYS,
    item_keys.workspace("w1")[0],
    item_keys.api_key("d1")[0],
    rate_repository.rate_window("s", 60, 0)[0],
    rate_repository.rate_window("workspace:w1", 60, 0)[0],
    Series("w1").partition,
    Series("w1", "api_key:k1").partition,
    mfa_challenge_key("d1")[0],
    item_keys.webhook_trigger("d1")[0],
    trigger_store.delivery_key("t1", "d1")[0],
    SERVER_KEYS,
    agent_ui_store.lookup_key("a1")[0],
    agent_ui_store.session_key("d1")[0],
    EXPIRY_INDEX_PARTITION,
    item_keys.DELETED_INDEX_PARTITION,
    item_keys.sweep_partition(0),
    audit_repository.anchor_partition(0),
    "SEALED#00",
    "WS#w1#api_key.created",  # the audit index's partition
    "SERVER_KEYS",
    "SIGNING_KEY#x",
    "WSX",
    "OTHER#1",
)
DYNAMODB_ACTIONS = (
    "GetItem",
    "BatchGetItem",
    "Query",
    "Scan",
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "BatchWriteItem",
    "ConditionCheckItem",
    "PartiQLSelect",
    "PartiQLInsert",
    "PartiQLUpdate",
    "PartiQLDelete",
    "DescribeTable",
    "DeleteTable",
)
# Requests IAM sees with no leading key. A `ForAllValues` condition holds for an empty set, so a
# statement that allowed one of these would allow it on the whole table: none may.
NAME_NO_PARTITION = frozenset(
    {"Scan", "PartiQLSelect", "PartiQLUpdate", "PartiQLDelete", "DescribeTable", "DeleteTable"}
)
TABLES = {"Table": (None, "gsi1", "gsi2", "gsi3"), "AuditTable": (None, "gsi1")}
KMS_ACTIONS = (
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "Decrypt",
    "Encrypt",
    "ReEncryptFrom",
    "ReEncryptTo",
    "DescribeKey",
    "CreateGrant",
    "ScheduleKeyDeletion",
    "GenerateMac",
    "VerifyMac",
)
MAC_ACTIONS = ("GenerateMac", "VerifyMac")
PURPOSES = (*SEALED_SECRETS, "other")
SERVER_KEY_NAMES = (
    ACCOUNT_SUBJECT_KEY_NAME,
    TOKEN_LOOKUP_KEY_NAME,
    PIN_PEPPER_KEY_NAME,
    "another",
)
# DataKey; an earlier key of this stack (tagged as its data key); another key of the account;
# the HMAC key of idempotency fingerprints.
MAC_KEYS = {"MacKey": "IdempotencyMacKey"}
KEYS = ("DataKey", "EarlierDataKey", "OtherKey", *MAC_KEYS)
OTHER_ACTIONS = {
    "AnchorBucket": ("s3:ListBucketVersions", "s3:ListBucket", "s3:PutBucketPolicy"),
    "Anchor": (
        "s3:PutObject",
        "s3:GetObject",
        "s3:DeleteObject",
        "s3:DeleteObjectVersion",
        "s3:PutObjectRetention",
        "s3:BypassGovernanceRetention",
    ),
    "Bus": ("events:PutEvents", "events:PutRule"),
    "OtherBus": ("events:PutEvents",),
}


@dataclass(frozen=True)
class Probe:
    service: str
    action: str
    resource: str  # a logical id, or one of KEYS / OTHER_ACTIONS' names
    index: str | None = None
    partition: str | None = None  # None: a request that names none (Scan, PartiQL)
    purpose: str | None = None
    item_id: str | None = None

    @property
    def qualified_action(self) -> str:
        return self.action if ":" in self.action else f"{self.service}:{self.action}"

    def request(self, stack: Stack) -> Request:
        if self.service == "dynamodb":
            arn = stack.arn(self.resource, self.index)
            leading = {"dynamodb:LeadingKeys": (self.partition,)} if self.partition else {}
            return Request(self.qualified_action, arn, leading)
        if self.service == "kms":
            data_key = stack.arn("DataKey")
            arn = data_key if self.resource == "DataKey" else f"{data_key}-{self.resource}"
            tags = (
                stack.key_tags(data_key) if self.resource in ("DataKey", "EarlierDataKey") else {}
            )
            if self.resource in MAC_KEYS:
                arn = stack.arn(MAC_KEYS[self.resource])
            context = {} if self.purpose is None else {"purpose": self.purpose}
            if self.item_id is not None:
                context |= {"workspace_id": "-", "item_id": self.item_id}
            request = stack.key_request(self.action, arn, context, tags=tags)
            if self.action in MAC_ACTIONS:
                algorithm = {"kms:MacAlgorithm": ("HMAC_SHA_256",)}
                request = replace(request, context={**request.context, **algorithm})
            return request
        arns = {
            "AnchorBucket": stack.arn("AuditAnchorBucket"),
            "Anchor": stack.arn("AuditAnchorBucket") + "/WS%23w1/000000000001",
            "Bus": stack.arn("EventBus"),
            "OtherBus": stack.arn("EventBus") + "-other",
        }
        return Request(self.action, arns[self.resource])


def probes() -> Iterator[Probe]:
    for table, indexes in TABLES.items():
        for index in indexes:
            for action in DYNAMODB_ACTIONS:
                if action in NAME_NO_PARTITION:
                    yield Probe("dynamodb", action, table, index, None)
                for partition in PARTITIONS:
                    yield Probe("dynamodb", action, table, index, partition)
    for key in KEYS:
        for action in KMS_ACTIONS:
            yield Probe("kms", action, key)
            for purpose in PURPOSES:
                names = SERVER_KEY_NAMES if purpose == SERVER_KEY else ("item-1",)
                for name in names:
                    yield Probe("kms", action, key, purpose=purpose, item_id=name)
    for resource, actions in OTHER_ACTIONS.items():
        for action in actions:
            yield Probe(action.split(":")[0], action, resource)


PROBES = tuple(probes())


@pytest.fixture(scope="module")
def template() -> Template:
    return load_template(TEMPLATE)


@pytest.fixture(scope="module")
def stack(template: Template) -> Stack:
    return Stack(template, stand_in_resources(template, PSEUDO))


def test_the_table_names_every_function_of_the_template(stack: Stack) -> None:
    assert set(ALLOWED) == set(stack.function_ids())


@pytest.mark.parametrize("function_id", sorted(ALLOWED))
def test_finding_4_each_role_allows_exactly_what_the_table_says(
    stack: Stack, function_id: str
) -> None:
    # Given the function's policy in the template, and its row of the table
    policy = stack.policy(function_id)
    grants = ALLOWED[function_id]
    # When every action on every resource, partition and purpose is asked
    wrong = [
        f"{'allows' if allowed else 'refuses'} {probe.request(stack)}"
        for probe in PROBES
        if (allowed := policy.allows(probe.request(stack)))
        != any(grant.allows(probe) for grant in grants)
    ]
    # Then IAM allows what the table says, and nothing else
    assert not wrong, "\n".join(wrong)


def test_each_kind_of_workspace_resource_is_one_functions_alone(template: Template) -> None:
    # Given the function serving each route of the template
    function_of = {route.key: route.function_id for route in template.routes}
    # Then all the routes of a kind of workspace resource are one function's, and no two kinds
    # share it (its derived row is its kind's)
    serving = [{function_of[route] for route in kind.routes} for kind in WORKSPACE_KINDS]
    assert all(len(functions) == 1 for functions in serving), serving
    assert len(set.union(*serving)) == len(WORKSPACE_KINDS)


def test_the_derived_rows_stay_within_what_the_table_probes() -> None:
    # Given the kinds whose rows are derived, and the functions written by hand
    records = [k.placement.record_partition for k in WORKSPACE_KINDS if k.placement is not None]
    declared = [partition for partition in records if partition is not None]
    # Then a kind's record partition is its own (no two kinds, and none of the table's other
    # partitions), and is probed like every other; and no derived row replaces a hand-written one
    assert len(set(declared)) == len(declared)
    others = {WS, USER, EMAIL, RATE, THROTTLE, "SIGNING_KEY*", "SERVER_KEY*", "REFRESH#*"}
    assert not {f"{partition}*" for partition in declared} & others
    probed = {partition.split("#")[0] + "#" for partition in PARTITIONS if "#" in partition}
    assert set(declared) <= probed
    assert not set(HAND_WRITTEN) & set(DERIVED)
    assert set(BEYOND_THE_KIND) <= set(DERIVED)


def test_a_kinds_declaration_is_what_its_function_is_held_to() -> None:
    # Given a kind of workspace resource, found by a secret, that seals and is made idempotently
    kind = kinds.ResourceKind(
        "snippet",
        "snp",
        audit_actions=("snippet.created",),
        routes={"POST /api/v1/snippets": "snippet:create"},
        sealed_purposes=("snippet-secret",),
        placement=kinds.Placement("SNIPPET#", "SNIPPETKEY#", "SNIPPET", "lookup_digest"),
    )
    # When its function's row is derived, with and without the Idempotency-Key
    row = kind_grants(kind, frozenset({"POST /api/v1/snippets"}))
    plain = kind_grants(kind, frozenset())
    # Then it may do what its declaration says, and no more
    assert set(row) == {
        items(ENTRY_ACTIONS, WS),
        items("UpdateItem", RATE),
        items(RECORD_ACTIONS, "SNIPPETKEY#*"),
        append_to(WS),
        sealing("GenerateDataKey", "snippet-secret"),
        IDEMPOTENCY_MAC,
    }
    assert set(row) - set(plain) == {IDEMPOTENCY_MAC}


@pytest.mark.parametrize(
    "rule",
    [
        kinds.Rule(kinds.ANY_ROLE, "header", scope="prompts:read"),
        kinds.Rule(kinds.ANY_ROLE, "none", any_api_key=True),
    ],
    ids=["scope", "any-api-key"],
)
def test_a_kind_whose_rules_admit_api_keys_may_note_their_last_use(rule: kinds.Rule) -> None:
    # Given a kind with a rule an API key may meet, and the same kind for people only
    for_keys = kinds.ResourceKind(
        "prompt",
        "prm",
        actions={"prompt:read": rule},
        routes={"GET /api/v1/prompts": "prompt:read"},
        placement=kinds.Placement("PROMPT#"),
    )
    people_only = replace(for_keys, actions={"prompt:read": kinds.Rule(kinds.MANAGERS, "header")})
    # When their functions' rows are derived
    # Then only the first may note a key's last use
    assert NOTE_KEY_USE in kind_grants(for_keys, frozenset())
    assert NOTE_KEY_USE not in kind_grants(people_only, frozenset())


SEALERS = sorted(
    function_id
    for function_id, grants in ALLOWED.items()
    if any(isinstance(g, Sealing) and "GenerateDataKey" in g.actions for g in grants)
)


@pytest.mark.parametrize("function_id", SEALERS)
def test_a_function_that_seals_knows_the_stacks_key(template: Template, function_id: str) -> None:
    # Given a function that may make data keys
    variables = template.resources[function_id].properties["Environment"]["Variables"]
    # Then its environment names the key to make them under
    assert variables["KMS_KEY_ID"] == {"Fn::GetAtt": ["DataKey", "Arn"]}


def test_finding_4_internet_facing_functions_cannot_reach_other_partitions(stack: Stack) -> None:
    # Given the functions on routes without an authorizer
    ingress, auth, agent_uis = (
        stack.policy(f) for f in ("WebhookIngressFunction", "AuthFunction", "AgentUisFunction")
    )
    # Then the webhook ingress cannot write a user's, a workspace's or a key's partition
    for action in ("PutItem", "UpdateItem", "DeleteItem"):
        for partition in ("USER#u1", "WS#w1", "APIKEY#d1", "EMAIL#a@example.com"):
            assert not ingress.allows(stack.item_request(action, "Table", partition))
    # And auth cannot touch API keys, triggers or agent UIs, nor write credentials' partitions
    for partition in ("APIKEY#d1", "WEBHOOK#d1", "AGENTUI#a1", "AGENTUISESSION#d1"):
        assert not auth.allows(stack.item_request("GetItem", "Table", partition))
    assert not auth.allows(stack.item_request("DeleteItem", "Table", "WS#w1"))
    # And agent UIs cannot touch users, keys or triggers
    for partition in ("USER#u1", "EMAIL#a@example.com", "APIKEY#d1", "WEBHOOK#d1"):
        assert not agent_uis.allows(stack.item_request("GetItem", "Table", partition))
    # And none may append to the audit trail of a user but auth
    assert not ingress.allows(stack.item_request("PutItem", "AuditTable", "WS#w1"))
    assert not agent_uis.allows(stack.item_request("PutItem", "AuditTable", "USER#u1"))


def test_a_batch_is_allowed_only_if_every_key_is(stack: Stack) -> None:
    # Given a batch read that mixes a permitted partition with another (ForAllValues)
    policy = stack.policy("AuthorizerFunction")
    arn = stack.arn("Table")
    mixed = Request("dynamodb:BatchGetItem", arn, {"dynamodb:LeadingKeys": ("WS#w1", "EMAIL#e")})
    both = Request("dynamodb:BatchGetItem", arn, {"dynamodb:LeadingKeys": ("WS#w1", "USER#u1")})
    # Then only the batch whose every key is permitted passes
    assert not policy.allows(mixed)
    assert policy.allows(both)


def test_the_anchor_job_may_only_take_a_head_off_its_work_list(stack: Stack) -> None:
    # Given the anchor job's role, and a head in a workspace's partition beside its members
    policy = stack.policy("AnchorJobFunction")
    table = stack.ref("Table")
    head = {"pk": {"S": "WS#w1"}, "sk": {"S": "AUDITHEAD"}}

    def update(expression: str, condition: str, **extra: Any) -> bool:
        params = {
            "TableName": table,
            "Key": head,
            "UpdateExpression": expression,
            "ConditionExpression": condition,
            "ExpressionAttributeNames": {"#hash": "hash"},
            **extra,
        }
        (request,) = stack.requests_of("dynamodb", "UpdateItem", params)
        return policy.allows(request)

    # Then it may remove the work list's keys, conditioned on the head's seq and hash
    assert update("REMOVE gsi2pk, gsi2sk", "seq = :seq AND #hash = :hash")
    # And not write another attribute (a member's role, an MFA flag), nor read the old item back
    assert not update("SET #role = :owner", "attribute_exists(pk)")
    assert not update("SET mfa_enabled = :no", "attribute_exists(pk)")
    assert not update("REMOVE gsi2pk", "seq = :seq", ReturnValues="ALL_OLD")


def _writers_in_a_workspace(stack: Stack, action: str, attribute: str) -> set[str]:
    """The functions whose role allows `action` on an item of a workspace's partition naming
    `attribute`."""
    request = Request(
        f"dynamodb:{action}",
        stack.arn("Table"),
        {LEADING_KEYS: ("WS#w1",), ATTRIBUTES: ("pk", "sk", attribute)},
    )
    return {f for f in stack.function_ids() if stack.policy(f).allows(request)}


# Those who may make a membership or change a workspace's owner; every other role that writes
# in a workspace's partition is denied naming `role` or `owner_id` (third review of issue 16).
MEMBERSHIP_WRITERS = {"AuthFunction", "WorkspacesFunction"}


@pytest.mark.parametrize("action", ["PutItem", "UpdateItem"])
@pytest.mark.parametrize("attribute", ["role", "owner_id"])
def test_finding_4_only_auth_and_workspaces_may_make_a_member_or_an_owner(
    stack: Stack, action: str, attribute: str
) -> None:
    # Given a write in a workspace's partition that names a membership's or an ownership's
    # attribute, as one that made the attacker an owner would
    # Then only sign-up and workspace management may make it
    assert _writers_in_a_workspace(stack, action, attribute) == MEMBERSHIP_WRITERS


# Who may write a workspace's plan (the operator's function) and its count of active keys
# (those that make and end keys: creation, revocation and rotation, the ends of keys and of
# grace periods).
WORKSPACE_ATTRIBUTE_WRITERS = {
    "plan": {"PlanChangeFunction"},
    "active_keys": {"ApiKeysFunction", "ExpiryJobFunction", "RotationJobFunction"},
}


@pytest.mark.parametrize("action", ["PutItem", "UpdateItem"])
@pytest.mark.parametrize("attribute", sorted(WORKSPACE_ATTRIBUTE_WRITERS))
def test_only_the_plan_change_writes_a_plan_and_only_the_key_writers_the_count_of_keys(
    stack: Stack, action: str, attribute: str
) -> None:
    # Given a write in a workspace's partition that names its plan or its count of active keys,
    # as one that lifted a workspace's plan or freed its cap would
    # Then only the functions whose acts change it may make it, and only as an update (neither
    # is ever put: a put could set either afresh)
    expected = WORKSPACE_ATTRIBUTE_WRITERS[attribute] if action == "UpdateItem" else set()
    assert _writers_in_a_workspace(stack, action, attribute) == expected


@pytest.mark.parametrize(
    ("attributes", "allowed"),
    [
        (("pk", "sk", "plan", "status"), True),  # the plan moved, on condition of the status
        (("pk", "sk", "seq", "hash", "gsi2pk", "gsi2sk"), True),  # the trail's head moved
        (("pk", "sk", "plan", "name"), False),
        (("pk", "sk", "require_mfa"), False),
        (("pk", "sk", "deleted_at", "status"), False),
    ],
)
def test_the_plan_change_updates_only_a_workspaces_plan_and_its_trails_head(
    stack: Stack, attributes: tuple[str, ...], allowed: bool
) -> None:
    # Given an update in a workspace's partition naming `attributes`
    request = Request(
        "dynamodb:UpdateItem",
        stack.arn("Table"),
        {LEADING_KEYS: ("WS#w1",), ATTRIBUTES: attributes},
    )
    # Then the plan change may make it only if it names the plan's or the head's attributes
    assert stack.policy("PlanChangeFunction").allows(request) is allowed


# The functions that note an API key's last use: those serving routes a key may call.
KEY_USE_NOTERS = sorted(f for f, grants in ALLOWED.items() if NOTE_KEY_USE in grants)


def test_the_functions_of_keyed_routes_note_key_use_and_the_authorizer_writes_no_state(
    template: Template, stack: Stack
) -> None:
    # Given the functions serving a route whose rule admits an API key
    function_of = {route.key: route.function_id for route in template.routes}
    rule_of = {
        route: kind.actions[action] for kind in kinds.KINDS for route, action in kind.routes.items()
    }
    keyed = {
        function_of[route]
        for route, rule in rule_of.items()
        if rule.scope is not None or rule.any_api_key
    }
    # Then exactly they may note a key's last use
    assert keyed == set(KEY_USE_NOTERS)
    # And the authorizer may write none of what it decides on (its only write: usage, below)
    authorizer = stack.policy("AuthorizerFunction")
    for action in ("PutItem", "UpdateItem", "DeleteItem"):
        for partition in ("APIKEY#d1", "WS#w1", "USER#u1"):
            assert not authorizer.allows(stack.item_request(action, "Table", partition))


# The functions that count the 429s they answer in a workspace's usage (the authorizer and the
# rollup job hold the same grant, for other counts: their attributes tell them apart, below).
RATE_LIMIT_COUNTERS = sorted(
    f
    for f, grants in ALLOWED.items()
    if COUNT_429S in grants and f not in {"AuthorizerFunction", "UsageJobFunction"}
)


def test_the_functions_of_workspace_routes_count_their_429s_in_usage(template: Template) -> None:
    # Given the functions serving a route whose caller acts in a workspace (a member on a
    # workspace's route, or an API key)
    function_of = {route.key: route.function_id for route in template.routes}
    acting = {
        function_of[route]
        for kind in kinds.KINDS
        for route, action in kind.routes.items()
        if _acts_in_a_workspace(kind.actions[action])
    }
    # Then exactly they may count their 429s in a workspace's usage
    assert acting == set(RATE_LIMIT_COUNTERS)


# Who writes usage items, and the counts each may name: the authorizer its refusals, the
# functions their 429s, the rollup job the allowed requests it sums.
USAGE_WRITERS: dict[str, tuple[str, ...]] = {
    "AuthorizerFunction": ("refused_credential", "refused_network", "refused_scope"),
    **dict.fromkeys(RATE_LIMIT_COUNTERS, ("rate_limited",)),
    "UsageJobFunction": ("allowed",),
}


def test_only_the_usage_writers_may_write_a_usage_item(stack: Stack) -> None:
    # Given a put, an update or a delete of a usage item
    def may_write(function_id: str) -> bool:
        policy = stack.policy(function_id)
        return any(
            policy.allows(stack.item_request(action, "Table", Series("w1").partition))
            for action in ("PutItem", "UpdateItem", "DeleteItem")
        )

    # Then only the functions that count usage may make one
    assert {f for f in stack.function_ids() if may_write(f)} == set(USAGE_WRITERS)


@pytest.mark.parametrize("function_id", sorted(USAGE_WRITERS))
def test_usage_writers_name_only_their_own_counts_and_read_nothing_back(
    stack: Stack, function_id: str
) -> None:
    # Given an update of a key's hourly usage item by a function that counts usage
    policy = stack.policy(function_id)
    own = USAGE_WRITERS[function_id]

    def update(*attributes: str, returns: str = "NONE") -> Request:
        context = {
            LEADING_KEYS: (Series("w1", "api_key:k1").partition,),
            ATTRIBUTES: ("pk", "sk", *attributes),
            RETURN_VALUES: (returns,),
        }
        return Request("dynamodb:UpdateItem", stack.arn("Table"), context)

    # Then it may write its own counts with the item's ttl
    assert policy.allows(update(*own, "ttl"))
    # And no one else's count (a refusal made an allowed request, or the reverse), no other
    # attribute, nor read the item back
    others = {count for counts in USAGE_WRITERS.values() for count in counts} - set(own)
    for attribute in sorted(others | {"gsi2pk", "zz"}):
        assert not policy.allows(update(*own, attribute)), attribute
    for returns in ("ALL_OLD", "UPDATED_OLD", "UPDATED_NEW", "ALL_NEW"):
        assert not policy.allows(update(*own, returns=returns)), returns


@pytest.mark.parametrize(
    ("function_id", "partition"),
    [*((f, "APIKEY#d1") for f in KEY_USE_NOTERS), ("WebhookIngressFunction", "WEBHOOK#d1")],
)
def test_finding_4_noting_a_last_use_cannot_make_a_key_or_a_trigger(
    stack: Stack, function_id: str, partition: str
) -> None:
    # Given a write to a key's record by a function a key calls, or to a trigger's record by
    # the public ingress
    policy = stack.policy(function_id)

    def update(*attributes: str, returns: str = "NONE") -> Request:
        context = {
            LEADING_KEYS: (partition,),
            ATTRIBUTES: ("pk", "sk", *attributes),
            RETURN_VALUES: (returns,),
        }
        return Request("dynamodb:UpdateItem", stack.arn("Table"), context)

    # Then it may set last_used_at, reading nothing back; on a key's record also where the use
    # came from (its address and user agent)
    assert policy.allows(update("last_used_at"))
    details = ("last_used_ip", "last_used_user_agent")
    assert policy.allows(update("last_used_at", *details)) is partition.startswith("APIKEY#")
    # And name no other attribute (an allow-list: what makes a record a credential, its expiry,
    # limits, successor, index keys, or any name at all), nor read the record back in any way
    others = (
        *("workspace_id", "scopes", "status", "allowed_ips", "allowed_origins", "secret"),
        *("expires_at", "rate_limit", "replaced_by", "id", "gsi1pk", "gsi1sk", "zz"),
    )
    for attribute in others:
        assert not policy.allows(update("last_used_at", attribute)), attribute
        assert not policy.allows(update(attribute)), attribute
    for returns in ("ALL_OLD", "UPDATED_OLD", "UPDATED_NEW", "ALL_NEW"):
        assert not policy.allows(update("last_used_at", returns=returns)), returns


# The functions that note a member's last use in a workspace: those serving a route where a
# member acts in one.
MEMBER_USE_NOTERS = sorted(f for f, grants in ALLOWED.items() if NOTE_MEMBER_USE in grants)
MEMBER_USE = ("last_used_at", "last_used_ip", "last_used_user_agent")


def _member_update(
    stack: Stack, *attributes: str, partition: str = "WS#w1", returns: str = "NONE"
) -> Request:
    """An update of an item in `partition` (a membership: `WS#<id>` / `MEMBER#<user_id>`)."""
    context = {
        LEADING_KEYS: (partition,),
        ATTRIBUTES: ("pk", "sk", *attributes),
        RETURN_VALUES: (returns,),
    }
    return Request("dynamodb:UpdateItem", stack.arn("Table"), context)


def _member_use_statements(stack: Stack, function_id: str) -> tuple[Statement, ...]:
    """The statements of the function's role that allow noting a member's last use and that
    alone: not the broad writes in a workspace's partition some roles have besides."""
    return tuple(
        statement
        for statement in stack.policy(function_id).statements
        if statement.effect == "Allow"
        and statement.applies_to(_member_update(stack, *MEMBER_USE))
        and not statement.applies_to(_member_update(stack, "role"))
    )


def test_the_functions_of_member_routes_note_member_use_on_a_statement_of_its_own(
    template: Template, stack: Stack
) -> None:
    # Given the functions serving a route whose rule admits a member acting in a workspace
    function_of = {route.key: route.function_id for route in template.routes}
    serving = {
        function_of[route]
        for kind in kinds.KINDS
        for route, action in kind.routes.items()
        if _admits_a_member(kind.actions[action])
    }
    # Then exactly they note a member's last use, each by a statement of its own (so narrowing
    # its other writes never stops it), and the whole role allows that write too
    assert serving == set(MEMBER_USE_NOTERS)
    assert {f for f in stack.function_ids() if _member_use_statements(stack, f)} == serving
    for function_id in serving:
        assert stack.policy(function_id).allows(_member_update(stack, *MEMBER_USE)), function_id


@pytest.mark.parametrize("function_id", MEMBER_USE_NOTERS)
def test_finding_4_noting_a_members_last_use_cannot_make_a_member(
    stack: Stack, function_id: str
) -> None:
    # Given the statement by which a function serving members notes a member's last use
    alone = Policy(function_id, _member_use_statements(stack, function_id))

    def allows(*attributes: str, partition: str = "WS#w1", returns: str = "NONE") -> bool:
        request = _member_update(stack, *attributes, partition=partition, returns=returns)
        return alone.allows(request)

    # Then it may set the time, address and user agent of a use in a workspace's partition,
    # reading nothing back
    assert allows(*MEMBER_USE)
    assert allows("last_used_at")
    # And name no other attribute (what makes a membership, an ownership, a workspace's plan,
    # state or trail head, or any name at all), nor read the item back, nor write elsewhere
    others = (
        *("role", "owner_id", "joined_at", "gsi1pk", "gsi1sk", "status", "plan"),
        *("active_keys", "require_mfa", "name", "seq", "hash", "zz"),
    )
    for attribute in others:
        assert not allows("last_used_at", attribute), attribute
        assert not allows(attribute), attribute
    for returns in ("ALL_OLD", "UPDATED_OLD", "UPDATED_NEW", "ALL_NEW"):
        assert not allows(*MEMBER_USE, returns=returns), returns
    for partition in ("USER#u1", "APIKEY#d1", "RATE#w1", "WSX"):
        assert not allows(*MEMBER_USE, partition=partition), partition


# ---------------------------------------------------------------- the evaluator itself


def test_a_transaction_is_one_request_per_item_as_its_own_action(stack: Stack) -> None:
    # Given a transaction over both tables, as the audit trail writes one
    table, audit = stack.ref("Table"), stack.ref("AuditTable")
    params = {
        "TransactItems": [
            {"Put": {"TableName": table, "Item": {"pk": {"S": "WS#w1"}, "sk": {"S": "X"}}}},
            {"Update": {"TableName": table, "Key": {"pk": {"S": "WS#w1"}, "sk": {"S": "H"}}}},
            {"ConditionCheck": {"TableName": table, "Key": {"pk": {"S": "USER#u"}}}},
            {"Put": {"TableName": audit, "Item": {"pk": {"S": "WS#w1"}, "sk": {"S": "E"}}}},
        ]
    }
    # When it is turned into IAM requests
    requests = stack.requests_of("dynamodb", "TransactWriteItems", params)
    # Then each item is its own action on its own table, with its own leading key
    assert [(r.action, r.resource, r.context["dynamodb:LeadingKeys"]) for r in requests] == [
        ("dynamodb:PutItem", stack.arn("Table"), ("WS#w1",)),
        ("dynamodb:UpdateItem", stack.arn("Table"), ("WS#w1",)),
        ("dynamodb:ConditionCheckItem", stack.arn("Table"), ("USER#u",)),
        ("dynamodb:PutItem", stack.arn("AuditTable"), ("WS#w1",)),
    ]


def test_a_query_on_an_index_leads_with_the_indexs_partition_key(stack: Stack) -> None:
    # Given a query of the expiry index, as the table's query builds it
    params = {
        "TableName": stack.ref("Table"),
        "IndexName": "gsi1",
        "KeyConditionExpression": "gsi1pk = :pk AND gsi1sk <= :until",
        "ExpressionAttributeValues": {":pk": {"S": "KEYEXPIRY"}, ":until": {"S": "9"}},
    }
    # When it is turned into an IAM request
    (request,) = stack.requests_of("dynamodb", "Query", params)
    # Then it is on the index, led by the index's partition
    assert request.resource == stack.arn("Table", "gsi1")
    assert request.context == {"dynamodb:LeadingKeys": ("KEYEXPIRY",)}


def test_a_kms_request_carries_the_context_and_the_keys_tags(stack: Stack) -> None:
    # Given a Decrypt of a server key under the stack's key
    context = {"purpose": SERVER_KEY, "workspace_id": "-", "item_id": PIN_PEPPER_KEY_NAME}
    params = {"KeyId": stack.arn("DataKey"), "CiphertextBlob": b"x", "EncryptionContext": context}
    # When it is turned into an IAM request
    (request,) = stack.requests_of("kms", "Decrypt", params)
    # Then IAM sees each pair of the context and the key's tags
    assert request.context == {
        "kms:EncryptionContext:purpose": (SERVER_KEY,),
        "kms:EncryptionContext:workspace_id": ("-",),
        "kms:EncryptionContext:item_id": (PIN_PEPPER_KEY_NAME,),
        "aws:ResourceTag/railguard:data-key-of": (PSEUDO.stack_name,),
    }


def test_a_deny_wins_and_for_all_values_holds_for_no_value() -> None:
    # Given a policy that allows every item action in WS# partitions, and denies deletes
    allow = Statement.parse(
        {
            "Effect": "Allow",
            "Action": "dynamodb:*",
            "Resource": "arn:t",
            "Condition": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["WS#*"]}},
        },
        "allow",
    )
    deny = Statement.parse(
        {"Effect": "Deny", "Action": "dynamodb:DeleteItem", "Resource": "*"}, "deny"
    )
    policy = Policy("F", (allow, deny))
    # Then a put in WS# is allowed, a delete is not, nor a put elsewhere
    assert policy.allows(Request("dynamodb:PutItem", "arn:t", {LEADING_KEYS: ("WS#1",)}))
    assert not policy.allows(Request("dynamodb:DeleteItem", "arn:t", {LEADING_KEYS: ("WS#1",)}))
    assert not policy.allows(Request("dynamodb:PutItem", "arn:t", {LEADING_KEYS: ("USER#1",)}))
    # And a request with no leading key passes ForAllValues (IAM's rule): why no Scan is granted
    assert policy.allows(Request("dynamodb:Scan", "arn:t"))


def test_what_the_evaluator_does_not_know_is_refused_not_guessed(template: Template) -> None:
    # Given a condition operator, and a SAM policy template, it does not model
    with pytest.raises(PolicyError, match="not supported"):
        Statement.parse(
            {
                "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": "*",
                "Condition": {"DateLessThan": {"aws:CurrentTime": "2030-01-01"}},
            },
            "s",
        ).applies_to(Request("kms:Decrypt", "arn:k", {"aws:CurrentTime": ("2029",)}))
    function = template.resources["HealthFunction"]
    with_template = replace(
        function,
        properties={
            **function.properties,
            "Policies": [{"DynamoDBCrudPolicy": {"TableName": "t"}}],
        },
    )
    changed = replace(template, resources={**template.resources, "HealthFunction": with_template})
    stack = Stack(changed, stand_in_resources(changed, PSEUDO))
    # Then it says so rather than allowing or refusing
    with pytest.raises(PolicyError, match="only inline Statement"):
        stack.policy("HealthFunction")
