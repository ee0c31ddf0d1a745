"""Checks on the raw request before the resolver sees it (the body), and the one reading of a
bearer credential for the public routes that check their own (webhook triggers, agent UIs).

Powertools' validation answers 422 and can raise on bytes that are not UTF-8; the contract wants
413 over 64 KiB and 400 for anything that is not UTF-8 JSON. So the body is settled here first:
decoded, measured, parsed once, and handed on as plain text.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from railguard.core.errors import (
    MalformedBody,
    PayloadTooLarge,
    Unauthenticated,
    UnsupportedMediaType,
)

MAX_BODY_BYTES = 64 * 1024


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # {"role": "user", "role": "owner"} must not mean whatever the last parser decides.
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise MalformedBody(f"The JSON body repeats the key {key!r}.")
        result[key] = value
    return result


def _raw_body(event: dict[str, Any]) -> bytes:
    body = event.get("body")
    if not body:
        return b""
    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(body, validate=True)
        except binascii.Error:
            raise MalformedBody from None
    return str(body).encode("utf-8", errors="surrogatepass")


def _is_json_media_type(content_type: str) -> bool:
    return content_type.split(";", 1)[0].strip().lower() == "application/json"


def settled_event(event: dict[str, Any]) -> dict[str, Any]:
    """The event with a body that is at most 64 KiB of UTF-8 JSON, as text; or a typed error."""
    raw = _raw_body(event)
    if len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLarge
    if not raw:
        return event
    content_type = (event.get("headers") or {}).get("content-type", "application/json")
    if not _is_json_media_type(content_type):
        raise UnsupportedMediaType
    try:
        text = raw.decode("utf-8")
        json.loads(text, object_pairs_hook=_refuse_duplicate_keys)
    except UnicodeDecodeError:
        raise MalformedBody("The request body is not valid UTF-8.") from None
    except RecursionError:
        raise MalformedBody("The JSON body is nested too deeply.") from None
    except ValueError:
        raise MalformedBody("The request body is not valid JSON.") from None
    return {**event, "body": text, "isBase64Encoded": False}


def bearer_token(authorization: str | None) -> str:
    """The value of `Authorization: Bearer <token>`; anything else is `Unauthenticated`."""
    if authorization is None:
        raise Unauthenticated
    scheme, _, value = authorization.strip().partition(" ")
    value = value.strip()
    if scheme.lower() != "bearer" or not value or " " in value:
        raise Unauthenticated
    return value
