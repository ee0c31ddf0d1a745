"""Create the template's stateful resources at an AWS endpoint and learn their physical ids.

Idempotent: a resource that already exists at the endpoint (same table name, same event bus name,
same bucket name, a key tagged with this stack's logical id, same alias name) is reused as it is.
A bucket policy is not provisioned: moto does not enforce one (a unit test reads the template's).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from infra.local.aws import AwsEndpoint
from infra.local.errors import StartupError
from infra.template import Intrinsics, PhysicalResource, PseudoParameters, Resource, Template

STACK_NAME = "railguard-local"
# KMS keys have no name: this tag is how a second start finds the key the first one created.
LOGICAL_ID_TAG = "local-stack:logical-id"

# Table properties that create_table takes exactly as CloudFormation spells them.
_TABLE_AS_IS = (
    "AttributeDefinitions",
    "KeySchema",
    "GlobalSecondaryIndexes",
    "LocalSecondaryIndexes",
    "BillingMode",
    "ProvisionedThroughput",
    "DeletionProtectionEnabled",
    "TableClass",
    "Tags",
)
_TABLE_HANDLED = {
    *_TABLE_AS_IS,
    "TableName",
    "SSESpecification",
    "StreamSpecification",
    "TimeToLiveSpecification",
    "PointInTimeRecoverySpecification",
}
# PendingWindowInDays only matters when a key is scheduled for deletion.
_KEY_HANDLED = {"Description", "KeySpec", "KeyUsage", "KeyPolicy", "EnableKeyRotation", "Tags"}
_KEY_IGNORED = {"PendingWindowInDays"}
_ALIAS_HANDLED = {"AliasName", "TargetKeyId"}
_EVENT_BUS_HANDLED = {"Name", "Description", "Tags"}
# Bucket settings applied after creation, each by the call of the same shape (its argument name).
_BUCKET_SETTINGS = {
    "VersioningConfiguration": ("put_bucket_versioning", "VersioningConfiguration"),
    "PublicAccessBlockConfiguration": (
        "put_public_access_block",
        "PublicAccessBlockConfiguration",
    ),
    "OwnershipControls": ("put_bucket_ownership_controls", "OwnershipControls"),
}
_BUCKET_HANDLED = {
    *_BUCKET_SETTINGS,
    "BucketName",
    "ObjectLockEnabled",
    "ObjectLockConfiguration",
    "BucketEncryption",
}


class ProvisioningError(StartupError):
    """The AWS endpoint is unreachable or refused to create a resource."""


@dataclass(frozen=True)
class ProvisionedResource:
    logical_id: str
    type: str
    physical: PhysicalResource
    created: bool
    not_emulated: tuple[str, ...] = ()  # template properties the emulator was not given

    def describe(self) -> str:
        line = f"{'created' if self.created else 'reused'} {self.type} {self.logical_id}: "
        line += self.physical.ref
        if self.not_emulated:
            line += f" (not emulated: {', '.join(self.not_emulated)})"
        return line


@dataclass(frozen=True)
class Provisioning:
    intrinsics: Intrinsics  # knows every provisioned resource's physical id
    resources: tuple[ProvisionedResource, ...]


@dataclass(frozen=True)
class _Clients:
    kms: Any
    dynamodb: Any
    events: Any
    s3: Any


def provision(
    template: Template, endpoint: AwsEndpoint, stack_name: str = STACK_NAME
) -> Provisioning:
    """Provision keys, aliases, event buses, tables and buckets (in that order: later ones refer
    to keys)."""
    sts, kms, dynamodb, events, s3 = endpoint.clients("sts", "kms", "dynamodb", "events", "s3")
    clients = _Clients(kms, dynamodb, events, s3)
    try:
        account_id = sts.get_caller_identity()["Account"]
    except (ClientError, BotoCoreError) as exc:
        raise ProvisioningError(f"cannot use the AWS endpoint {endpoint.url}: {exc}") from exc
    intrinsics = Intrinsics(template, PseudoParameters(endpoint.region, account_id, stack_name))
    provisioned = []
    for resource_type, provision_one in _PROVISIONERS.items():
        for resource in template.resources_of_type(resource_type):
            try:
                result = provision_one(clients, intrinsics, resource)
            except (ClientError, BotoCoreError) as exc:
                raise ProvisioningError(
                    f"cannot provision {resource.logical_id} ({resource_type}) at {endpoint.url}:"
                    f" {exc}"
                ) from exc
            intrinsics = intrinsics.with_resource(resource.logical_id, result.physical)
            provisioned.append(result)
    return Provisioning(intrinsics, tuple(provisioned))


def _not_emulated(properties: Mapping[str, Any], handled: set[str]) -> tuple[str, ...]:
    return tuple(sorted(set(properties) - handled))


def _paginate(client: Any, operation: str, key: str) -> Iterator[dict[str, Any]]:
    for page in client.get_paginator(operation).paginate():
        yield from page[key]


def _kms_key(clients: _Clients, intrinsics: Intrinsics, resource: Resource) -> ProvisionedResource:
    properties = intrinsics.resolve_properties(resource)
    kms = clients.kms
    marker = {
        "TagKey": LOGICAL_ID_TAG,
        "TagValue": f"{intrinsics.pseudo.stack_name}/{resource.logical_id}",
    }
    key_id = _find_key(kms, marker)
    created = key_id is None
    if key_id is None:
        request: dict[str, Any] = {
            name: properties[name]
            for name in ("Description", "KeySpec", "KeyUsage")
            if name in properties
        }
        if "KeyPolicy" in properties:
            policy = properties["KeyPolicy"]
            request["Policy"] = policy if isinstance(policy, str) else json.dumps(policy)
        request["Tags"] = [
            marker,
            *({"TagKey": t["Key"], "TagValue": t["Value"]} for t in properties.get("Tags", [])),
        ]
        key_id = kms.create_key(**request)["KeyMetadata"]["KeyId"]
        if properties.get("EnableKeyRotation"):
            kms.enable_key_rotation(KeyId=key_id)
    arn = kms.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"]
    return ProvisionedResource(
        resource.logical_id,
        resource.type,
        PhysicalResource(ref=key_id, attributes={"Arn": arn, "KeyId": key_id}),
        created=created,
        not_emulated=_not_emulated(properties, _KEY_HANDLED | _KEY_IGNORED),
    )


def _find_key(kms: Any, marker: Mapping[str, str]) -> str | None:
    for key in _paginate(kms, "list_keys", "Keys"):
        key_id: str = key["KeyId"]
        if marker in kms.list_resource_tags(KeyId=key_id)["Tags"]:
            state = kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"]
            if state != "PendingDeletion":
                return key_id
    return None


def _kms_alias(
    clients: _Clients, intrinsics: Intrinsics, resource: Resource
) -> ProvisionedResource:
    properties = intrinsics.resolve_properties(resource)
    name, target = properties["AliasName"], properties["TargetKeyId"]
    existing = next(
        (a for a in _paginate(clients.kms, "list_aliases", "Aliases") if a["AliasName"] == name),
        None,
    )
    if existing is None:
        clients.kms.create_alias(AliasName=name, TargetKeyId=target)
    elif existing.get("TargetKeyId") != target:
        clients.kms.update_alias(AliasName=name, TargetKeyId=target)
    return ProvisionedResource(
        resource.logical_id,
        resource.type,
        PhysicalResource(ref=name),
        created=existing is None,
        not_emulated=_not_emulated(properties, _ALIAS_HANDLED),
    )


def _event_bus(
    clients: _Clients, intrinsics: Intrinsics, resource: Resource
) -> ProvisionedResource:
    properties = intrinsics.resolve_properties(resource)
    events = clients.events
    name = properties["Name"]
    try:
        bus = events.describe_event_bus(Name=name)
        created = False
    except events.exceptions.ResourceNotFoundException:
        events.create_event_bus(
            **{k: properties[k] for k in ("Name", "Description", "Tags") if k in properties}
        )
        bus = events.describe_event_bus(Name=name)
        created = True
    return ProvisionedResource(
        resource.logical_id,
        resource.type,
        PhysicalResource(ref=name, attributes={"Arn": bus["Arn"], "Name": name}),
        created=created,
        not_emulated=_not_emulated(properties, _EVENT_BUS_HANDLED),
    )


def _table(clients: _Clients, intrinsics: Intrinsics, resource: Resource) -> ProvisionedResource:
    properties = intrinsics.resolve_properties(resource)
    dynamodb = clients.dynamodb
    name = properties.get("TableName") or f"{intrinsics.pseudo.stack_name}-{resource.logical_id}"
    try:
        table = dynamodb.describe_table(TableName=name)["Table"]
        created = False
    except dynamodb.exceptions.ResourceNotFoundException:
        _create_table(dynamodb, name, properties)
        table = dynamodb.describe_table(TableName=name)["Table"]
        created = True
    attributes = {"Arn": table["TableArn"]}
    if "LatestStreamArn" in table:
        attributes["StreamArn"] = table["LatestStreamArn"]
    return ProvisionedResource(
        resource.logical_id,
        resource.type,
        PhysicalResource(ref=name, attributes=attributes),
        created=created,
        not_emulated=_not_emulated(properties, _TABLE_HANDLED),
    )


def _create_table(dynamodb: Any, name: str, properties: Mapping[str, Any]) -> None:
    request = {"TableName": name, **{k: properties[k] for k in _TABLE_AS_IS if k in properties}}
    if "SSESpecification" in properties:
        # CloudFormation says SSEEnabled where the DynamoDB API says Enabled.
        sse = dict(properties["SSESpecification"])
        request["SSESpecification"] = {"Enabled": sse.pop("SSEEnabled", False), **sse}
    if "StreamSpecification" in properties:
        request["StreamSpecification"] = {
            "StreamEnabled": True,
            **properties["StreamSpecification"],
        }
    dynamodb.create_table(**request)
    # TTL and PITR can only be set on an ACTIVE table.
    dynamodb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1})
    ttl = properties.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled"):
        dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
    pitr = properties.get("PointInTimeRecoverySpecification")
    if pitr and pitr.get("PointInTimeRecoveryEnabled"):
        dynamodb.update_continuous_backups(TableName=name, PointInTimeRecoverySpecification=pitr)


def _bucket(clients: _Clients, intrinsics: Intrinsics, resource: Resource) -> ProvisionedResource:
    properties = intrinsics.resolve_properties(resource)
    s3 = clients.s3
    # CloudFormation makes up a unique name; locally the stack's name is unique enough.
    name = properties.get("BucketName") or f"{intrinsics.pseudo.stack_name}-{resource.logical_id}"
    name = name.lower()
    try:
        s3.head_bucket(Bucket=name)
        created = False
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket"):
            raise
        _create_bucket(s3, name, properties)
        created = True
    partition = intrinsics.pseudo.partition
    return ProvisionedResource(
        resource.logical_id,
        resource.type,
        PhysicalResource(ref=name, attributes={"Arn": f"arn:{partition}:s3:::{name}"}),
        created=created,
        not_emulated=_not_emulated(properties, _BUCKET_HANDLED),
    )


def _create_bucket(s3: Any, name: str, properties: Mapping[str, Any]) -> None:
    s3.create_bucket(
        Bucket=name, ObjectLockEnabledForBucket=bool(properties.get("ObjectLockEnabled"))
    )
    for setting, (call, argument) in _BUCKET_SETTINGS.items():
        if setting in properties:
            getattr(s3, call)(Bucket=name, **{argument: properties[setting]})
    if "BucketEncryption" in properties:
        # CloudFormation lists the rules where the API wraps them in `Rules`, and says
        # `ServerSideEncryptionByDefault` where the API says `ApplyServerSideEncryptionByDefault`.
        rules = []
        for rule in properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]:
            rest = dict(rule)
            default = rest.pop("ServerSideEncryptionByDefault")
            rules.append({"ApplyServerSideEncryptionByDefault": default, **rest})
        s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})
    lock = properties.get("ObjectLockConfiguration")
    if lock:
        # Parameters resolve to strings; the API takes the retention as a number.
        retention = dict(lock.get("Rule", {}).get("DefaultRetention", {}))
        for unit in ("Days", "Years"):
            if unit in retention:
                retention[unit] = int(retention[unit])
        s3.put_object_lock_configuration(
            Bucket=name,
            ObjectLockConfiguration={
                "ObjectLockEnabled": lock["ObjectLockEnabled"],
                **({"Rule": {"DefaultRetention": retention}} if retention else {}),
            },
        )


_Provisioner = Callable[[_Clients, Intrinsics, Resource], ProvisionedResource]
_PROVISIONERS: dict[str, _Provisioner] = {
    "AWS::KMS::Key": _kms_key,
    "AWS::KMS::Alias": _kms_alias,
    "AWS::Events::EventBus": _event_bus,
    "AWS::DynamoDB::Table": _table,
    "AWS::S3::Bucket": _bucket,
}
