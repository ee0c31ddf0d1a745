"""What IAM lets each function of the template do: a small evaluator of the functions' own
policies, and the IAM requests an AWS call makes.

The local stack and the tests run against an emulator that enforces no IAM, so a missing grant
would only show in AWS and an over-broad one never would. This module answers, from
template.yaml alone, "may function F do action A on resource R, with these condition keys?",
the way IAM evaluates an identity policy: an explicit Deny wins, then any Allow, else denied.

It knows what the template uses, and refuses (`PolicyError`) anything else rather than guess:
- policies: inline `Statement` documents (no SAM policy templates, no managed policies);
- actions and resources with IAM's `*` and `?` wildcards, `NotAction`/`NotResource` refused;
- conditions: `StringEquals`, `StringLike`, `StringNotEquals`, `StringNotLike`, `ArnEquals`,
  `ArnLike`, `ArnNotEquals`, `ArnNotLike`, `Bool`, `Null`, each optionally
  `ForAllValues:`/`ForAnyValue:`, and each but `Null` optionally `...IfExists`.

What an AWS call asks IAM for (`requests_of`) follows each service's authorization reference:
- DynamoDB: one request per item action, with `dynamodb:LeadingKeys` the partition key values
  it names: of the table, or of the index for a query on an index (IAM sees the index's
  partition key there, not the table's). A `TransactWriteItems` is one request per item, as
  its own action (`PutItem`, `UpdateItem`, `DeleteItem`, `ConditionCheckItem`) on its own
  table; a batch is one request per table with all its keys.
  A write also carries `dynamodb:Attributes` (the key's attributes and the top-level ones its
  expressions or item name) and `dynamodb:ReturnValues`.
- KMS: the key's ARN, `kms:EncryptionContext:<name>` for each pair of the context (or
  `kms:MacAlgorithm` for a MAC), and the key's tags as `aws:ResourceTag/<name>` (from the
  template).
- S3 and EventBridge: the object, bucket or bus ARN.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any

from infra.template import (
    SERVERLESS_FUNCTION,
    Intrinsics,
    PhysicalResource,
    PseudoParameters,
    Template,
)

LEADING_KEYS = "dynamodb:LeadingKeys"
ATTRIBUTES = "dynamodb:Attributes"
RETURN_VALUES = "dynamodb:ReturnValues"
ENCRYPTION_CONTEXT = "kms:EncryptionContext:"
MAC_ALGORITHM = "kms:MacAlgorithm"
RESOURCE_TAG = "aws:ResourceTag/"

# Condition values of a request: every key is multivalued here (a single-valued key has one).
Context = Mapping[str, tuple[str, ...]]


class PolicyError(Exception):
    """A policy, or an AWS call, that this evaluator does not understand: fix one or the other."""


@dataclass(frozen=True)
class Request:
    """One authorization IAM makes: an action on a resource, with its condition keys."""

    action: str  # service:Action
    resource: str  # an ARN
    context: Context = field(default_factory=dict)

    def __str__(self) -> str:
        keys = ", ".join(f"{k}={list(v)}" for k, v in sorted(self.context.items()))
        return f"{self.action} on {self.resource}" + (f" [{keys}]" if keys else "")


# ---------------------------------------------------------------- matching


@cache
def _glob(pattern: str, *, case_sensitive: bool = True) -> re.Pattern[str]:
    """IAM's wildcards: `*` any run of characters, `?` any one; nothing else is special."""
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(body, 0 if case_sensitive else re.IGNORECASE)


def matches(pattern: str, value: str, *, case_sensitive: bool = True) -> bool:
    return _glob(pattern, case_sensitive=case_sensitive).fullmatch(value) is not None


def _as_tuple(value: Any) -> tuple[Any, ...]:
    return tuple(value) if isinstance(value, list | tuple) else (value,)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


_STRING_TESTS: dict[str, Callable[[str, str], bool]] = {
    "StringEquals": lambda pattern, value: pattern == value,
    "StringLike": matches,
    "ArnEquals": lambda pattern, value: pattern == value,
    "ArnLike": matches,
    "Bool": lambda pattern, value: pattern.lower() == value.lower(),
}
_NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotLike": "StringLike",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
}


def _condition_holds(operator: str, key: str, wanted: tuple[str, ...], context: Context) -> bool:
    qualifier, _, test_name = operator.rpartition(":")
    present = context.get(key)
    if test_name.endswith("IfExists") and test_name != "NullIfExists":
        if present is None:
            return True  # IAM's rule: an absent key passes an ...IfExists test
        test_name = test_name.removesuffix("IfExists")
    if test_name == "Null":
        if qualifier:
            raise PolicyError(f"{operator}: a qualifier on Null")
        (expected_null,) = wanted
        return (present is None) == (expected_null.lower() == "true")
    negated = test_name in _NEGATED
    base = _NEGATED.get(test_name, test_name)
    test = _STRING_TESTS.get(base)
    if test is None or qualifier not in ("", "ForAllValues", "ForAnyValue"):
        raise PolicyError(f"condition operator {operator} is not supported")

    def one(value: str) -> bool:
        found = any(test(pattern, value) for pattern in wanted)
        return not found if negated else found

    if qualifier == "ForAllValues":
        # True when the request has no value at all: IAM's (dangerous) rule, kept exactly.
        return all(one(value) for value in present or ())
    if qualifier == "ForAnyValue":
        return any(one(value) for value in present or ())
    if present is None:
        # A missing key fails a positive test and passes a negated one (IAM's rule).
        return negated
    if len(present) != 1:
        raise PolicyError(f"{operator} on {key}, which has {len(present)} values: qualify it")
    return one(present[0])


# ---------------------------------------------------------------- statements and policies


@dataclass(frozen=True)
class Statement:
    effect: str  # Allow | Deny
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    conditions: Mapping[str, Mapping[str, tuple[str, ...]]]  # operator -> key -> values

    @classmethod
    def parse(cls, document: Mapping[str, Any], where: str) -> Statement:
        unsupported = set(document) - {"Sid", "Effect", "Action", "Resource", "Condition"}
        if unsupported:
            raise PolicyError(f"{where}: {sorted(unsupported)} are not supported")
        effect = document.get("Effect")
        if effect not in ("Allow", "Deny"):
            raise PolicyError(f"{where}: Effect must be Allow or Deny, not {effect!r}")
        merged: dict[str, dict[str, tuple[str, ...]]] = {}
        for operator, tests in (document.get("Condition") or {}).items():
            merged[operator] = {
                key: tuple(_text(v) for v in _as_tuple(values)) for key, values in tests.items()
            }
        return cls(
            effect,
            tuple(str(a) for a in _as_tuple(document["Action"])),
            tuple(str(r) for r in _as_tuple(document["Resource"])),
            merged,
        )

    def applies_to(self, request: Request) -> bool:
        return (
            any(matches(a, request.action, case_sensitive=False) for a in self.actions)
            and any(matches(r, request.resource) for r in self.resources)
            and all(
                _condition_holds(operator, key, wanted, request.context)
                for operator, tests in self.conditions.items()
                for key, wanted in tests.items()
            )
        )


@dataclass(frozen=True)
class Policy:
    """Every statement of one function's role."""

    function_id: str
    statements: tuple[Statement, ...]

    def allows(self, request: Request) -> bool:
        if any(s.effect == "Deny" and s.applies_to(request) for s in self.statements):
            return False
        return any(s.effect == "Allow" and s.applies_to(request) for s in self.statements)


# ---------------------------------------------------------------- the stack


def stand_in_resources(template: Template, pseudo: PseudoParameters) -> Intrinsics:
    """Intrinsics for a stack that was never deployed: each resource answers `Ref` and
    `Fn::GetAtt` with names and ARNs shaped as AWS would shape them."""
    region, account, partition = pseudo.region, pseudo.account_id, pseudo.partition
    intrinsics = Intrinsics(template, pseudo)
    for logical_id, resource in template.resources.items():
        name = f"{pseudo.stack_name}-{logical_id}"
        arns = {
            "AWS::DynamoDB::Table": f"arn:{partition}:dynamodb:{region}:{account}:table/{name}",
            "AWS::KMS::Key": f"arn:{partition}:kms:{region}:{account}:key/{name}",
            "AWS::Events::EventBus": f"arn:{partition}:events:{region}:{account}:event-bus/{name}",
            "AWS::S3::Bucket": f"arn:{partition}:s3:::{name.lower()}",
            SERVERLESS_FUNCTION: f"arn:{partition}:lambda:{region}:{account}:function:{name}",
        }
        arn = arns.get(resource.type)
        if arn is None:
            continue
        ref = name.lower() if resource.type == "AWS::S3::Bucket" else name
        intrinsics = intrinsics.with_resource(
            logical_id, PhysicalResource(ref=ref, attributes={"Arn": arn, "KeyId": name})
        )
        if resource.type == SERVERLESS_FUNCTION:  # SAM's implicit role of each function
            role = f"arn:{partition}:iam::{account}:role/{name}Role"
            intrinsics = intrinsics.with_resource(
                f"{logical_id}Role", PhysicalResource(ref=f"{name}Role", attributes={"Arn": role})
            )
    return intrinsics


@dataclass(frozen=True)
class _TableSchema:
    arn: str
    partition_keys: Mapping[str | None, str]  # index name (None: the table) -> its hash key


class Stack:
    """A template's functions' policies and resources, resolved against one stack's names."""

    def __init__(self, template: Template, intrinsics: Intrinsics):
        self.template = template
        self.intrinsics = intrinsics
        self._policies: dict[str, Policy] = {}
        self._tables: dict[str, _TableSchema] = {}
        self._key_tags: dict[str, dict[str, str]] = {}
        pseudo = intrinsics.pseudo
        self._arn_prefix = f"arn:{pseudo.partition}"
        self._region_account = f"{pseudo.region}:{pseudo.account_id}"
        for resource in template.resources.values():
            if resource.type == "AWS::DynamoDB::Table":
                self._tables[self.ref(resource.logical_id)] = _TableSchema(
                    self.arn(resource.logical_id), _partition_keys(resource.properties)
                )
            elif resource.type == "AWS::KMS::Key":
                tags = intrinsics.resolve(
                    resource.properties.get("Tags", []), resource.logical_id, "Tags"
                )
                self._key_tags[self.arn(resource.logical_id)] = {t["Key"]: t["Value"] for t in tags}

    def with_resource(self, logical_id: str, physical: PhysicalResource) -> Stack:
        """This stack after CloudFormation replaced `logical_id` with `physical`. A replaced key
        keeps its tags (the template retains it), and so what was granted by them."""
        replaced = Stack(self.template, self.intrinsics.with_resource(logical_id, physical))
        replaced._key_tags = {**self._key_tags, **replaced._key_tags}
        return replaced

    # -- names
    def ref(self, logical_id: str) -> str:
        return str(self.intrinsics.resolve({"Ref": logical_id}, logical_id, "Ref"))

    def arn(self, logical_id: str, index: str | None = None) -> str:
        arn = str(self.intrinsics.resolve({"Fn::GetAtt": [logical_id, "Arn"]}, logical_id, "Arn"))
        return f"{arn}/index/{index}" if index else arn

    # -- policies
    def policy(self, function_id: str) -> Policy:
        if function_id not in self._policies:
            self._policies[function_id] = self._policy(function_id)
        return self._policies[function_id]

    def _policy(self, function_id: str) -> Policy:
        resource = self.template.resources.get(function_id)
        if resource is None or resource.type != SERVERLESS_FUNCTION:
            raise PolicyError(f"no function {function_id} in the template")
        if "Role" in resource.properties:
            raise PolicyError(f"{function_id}: a Role of its own is not supported")
        policies = resource.properties.get("Policies") or []
        statements: list[Statement] = []
        for n, policy in enumerate(_as_tuple(policies)):
            where = f"{function_id}.Policies[{n}]"
            if not isinstance(policy, dict) or set(policy) - {"Version", "Statement"}:
                raise PolicyError(
                    f"{where}: only inline Statement documents are supported (no SAM policy"
                    " templates or managed policies): add what it grants to infra/iam.py"
                )
            resolved = self.intrinsics.resolve(policy, function_id, f"Policies[{n}]")
            statements.extend(
                Statement.parse(s, f"{where}.Statement[{m}]")
                for m, s in enumerate(_as_tuple(resolved.get("Statement", [])))
            )
        return Policy(function_id, tuple(statements))

    def function_ids(self) -> tuple[str, ...]:
        return tuple(r.logical_id for r in self.template.resources_of_type(SERVERLESS_FUNCTION))

    # -- requests, as the tests and the table of grants ask them
    def item_request(
        self, action: str, table: str, partition: str, *, index: str | None = None
    ) -> Request:
        """`dynamodb:<action>` on table `table` (a logical id), or its index, in `partition`."""
        return Request(f"dynamodb:{action}", self.arn(table, index), {LEADING_KEYS: (partition,)})

    def key_request(
        self,
        action: str,
        key_arn: str,
        context: Mapping[str, str],
        *,
        tags: Mapping[str, str] | None = None,
    ) -> Request:
        """`kms:<action>` on the key `key_arn`, with the encryption context `context`; the key's
        tags are the template's (for one of its keys) unless `tags` says."""
        keys: dict[str, tuple[str, ...]] = {
            f"{ENCRYPTION_CONTEXT}{name}": (value,) for name, value in context.items()
        }
        for name, value in (self.key_tags(key_arn) if tags is None else tags).items():
            keys[f"{RESOURCE_TAG}{name}"] = (value,)
        return Request(f"kms:{action}", key_arn, keys)

    def key_tags(self, key_arn: str) -> Mapping[str, str]:
        """The tags the template gives the key `key_arn` (none for a key it does not define)."""
        return self._key_tags.get(key_arn, {})

    # -- requests, as an AWS call makes them
    def requests_of(self, service: str, operation: str, params: Mapping[str, Any]) -> list[Request]:
        """What IAM authorizes for one botocore call (`BaseClient._make_api_call`'s arguments)."""
        if service == "dynamodb":
            return self._dynamodb(operation, params)
        if service == "kms":
            return self._kms(operation, params)
        if service == "s3":
            return self._s3(operation, params)
        if service == "events":
            return self._events(operation, params)
        if service == "sts" and operation == "GetCallerIdentity":
            return []  # needs no permission
        raise PolicyError(f"{service}:{operation}: add it to infra/iam.py's requests_of")

    def _table(self, name: str) -> _TableSchema:
        schema = self._tables.get(name) or next(
            (t for t in self._tables.values() if t.arn == name), None
        )
        if schema is None:
            raise PolicyError(f"table {name} is not one of the template's")
        return schema

    def _leading(self, schema: _TableSchema, key: Mapping[str, Any], index: str | None) -> str:
        attribute = schema.partition_keys.get(index)
        if attribute is None or attribute not in key:
            raise PolicyError(f"no partition key {attribute} in {key}")
        return str(next(iter(key[attribute].values())))

    def _dynamodb(self, operation: str, params: Mapping[str, Any]) -> list[Request]:
        if operation in ("GetItem", "PutItem", "UpdateItem", "DeleteItem"):
            return [self._item(operation, params)]
        if operation == "TransactWriteItems":
            actions = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem"}
            actions["ConditionCheck"] = "ConditionCheckItem"
            return [
                self._item(actions[kind], body)
                for entry in params["TransactItems"]
                for kind, body in entry.items()
            ]
        if operation == "TransactGetItems":
            return [self._item("GetItem", entry["Get"]) for entry in params["TransactItems"]]
        if operation in ("BatchGetItem", "BatchWriteItem"):
            requests = []
            for name, batch in params["RequestItems"].items():
                schema = self._table(name)
                keys: list[Mapping[str, Any]] = (
                    batch["Keys"]
                    if operation == "BatchGetItem"
                    else [
                        (w.get("PutRequest") or {}).get("Item")
                        or (w.get("DeleteRequest") or {}).get("Key")
                        or {}
                        for w in batch
                    ]
                )
                leading = tuple(dict.fromkeys(self._leading(schema, k, None) for k in keys))
                requests.append(
                    Request(f"dynamodb:{operation}", schema.arn, {LEADING_KEYS: leading})
                )
            return requests
        if operation == "Query":
            schema = self._table(params["TableName"])
            index = params.get("IndexName")
            attribute = schema.partition_keys.get(index)
            names = params.get("ExpressionAttributeNames") or {}
            values = params.get("ExpressionAttributeValues") or {}
            partition = None
            for left, placeholder in re.findall(
                r"(#?[\w.]+)\s*=\s*(:\w+)", params["KeyConditionExpression"]
            ):
                if names.get(left, left) == attribute:
                    partition = str(next(iter(values[placeholder].values())))
            if partition is None:
                raise PolicyError(f"a query without its partition key: {params}")
            arn = f"{schema.arn}/index/{index}" if index else schema.arn
            return [Request("dynamodb:Query", arn, {LEADING_KEYS: (partition,)})]
        if operation in ("Scan", "DescribeTable"):
            index = params.get("IndexName")
            arn = self._table(params["TableName"]).arn
            return [Request(f"dynamodb:{operation}", f"{arn}/index/{index}" if index else arn)]
        raise PolicyError(f"dynamodb:{operation}: add it to infra/iam.py's requests_of")

    def _item(self, action: str, body: Mapping[str, Any]) -> Request:
        schema = self._table(body["TableName"])
        key = body.get("Key") or body.get("Item") or {}
        context: dict[str, tuple[str, ...]] = {LEADING_KEYS: (self._leading(schema, key, None),)}
        if action in ("PutItem", "UpdateItem", "DeleteItem"):
            context[ATTRIBUTES] = _attributes(body)
            context[RETURN_VALUES] = (str(body.get("ReturnValues", "NONE")),)
        return Request(f"dynamodb:{action}", schema.arn, context)

    def _key_arn(self, key_id: str) -> str:
        if key_id.startswith(f"{self._arn_prefix}:kms:"):
            return key_id
        if key_id.startswith("alias/"):
            raise PolicyError(f"{key_id}: name keys by ARN or id (IAM sees the key, not the alias)")
        return f"{self._arn_prefix}:kms:{self._region_account}:key/{key_id}"

    def _kms(self, operation: str, params: Mapping[str, Any]) -> list[Request]:
        macs = ("GenerateMac", "VerifyMac")
        if operation not in ("GenerateDataKey", "Decrypt", "Encrypt", "DescribeKey", *macs):
            raise PolicyError(f"kms:{operation}: add it to infra/iam.py's requests_of")
        if "KeyId" not in params:
            raise PolicyError(f"kms:{operation} without a KeyId: IAM could not tell the key")
        context = params.get("EncryptionContext") or {}
        request = self.key_request(operation, self._key_arn(params["KeyId"]), context)
        if operation in macs:
            algorithm = {MAC_ALGORITHM: (str(params["MacAlgorithm"]),)}
            request = replace(request, context={**request.context, **algorithm})
        return [request]

    def _s3(self, operation: str, params: Mapping[str, Any]) -> list[Request]:
        bucket = f"{self._arn_prefix}:s3:::{params['Bucket']}"
        objects = {"PutObject": "PutObject", "GetObject": "GetObject", "HeadObject": "GetObject"}
        if operation in objects:
            return [Request(f"s3:{objects[operation]}", f"{bucket}/{params['Key']}")]
        buckets = {"ListObjectVersions": "ListBucketVersions", "ListObjectsV2": "ListBucket"}
        if operation in buckets:
            return [Request(f"s3:{buckets[operation]}", bucket)]
        raise PolicyError(f"s3:{operation}: add it to infra/iam.py's requests_of")

    def _events(self, operation: str, params: Mapping[str, Any]) -> list[Request]:
        if operation != "PutEvents":
            raise PolicyError(f"events:{operation}: add it to infra/iam.py's requests_of")
        buses = dict.fromkeys(entry.get("EventBusName", "default") for entry in params["Entries"])
        prefix = f"{self._arn_prefix}:events:{self._region_account}:event-bus/"
        return [
            Request("events:PutEvents", bus if bus.startswith("arn:") else prefix + bus)
            for bus in buses
        ]


def _partition_keys(properties: Mapping[str, Any]) -> dict[str | None, str]:
    def hash_key(schema: Sequence[Mapping[str, Any]]) -> str:
        return next(str(k["AttributeName"]) for k in schema if k["KeyType"] == "HASH")

    keys: dict[str | None, str] = {None: hash_key(properties["KeySchema"])}
    for index in properties.get("GlobalSecondaryIndexes", []) + properties.get(
        "LocalSecondaryIndexes", []
    ):
        keys[str(index["IndexName"])] = hash_key(index["KeySchema"])
    return keys


# Words of DynamoDB's expression grammar that name no attribute.
_EXPRESSION_WORDS = frozenset(
    {"SET", "REMOVE", "ADD", "DELETE", "AND", "OR", "NOT", "BETWEEN", "IN"}
)
_ATTRIBUTE_PATH_START = re.compile(r"(?<![\w:#.\]])(#?[A-Za-z_]\w*)(?!\w)(?!\s*\()")


def _attributes(body: Mapping[str, Any]) -> tuple[str, ...]:
    """The top-level attribute names a write names: its key's (or item's), and those of its
    update and condition expressions (placeholders resolved), as `dynamodb:Attributes` holds
    them."""
    names: dict[str, None] = dict.fromkeys(body.get("Key") or body.get("Item") or {})
    placeholders = body.get("ExpressionAttributeNames") or {}
    for expression in (body.get("UpdateExpression"), body.get("ConditionExpression")):
        for word in _ATTRIBUTE_PATH_START.findall(expression or ""):
            if word.upper() in _EXPRESSION_WORDS:
                continue
            names[placeholders.get(word, word) if word.startswith("#") else word] = None
    return tuple(names)
