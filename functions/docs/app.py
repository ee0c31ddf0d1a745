"""GET /api/v1/openapi.json and /api/v1/docs: the API's one OpenAPI document and Swagger UI.

The document covers every function's routes. It is generated from the functions and the
template by `make openapi` (infra/openapi.py) and shipped beside this module, because a function
never imports another; a test fails when the shipped document drifts from the code.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from pathlib import Path

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.swagger_ui import generate_swagger_html

from railguard.http import ApiFunction
from railguard.settings import FunctionSettings

api = ApiFunction(FunctionSettings)

DOCUMENT_PATH = Path(__file__).with_name("openapi.json")
_SWAGGER_ASSETS = files("aws_lambda_powertools.event_handler.openapi.swagger_ui")


@cache
def _document() -> str:
    return DOCUMENT_PATH.read_text(encoding="utf-8")


@cache
def _swagger_page() -> str:
    return generate_swagger_html(
        spec=_document().replace("</", "<\\/"),  # the document is inlined in a <script>
        swagger_js=(_SWAGGER_ASSETS / "swagger-ui-bundle.min.js").read_text(encoding="utf-8"),
        swagger_css=(_SWAGGER_ASSETS / "swagger-ui.min.css").read_text(encoding="utf-8"),
        swagger_base_url="",
        oauth2_config=None,
    )


@api.app.get("/api/v1/openapi.json", include_in_schema=False)
def get_openapi_document() -> Response[str]:
    return Response(200, "application/json", _document())


@api.app.get("/api/v1/docs", include_in_schema=False)
def get_swagger_ui() -> Response[str]:
    return Response(200, "text/html; charset=utf-8", _swagger_page())


lambda_handler = api.handler
