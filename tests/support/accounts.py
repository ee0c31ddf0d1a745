"""Driving the auth, me and authorizer functions in-process, as the gateway would."""

from __future__ import annotations

import ipaddress
import itertools
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from argon2 import PasswordHasher

from railguard.authorizer.function import Unauthorized
from tests.support.functions import HttpResult, call_route, load_function, loaded_functions
from tests.support.http_api import HttpRequest, authorizer_event_for
from tests.support.inprocess import InProcessClient
from tests.support.lambda_context import FakeLambdaContext

__all__ = ["HttpRequest", "call_route"]

auth = load_function("auth")
me = load_function("me")
authorizer = load_function("authorizer")

STRONG_PASSWORD = "blue-table-river-42"
# For tests about something else than passwords: fast, still argon2id.
CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def new_email() -> str:
    return f"user-{uuid.uuid4().hex[:12]}@example.com"


def post(
    path: str,
    body: dict[str, Any] | None,
    *,
    source_ip: str = "127.0.0.1",
    headers: Sequence[tuple[str, str]] = (),
    scheme: str = "https",
) -> HttpResult:
    """A call to the auth function; `body` None sends none (and no Content-Type)."""
    content = [("Content-Type", "application/json")] if body is not None else []
    request = HttpRequest(
        "POST",
        path,
        headers=[*content, *headers],
        body=json.dumps(body).encode() if body is not None else b"",
        source_ip=source_ip,
        scheme=scheme,
    )
    return call_route(auth.lambda_handler, request, f"POST {path}")


# Contract section 4 v1.1: the header that asks for (and allows using) the refresh cookie.
BROWSER = ("X-Railguard-Client", "browser")


def browser_login(email: str, *headers: tuple[str, str], scheme: str = "https") -> HttpResult:
    """A login by a browser: its refresh token comes back as the `rg_refresh` cookie."""
    body = {"email": email, "password": STRONG_PASSWORD}
    return post("/api/v1/auth/login", body, headers=[BROWSER, *headers], scheme=scheme)


def cookie_token(result: HttpResult) -> str:
    """The refresh token a response set as its one cookie."""
    (cookie,) = result.cookies
    name, _, rest = cookie.partition("=")
    assert name == "rg_refresh"
    return rest.partition(";")[0]


def by_cookie(path: str, token: str, *headers: tuple[str, str]) -> HttpResult:
    """A refresh or logout with no body, carrying `token` as the browser's cookie."""
    return post(path, None, headers=[("Cookie", f"rg_refresh={token}"), *headers])


def sign_up_address() -> str:
    """Another source address for a sign-up (they are limited per address), from 198.18.0.0/15,
    which no other budget of the tests uses."""
    return next(_SIGNUP_ADDRESSES)


_SIGNUP_ADDRESSES = (str(ipaddress.IPv4Address("198.18.0.1") + n) for n in itertools.count())


def sign_up(email: str | None = None, password: str = STRONG_PASSWORD) -> dict[str, Any]:
    result = post(
        "/api/v1/auth/signup",
        {"email": email or new_email(), "password": password, "name": "Test User"},
        source_ip=sign_up_address(),
    )
    assert result.status == 201, result.body
    data: dict[str, Any] = result.json()["data"]
    return data


def log_in(email: str, password: str = STRONG_PASSWORD, source_ip: str = "127.0.0.1") -> HttpResult:
    return post("/api/v1/auth/login", {"email": email, "password": password}, source_ip=source_ip)


def tokens_for(email: str, password: str = STRONG_PASSWORD) -> dict[str, Any]:
    result = log_in(email, password)
    assert result.status == 200, result.body
    data: dict[str, Any] = result.json()["data"]
    return data


@dataclass(frozen=True)
class Account:
    """Someone signed up and signed in; the workspace made with the account is theirs."""

    email: str
    user_id: str
    workspace: str
    token: str = field(repr=False)
    refresh_token: str = field(repr=False)

    def headers(self, workspace: str | None = None, **extra: str) -> dict[str, str]:
        """Their access token, in `workspace` (by default their own)."""
        return {
            "Authorization": f"Bearer {self.token}",
            "X-Workspace-ID": workspace or self.workspace,
            **extra,
        }

    @classmethod
    def of(cls, email: str, signed_up: dict[str, Any], tokens: dict[str, Any]) -> Account:
        """From the sign-up's and the login's `data`."""
        user, workspace = signed_up["user"]["id"], signed_up["workspace"]["id"]
        return cls(email, user, workspace, tokens["access_token"], tokens["refresh_token"])


def new_account(email: str | None = None) -> Account:
    email = email or new_email()
    return Account.of(email, sign_up(email), tokens_for(email))


def owner_headers() -> dict[str, str]:
    """A new account's headers for its own workspace: its access token and the workspace's id."""
    return new_account().headers()


def add_member(client: InProcessClient, owner: Account, member: Account, role: str) -> None:
    """`member` joins the owner's own workspace with `role`."""
    added = client.request(
        "POST",
        f"/api/v1/workspaces/{owner.workspace}/members",
        headers=owner.headers(),
        body={"email": member.email, "role": role},
    )
    assert added.status == 201, added.body


def team(client: InProcessClient, role: str = "user") -> tuple[Account, Account, Account]:
    """An owner, a member of the owner's workspace with `role`, and an outsider (the owner of
    another workspace)."""
    owner, member, outsider = new_account(), new_account(), new_account()
    add_member(client, owner, member, role)
    return owner, member, outsider


def authorize(
    headers: list[tuple[str, str]], route_key: str = "GET /api/v1/me"
) -> dict[str, str] | int:
    """The authorizer's answer: its context when allowed, else the status API Gateway gives."""
    event = authorizer_event_for(headers, route_key)
    try:
        response = authorizer.lambda_handler(event, FakeLambdaContext())
    except Unauthorized:
        return 401
    return response["context"] if response["isAuthorized"] else 403


def bearer(access_token: str) -> list[tuple[str, str]]:
    return [("Authorization", f"Bearer {access_token}")]


def call_me(
    access_token: str,
    method: str = "GET",
    path: str = "/api/v1/me",
    body: dict[str, Any] | None = None,
) -> HttpResult | int:
    """A protected call through the authorizer, then the me function."""
    route_key = f"{method} {path}"
    context = authorize(bearer(access_token), route_key)
    if isinstance(context, int):
        return context
    request = HttpRequest(
        method,
        path,
        headers=[("Content-Type", "application/json")],
        body=json.dumps(body).encode() if body is not None else b"",
    )
    return call_route(me.lambda_handler, request, route_key, authorizer_context=context)


def reset_instances() -> None:
    """Cold-start every loaded function again (empty caches), as fresh Lambda instances."""
    for module in loaded_functions():
        instance = (
            getattr(module, "api", None)
            or getattr(module, "authorizer", None)
            or getattr(module, "job", None)
        )
        if instance is not None:
            instance.reset()
