"""People for end-to-end tests: a new account with its own workspace, signed in over HTTP."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

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


def new_owner(stack: StackProcess) -> Owner:
    """A new user, signed up and in, and the workspace created with the account."""
    email = f"e2e-{uuid.uuid4().hex[:12]}@example.com"
    signup = requests.post(
        f"{stack.url}/api/v1/auth/signup",
        json={"email": email, "password": PASSWORD, "name": "E2E"},
        timeout=10,
    )
    assert signup.status_code == 201, signup.text
    workspace = signup.json()["data"]["workspace"]["id"]
    headers = {
        "Authorization": f"Bearer {access_token(stack, email)}",
        "X-Workspace-ID": workspace,
    }
    return Owner(email, workspace, headers)
