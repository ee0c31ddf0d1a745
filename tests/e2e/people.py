"""People for end-to-end tests: a new account with its own workspace, signed in over HTTP."""

from __future__ import annotations

import http.client
import ipaddress
import itertools
import json
import uuid
from dataclasses import dataclass
from typing import Any

import requests

from tests.e2e.local_stack import StackProcess

PASSWORD = "blue-table-river-42"


@dataclass(frozen=True)
class Owner:
    email: str
    workspace: str
    headers: dict[str, str]  # the access token and the workspace header

    @property
    def access_token(self) -> str:
        return self.headers["Authorization"].removeprefix("Bearer ")


def access_token(stack: StackProcess, email: str) -> str:
    login = requests.post(
        f"{stack.url}/api/v1/auth/login", json={"email": email, "password": PASSWORD}, timeout=10
    )
    assert login.status_code == 200, login.text
    token: str = login.json()["data"]["access_token"]
    return token


_SIGNUP_ADDRESSES = (str(ipaddress.IPv4Address("127.18.0.1") + n) for n in itertools.count())


def signup_address() -> str:
    """Another loopback address to sign up from: sign-ups are limited per source address (the
    TCP peer), and a session of tests makes more than one address may."""
    return next(_SIGNUP_ADDRESSES)


def sign_up(stack: StackProcess, email: str) -> dict[str, Any]:
    """`POST /auth/signup` from an address of its own; the new user and workspace."""
    host, port = stack.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(
        host, int(port), timeout=15, source_address=(signup_address(), 0)
    )
    body = {"email": email, "password": PASSWORD, "name": "E2E"}
    connection.request(
        "POST",
        "/api/v1/auth/signup",
        body=json.dumps(body),
        headers={"Content-Type": "application/json"},
    )
    response = connection.getresponse()
    raw = response.read()
    connection.close()
    assert response.status == 201, raw
    data: dict[str, Any] = json.loads(raw)["data"]
    return data


def me_status_from(stack: StackProcess, source_ip: str, headers: dict[str, str]) -> int:
    """The status of `GET /me` sent from `source_ip` (a loopback address): the TCP peer the
    API sees, which is what an IP allowlist checks."""
    host, port = stack.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(
        host, int(port), timeout=10, source_address=(source_ip, 0)
    )
    connection.request("GET", "/api/v1/me", headers=headers)
    status = connection.getresponse().status
    connection.close()
    return status


def new_owner(stack: StackProcess) -> Owner:
    """A new user, signed up and in, and the workspace created with the account."""
    email = f"e2e-{uuid.uuid4().hex[:12]}@example.com"
    workspace = sign_up(stack, email)["workspace"]["id"]
    headers = {
        "Authorization": f"Bearer {access_token(stack, email)}",
        "X-Workspace-ID": workspace,
    }
    return Owner(email, workspace, headers)


def new_member(stack: StackProcess, owner: Owner, role: str) -> Owner:
    """A new user (see `new_owner`), added to `owner`'s workspace as `role` over HTTP."""
    member = new_owner(stack)
    add_member(stack, owner, member.email, role)
    return member


def add_member(stack: StackProcess, owner: Owner, email: str, role: str) -> dict[str, Any]:
    """`POST /workspaces/{id}/members` by the owner, over HTTP; the new member."""
    added = requests.post(
        f"{stack.url}/api/v1/workspaces/{owner.workspace}/members",
        headers=owner.headers,
        json={"email": email, "role": role},
        timeout=10,
    )
    assert added.status_code == 201, added.text
    member: dict[str, Any] = added.json()["data"]
    return member


def create_key(
    stack: StackProcess, headers: dict[str, str], name: str = "e2e", **settings: Any
) -> dict[str, Any]:
    """`POST /api-keys` over HTTP (scope `agents:read` unless `settings` say otherwise); the
    new key, its `key` included."""
    body = {"name": name, "scopes": ["agents:read"], **settings}
    created = requests.post(f"{stack.url}/api/v1/api-keys", headers=headers, json=body, timeout=10)
    assert created.status_code == 201, created.text
    key: dict[str, Any] = created.json()["data"]
    return key
