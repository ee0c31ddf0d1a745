"""The docs function serves the generated document, Swagger UI over it, and security.txt."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from infra.openapi import DOCUMENT_PATH
from infra.template import Template
from railguard.core.errors import ConfigurationError
from tests.integration.conftest import FunctionEnv
from tests.support.fake_time import FakeClock
from tests.support.functions import HttpResult, call_route, load_function
from tests.support.http_api import HttpRequest
from tests.support.inprocess import InProcessClient

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


# -- security.txt (contract section 3, RFC 9116) ----------------------------------------------
SECURITY_TXT = "GET /.well-known/security.txt"


def _security_txt(request_id: str = "req-security-txt") -> HttpResult:
    request = HttpRequest("GET", "/.well-known/security.txt", request_id=request_id)
    return call_route(docs.lambda_handler, request, SECURITY_TXT)


def _in_30_days(clock: FakeClock) -> str:
    expires = datetime.fromtimestamp(int(clock.now()) + 30 * 86_400, tz=UTC)
    return expires.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_security_txt_names_the_templates_contact_and_policy_with_the_contract_headers(
    clock: FakeClock,
) -> None:
    # When security.txt is asked for, with the template's default settings
    result = _security_txt("req-security-txt")
    # Then it is RFC 9116's plain text: the four fields the contract names, in this order, and
    # an Expires 30 days ahead; with the headers every function response carries
    assert result.status == 200
    assert result.body == (
        "Contact: mailto:security@railguard.example\n"
        f"Expires: {_in_30_days(clock)}\n"
        "Policy: https://railguard.example/security-policy\n"
        "Preferred-Languages: en\n"
    )
    assert result.headers == {
        "content-type": "text/plain; charset=utf-8",
        "cache-control": "no-store",
        "x-request-id": "req-security-txt",
        "x-content-type-options": "nosniff",
    }


def test_security_txt_stays_in_the_future_as_time_passes(clock: FakeClock) -> None:
    # Given a file read today
    first = _security_txt().body
    # When it is read again a year later, by the same instance
    clock.advance(365 * 86_400)
    later = _security_txt().body
    # Then its Expires moved with the time: always 30 days ahead, never in the past
    assert f"Expires: {_in_30_days(clock)}\n" in later
    assert later != first


def test_security_txt_takes_its_fields_from_the_functions_settings(
    monkeypatch: pytest.MonkeyPatch, clock: FakeClock
) -> None:
    # Given a deployment that names its own contact, policy and canonical address
    monkeypatch.setenv("SECURITY_CONTACT", "https://example.org/report")
    monkeypatch.setenv("SECURITY_POLICY", "https://example.org/policy")
    monkeypatch.setenv("SECURITY_CANONICAL", "https://api.example.org/.well-known/security.txt")
    # When a new instance serves security.txt
    result = _security_txt()
    # Then the file names them, Canonical last
    assert result.body == (
        "Contact: https://example.org/report\n"
        f"Expires: {_in_30_days(clock)}\n"
        "Policy: https://example.org/policy\n"
        "Preferred-Languages: en\n"
        "Canonical: https://api.example.org/.well-known/security.txt\n"
    )


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SECURITY_CONTACT", "mailto:a@example.org\nPolicy: https://evil.example"),
        ("SECURITY_CONTACT", "mailto:a@example.org\x1b[2J"),
        ("SECURITY_CONTACT", "security@example.org"),
        ("SECURITY_POLICY", "http://example.org/policy"),
        ("SECURITY_CANONICAL", "ftp://example.org/security.txt"),
    ],
    ids=[
        "field-injection",
        "control-character",
        "no-scheme",
        "plain-http-policy",
        "not-https-canonical",
    ],
)
def test_a_malformed_disclosure_setting_fails_the_cold_start(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    # Given a deployment whose setting is not one URI of the kind its field takes
    monkeypatch.setenv(variable, value)
    # When the function starts / Then it fails, naming the variable and not its value
    with pytest.raises(ConfigurationError, match=f"invalid or missing settings: {variable}$"):
        _security_txt()


@pytest.mark.usefixtures("api_env")
def test_security_txt_needs_no_credential_through_the_gateway(
    template: Template, clock: FakeClock
) -> None:
    # Given the gateway built from the template, and no credential at all
    client = InProcessClient(template)
    # When security.txt is asked for
    reply = client.request("GET", "/.well-known/security.txt")
    # Then the public route answers it (no authorizer ran: there is no rate limit either)
    assert reply.status == 200
    assert reply.headers["content-type"] == "text/plain; charset=utf-8"
    assert reply.body.decode().startswith("Contact: mailto:security@railguard.example\n")
    assert not any(name.startswith("ratelimit-") for name in reply.headers)
