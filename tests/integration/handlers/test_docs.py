"""The docs function serves the generated document and Swagger UI over it."""

from __future__ import annotations

import json

import pytest

from infra.local.events import HttpRequest
from infra.openapi import DOCUMENT_PATH
from tests.integration.conftest import FunctionEnv
from tests.support.functions import call_route, load_function

docs = load_function("docs")


@pytest.fixture(autouse=True)
def _fresh_instance(function_env: FunctionEnv) -> None:
    function_env("DocsFunction")
    docs.api.reset()


def test_the_openapi_document_is_served_as_is() -> None:
    result = call_route(
        docs.lambda_handler, HttpRequest("GET", "/api/v1/openapi.json"), "GET /api/v1/openapi.json"
    )
    assert result.status == 200
    assert result.headers["content-type"] == "application/json"
    assert result.json() == json.loads(DOCUMENT_PATH.read_text(encoding="utf-8"))
    assert result.headers["cache-control"] == "no-store"


def test_swagger_ui_embeds_the_document_and_needs_no_outside_asset() -> None:
    result = call_route(docs.lambda_handler, HttpRequest("GET", "/api/v1/docs"), "GET /api/v1/docs")
    assert result.status == 200
    assert result.headers["content-type"].startswith("text/html")
    assert "SwaggerUIBundle" in result.body
    assert '"/api/v1/health"' in result.body
    assert "<script src=" not in result.body  # bundled inline: works offline
