"""Server keys (`railguard.server_keys`) in the template: every function whose code makes or reads
one may do exactly that under KMS, for that key's name only (the name is in the encryption
context), and can keep it in the table. The local stack does not enforce IAM, so a missing grant
would only show in AWS; an over-broad one never would. Idempotency-Key requests are fingerprinted
under a KMS HMAC key instead, which no role can unseal: only the creations that take such a key
may ask KMS for a MAC under it."""

from __future__ import annotations

from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pytest

from infra.template import Template, load_template
from railguard.agent_uis import PIN_PEPPER_KEY_NAME
from railguard.server_keys import ENVELOPE_PURPOSE
from railguard.throttle import ACCOUNT_SUBJECT_KEY_NAME
from railguard.webhooks import TOKEN_LOOKUP_KEY_NAME

TEMPLATE = Path(__file__).resolve().parents[3] / "template.yaml"
MAKE_AND_READ = {"kms:GenerateDataKey", "kms:Decrypt"}

# Which function's code uses which server key, and whether it may make it (the first use does).
USES: dict[str, dict[str, set[str]]] = {
    "AuthFunction": {ACCOUNT_SUBJECT_KEY_NAME: MAKE_AND_READ},
    "MeFunction": {ACCOUNT_SUBJECT_KEY_NAME: MAKE_AND_READ},
    "MfaFunction": {ACCOUNT_SUBJECT_KEY_NAME: MAKE_AND_READ},
    "WebhookTriggersFunction": {TOKEN_LOOKUP_KEY_NAME: MAKE_AND_READ},
    "WebhookIngressFunction": {TOKEN_LOOKUP_KEY_NAME: {"kms:Decrypt"}},
    "AgentUisFunction": {PIN_PEPPER_KEY_NAME: MAKE_AND_READ},
}
# Re-seals every sealed item, server keys included: its grant is by purpose, on purpose.
RESEALER = "RotationJobFunction"
# The functions whose creations take an Idempotency-Key, and the HMAC key they MAC under.
IDEMPOTENT_CREATORS = {"ApiKeysFunction", "CredentialsFunction", "WebhookTriggersFunction"}
MAC_KEY = {"Fn::GetAtt": ["IdempotencyMacKey", "Arn"]}
MAC_ACTIONS = ("kms:GenerateMac", "kms:VerifyMac")


@pytest.fixture(scope="module")
def template() -> Template:
    return load_template(TEMPLATE)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _statements(template: Template, function_id: str) -> list[dict[str, Any]]:
    (function,) = [
        f
        for f in template.resources_of_type("AWS::Serverless::Function")
        if f.logical_id == function_id
    ]
    return [
        statement
        for policy in function.properties.get("Policies") or []
        for statement in (policy.get("Statement", []) if isinstance(policy, dict) else [])
    ]


def _kms_grants(template: Template, function_id: str) -> dict[str, set[str]]:
    """Server-key name -> the KMS actions the function's role allows with it in the context."""
    grants: dict[str, set[str]] = {}
    for statement in _statements(template, function_id):
        actions = {a for a in _as_list(statement["Action"]) if a.startswith("kms:")}
        context = (statement.get("Condition") or {}).get("StringEquals") or {}
        purposes = _as_list(context.get("kms:EncryptionContext:purpose", []))
        if not actions or ENVELOPE_PURPOSE not in purposes:
            continue
        names = context.get("kms:EncryptionContext:item_id")
        assert names is not None, f"{function_id} may unseal every server key"
        for name in _as_list(names):
            grants.setdefault(name, set()).update(actions)
    return grants


def _may_put_server_keys(template: Template, function_id: str) -> bool:
    for statement in _statements(template, function_id):
        if "dynamodb:PutItem" not in _as_list(statement["Action"]):
            continue
        if "'Table'" not in repr(statement["Resource"]):
            continue
        condition = statement.get("Condition")
        if condition is None:
            return True
        leading = [
            key
            for test in condition.values()
            for key in _as_list(test.get("dynamodb:LeadingKeys", []))
        ]
        if any(key in {"SERVER_KEY", "*"} for key in leading):
            return True
    return False


@pytest.mark.parametrize("function_id", sorted(USES))
def test_each_user_of_a_server_key_may_use_exactly_its_own(
    template: Template, function_id: str
) -> None:
    # Given the server keys the function's code uses
    uses = USES[function_id]
    # Then its role grants KMS for those names and no other server key, and the actions match
    assert _kms_grants(template, function_id) == uses
    # And it knows the stack's key and, if it may make a key, can keep it in the table
    (function,) = [
        f
        for f in template.resources_of_type("AWS::Serverless::Function")
        if f.logical_id == function_id
    ]
    assert "KMS_KEY_ID" in (function.properties.get("Environment") or {}).get("Variables", {})
    if any("kms:GenerateDataKey" in actions for actions in uses.values()):
        assert _may_put_server_keys(template, function_id)


def test_no_other_function_may_unseal_a_server_key(template: Template) -> None:
    for function in template.resources_of_type("AWS::Serverless::Function"):
        if function.logical_id in USES or function.logical_id == RESEALER:
            continue
        assert _kms_grants(template, function.logical_id) == {}, function.logical_id


def _mac_grants(template: Template, function_id: str) -> list[tuple[set[str], Any]]:
    """(the MAC actions it allows, on what) for each statement that allows one, wildcards
    included."""
    grants = []
    for statement in _statements(template, function_id):
        allowed = {
            action
            for action in MAC_ACTIONS
            for pattern in _as_list(statement["Action"])
            if fnmatchcase(action, pattern)
        }
        if allowed:
            grants.append((allowed, statement["Resource"]))
    return grants


def test_only_the_idempotent_creations_may_mac_and_only_under_the_hmac_key(
    template: Template,
) -> None:
    for function in template.resources_of_type("AWS::Serverless::Function"):
        # Given a function's role and environment
        grants = _mac_grants(template, function.logical_id)
        variables = (function.properties.get("Environment") or {}).get("Variables", {})
        if function.logical_id in IDEMPOTENT_CREATORS:
            # Then a creation taking an Idempotency-Key may GenerateMac under that key alone,
            # and is told which key it is
            assert grants == [({"kms:GenerateMac"}, MAC_KEY)], function.logical_id
            assert variables["IDEMPOTENCY_MAC_KEY_ID"] == MAC_KEY, function.logical_id
        else:
            # And no other function may MAC at all
            assert grants == [], function.logical_id
            assert "IDEMPOTENCY_MAC_KEY_ID" not in variables, function.logical_id
