"""Contract section 1 and 3 through the real gateway path of the local stack."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import requests

from tests.e2e.local_stack import StackProcess

pytestmark = pytest.mark.e2e


def test_public_routes_carry_the_contract_headers(stack: StackProcess) -> None:
    response = requests.get(f"{stack.url}/api/v1/health", timeout=10)
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Request-ID"] == response.headers["apigw-requestid"]


def test_the_openapi_document_and_swagger_ui_are_public(stack: StackProcess) -> None:
    document = requests.get(f"{stack.url}/api/v1/openapi.json", timeout=10)
    assert document.status_code == 200
    assert document.json()["openapi"].startswith("3.")
    assert "/api/v1/me" in document.json()["paths"]
    page = requests.get(f"{stack.url}/api/v1/docs", timeout=10)
    assert page.status_code == 200
    assert "SwaggerUIBundle" in page.text


def test_security_txt_is_public_rfc_9116_text(stack: StackProcess) -> None:
    # Given no credential at all
    # When security.txt is asked for over HTTP
    response = requests.get(f"{stack.url}/.well-known/security.txt", timeout=10)
    # Then it is plain UTF-8 text with the contract's four fields, Expires ahead of now, and
    # the headers every function response carries
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Request-ID"] == response.headers["apigw-requestid"]
    fields = dict(line.split(": ", 1) for line in response.text.splitlines())
    assert list(fields) == ["Contact", "Expires", "Policy", "Preferred-Languages"]
    assert fields["Contact"] == "mailto:security@railguard.example"
    assert fields["Policy"] == "https://railguard.example/security-policy"
    assert fields["Preferred-Languages"] == "en"
    expires = datetime.strptime(fields["Expires"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert timedelta(days=29) < expires - datetime.now(UTC) <= timedelta(days=30)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer not-a-token"},
        {"X-API-Key": "pr_live_" + "a" * 40},
        {"Authorization": "Bearer a.b.c", "X-API-Key": "pr_live_abc"},
    ],
    ids=["none", "malformed-bearer", "unknown-key", "two-credentials"],
)
def test_the_authorizer_refuses_with_api_gateways_own_401(
    stack: StackProcess, headers: dict[str, str]
) -> None:
    response = requests.get(f"{stack.url}/api/v1/me", headers=headers, timeout=10)
    assert response.status_code == 401
    assert response.json() == {"message": "Unauthorized"}
