"""Read a SAM template into the small typed model that the local stack serves from.

Loading is static (routes, authorizers, parameters). What depends on deployed resources (table
names, key ids, ARNs) is resolved later through `Intrinsics`, once the emulator has reported the
physical ids of the resources it provisioned.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

SERVERLESS_FUNCTION = "AWS::Serverless::Function"
SERVERLESS_LAYER = "AWS::Serverless::LayerVersion"
SERVERLESS_HTTP_API = "AWS::Serverless::HttpApi"

# Lambda's defaults when neither the function nor Globals say.
_DEFAULT_TIMEOUT_SECONDS = 3
_DEFAULT_MEMORY_MB = 128


class TemplateError(Exception):
    """The template cannot be served: missing, unreadable, not parsable, or not emulatable."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class IntrinsicError(TemplateError):
    """An intrinsic function that cannot be resolved locally, with where it was found."""

    def __init__(self, path: Path, resource: str, property_path: str, reason: str) -> None:
        super().__init__(path, f"{resource}.{property_path}: {reason}")
        self.resource = resource
        self.property_path = property_path


# ---------------------------------------------------------------- YAML with CloudFormation tags


class _CloudFormationLoader(yaml.SafeLoader):
    """SafeLoader that reads the short tags (`!Ref X`) as their long forms (`{"Ref": "X"}`)."""


def _construct_any(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    raise yaml.constructor.ConstructorError(
        None, None, f"unexpected node {node.tag}", node.start_mark
    )


def _long_form(key: str) -> Callable[[yaml.SafeLoader, yaml.Node], dict[str, Any]]:
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        return {key: _construct_any(loader, node)}

    return construct


def _construct_get_att(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
    value = _construct_any(loader, node)
    if isinstance(value, str):
        value = value.split(".", 1)  # the short form is "Resource.Attribute"
    return {"Fn::GetAtt": value}


_CloudFormationLoader.add_constructor("!Ref", _long_form("Ref"))
_CloudFormationLoader.add_constructor("!Condition", _long_form("Condition"))
_CloudFormationLoader.add_constructor("!GetAtt", _construct_get_att)
for _name in (
    "Sub", "If", "Equals", "Join", "Select", "Split", "GetAZs", "ImportValue", "FindInMap",
    "Not", "And", "Or", "Base64", "Cidr",
):  # fmt: skip
    _CloudFormationLoader.add_constructor(f"!{_name}", _long_form(f"Fn::{_name}"))


def parse_yaml(text: str) -> Any:
    """Parse CloudFormation YAML safely (no arbitrary Python objects)."""
    loader = _CloudFormationLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


# ---------------------------------------------------------------- the model


@dataclass(frozen=True)
class Parameter:
    name: str
    value: str | None  # the override, else the Default, else None (referencing it is an error)
    allowed_values: tuple[str, ...] = ()


@dataclass(frozen=True)
class Resource:
    logical_id: str
    type: str
    properties: Mapping[str, Any]  # as written: intrinsics not resolved
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Route:
    method: str  # upper case; "ANY" matches every method
    path: str  # API Gateway syntax: /items/{id}, /files/{proxy+}
    function_id: str
    authorizer: str | None  # the authorizer's name, None for `Authorizer: NONE`

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"


@dataclass(frozen=True)
class Authorizer:
    name: str
    function_id: str
    payload_format_version: str
    simple_responses: bool


@dataclass(frozen=True)
class Function:
    logical_id: str
    name: str
    arn: str
    code_dir: Path
    handler: str
    layer_dirs: tuple[Path, ...]
    timeout_seconds: int
    memory_mb: int
    environment: Mapping[str, str]


@dataclass(frozen=True)
class PseudoParameters:
    region: str
    account_id: str
    stack_name: str
    partition: str = "aws"
    url_suffix: str = "amazonaws.com"

    def as_refs(self) -> dict[str, str]:
        return {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account_id,
            "AWS::StackName": self.stack_name,
            "AWS::Partition": self.partition,
            "AWS::URLSuffix": self.url_suffix,
        }


@dataclass(frozen=True)
class PhysicalResource:
    """What a provisioned resource answers to `Ref` and `Fn::GetAtt`."""

    ref: str
    attributes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Template:
    path: Path
    parameters: Mapping[str, Parameter]
    resources: Mapping[str, Resource]
    function_globals: Mapping[str, Any]
    routes: tuple[Route, ...]
    authorizers: Mapping[str, Authorizer]

    @property
    def base_dir(self) -> Path:
        return self.path.resolve().parent

    def resources_of_type(self, resource_type: str) -> tuple[Resource, ...]:
        return tuple(r for r in self.resources.values() if r.type == resource_type)

    def functions(self, intrinsics: Intrinsics) -> tuple[Function, ...]:
        """Every function with Globals applied and its environment resolved."""
        return tuple(
            self._function(resource, intrinsics)
            for resource in self.resources_of_type(SERVERLESS_FUNCTION)
        )

    def _function(self, resource: Resource, intrinsics: Intrinsics) -> Function:
        properties = merge_globals(self.function_globals, resource.properties)
        logical_id = resource.logical_id

        def resolved(name: str, default: Any = None) -> Any:
            return intrinsics.resolve(properties.get(name, default), logical_id, name)

        runtime = resolved("Runtime")
        if not (isinstance(runtime, str) and runtime.startswith("python")):
            raise TemplateError(self.path, f"{logical_id}: runtime {runtime!r} cannot run locally")
        code_uri, handler = resolved("CodeUri"), resolved("Handler")
        if not isinstance(code_uri, str) or not isinstance(handler, str):
            raise TemplateError(self.path, f"{logical_id}: CodeUri and Handler must be strings")
        code_dir = self._local_dir(logical_id, "CodeUri", code_uri)
        variables = properties.get("Environment", {}).get("Variables", {})
        resolved_variables = {
            name: intrinsics.resolve(value, logical_id, f"Environment.Variables.{name}")
            for name, value in variables.items()
        }
        environment = {  # a variable that resolved to AWS::NoValue is not set at all
            name: environment_value(value)
            for name, value in resolved_variables.items()
            if value is not None
        }
        pseudo = intrinsics.pseudo
        name = resolved("FunctionName") or f"{pseudo.stack_name}-{logical_id}"
        return Function(
            logical_id=logical_id,
            name=name,
            arn=f"arn:{pseudo.partition}:lambda:{pseudo.region}:{pseudo.account_id}:function:{name}",
            code_dir=code_dir,
            handler=handler,
            layer_dirs=tuple(
                self._layer_dir(logical_id, layer) for layer in properties.get("Layers", [])
            ),
            timeout_seconds=int(resolved("Timeout", _DEFAULT_TIMEOUT_SECONDS)),
            memory_mb=int(resolved("MemorySize", _DEFAULT_MEMORY_MB)),
            environment=environment,
        )

    def _layer_dir(self, function_id: str, layer: Any) -> Path:
        target = self.resources.get(layer.get("Ref", "")) if isinstance(layer, dict) else None
        content_uri = target.properties.get("ContentUri") if target else None
        if target is None or target.type != SERVERLESS_LAYER or not isinstance(content_uri, str):
            raise IntrinsicError(
                self.path,
                function_id,
                "Layers",
                f"{layer!r}: only a Ref to an {SERVERLESS_LAYER} with a local ContentUri can run",
            )
        return self._local_dir(target.logical_id, "ContentUri", content_uri)

    def _local_dir(self, logical_id: str, property_name: str, relative: str) -> Path:
        directory = self.base_dir / relative
        if not directory.is_dir():
            raise TemplateError(
                self.path, f"{logical_id}.{property_name}: no directory {directory}"
            )
        return directory


def environment_value(value: Any) -> str:
    # CloudFormation passes every environment value as a string; YAML may have typed it.
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def merge_globals(globals_section: Mapping[str, Any], own: Mapping[str, Any]) -> dict[str, Any]:
    """SAM's Globals rule: maps merge (the resource wins), lists add up, scalars are replaced."""
    merged = dict(globals_section)
    for key, value in own.items():
        inherited = merged.get(key)
        if isinstance(inherited, dict) and isinstance(value, dict):
            merged[key] = merge_globals(inherited, value)
        elif isinstance(inherited, list) and isinstance(value, list):
            merged[key] = inherited + value
        else:
            merged[key] = value
    return merged


# ---------------------------------------------------------------- loading


def load_template(path: Path, parameter_overrides: Mapping[str, str] | None = None) -> Template:
    """Read, parse and check a SAM template; raise `TemplateError` naming the path and the cause."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise TemplateError(path, "template not found") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise TemplateError(path, f"cannot read template: {exc}") from exc
    try:
        document = parse_yaml(text)
    except yaml.YAMLError as exc:
        raise TemplateError(path, f"not valid YAML: {exc}") from exc
    return read_template(path, document, parameter_overrides)


def read_template(
    path: Path, document: Any, parameter_overrides: Mapping[str, str] | None = None
) -> Template:
    """`load_template` of a parsed `document`; `path` places its code (CodeUri, ContentUri)."""
    if not isinstance(document, dict) or not isinstance(document.get("Resources"), dict):
        raise TemplateError(path, "not a template: no Resources mapping")

    resources = {
        logical_id: _resource(path, logical_id, body)
        for logical_id, body in document["Resources"].items()
    }
    globals_section = document.get("Globals") or {}
    api_id, api_properties = _http_api(path, resources, globals_section.get("HttpApi") or {})
    authorizers = _authorizers(path, resources, api_properties)
    return Template(
        path=path,
        parameters=_parameters(path, document.get("Parameters") or {}, parameter_overrides or {}),
        resources=resources,
        function_globals=globals_section.get("Function") or {},
        routes=_routes(path, resources, api_id, api_properties, authorizers),
        authorizers=authorizers,
    )


def _resource(path: Path, logical_id: str, body: Any) -> Resource:
    if not isinstance(body, dict) or not isinstance(body.get("Type"), str):
        raise TemplateError(path, f"resource {logical_id} has no Type")
    properties = body.get("Properties") or {}
    if not isinstance(properties, dict):
        raise TemplateError(path, f"resource {logical_id}: Properties is not a mapping")
    metadata = body.get("Metadata") or {}
    if not isinstance(metadata, dict):
        raise TemplateError(path, f"resource {logical_id}: Metadata is not a mapping")
    return Resource(logical_id, body["Type"], properties, metadata)


def _parameters(
    path: Path, section: Mapping[str, Any], overrides: Mapping[str, str]
) -> dict[str, Parameter]:
    unknown = sorted(set(overrides) - set(section))
    if unknown:
        raise TemplateError(path, f"no such parameter: {', '.join(unknown)}")
    parameters = {}
    for name, spec in section.items():
        allowed = tuple(str(v) for v in spec.get("AllowedValues", ()))
        value = overrides.get(name, spec.get("Default"))
        value = None if value is None else str(value)
        if value is not None and allowed and value not in allowed:
            raise TemplateError(path, f"parameter {name}={value!r} is not one of {list(allowed)}")
        parameters[name] = Parameter(name, value, allowed)
    return parameters


def _http_api(
    path: Path, resources: Mapping[str, Resource], api_globals: Mapping[str, Any]
) -> tuple[str | None, dict[str, Any]]:
    """The one HTTP API served (explicit, or SAM's implicit one) and its settings."""
    apis = [r for r in resources.values() if r.type == SERVERLESS_HTTP_API]
    if len(apis) > 1:
        raise TemplateError(path, "the local stack serves one AWS::Serverless::HttpApi, found many")
    own = apis[0].properties if apis else {}
    return (apis[0].logical_id if apis else None), merge_globals(api_globals, own)


def _authorizers(
    path: Path, resources: Mapping[str, Resource], api_properties: Mapping[str, Any]
) -> dict[str, Authorizer]:
    authorizers = {}
    for name, spec in (api_properties.get("Auth", {}).get("Authorizers") or {}).items():
        target = _function_target(spec.get("FunctionArn"))
        target_resource = resources.get(target) if target else None
        if target is None or target_resource is None or target_resource.type != SERVERLESS_FUNCTION:
            raise TemplateError(
                path, f"authorizer {name}: FunctionArn must name a function of this template"
            )
        authorizer = Authorizer(
            name=name,
            function_id=target,
            payload_format_version=str(spec.get("AuthorizerPayloadFormatVersion", "")),
            simple_responses=spec.get("EnableSimpleResponses", False) is True,
        )
        if authorizer.payload_format_version != "2.0" or not authorizer.simple_responses:
            raise TemplateError(
                path,
                f"authorizer {name}: the local stack emulates payload format 2.0 with"
                " EnableSimpleResponses only",
            )
        authorizers[name] = authorizer
    return authorizers


def _function_target(function_arn: Any) -> str | None:
    """The logical id in `!GetAtt Fn.Arn` or `!Ref Fn`, the two ways to name a local function."""
    if not isinstance(function_arn, dict):
        return None
    get_att = function_arn.get("Fn::GetAtt")
    if isinstance(get_att, list) and len(get_att) == 2 and get_att[1] == "Arn":
        return str(get_att[0])
    ref = function_arn.get("Ref")
    return ref if isinstance(ref, str) else None


def _routes(
    path: Path,
    resources: Mapping[str, Resource],
    api_id: str | None,
    api_properties: Mapping[str, Any],
    authorizers: Mapping[str, Authorizer],
) -> tuple[Route, ...]:
    default_authorizer = api_properties.get("Auth", {}).get("DefaultAuthorizer")
    routes: dict[str, Route] = {}
    for resource in resources.values():
        if resource.type != SERVERLESS_FUNCTION:
            continue
        for event_name, event in (resource.properties.get("Events") or {}).items():
            if event.get("Type") != "HttpApi":
                continue
            where = f"{resource.logical_id}.Events.{event_name}"
            spec = event.get("Properties") or {}
            if spec.get("ApiId", {"Ref": api_id}) != {"Ref": api_id}:
                raise TemplateError(path, f"{where}: ApiId must be a Ref to the template's HttpApi")
            if "Path" not in spec:
                raise TemplateError(path, f"{where}: a route without Path ($default) is not served")
            method = str(spec.get("Method", "ANY")).upper()
            if method == "X-AMAZON-APIGATEWAY-ANY-METHOD":
                method = "ANY"
            authorizer = spec.get("Auth", {}).get("Authorizer", default_authorizer)
            authorizer = None if authorizer == "NONE" else authorizer
            if authorizer is not None and authorizer not in authorizers:
                raise TemplateError(path, f"{where}: no Lambda authorizer named {authorizer}")
            route = Route(method, str(spec["Path"]), resource.logical_id, authorizer)
            if route.key in routes:
                raise TemplateError(path, f"{where}: route {route.key} is defined twice")
            routes[route.key] = route
    return tuple(routes.values())


# ---------------------------------------------------------------- intrinsic functions

_NO_VALUE = object()  # what `Ref: AWS::NoValue` resolves to: the enclosing property disappears
_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")


@dataclass(frozen=True)
class Intrinsics:
    """Resolves intrinsic functions against parameters, pseudo parameters and physical ids."""

    template: Template
    pseudo: PseudoParameters
    physical: Mapping[str, PhysicalResource] = field(default_factory=dict)

    def with_resource(self, logical_id: str, physical: PhysicalResource) -> Intrinsics:
        return replace(self, physical={**self.physical, logical_id: physical})

    def resolve(self, value: Any, resource: str, property_path: str) -> Any:
        """`value` with every intrinsic replaced; `IntrinsicError` names resource and property."""
        resolved = _Resolution(self, resource).value(value, property_path)
        return None if resolved is _NO_VALUE else resolved

    def resolve_properties(self, resource: Resource) -> dict[str, Any]:
        resolution = _Resolution(self, resource.logical_id)
        resolved = {k: resolution.value(v, k) for k, v in resource.properties.items()}
        return {k: v for k, v in resolved.items() if v is not _NO_VALUE}


class _Resolution:
    """One resolution pass over one resource's values; knows where it is for error messages."""

    def __init__(self, intrinsics: Intrinsics, resource: str) -> None:
        self._intrinsics = intrinsics
        self._template = intrinsics.template
        self._resource = resource
        # What template.yaml uses where the local stack resolves it (function environments, the
        # provisioned resources' properties); any other function is refused by name.
        self._functions: dict[str, Callable[[Any, str], Any]] = {
            "Ref": self._ref,
            "Fn::GetAtt": self._get_att,
            "Fn::Sub": self._sub,
        }

    def error(self, where: str, reason: str) -> IntrinsicError:
        return IntrinsicError(self._template.path, self._resource, where, reason)

    def value(self, value: Any, where: str) -> Any:
        if isinstance(value, list):
            items = [self.value(item, f"{where}[{i}]") for i, item in enumerate(value)]
            return [item for item in items if item is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((name, argument),) = value.items()
            function = self._functions.get(name)
            if function is not None:
                return function(argument, where)
            if name.startswith("Fn::") or name == "Condition":
                supported = ", ".join(self._functions)
                raise self.error(
                    where, f"{name} is not supported locally (the local stack resolves {supported})"
                )
        resolved = {key: self.value(item, f"{where}.{key}") for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not _NO_VALUE}

    def _string(self, value: Any, where: str) -> str:
        resolved = self.value(value, where)
        if isinstance(resolved, bool) or not isinstance(resolved, str | int | float):
            raise self.error(where, f"expected a string, got {resolved!r}")
        return str(resolved)

    def _list(self, value: Any, where: str, length: int | None = None) -> list[Any]:
        resolved = self.value(value, where)
        if not isinstance(resolved, list) or (length is not None and len(resolved) != length):
            wanted = f"a list of {length}" if length is not None else "a list"
            raise self.error(where, f"expected {wanted}, got {resolved!r}")
        return resolved

    def _ref(self, name: Any, where: str) -> Any:
        if name == "AWS::NoValue":
            return _NO_VALUE
        pseudo = self._intrinsics.pseudo.as_refs()
        if name in pseudo:
            return pseudo[name]
        parameter = self._template.parameters.get(name)
        if parameter is not None:
            if parameter.value is None:
                raise self.error(where, f"parameter {name} has no Default and no override")
            return parameter.value
        return self._physical(name, where, "Ref").ref

    def _physical(self, logical_id: str, where: str, function: str) -> PhysicalResource:
        physical = self._intrinsics.physical.get(logical_id)
        if physical is not None:
            return physical
        resource = self._template.resources.get(logical_id)
        if resource is None:
            raise self.error(
                where, f"{function} to {logical_id}, which the template does not define"
            )
        raise self.error(
            where, f"{function} to {logical_id} ({resource.type}), which is not provisioned locally"
        )

    def _get_att(self, argument: Any, where: str) -> str:
        if isinstance(argument, str):
            argument = argument.split(".", 1)
        logical_id, attribute = (self._string(a, where) for a in self._list(argument, where, 2))
        attributes = self._physical(logical_id, where, "Fn::GetAtt").attributes
        if attribute not in attributes:
            raise self.error(where, f"Fn::GetAtt {logical_id}.{attribute} is not known locally")
        return attributes[attribute]

    def _sub(self, argument: Any, where: str) -> str:
        if isinstance(argument, list):
            text, variables = self._list(argument, where, 2)
            variables = {k: self._string(v, f"{where}.{k}") for k, v in variables.items()}
        else:
            text, variables = argument, {}

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):  # ${!Literal} stands for the text ${Literal}
                return f"${{{name[1:]}}}"
            if name in variables:
                return str(variables[name])
            if "." in name and not name.startswith("AWS::"):
                return self._get_att(name, where)
            return self._string(self._ref(name, where), where)

        return _SUB_VARIABLE.sub(substitute, self._string(text, where))
