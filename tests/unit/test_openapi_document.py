"""The shipped OpenAPI document is the functions' own, merged, and it matches the template."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import validate

from infra import openapi
from infra.openapi import DOCUMENT_PATH, DocumentDrift, build_document, render
from infra.template import Route, Template, load_template

TEMPLATE = load_template(Path(__file__).resolve().parents[2] / "template.yaml")


def test_the_shipped_document_is_what_the_code_generates() -> None:
    # When the document is generated from the functions and the template
    generated = render(build_document(TEMPLATE))
    # Then it is byte for byte the file the docs function serves (else: `make openapi`)
    assert DOCUMENT_PATH.read_text(encoding="utf-8") == generated


def test_the_document_is_valid_openapi_with_the_contracts_errors() -> None:
    document = build_document(TEMPLATE)
    validate(document)
    for item in document["paths"].values():
        for operation in item.values():
            assert "422" not in operation["responses"]
            assert operation["responses"]["400"]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/ErrorBody"
            }


def test_protected_routes_and_only_those_declare_security() -> None:
    document = build_document(TEMPLATE)
    protected = {route.key for route in TEMPLATE.routes if route.authorizer}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            assert ("security" in operation) == (f"{method.upper()} {path}" in protected)


def test_a_route_the_template_has_but_no_function_serves_is_refused() -> None:
    # Given a template that routes a path its function does not implement
    ghost = Route("GET", "/api/v1/ghost", "HealthFunction", "RailguardAuthorizer")
    drifted = dataclasses.replace(TEMPLATE, routes=(*TEMPLATE.routes, ghost))
    # When the document is built / Then the drift is named
    with pytest.raises(
        DocumentDrift, match="HealthFunction: the template routes GET /api/v1/ghost"
    ):
        build_document(drifted)


def test_a_route_a_function_serves_but_the_template_lacks_is_refused() -> None:
    # Given a template missing the health route
    trimmed = dataclasses.replace(
        TEMPLATE, routes=tuple(r for r in TEMPLATE.routes if r.path != "/api/v1/health")
    )
    with pytest.raises(DocumentDrift, match="serves GET /api/v1/health but the template"):
        build_document(trimmed)


def test_two_functions_models_of_one_name_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a function whose document defines a `Workspace` unlike the workspaces function's
    resolver_schema = openapi._resolver_schema

    def with_a_clash(template: Template, function_id: str) -> dict[str, Any] | None:
        schema = resolver_schema(template, function_id)
        if schema is not None and function_id == "HealthFunction":
            schema.setdefault("components", {}).setdefault("schemas", {})["Workspace"] = {}
        return schema

    monkeypatch.setattr(openapi, "_resolver_schema", with_a_clash)
    # When the document is built / Then the clash is named, not silently merged into one
    with pytest.raises(DocumentDrift, match="schema Workspace differs from HealthFunction's"):
        build_document(TEMPLATE)


def test_success_statuses_are_the_routes_own_and_no_content_has_no_body() -> None:
    # When the document is built
    paths = build_document(TEMPLATE)["paths"]
    # Then a create documents its 201, and a 204 documents no media type
    assert "201" in paths["/api/v1/api-keys"]["post"]["responses"]
    assert "200" not in paths["/api/v1/api-keys"]["post"]["responses"]
    assert "content" not in paths["/api/v1/api-keys/{key_id}"]["delete"]["responses"]["204"]
    # And a protected route documents the rate limit's 429 with its Retry-After
    too_many = paths["/api/v1/api-keys"]["get"]["responses"]["429"]
    assert too_many["headers"]["Retry-After"]["required"] is True
