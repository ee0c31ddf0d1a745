"""The API's public documents (contract section 3): GET /api/v1/openapi.json and /api/v1/docs,
the one OpenAPI document and Swagger UI over it; GET /.well-known/security.txt, how to report a
vulnerability (RFC 9116).

The OpenAPI document covers every function's routes. It is generated from the functions and the
template by `make openapi` (infra/openapi.py) and shipped beside this module, because a function
never imports another; a test fails when the shipped document drifts from the code.
security.txt is written for each request from this function's settings (the template's
`SecurityContact`, `SecurityPolicyUrl` and `SecurityTxtCanonicalUrl` parameters).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from pathlib import Path

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.swagger_ui import generate_swagger_html

from railguard.core.runtime import Runtime
from railguard.core.settings import FunctionSettings, variable
from railguard.http import ApiFunction
from railguard.http.security_txt import CONTACT_PATTERN, HTTPS_URI_PATTERN, MEDIA_TYPE, SecurityTxt


@dataclass(frozen=True, kw_only=True)
class DocsSettings(FunctionSettings):
    """Where vulnerabilities are reported, for security.txt."""

    security_contact: str = variable("SECURITY_CONTACT", max_length=512, pattern=CONTACT_PATTERN)
    security_policy: str = variable("SECURITY_POLICY", max_length=512, pattern=HTTPS_URI_PATTERN)
    # Empty: the file names no Canonical (the template cannot know the API's own URL).
    security_canonical: str = variable(
        "SECURITY_CANONICAL",
        default="",
        min_length=0,
        max_length=512,
        pattern=f"({HTTPS_URI_PATTERN})?",
    )


def _security_txt(runtime: Runtime[DocsSettings]) -> SecurityTxt:
    settings = runtime.settings
    return SecurityTxt(
        contact=settings.security_contact,
        policy=settings.security_policy,
        canonical=settings.security_canonical or None,
    )


api = ApiFunction(DocsSettings, _security_txt, tag="meta")

DOCUMENT_PATH = Path(__file__).with_name("openapi.json")
_SWAGGER_ASSETS = files("aws_lambda_powertools.event_handler.openapi.swagger_ui")


@cache
def _document() -> str:
    return DOCUMENT_PATH.read_text(encoding="utf-8")


@cache
def _swagger_asset(name: str) -> str:
    return (_SWAGGER_ASSETS / name).read_text(encoding="utf-8")


@cache
def _swagger_page() -> str:
    return generate_swagger_html(
        # Inlined in a <script>: no `<` at all, so no text of the document can end the script
        # or open a comment (in the document's JSON, `<` is only ever inside a string).
        spec=_document().replace("<", "\\u003c"),
        swagger_js=_swagger_asset("swagger-ui-bundle.min.js"),
        swagger_css=_swagger_asset("swagger-ui.min.css"),
        swagger_base_url="",
        oauth2_config=None,
    )


def _script_source_hash(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode()).digest()).decode() + "'"


@cache
def _swagger_headers() -> dict[str, str]:
    """The page shares its origin with the dashboard (behind CloudFront), whose session a script
    here could use: so only its own two inline scripts run (by their hashes: the bundle and the
    configuration, which is the page's last script), and nothing may frame it."""
    page = _swagger_page()
    configuration = page[page.rindex("<script>") + len("<script>") : page.rindex("</script>")]
    scripts = " ".join(
        _script_source_hash(source)
        for source in (_swagger_asset("swagger-ui-bundle.min.js"), configuration)
    )
    policy = (
        "default-src 'none'",
        f"script-src {scripts}",
        # Swagger UI's stylesheet is inline, and it styles elements from script.
        "style-src 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
    return {
        "Content-Security-Policy": "; ".join(policy),
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
    }


@api.route("GET /api/v1/openapi.json", documented=False)
def get_openapi_document() -> Response[str]:
    return Response(200, "application/json", _document())


@api.route("GET /api/v1/docs", documented=False)
def get_swagger_ui() -> Response[str]:
    return Response(200, "text/html; charset=utf-8", _swagger_page(), _swagger_headers())


@api.route(
    "GET /.well-known/security.txt",
    "How to report a vulnerability (RFC 9116)",
    responses={
        200: {
            "description": "Contact, Expires, Policy, Preferred-Languages and, when configured, "
            "Canonical",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }
    },
)
def get_security_txt() -> Response[str]:
    return Response(200, MEDIA_TYPE, api.services.render(api.runtime.clock.now()))


lambda_handler = api.handler
