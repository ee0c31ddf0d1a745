"""Provisioning the template's resources into moto, checked against the template itself."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError

from infra.local.aws import AwsEndpoint
from infra.local.emulator import MotoEmulator
from infra.local.errors import StartupError
from infra.local.provisioning import STACK_NAME, Provisioning, provision
from infra.template import Template, load_template
from tests.support.emulator import emulated_aws

TEMPLATE = Path(__file__).resolve().parents[3] / "template.yaml"


@pytest.fixture(scope="module")
def emulator() -> Iterator[AwsEndpoint]:
    with emulated_aws() as endpoint:
        yield endpoint


@pytest.fixture
def endpoint(emulator: AwsEndpoint) -> AwsEndpoint:
    # moto's state is per process, not per server: start each test from nothing.
    requests.post(f"{emulator.url}/moto-api/reset", timeout=5).raise_for_status()
    return emulator


@pytest.fixture(scope="module")
def template() -> Template:
    return load_template(TEMPLATE)


@pytest.fixture
def provisioned(template: Template, endpoint: AwsEndpoint) -> Provisioning:
    return provision(template, endpoint)


def _properties(template: Template, logical_id: str) -> dict[str, Any]:
    return dict(template.resources[logical_id].properties)


def _ref(provisioning: Provisioning, logical_id: str) -> str:
    return provisioning.intrinsics.physical[logical_id].ref


def _table(
    template: Template, endpoint: AwsEndpoint, provisioned: Provisioning
) -> tuple[dict[str, Any], Any, str]:
    """The template's table definition, a DynamoDB client, and the provisioned table's name."""
    return _properties(template, "Table"), endpoint.client("dynamodb"), _ref(provisioned, "Table")


def test_table_matches_the_template(
    template: Template, endpoint: AwsEndpoint, provisioned: Provisioning
) -> None:
    # Given the template's table definition and the table provisioned from it
    spec, dynamodb, name = _table(template, endpoint, provisioned)
    # When the table is described
    table = dynamodb.describe_table(TableName=name)["Table"]
    # Then it has the template's name rule, keys, attributes, billing mode and protection
    assert name == f"{STACK_NAME}-Table"
    assert table["KeySchema"] == spec["KeySchema"]
    assert sorted(table["AttributeDefinitions"], key=lambda a: a["AttributeName"]) == sorted(
        spec["AttributeDefinitions"], key=lambda a: a["AttributeName"]
    )
    assert table["BillingModeSummary"]["BillingMode"] == spec["BillingMode"]
    assert table["DeletionProtectionEnabled"] is spec["DeletionProtectionEnabled"]
    # And exactly the template's GSIs, with their keys and projections
    described = {
        gsi["IndexName"]: (gsi["KeySchema"], gsi["Projection"])
        for gsi in table["GlobalSecondaryIndexes"]
    }
    declared = {
        gsi["IndexName"]: (gsi["KeySchema"], gsi["Projection"])
        for gsi in spec["GlobalSecondaryIndexes"]
    }
    assert described == declared
    # And server-side encryption with the template's key
    assert table["SSEDescription"]["Status"] == "ENABLED"
    assert table["SSEDescription"]["SSEType"] == spec["SSESpecification"]["SSEType"]
    assert _ref(provisioned, "DataKey") in table["SSEDescription"]["KMSMasterKeyArn"]


def test_table_ttl_and_point_in_time_recovery_match_the_template(
    template: Template, endpoint: AwsEndpoint, provisioned: Provisioning
) -> None:
    # Given the template's TTL and PITR settings
    spec, dynamodb, name = _table(template, endpoint, provisioned)
    # When the table's TTL and backups are described
    ttl = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    backups = dynamodb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
    # Then both are as declared
    assert ttl["AttributeName"] == spec["TimeToLiveSpecification"]["AttributeName"]
    assert (ttl["TimeToLiveStatus"] == "ENABLED") is spec["TimeToLiveSpecification"]["Enabled"]
    pitr = backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"]
    expected_pitr = spec["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"]
    assert (pitr == "ENABLED") is expected_pitr


def test_kms_key_alias_and_event_bus_exist(
    template: Template, endpoint: AwsEndpoint, provisioned: Provisioning
) -> None:
    # Given the provisioned key, alias and bus
    kms, events = endpoint.client("kms"), endpoint.client("events")
    key_id = _ref(provisioned, "DataKey")
    key_spec = _properties(template, "DataKey")
    # When they are described
    key = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    aliases = {a["AliasName"]: a.get("TargetKeyId") for a in kms.list_aliases()["Aliases"]}
    bus = events.describe_event_bus(Name=_ref(provisioned, "EventBus"))
    # Then the key is the template's (usage, spec, rotation), the alias points at it
    assert key["KeyUsage"] == key_spec["KeyUsage"]
    assert key["KeySpec"] == key_spec["KeySpec"]
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is True
    assert aliases["alias/railguard-dev"] == key_id
    # And the bus carries the name the template computes for the default stage
    assert bus["Name"] == "railguard-dev"
    assert provisioned.intrinsics.physical["EventBus"].attributes["Arn"] == bus["Arn"]


def test_anchor_bucket_matches_the_template(
    template: Template, endpoint: AwsEndpoint, provisioned: Provisioning
) -> None:
    # Given the template's anchor bucket and the bucket provisioned from it
    spec = _properties(template, "AuditAnchorBucket")
    retention_days = int(template.parameters["AuditAnchorRetentionDays"].value or "0")
    s3 = endpoint.client("s3")
    name = _ref(provisioned, "AuditAnchorBucket")
    # When its settings are read back
    lock = s3.get_object_lock_configuration(Bucket=name)["ObjectLockConfiguration"]
    encryption = s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]
    # Then it has the name rule, and the template's lock (compliance mode, its retention)
    assert name == f"{STACK_NAME}-auditanchorbucket"
    assert provisioned.intrinsics.physical["AuditAnchorBucket"].attributes == {
        "Arn": f"arn:aws:s3:::{name}"
    }
    assert lock["ObjectLockEnabled"] == "Enabled"
    assert lock["Rule"]["DefaultRetention"]["Mode"] == "COMPLIANCE"
    assert lock["Rule"]["DefaultRetention"]["Days"] == retention_days
    # And its versioning, public access block, ownership and encryption
    assert s3.get_bucket_versioning(Bucket=name)["Status"] == "Enabled"
    assert (
        s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"]
        == spec["PublicAccessBlockConfiguration"]
    )
    assert (
        s3.get_bucket_ownership_controls(Bucket=name)["OwnershipControls"]
        == spec["OwnershipControls"]
    )
    (rule,) = encryption["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    # And the lock holds: a version put there cannot be deleted
    version = s3.put_object(Bucket=name, Key="probe", Body=b"x")["VersionId"]
    with pytest.raises(ClientError) as refused:
        s3.delete_object(Bucket=name, Key="probe", VersionId=version)
    assert refused.value.response["Error"]["Code"] == "AccessDenied"


def test_provisioning_twice_reuses_everything(
    template: Template, endpoint: AwsEndpoint, provisioned: Provisioning
) -> None:
    # Given a template already provisioned once
    kms = endpoint.client("kms")
    keys_before = len(kms.list_keys()["Keys"])
    # When it is provisioned again at the same endpoint
    again = provision(template, endpoint)
    # Then nothing is created, every physical id is the same, and no key was added
    assert [r.created for r in again.resources] == [False] * len(again.resources)
    assert [r.created for r in provisioned.resources] == [True] * len(provisioned.resources)
    assert again.intrinsics.physical == provisioned.intrinsics.physical
    assert len(kms.list_keys()["Keys"]) == keys_before


def test_functions_environment_resolves_to_the_provisioned_table(
    template: Template, provisioned: Provisioning
) -> None:
    # Given the provisioned resources
    # When the functions are resolved against them
    functions = template.functions(provisioned.intrinsics)
    # Then every function's TABLE_NAME is the table that exists
    assert {f.environment["TABLE_NAME"] for f in functions} == {f"{STACK_NAME}-Table"}
    assert {f.arn.split(":")[4] for f in functions} == {"123456789012"}


def test_unreachable_endpoint_is_a_startup_error(template: Template) -> None:
    # Given an endpoint where nothing listens
    nowhere = AwsEndpoint(url="http://127.0.0.1:9")
    # When provisioning is attempted
    with pytest.raises(StartupError) as raised:
        provision(template, nowhere)
    # Then the error names the endpoint
    assert "http://127.0.0.1:9" in str(raised.value)


def test_taken_aws_port_is_a_startup_error_naming_the_setting(emulator: AwsEndpoint) -> None:
    # Given the port the running emulator listens on
    port = int(emulator.url.rsplit(":", 1)[1])
    # When a second emulator is started on it
    with pytest.raises(StartupError) as raised:
        MotoEmulator("127.0.0.1", port).start()
    # Then the error names the port and the variable that changes it
    assert f"port {port}" in str(raised.value)
    assert "AWS_PORT=" in str(raised.value)
