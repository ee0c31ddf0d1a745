"""What must hold of the template as CloudFormation will create it, where a mistake would be a
security hole. Each check reads one expansion (`infra.rehearsal`) and returns its findings, one
sentence each naming the resource: the tests require none for every stage, and the one-change
copies of test_mutants.py must each be refused by one of them (or by the transform or cfn-lint).

Everything is derived from the template and its local reading (`infra.template`, what `make dev`
serves), never from a list of functions, so a new route or function is checked as it comes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from infra.iam import stand_in_resources
from infra.rehearsal import Expansion
from infra.template import PseudoParameters, Template, TemplateError, environment_value
from tests.support.public_routes import PUBLIC_ROUTES

Findings = Iterator[str]

# The role SAM gives every function also gets this AWS managed policy: its own log group's
# CreateLogGroup, CreateLogStream and PutLogEvents (AWS writes it with `*` resources).
LOGGING_POLICY = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"


@dataclass(frozen=True)
class Wildcard:
    """A `*` in a role's resource that the template's comments explain, for these actions only,
    and the StringEquals condition key that must narrow it, if any."""

    actions: frozenset[str]
    resource: str  # as the template writes it (a Fn::Sub text)
    condition: str | None
    why: str


WILDCARDS = (
    Wildcard(
        frozenset({"s3:PutObject"}),
        "${AuditAnchorBucket.Arn}/*",
        None,
        "the anchor job adds anchors, objects of the stack's own anchor bucket",
    ),
    Wildcard(
        frozenset({"kms:Decrypt"}),
        "arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:key/*",
        "aws:ResourceTag/railguard:data-key-of",
        "the rotation job opens what an earlier key of this stack sealed: only keys tagged as"
        " this stack's data keys (test_iam.py's `earlier_keys`)",
    ),
)
# A table keeps these true in every stage.
TABLE_SETTINGS = (
    ("SSESpecification", "SSEEnabled"),
    ("PointInTimeRecoverySpecification", "PointInTimeRecoveryEnabled"),
    ("DeletionProtectionEnabled",),
)
_PUBLIC = "NONE"  # SAM's name for `Authorizer: NONE` in the routes' OpenAPI `security`
_ANY_METHOD = "x-amazon-apigateway-any-method"


def of_type(expansion: Expansion, resource_type: str) -> dict[str, Mapping[str, Any]]:
    return {
        name: body for name, body in expansion.resources.items() if body["Type"] == resource_type
    }


def _properties(body: Mapping[str, Any]) -> Mapping[str, Any]:
    properties: Mapping[str, Any] = body.get("Properties", {})
    return properties


# ---------------------------------------------------------------- routes


def expanded_routes(expansion: Expansion) -> dict[str, tuple[str | None, Any]]:
    """Each route key of the HTTP APIs' OpenAPI bodies: its function's logical id (from the
    integration) and its `security`."""
    routes: dict[str, tuple[str | None, Any]] = {}
    for api in of_type(expansion, "AWS::ApiGatewayV2::Api").values():
        for path, methods in _properties(api).get("Body", {}).get("paths", {}).items():
            for method, operation in methods.items():
                verb = "ANY" if method == _ANY_METHOD else method.upper()
                uri = operation.get("x-amazon-apigateway-integration", {}).get("uri", {})
                function = _function_in(uri.get("Fn::Sub", ""))
                routes[f"{verb} {path}"] = (function, operation.get("security"))
    return routes


def _function_in(invocation_uri: str) -> str | None:
    """`FnName` in `...functions/${FnName.Arn}/invocations`."""
    start, end = invocation_uri.find("functions/${"), invocation_uri.find(".Arn}/invocations")
    return invocation_uri[start + len("functions/${") : end] if -1 not in (start, end) else None


def authorizer_functions(expansion: Expansion) -> dict[str, str | None]:
    """Each Lambda (request) authorizer of the HTTP APIs, by name: the function it invokes."""
    found: dict[str, str | None] = {}
    for api in of_type(expansion, "AWS::ApiGatewayV2::Api").values():
        schemes = _properties(api).get("Body", {}).get("components", {}).get("securitySchemes", {})
        for name, scheme in schemes.items():
            authorizer = scheme.get("x-amazon-apigateway-authorizer", {})
            if authorizer.get("type") != "request":
                continue
            uri = authorizer.get("authorizerUri", {}).get("Fn::Sub")
            arn = uri[1].get("__FunctionArn__", {}) if isinstance(uri, list) else {}
            get_att = arn.get("Fn::GetAtt", [None])
            found[name] = get_att[0]
    return found


def routes_are_guarded(expansion: Expansion, template: Template) -> Findings:
    """Every route but the contract's public ones runs the template's Lambda authorizer first;
    the public ones, and only they, run none."""
    authorizers = authorizer_functions(expansion)
    for name, local in template.authorizers.items():
        if authorizers.get(name) != local.function_id:
            yield (
                f"HttpApi: authorizer {name} invokes {authorizers.get(name)}, not"
                f" {local.function_id}"
            )
    routes = expanded_routes(expansion)
    for key, (function, security) in sorted(routes.items()):
        if key in PUBLIC_ROUTES:
            if security != [{_PUBLIC: []}]:
                yield f"HttpApi: {key} ({function}) is public in the contract, not {security}"
        elif (
            not isinstance(security, list)
            or len(security) != 1
            or set(security[0]) - set(authorizers)
            or len(security[0]) != 1
        ):
            yield (
                f"HttpApi: {key} ({function}) must run the Lambda authorizer first, but its"
                f" security is {security}"
            )
    for key in sorted(PUBLIC_ROUTES - set(routes)):
        yield f"HttpApi: the contract's public route {key} is missing"


# ---------------------------------------------------------------- roles


def roles_are_narrow(expansion: Expansion) -> Findings:
    """Every function has a role of its own, assumed by Lambda alone, with the logging policy and
    inline statements that allow no `*` action or resource the template does not explain."""
    roles = of_type(expansion, "AWS::IAM::Role")
    holders: dict[str, str] = {}
    for name, function in sorted(of_type(expansion, "AWS::Lambda::Function").items()):
        role = _properties(function).get("Role", {})
        role_id = role.get("Fn::GetAtt", [None])[0] if isinstance(role, dict) else None
        if role_id not in roles:
            yield f"{name}: its Role {role} is not a role of this stack"
        elif role_id in holders:
            yield f"{name}: shares the role {role_id} with {holders[role_id]}"
        else:
            holders[role_id] = name
    for name, role in sorted(roles.items()):
        yield from _role_findings(name, _properties(role))


def _role_findings(name: str, role: Mapping[str, Any]) -> Findings:
    principals = [
        statement.get("Principal")
        for statement in role.get("AssumeRolePolicyDocument", {}).get("Statement", [])
    ]
    if principals != [{"Service": ["lambda.amazonaws.com"]}]:
        yield f"{name}: assumed by {principals}, not by Lambda alone"
    managed = role.get("ManagedPolicyArns", [])
    if managed != [LOGGING_POLICY]:
        yield f"{name}: managed policies {managed}, not {LOGGING_POLICY} alone"
    for policy in role.get("Policies", []):
        statements = policy.get("PolicyDocument", {}).get("Statement", [])
        for statement in statements if isinstance(statements, list) else [statements]:
            if statement.get("Effect") == "Allow":
                yield from _statement_findings(name, statement)


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _statement_findings(role: str, statement: Mapping[str, Any]) -> Findings:
    actions = [str(action) for action in _listed(statement.get("Action", []))]
    for action in actions:
        if "*" in action:
            yield f"{role}: allows the action {action!r}"
    if "NotAction" in statement or "NotResource" in statement:
        yield f"{role}: allows through NotAction or NotResource"
    for resource in _listed(statement.get("Resource", [])):
        text = resource.get("Fn::Sub", "") if isinstance(resource, dict) else str(resource)
        if "*" not in str(text):
            continue
        conditions = statement.get("Condition", {}).get("StringEquals", {})
        explained = any(
            set(actions) <= wildcard.actions
            and text == wildcard.resource
            and (wildcard.condition is None or wildcard.condition in conditions)
            for wildcard in WILDCARDS
        )
        if not explained:
            yield f"{role}: allows {actions} on the resource {text!r}"


# ---------------------------------------------------------------- tables


def tables_are_protected(expansion: Expansion, template: Template) -> Findings:
    """Every table is encrypted, keeps point-in-time recovery and refuses deletion, in the stage
    `template` was read for (its parameters)."""
    parameters = {name: p.value for name, p in template.parameters.items()}
    conditions = (expansion.template or {}).get("Conditions", {})
    for name, table in sorted(of_type(expansion, "AWS::DynamoDB::Table").items()):
        for setting in TABLE_SETTINGS:
            value: Any = _properties(table)
            for key in setting:
                value = value.get(key) if isinstance(value, dict) else None
            where = f"{name}.{'.'.join(setting)}"
            try:
                holds = _evaluated(value, parameters, conditions) is True
            except ValueError as exc:
                yield f"{where}: {exc}"
                continue
            if not holds:
                stage = parameters.get("Stage")
                yield f"{where} is {value!r}, which is not true in stage {stage}"


def _evaluated(value: Any, parameters: Mapping[str, Any], conditions: Mapping[str, Any]) -> Any:
    """`value` for these parameters, through the condition functions a setting may use."""

    def evaluated(item: Any) -> Any:
        return _evaluated(item, parameters, conditions)

    if not isinstance(value, dict):
        return {"true": True, "false": False}.get(value, value) if isinstance(value, str) else value
    functions: dict[str, Callable[[Any], Any]] = {
        "Ref": lambda name: parameters[name],
        "Condition": lambda name: evaluated(conditions[name]),
        "Fn::Equals": lambda pair: str(evaluated(pair[0])) == str(evaluated(pair[1])),
        "Fn::Not": lambda items: not evaluated(items[0]),
        "Fn::And": lambda items: all(evaluated(item) for item in items),
        "Fn::Or": lambda items: any(evaluated(item) for item in items),
        "Fn::If": lambda args: evaluated(args[1] if evaluated(conditions[args[0]]) else args[2]),
    }
    ((name, argument),) = value.items() if len(value) == 1 else ((None, None),)
    if name not in functions:
        raise ValueError(f"{value!r} cannot be evaluated before deployment: write true")
    try:
        return functions[name](argument)
    except (KeyError, IndexError, TypeError) as exc:
        raise ValueError(f"{value!r} cannot be evaluated ({exc!r})") from exc


# ---------------------------------------------------------------- what the local stack reads


def local_stack_agrees(expansion: Expansion, template: Template) -> Findings:
    """The routes and the functions' settings `make dev` serves from the template are those the
    expansion deploys: the same routes to the same functions behind the same authorizer, and the
    same environment, timeout and memory, every value resolved alike for the stage."""
    authorizers = authorizer_functions(expansion)
    deployed = {
        key: (function, None if security == [{_PUBLIC: []}] else _only(security, authorizers))
        for key, (function, security) in expanded_routes(expansion).items()
    }
    local = {route.key: (route.function_id, route.authorizer) for route in template.routes}
    for key in sorted(set(deployed) | set(local)):
        if deployed.get(key) != local.get(key):
            yield (
                f"HttpApi: {key} deploys as {deployed.get(key)} (function, authorizer), the local"
                f" stack serves {local.get(key)}"
            )
    pseudo = PseudoParameters("us-east-1", "123456789012", "railguard-rehearsal")
    intrinsics = stand_in_resources(template, pseudo)
    try:
        served = template.functions(intrinsics)
    except TemplateError as exc:
        yield f"the local stack cannot read the template: {exc}"
        return
    functions = of_type(expansion, "AWS::Lambda::Function")
    for function in served:
        body = functions.get(function.logical_id)
        if body is None:
            yield f"{function.logical_id}: served locally, not deployed"
            continue
        properties = _properties(body)
        variables = properties.get("Environment", {}).get("Variables", {})
        resolved = intrinsics.resolve(variables, function.logical_id, "Environment.Variables")
        environment = {name: environment_value(value) for name, value in (resolved or {}).items()}
        settings = (environment, properties.get("Timeout"), properties.get("MemorySize"))
        local_settings = (dict(function.environment), function.timeout_seconds, function.memory_mb)
        if settings != local_settings:
            yield (
                f"{function.logical_id}: deploys environment, timeout, memory {settings}, the"
                f" local stack serves {local_settings}"
            )


def _only(security: Any, authorizers: Mapping[str, str | None]) -> str | None:
    names = [name for requirement in _listed(security or []) for name in requirement]
    return names[0] if len(names) == 1 and names[0] in authorizers else f"{security}"


CHECKS: dict[str, Callable[[Expansion, Template], Findings]] = {
    "routes are guarded": routes_are_guarded,
    "roles are narrow": lambda expansion, _template: roles_are_narrow(expansion),
    "tables are protected": tables_are_protected,
    "the local stack agrees": local_stack_agrees,
}


def findings(expansion: Expansion, template: Template) -> list[str]:
    """Every check's findings on `expansion` of `template`, each led by the check's name."""
    return [
        f"[{name}] {finding}"
        for name, check in CHECKS.items()
        for finding in check(expansion, template)
    ]
