"""The SAM template loader: short tags, the real template's model, intrinsics, clear errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.template import (
    IntrinsicError,
    Intrinsics,
    PhysicalResource,
    PseudoParameters,
    Template,
    TemplateError,
    load_template,
    merge_globals,
    parse_yaml,
)
from railguard.http.security_txt import CONTACT_PATTERN, HTTPS_URI_PATTERN
from tests.support.public_routes import PUBLIC_ROUTES

ROOT = Path(__file__).resolve().parents[3]
TEMPLATE = ROOT / "template.yaml"
PSEUDO = PseudoParameters(region="us-east-1", account_id="123456789012", stack_name="stack")
TABLE = PhysicalResource("railguard-local-Table", {"Arn": "arn:aws:dynamodb:::table/t"})
DATA_KEY = PhysicalResource("key-1", {"Arn": "arn:aws:kms:us-east-1:123456789012:key/key-1"})
MAC_KEY = PhysicalResource("key-2", {"Arn": "arn:aws:kms:us-east-1:123456789012:key/key-2"})
AUDIT_TABLE = PhysicalResource("stack-audit", {"Arn": "arn:aws:dynamodb:::table/stack-audit"})
BUS = PhysicalResource(
    "railguard-dev", {"Arn": "arn:aws:events:us-east-1:123456789012:event-bus/b"}
)
ANCHORS = PhysicalResource("stack-anchors", {"Arn": "arn:aws:s3:::stack-anchors"})
# Every resource the functions refer to, as provisioning would report them.
PROVISIONED = {
    "Table": TABLE,
    "AuditTable": AUDIT_TABLE,
    "DataKey": DATA_KEY,
    "IdempotencyMacKey": MAC_KEY,
    "EventBus": BUS,
    "AuditAnchorBucket": ANCHORS,
}


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "template.yaml"
    path.write_text(text)
    return path


def _intrinsics(template: Template, **physical: PhysicalResource) -> Intrinsics:
    return Intrinsics(template, PSEUDO, physical)


@pytest.fixture(scope="module")
def template() -> Template:
    return load_template(TEMPLATE)


# ---------------------------------------------------------------- YAML short tags


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        ("!Ref Table", {"Ref": "Table"}),
        ("!GetAtt Table.Arn", {"Fn::GetAtt": ["Table", "Arn"]}),
        ("!GetAtt [Table, Arn]", {"Fn::GetAtt": ["Table", "Arn"]}),
        ("!Sub 'a-${Stage}'", {"Fn::Sub": "a-${Stage}"}),
        ("!Sub ['a-${X}', {X: !Ref Stage}]", {"Fn::Sub": ["a-${X}", {"X": {"Ref": "Stage"}}]}),
        ("!If [IsProd, 1, 2]", {"Fn::If": ["IsProd", 1, 2]}),
        ("!Equals [!Ref Stage, prod]", {"Fn::Equals": [{"Ref": "Stage"}, "prod"]}),
        ("!Join [',', [a, b]]", {"Fn::Join": [",", ["a", "b"]]}),
        ("!Select [0, !GetAZs '']", {"Fn::Select": [0, {"Fn::GetAZs": ""}]}),
        ("!Split [',', 'a,b']", {"Fn::Split": [",", "a,b"]}),
        ("!ImportValue Shared", {"Fn::ImportValue": "Shared"}),
        ("!FindInMap [M, K, V]", {"Fn::FindInMap": ["M", "K", "V"]}),
        ("!Not [!Condition C]", {"Fn::Not": [{"Condition": "C"}]}),
        (
            "!And [!Condition A, !Condition B]",
            {"Fn::And": [{"Condition": "A"}, {"Condition": "B"}]},
        ),
        ("!Or [!Condition A, !Condition B]", {"Fn::Or": [{"Condition": "A"}, {"Condition": "B"}]}),
        ("!Base64 hello", {"Fn::Base64": "hello"}),
        ("!Cidr [10.0.0.0/16, 2, 8]", {"Fn::Cidr": ["10.0.0.0/16", 2, 8]}),
    ],
)
def test_short_tags_become_their_long_forms(yaml_text: str, expected: dict[str, Any]) -> None:
    # Given a value written with a CloudFormation short tag
    # When it is parsed
    value = parse_yaml(f"value: {yaml_text}")["value"]
    # Then it is the long-form dict CloudFormation documents
    assert value == expected


def test_plain_yaml_loader_is_not_changed_by_the_cloudformation_tags() -> None:
    # Given PyYAML's own SafeLoader, used elsewhere in the same process
    # When a short tag is parsed with it
    # Then it still refuses the tag (the CloudFormation constructors live on a subclass only)
    with pytest.raises(yaml.constructor.ConstructorError):
        yaml.safe_load("value: !Ref Table")


# ---------------------------------------------------------------- the real template


def test_routes_come_from_the_function_events(template: Template) -> None:
    # Given the repository's template
    # When its routes are read
    routes = {route.key: route for route in template.routes}
    # Then each HttpApi event is a route owned by its function, public only with Authorizer: NONE
    assert routes["GET /api/v1/health"].function_id == "HealthFunction"
    assert routes["GET /api/v1/health"].authorizer is None
    assert routes["GET /api/v1/docs"].function_id == "DocsFunction"
    assert routes["GET /api/v1/openapi.json"].authorizer is None
    assert routes["GET /.well-known/security.txt"].function_id == "DocsFunction"
    assert routes["GET /.well-known/security.txt"].authorizer is None
    assert routes["GET /api/v1/me"].function_id == "MeFunction"
    assert routes["GET /api/v1/me"].authorizer == "RailguardAuthorizer"


def test_the_public_routes_are_exactly_the_contracts(template: Template) -> None:
    # Given the repository's template
    # When the routes without an authorizer are read
    public = {route.key for route in template.routes if route.authorizer is None}
    # Then they are the contract's public ones and CORS preflights, and nothing else
    assert public == PUBLIC_ROUTES


def test_a_prod_stack_refuses_the_placeholder_disclosure_channel() -> None:
    # Given the template as CloudFormation reads it
    document = parse_yaml(TEMPLATE.read_text())
    rule = document["Rules"]["ProdNamesItsDisclosureChannel"]
    # When its rule for prod stacks is read
    compared = [assertion["Assert"]["Fn::Not"][0]["Fn::Equals"] for assertion in rule["Assertions"]]
    refused = {parameter["Ref"]: value for parameter, value in compared}
    # Then a prod stack cannot keep the placeholder defaults security.txt would publish
    assert rule["RuleCondition"] == {"Fn::Equals": [{"Ref": "Stage"}, "prod"]}
    parameters = document["Parameters"]
    assert refused == {
        name: parameters[name]["Default"] for name in ("SecurityContact", "SecurityPolicyUrl")
    }


def test_the_disclosure_parameters_allow_what_the_docs_function_accepts() -> None:
    # Given the template's patterns for the security.txt parameters
    parameters = parse_yaml(TEMPLATE.read_text())["Parameters"]
    # Then CloudFormation checks at deployment what the function checks at its cold start
    assert parameters["SecurityContact"]["AllowedPattern"] == f"^{CONTACT_PATTERN}$"
    assert parameters["SecurityPolicyUrl"]["AllowedPattern"] == f"^{HTTPS_URI_PATTERN}$"
    assert parameters["SecurityTxtCanonicalUrl"]["AllowedPattern"] == f"^({HTTPS_URI_PATTERN})?$"


def test_authorizer_is_the_default_lambda_authorizer(template: Template) -> None:
    # Given the repository's template
    # When its authorizers are read
    authorizer = template.authorizers["RailguardAuthorizer"]
    # Then it names its function and the payload settings the gateway emulates
    assert authorizer.function_id == "AuthorizerFunction"
    assert authorizer.payload_format_version == "2.0"
    assert authorizer.simple_responses is True


def test_no_function_is_traced_while_no_code_traces(template: Template) -> None:
    # Given the functions, with the Globals they take
    tracing = {
        function.logical_id: merge_globals(template.function_globals, function.properties).get(
            "Tracing"
        )
        for function in template.resources_of_type("AWS::Serverless::Function")
    }
    # Then none turns X-Ray on (it would record only Lambda's segments, and grant X-Ray writes)
    assert set(tracing.values()) == {None}


def test_functions_have_globals_applied_and_environment_resolved(template: Template) -> None:
    # Given the template and the physical id of its table
    intrinsics = _intrinsics(template, **PROVISIONED)
    # When its functions are resolved
    functions = {f.logical_id: f for f in template.functions(intrinsics)}
    # Then Globals fill what a function does not say, and the function's own values win
    health, authorizer, me = (
        functions["HealthFunction"],
        functions["AuthorizerFunction"],
        functions["MeFunction"],
    )
    assert (health.timeout_seconds, health.memory_mb) == (10, 256)
    assert (authorizer.timeout_seconds, authorizer.memory_mb) == (5, 1024)
    assert (me.timeout_seconds, me.memory_mb) == (10, 1024)
    # And the environment is the Globals' variables and its own, every intrinsic resolved
    assert me.environment == {
        "KMS_KEY_ID": DATA_KEY.attributes["Arn"],
        "POWERTOOLS_SERVICE_NAME": "railguard",
        "POWERTOOLS_LOG_LEVEL": "INFO",
        "STAGE": "dev",
        "TABLE_NAME": "railguard-local-Table",
        "AUDIT_TABLE_NAME": "stack-audit",
        "RETENTION_DAYS": "30",
        "TOKEN_ISSUER": "urn:railguard:dev",
        "TOKEN_AUDIENCE": "urn:railguard:dev:api",
        "AWS_ENDPOINT_URL": "",  # AWS itself; sam local's env file points it at the emulator
    }
    # And another function's own variables are added to the Globals'
    assert functions["AuthFunction"].environment["KMS_KEY_ID"] == DATA_KEY.attributes["Arn"]
    assert functions["AuditFunction"].environment["ANCHOR_BUCKET_NAME"] == "stack-anchors"
    # And code and layer directories are the CodeUri and the layer's ContentUri
    assert me.code_dir == ROOT / "functions" / "me"
    assert me.layer_dirs == (ROOT / "layers" / "security",)
    assert me.handler == "app.lambda_handler"
    assert me.name == "stack-MeFunction"
    assert me.arn == "arn:aws:lambda:us-east-1:123456789012:function:stack-MeFunction"


def test_parameter_overrides_reach_the_environment() -> None:
    # Given the template loaded with Stage and LogLevel overridden
    template = load_template(TEMPLATE, {"Stage": "prod", "LogLevel": "DEBUG"})
    # When the functions are resolved
    function = template.functions(_intrinsics(template, **PROVISIONED))[0]
    # Then the overrides, not the defaults, are in the environment
    assert function.environment["STAGE"] == "prod"
    assert function.environment["POWERTOOLS_LOG_LEVEL"] == "DEBUG"


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [({"Stage": "qa"}, "not one of"), ({"Nope": "x"}, "no such parameter")],
)
def test_bad_parameter_overrides_are_refused(overrides: dict[str, str], reason: str) -> None:
    # Given an override outside AllowedValues, or of a parameter that does not exist
    # When the template is loaded
    with pytest.raises(TemplateError) as raised:
        load_template(TEMPLATE, overrides)
    # Then the error says why
    assert reason in raised.value.reason


def test_unprovisioned_reference_names_the_resource_and_property(template: Template) -> None:
    # Given no physical id for the table
    intrinsics = _intrinsics(template)
    # When the functions' environment is resolved
    with pytest.raises(IntrinsicError) as raised:
        template.functions(intrinsics)
    # Then the error names the function, the property and what is missing
    assert raised.value.resource == "AuthorizerFunction"
    assert raised.value.property_path == "Environment.Variables.TABLE_NAME"
    assert "Table (AWS::DynamoDB::Table)" in str(raised.value)


def test_provisionable_resources_are_found_by_type(template: Template) -> None:
    # Given the template
    # When resources are listed by type
    # Then the tables, the keys, the data key's alias and the event bus are there
    assert [r.logical_id for r in template.resources_of_type("AWS::DynamoDB::Table")] == [
        "Table",
        "AuditTable",
    ]
    assert [r.logical_id for r in template.resources_of_type("AWS::KMS::Key")] == [
        "DataKey",
        "IdempotencyMacKey",
    ]
    assert [r.logical_id for r in template.resources_of_type("AWS::KMS::Alias")] == ["DataKeyAlias"]
    assert [r.logical_id for r in template.resources_of_type("AWS::Events::EventBus")] == [
        "EventBus"
    ]
    assert [r.logical_id for r in template.resources_of_type("AWS::S3::Bucket")] == [
        "DashboardBucket",
        "AuditAnchorBucket",
    ]


# ---------------------------------------------------------------- intrinsic functions

_INTRINSICS_TEMPLATE = """
Parameters:
  Stage: {Type: String, Default: dev}
Resources:
  Table: {Type: AWS::DynamoDB::Table}
  Imported: {Type: AWS::SQS::Queue}
"""


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"Fn::Sub": "t-${Stage}-${AWS::Region}"}, "t-dev-us-east-1"),
        ({"Fn::Sub": ["${A}/${Table}", {"A": {"Ref": "AWS::AccountId"}}]}, "123456789012/tbl"),
        ({"Fn::Sub": "${Table.Arn}|${!Literal}"}, "arn:tbl|${Literal}"),
        ({"Fn::GetAtt": ["Table", "Arn"]}, "arn:tbl"),
        ({"Fn::GetAtt": "Table.Arn"}, "arn:tbl"),
        ({"Ref": "AWS::Partition"}, "aws"),
        ({"Ref": "AWS::URLSuffix"}, "amazonaws.com"),
        ({"A": 1, "B": {"Ref": "AWS::NoValue"}, "C": [{"Ref": "Stage"}]}, {"A": 1, "C": ["dev"]}),
    ],
)
def test_intrinsics_resolve(tmp_path: Path, value: Any, expected: Any) -> None:
    # Given a template with a parameter and a provisioned table
    template = load_template(_write(tmp_path, _INTRINSICS_TEMPLATE))
    intrinsics = _intrinsics(template, Table=PhysicalResource("tbl", {"Arn": "arn:tbl"}))
    # When the value is resolved
    # Then it is what CloudFormation would make of it
    assert intrinsics.resolve(value, "Fn", "Prop") == expected


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ({"Ref": "Missing"}, "does not define"),
        ({"Ref": "Imported"}, "not provisioned locally"),
        ({"Fn::GetAtt": ["Table", "StreamArn"]}, "not known locally"),
        # What template.yaml does not use where the local stack resolves, refused by name
        # rather than read as a plain mapping.
        ({"Fn::If": ["IsProd", 1, 2]}, "Fn::If is not supported locally"),
        ({"Fn::Join": ["-", ["a", "b"]]}, "Fn::Join is not supported locally"),
        ({"Fn::ImportValue": "Shared"}, "Fn::ImportValue is not supported locally"),
        ({"Fn::FindInMap": ["A", "b", "c"]}, "Fn::FindInMap is not supported locally"),
    ],
)
def test_unresolvable_intrinsics_are_errors(tmp_path: Path, value: Any, reason: str) -> None:
    # Given a value that cannot be resolved locally
    template = load_template(_write(tmp_path, _INTRINSICS_TEMPLATE))
    intrinsics = _intrinsics(template, Table=PhysicalResource("tbl", {"Arn": "arn:tbl"}))
    # When it is resolved
    with pytest.raises(IntrinsicError) as raised:
        intrinsics.resolve({"Nested": value}, "SomeFunction", "Environment")
    # Then the error names the resource, the property path and the reason
    assert raised.value.resource == "SomeFunction"
    assert raised.value.property_path == "Environment.Nested"
    assert reason in str(raised.value)


# ---------------------------------------------------------------- templates that cannot be served


def test_missing_template_is_a_clear_error(tmp_path: Path) -> None:
    # Given a path with no template
    path = tmp_path / "nope.yaml"
    # When it is loaded
    with pytest.raises(TemplateError) as raised:
        load_template(path)
    # Then the error names the path and says it is missing
    assert raised.value.path == path
    assert "not found" in str(raised.value)
    assert str(path) in str(raised.value)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Resources: [unclosed", "not valid YAML"),
        ("Resources: !NoSuchTag x", "not valid YAML"),
        ("Description: nothing else", "no Resources"),
        ("Resources: {Thing: {Properties: {}}}", "has no Type"),
    ],
)
def test_unparsable_template_is_a_clear_error(tmp_path: Path, text: str, reason: str) -> None:
    # Given a file that is not a usable template
    path = _write(tmp_path, text)
    # When it is loaded
    with pytest.raises(TemplateError) as raised:
        load_template(path)
    # Then the error names the file and the reason
    assert raised.value.path == path
    assert reason in raised.value.reason


def test_authorizer_the_gateway_cannot_emulate_is_refused(tmp_path: Path) -> None:
    # Given an HTTP API whose Lambda authorizer returns IAM policies (no simple responses)
    text = TEMPLATE.read_text().replace(
        "EnableSimpleResponses: true", "EnableSimpleResponses: false"
    )
    path = tmp_path / "template.yaml"
    path.write_text(text)
    # When it is loaded
    with pytest.raises(TemplateError) as raised:
        load_template(path)
    # Then the error says what the local stack emulates
    assert "EnableSimpleResponses" in raised.value.reason


def test_function_whose_code_directory_is_missing_is_refused(tmp_path: Path) -> None:
    # Given a function whose CodeUri does not exist next to the template
    path = _write(
        tmp_path,
        "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n"
        "    Properties: {CodeUri: missing/, Handler: app.handler, Runtime: python3.13}\n",
    )
    template = load_template(path)
    # When the functions are resolved
    with pytest.raises(TemplateError) as raised:
        template.functions(_intrinsics(template))
    # Then the error names the function's CodeUri
    assert "Fn.CodeUri" in raised.value.reason
