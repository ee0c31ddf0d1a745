"""The audit trail is append-only in the template itself: no function's role may change or remove
an audit item, and the table's own policy denies it to every principal (contract section 10).
Its anchors are where no function can write: a bucket with Object Lock in compliance mode, whose
policy lets the anchor job's role alone add an anchor, never over another, and nobody remove one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infra.template import Template, load_template

TEMPLATE = Path(__file__).resolve().parents[3] / "template.yaml"
# What an append-only trail needs: add an event, read events (and the chain's head elsewhere).
ALLOWED_ON_AUDIT = {"dynamodb:PutItem", "dynamodb:Query", "dynamodb:GetItem"}
CHANGES = {
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:PartiQLUpdate",
    "dynamodb:PartiQLDelete",
    "dynamodb:UpdateTimeToLive",
}


@pytest.fixture(scope="module")
def template() -> Template:
    return load_template(TEMPLATE)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _statements(template: Template) -> Iterator[tuple[str, dict[str, Any]]]:
    for function in template.resources_of_type("AWS::Serverless::Function"):
        for policy in function.properties.get("Policies") or []:
            for statement in policy.get("Statement", []) if isinstance(policy, dict) else []:
                yield function.logical_id, statement


def _names_audit_table(resource: Any) -> bool:
    return "AuditTable" in repr(resource)


def test_no_function_may_change_or_remove_an_audit_item(template: Template) -> None:
    # Given every statement of every function's role
    statements = list(_statements(template))
    assert statements
    for function_id, statement in statements:
        actions = set(_as_list(statement["Action"]))
        resources = _as_list(statement["Resource"])
        # Then none grants everything, or anything on every resource
        assert not any(action.endswith(":*") for action in actions), function_id
        assert "*" not in resources or not any(a.startswith("dynamodb:") for a in actions)
        # And on the audit table, only appends and reads
        if any(_names_audit_table(resource) for resource in resources):
            assert actions <= ALLOWED_ON_AUDIT, (function_id, actions)


def test_the_audit_tables_own_policy_denies_every_change_to_everyone(template: Template) -> None:
    (table,) = [r for r in template.resources.values() if r.logical_id == "AuditTable"]
    statements = table.properties["ResourcePolicy"]["PolicyDocument"]["Statement"]
    denials = [s for s in statements if s["Effect"] == "Deny" and s["Principal"] == "*"]
    denied = {action for statement in denials for action in _as_list(statement["Action"])}
    assert denied >= CHANGES
    # And nothing expires audit items behind the trail's back
    assert "TimeToLiveSpecification" not in table.properties
    assert table.properties["DeletionProtectionEnabled"] is True


def test_every_function_that_records_events_can_append_and_knows_the_table(
    template: Template,
) -> None:
    # Given the functions whose code records audit events
    recorders = {
        "AuthFunction",
        "MeFunction",
        "MfaFunction",
        "WorkspacesFunction",
        "ApiKeysFunction",
        "CredentialsFunction",
        "WebhookTriggersFunction",
        "AgentUisFunction",
        "ExpiryJobFunction",
        "RotationJobFunction",
        "RetentionJobFunction",
        "PlanChangeFunction",
    }
    appenders = {
        function_id
        for function_id, statement in _statements(template)
        if "dynamodb:PutItem" in _as_list(statement["Action"])
        and any(_names_audit_table(r) for r in _as_list(statement["Resource"]))
    }
    # Then each may append (and the table's name reaches every function through Globals)
    assert recorders <= appenders
    assert "AUDIT_TABLE_NAME" in template.function_globals["Environment"]["Variables"]


def _bucket_policy(template: Template) -> list[dict[str, Any]]:
    policy = template.resources["AuditAnchorBucketPolicy"]
    assert policy.properties["Bucket"] == {"Ref": "AuditAnchorBucket"}
    statements: list[dict[str, Any]] = policy.properties["PolicyDocument"]["Statement"]
    return statements


def _denied_to_everyone(statements: list[dict[str, Any]], action: str) -> list[dict[str, Any]]:
    return [
        s
        for s in statements
        if s["Effect"] == "Deny" and s["Principal"] == "*" and action in _as_list(s["Action"])
    ]


def test_the_anchor_bucket_locks_every_anchor_in_compliance_mode(template: Template) -> None:
    # Given the anchor bucket
    bucket = template.resources["AuditAnchorBucket"].properties
    # Then Object Lock is on, in compliance mode, for the template's retention, with versioning
    assert bucket["ObjectLockEnabled"] is True
    lock = bucket["ObjectLockConfiguration"]
    assert lock["ObjectLockEnabled"] == "Enabled"
    retention = lock["Rule"]["DefaultRetention"]
    assert retention == {"Mode": "COMPLIANCE", "Days": {"Ref": "AuditAnchorRetentionDays"}}
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    # And it is private and encrypted at rest
    assert set(bucket["PublicAccessBlockConfiguration"].values()) == {True}
    assert len(bucket["PublicAccessBlockConfiguration"]) == 4
    (rule,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"


def test_the_anchor_bucket_policy_lets_only_the_anchor_job_add_and_nobody_remove(
    template: Template,
) -> None:
    # Given the bucket's policy
    statements = _bucket_policy(template)
    # Then a put by any role but the anchor job's is refused, and so is one that could replace
    puts = _denied_to_everyone(statements, "s3:PutObject")
    conditions = [statement["Condition"] for statement in puts]
    assert {
        "ArnNotEquals": {"aws:PrincipalArn": {"Fn::GetAtt": ["AnchorJobFunctionRole", "Arn"]}}
    } in conditions
    assert {"Null": {"s3:if-none-match": True}} in conditions
    # And removing an anchor, or the bucket, is refused to everyone, without exception
    for action in ("s3:DeleteObject", "s3:DeleteObjectVersion", "s3:DeleteBucket"):
        (denial,) = _denied_to_everyone(statements, action)
        assert "Condition" not in denial, action
    # And the lock, the versioning, the lifecycle and the policy change only by a deployment
    for action in (
        "s3:PutBucketObjectLockConfiguration",
        "s3:PutBucketVersioning",
        "s3:PutLifecycleConfiguration",
        "s3:PutBucketPolicy",
        "s3:DeleteBucketPolicy",
    ):
        (denial,) = _denied_to_everyone(statements, action)
        assert denial["Condition"] == {
            "StringNotEquals": {"aws:CalledViaLast": "cloudformation.amazonaws.com"}
        }
    # And plain HTTP is refused for everything
    (tls,) = _denied_to_everyone(statements, "s3:*")
    assert tls["Condition"] == {"Bool": {"aws:SecureTransport": False}}


def test_only_the_anchor_job_may_add_anchors_and_no_function_may_remove_one(
    template: Template,
) -> None:
    # Given every S3 action every function's role is allowed
    s3_actions: dict[str, set[str]] = {}
    for function_id, statement in _statements(template):
        for action in _as_list(statement["Action"]):
            if action.startswith("s3:") and statement["Effect"] == "Allow":
                s3_actions.setdefault(function_id, set()).add(action)
    # Then the anchor job lists and adds, the trail's reader lists, and nobody else touches S3
    assert s3_actions == {
        "AnchorJobFunction": {"s3:ListBucketVersions", "s3:PutObject"},
        "AuditFunction": {"s3:ListBucketVersions"},
    }
