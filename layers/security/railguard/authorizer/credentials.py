"""Finding the one credential a request presents, without touching any store.

A request authenticates with `X-API-Key: <key>` or `Authorization: Bearer <credential>`. The
credential's shape says what it claims to be; anything ambiguous or malformed is refused here,
before a single database read.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from railguard.api_keys.key_format import API_KEY_PREFIX
from railguard.core.errors import Unauthenticated

CredentialKind = Literal["api_key", "access_token"]

# Real credentials are far shorter; a cap keeps parsing cheap whatever a client sends.
MAX_CREDENTIAL_LENGTH = 4096

_JWT_SHAPE = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")


@dataclass(slots=True)  # made on every request: slots, and not frozen (which costs twice)
class Credential:
    kind: CredentialKind
    value: str

    def __repr__(self) -> str:  # never let a credential reach a log through repr()
        return f"Credential(kind={self.kind!r}, value=<redacted>)"


def _bearer_value(authorization: str) -> str:
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not value or " " in value.strip():
        raise Unauthenticated
    return value.strip()


def _classify(value: str) -> Credential:
    if len(value) > MAX_CREDENTIAL_LENGTH:
        raise Unauthenticated
    if value.startswith(API_KEY_PREFIX):
        body = value[len(API_KEY_PREFIX) :]
        # ASCII letters and digits, at least one (two C-speed tests, where a regex costs more).
        if not (body.isascii() and body.isalnum()):
            raise Unauthenticated
        return Credential("api_key", value)
    if _JWT_SHAPE.match(value):
        return Credential("access_token", value)
    raise Unauthenticated


def extract_credential(headers: Mapping[str, str]) -> Credential:
    """The request's credential, or `Unauthenticated` when there is none, two, or a malformed one.

    `headers` are API Gateway's: lower-case names, repeated headers joined by commas (so a repeated
    credential header fails the shape checks and is refused).
    """
    api_key = headers.get("x-api-key")
    authorization = headers.get("authorization")
    if api_key is not None and authorization is not None:
        raise Unauthenticated  # two credentials: refuse rather than guess which one counts
    if api_key is not None:
        credential = _classify(api_key.strip())
        if credential.kind != "api_key":
            raise Unauthenticated
        return credential
    if authorization is not None:
        return _classify(_bearer_value(authorization))
    raise Unauthenticated
