"""The API's one OpenAPI document, generated from the functions' own resolvers.

Each function knows only its routes. This loads every function the template names (as Lambda
would: its code directory's `app` module; the layer must be on the path), merges their documents
with Powertools' `OpenAPIMerge`, marks the routes the template protects with the bearer and
API-key schemes, and refuses a result whose routes differ from the template's, function by
function. `python -m infra.openapi --write` writes `functions/docs/openapi.json`; `--check`
fails when that file is stale.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler.openapi.merge import OpenAPIMerge
from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn, HTTPBearer, Server

from infra.template import SERVERLESS_FUNCTION, Template, load_template
from railguard.http.models import ErrorBody

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE_PATH = ROOT / "template.yaml"
DOCUMENT_PATH = ROOT / "functions" / "docs" / "openapi.json"
TITLE = "Railguard API"
VERSION = "1.0.0"
# The routes that serve the document itself are not part of it.
DOCUMENT_ROUTES = frozenset({"GET /api/v1/openapi.json", "GET /api/v1/docs"})
SECURITY_SCHEMES = {
    "bearerAuth": HTTPBearer(bearerFormat="JWT", description="A user's access token."),
    "apiKeyAuth": APIKey(
        **{"in": APIKeyIn.header},
        name="X-API-Key",
        description="An API key (also accepted as a Bearer token).",
    ),
}


# Powertools documents its own 422 shape; this API answers validation errors with 400 and the
# contract's error envelope, and the gateway refuses with its own {"message"} bodies.
_POWERTOOLS_ONLY_SCHEMAS = ("HTTPValidationError", "ValidationError", "ResponseValidationError")
_GATEWAY_REFUSAL = {
    "type": "object",
    "properties": {"message": {"type": "string", "enum": ["Unauthorized", "Forbidden"]}},
    "required": ["message"],
}
_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before retrying.",
        "required": True,
        "schema": {"type": "integer", "minimum": 1},
    }
}
_ERROR_DESCRIPTIONS = {
    400: "Invalid request (validation_error, malformed_body, unsupported_media_type, ...)",
    401: "No valid credential",
    403: "Credential not allowed here",
    404: "No such resource in the caller's workspace (not_found)",
    409: "Conflict: a duplicate, a concurrent change (conflict), or a creation its "
    "Idempotency-Key already applied (already_applied)",
    413: "Request body over 64 KiB (payload_too_large)",
    429: "Rate limited (rate_limited); see Retry-After",
    500: "Unexpected error (internal_error)",
    503: "A dependency failed or throttled (service_unavailable); see Retry-After",
}
# Where a route's error means more than the common description says (contract section 11).
_ROUTE_ERROR_DESCRIPTIONS = {
    ("POST /api/v1/api-keys", 409): _ERROR_DESCRIPTIONS[409]
    + "; or one more active key than the workspace's plan allows (key_limit_reached, "
    "details {plan, max_active_keys})",
}
# Every function answers these, whatever the route: the body guards (400, 413), the one mapping
# of unexpected errors (500) and of AWS-side failures (503).
_EVERY_ROUTE_ERRORS = frozenset({400, 413, 500, 503})
# Behind the authorizer: its refusals (401, 403; the function's own 403 `mfa_required`, role or
# scope checks) and the per-principal rate limit every such route counts (429).
_PROTECTED_ROUTE_ERRORS = frozenset({401, 403, 429})
_WRITE_METHODS = frozenset({"post", "put", "patch", "delete"})
# The public routes that answer more than the common errors (contract sections 4, 8 and 9).
_PUBLIC_ROUTE_ERRORS: dict[str, frozenset[int]] = {
    "POST /api/v1/auth/signup": frozenset({409, 429}),
    "POST /api/v1/auth/login": frozenset({401, 429}),
    "POST /api/v1/auth/mfa/verify": frozenset({401, 429}),
    # 403 `csrf`: the refresh cookie without the browser header (contract section 4, v1.1).
    "POST /api/v1/auth/refresh": frozenset({401, 403}),
    "POST /api/v1/auth/logout": frozenset({401, 403}),
    "POST /api/v1/webhook/trigger": frozenset({401, 403, 429}),
    "POST /api/v1/agent-uis/{agent_ui_id}/unlock": frozenset({401, 404, 429}),
    "GET /api/v1/agent-uis/{agent_ui_id}/session": frozenset({401, 404}),
}


def _schema_ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _error_response(status: int, *, protected: bool) -> dict[str, Any]:
    # A protected route's 401 and 403 come from the gateway ({"message"}) or from the function
    # (the envelope: `mfa_required`, a role or scope the route refuses, a wrong password).
    schema = (
        {"anyOf": [_schema_ref("GatewayRefusal"), _schema_ref("ErrorBody")]}
        if protected and status in (401, 403)
        else _schema_ref("ErrorBody")
    )
    response: dict[str, Any] = {
        "description": _ERROR_DESCRIPTIONS[status],
        "content": {"application/json": {"schema": schema}},
    }
    if status in (429, 503):
        response["headers"] = dict(_RETRY_AFTER)
    return response


def _error_statuses(key: str, method: str, operation: dict[str, Any], protected: bool) -> set[int]:
    statuses = set(_EVERY_ROUTE_ERRORS)
    if protected:
        statuses |= _PROTECTED_ROUTE_ERRORS
        if any(parameter["in"] == "path" for parameter in operation.get("parameters", [])):
            statuses.add(404)  # an id (or a named member) not in the caller's workspace
        if method in _WRITE_METHODS:
            statuses.add(409)  # a duplicate, or a concurrent change
    statuses |= _PUBLIC_ROUTE_ERRORS.get(key, frozenset())
    return statuses


def _apply_contract_responses(document: dict[str, Any], protected: set[str]) -> None:
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for name in _POWERTOOLS_ONLY_SCHEMAS:
        schemas.pop(name, None)
    error_schema = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(error_schema.pop("$defs", {}))
    schemas["ErrorBody"] = error_schema
    schemas["GatewayRefusal"] = _GATEWAY_REFUSAL
    for path, item in document["paths"].items():
        for method, operation in item.items():
            key = f"{method.upper()} {path}"
            is_protected = key in protected
            responses = operation["responses"]
            responses.pop("422", None)
            if "204" in responses:
                responses["204"].pop("content", None)  # No Content: no body, no media type
            for status in sorted(_error_statuses(key, method, operation, is_protected)):
                responses[str(status)] = _error_response(status, protected=is_protected)
                if (key, status) in _ROUTE_ERROR_DESCRIPTIONS:
                    responses[str(status)]["description"] = _ROUTE_ERROR_DESCRIPTIONS[key, status]
            if is_protected:
                operation["security"] = [{"bearerAuth": []}, {"apiKeyAuth": []}]


class DocumentDrift(Exception):
    """The functions' routes and the template's routes disagree."""


def _resolver_schema(template: Template, function_id: str) -> dict[str, Any] | None:
    """The OpenAPI document of a function's resolver; None for a function without one."""
    code_dir = template.base_dir / str(template.resources[function_id].properties["CodeUri"])
    name = f"railguard_openapi_{function_id}"
    spec = importlib.util.spec_from_file_location(name, code_dir / "app.py")
    if spec is None or spec.loader is None:
        raise DocumentDrift(f"{function_id}: no app.py in {code_dir}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # pydantic resolves the module's generic models through it
    spec.loader.exec_module(module)
    api = getattr(module, "api", None)
    if api is None:
        return None  # the authorizer, the jobs and the operator's functions serve no route
    schema: dict[str, Any] = json.loads(
        api.app.get_openapi_json_schema(title=TITLE, version=VERSION)
    )
    return schema


def _operations(schema: dict[str, Any]) -> set[str]:
    return {
        f"{method.upper()} {path}"
        for path, item in schema.get("paths", {}).items()
        for method in item
    }


def build_document(template: Template) -> dict[str, Any]:
    routes_by_function: dict[str, set[str]] = defaultdict(set)
    protected: set[str] = set()
    for route in template.routes:
        if route.key in DOCUMENT_ROUTES:
            continue
        routes_by_function[route.function_id].add(route.key)
        if route.authorizer:
            protected.add(route.key)

    merge = OpenAPIMerge(
        title=TITLE,
        version=VERSION,
        description="Railguard: the security plane of an LLM-agent platform.",
        servers=[Server(url="/")],
        security_schemes=SECURITY_SCHEMES,  # type: ignore[arg-type]
        on_conflict="error",
    )
    drift: list[str] = []
    components: dict[str, tuple[str, Any]] = {}  # schema name -> (function, schema)
    for function in sorted(
        template.resources_of_type(SERVERLESS_FUNCTION), key=lambda f: f.logical_id
    ):
        function_id = function.logical_id
        schema = _resolver_schema(template, function_id)
        if schema is None:
            continue
        expected = routes_by_function[function_id]
        served = _operations(schema)
        drift += [
            f"{function_id}: the template routes {key} but the code does not serve it"
            for key in sorted(expected - served)
        ]
        drift += [
            f"{function_id}: the code serves {key} but the template does not route it"
            for key in sorted(served - expected)
        ]
        # The merge keeps one schema per name: two functions' different models of one name
        # would leave one of them documenting the other's answers.
        for name, component in schema.get("components", {}).get("schemas", {}).items():
            first_function, first = components.setdefault(name, (function_id, component))
            if first != component:
                drift.append(
                    f"{function_id}: its schema {name} differs from {first_function}'s: "
                    "rename one of the models"
                )
        merge.add_schema(schema)
    if drift:
        raise DocumentDrift("\n".join(drift))

    document: dict[str, Any] = json.loads(merge.get_openapi_json_schema())
    _apply_contract_responses(document, protected)
    return document


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--write", action="store_true", help=f"write {DOCUMENT_PATH.name}")
    action.add_argument("--check", action="store_true", help="fail if the file is stale")
    arguments = parser.parse_args(argv)
    try:
        text = render(build_document(load_template(TEMPLATE_PATH)))
    except DocumentDrift as drift:
        print(f"OpenAPI document not written:\n{drift}", file=sys.stderr)
        return 1
    if arguments.write:
        DOCUMENT_PATH.write_text(text, encoding="utf-8")
        print(f"wrote {DOCUMENT_PATH.relative_to(ROOT)}")
        return 0
    if DOCUMENT_PATH.read_text(encoding="utf-8") != text:
        print(f"{DOCUMENT_PATH.relative_to(ROOT)} is stale: run `make openapi`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
