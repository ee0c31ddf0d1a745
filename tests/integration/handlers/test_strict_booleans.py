"""A boolean field of a request body takes JSON's true or false only: 0, 1, "true" or "yes" are
refused (pydantic's lax mode took them), as the document's `boolean` says. Found by
schemathesis's `negative_data_rejection` (tests/integration/test_openapi_fuzz.py)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import accounts as a
from tests.support.inprocess import InProcessClient, Reply

NOT_BOOLEANS = [0, 1, "true", "false", "yes"]


pytestmark = pytest.mark.usefixtures("cheap_passwords")


@pytest.fixture
def owner(client: InProcessClient) -> dict[str, str]:
    return a.owner_headers()


def _bodies(value: Any) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path, body) of each body with a boolean field, the field set to `value`."""
    credential = {"name": "c", "type": "openai", "value": "sk-0123456789"}
    trigger = {"name": "t", "agent_id": "a"}
    return [
        ("POST", "/api/v1/credentials", {**credential, "is_default": value}),
        ("POST", "/api/v1/webhook-triggers", {**trigger, "is_active": value}),
        ("POST", "/api/v1/webhook-triggers", {**trigger, "generate_secret": value}),
        ("PATCH", "/api/v1/workspaces/{workspace}", {"require_mfa": value}),
    ]


def _send(
    client: InProcessClient, owner: dict[str, str], method: str, path: str, body: dict[str, Any]
) -> Reply:
    """The owner's request, in their workspace where the path names one."""
    url = path.format(workspace=owner["X-Workspace-ID"])
    return client.request(method, url, headers=owner, body=body)


@pytest.mark.parametrize("value", NOT_BOOLEANS, ids=repr)
def test_a_boolean_field_refuses_what_is_not_a_json_boolean(
    client: InProcessClient, owner: dict[str, str], value: Any
) -> None:
    for method, path, body in _bodies(value):
        # When a body gives a boolean field a number, a string or null
        reply = _send(client, owner, method, path, body)
        # Then it is refused as invalid, and nothing is created or changed
        assert reply.status == 400, (path, body, reply.body)
        assert reply.json()["error"]["code"] == "validation_error", reply.body


def test_json_booleans_are_still_taken(client: InProcessClient, owner: dict[str, str]) -> None:
    # (false: requiring MFA needs the owner's own MFA on)
    for method, path, body in _bodies(False):
        reply = _send(client, owner, method, path, body)
        assert reply.status == (200 if method == "PATCH" else 201), (path, reply.body)
