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
from aws_lambda_powertools.event_handler.openapi.models import (
    APIKey,
    APIKeyIn,
    HTTPBearer,
    Server,
)

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


def _json_response(description: str, ref: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}},
    }


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
            responses = operation["responses"]
            responses.pop("422", None)
            responses["400"] = _json_response(
                "Invalid request (validation_error, ...)", "ErrorBody"
            )
            responses["500"] = _json_response("Unexpected error (internal_error)", "ErrorBody")
            if f"{method.upper()} {path}" in protected:
                operation["security"] = [{"bearerAuth": []}, {"apiKeyAuth": []}]
                responses["401"] = _json_response("No valid credential", "GatewayRefusal")
                responses["403"] = _json_response("Credential not allowed here", "GatewayRefusal")


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
        return None  # the authorizer and the jobs serve no route
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
