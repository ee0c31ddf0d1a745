"""The one mapping from typed errors to HTTP, and the headers every response carries."""

from __future__ import annotations

import json
from typing import Any

from railguard.core.errors import RailguardError, RateLimited, ServiceUnavailable

JSON_CONTENT_TYPE = "application/json"


def error_status_and_body(error: RailguardError) -> tuple[int, dict[str, Any], dict[str, str]]:
    """Status, body and extra headers for a typed error (contract section 1)."""
    body = {"error": {"code": error.code, "message": error.message, "details": error.details}}
    headers: dict[str, str] = {}
    if isinstance(error, RateLimited):
        headers |= error.headers
    if isinstance(error, RateLimited | ServiceUnavailable):
        headers["Retry-After"] = str(error.retry_after_seconds)
    return error.status, body, headers


def error_result(error: RailguardError) -> dict[str, Any]:
    """A Lambda proxy result for an error raised before the resolver runs."""
    status, body, headers = error_status_and_body(error)
    return {
        "statusCode": status,
        "headers": {"Content-Type": JSON_CONTENT_TYPE, **headers},
        "body": json.dumps(body, separators=(",", ":")),
        "isBase64Encoded": False,
    }


def with_standard_headers(
    result: dict[str, Any], request_id: str, extra: dict[str, str] | None = None
) -> dict[str, Any]:
    """Headers every response carries, whoever built it (contract section 1), and `extra`
    (rate-limit and CORS headers)."""
    headers = {**(result.get("headers") or {}), **(extra or {})}
    headers["Cache-Control"] = "no-store"
    headers["X-Request-ID"] = request_id
    headers["X-Content-Type-Options"] = "nosniff"
    return {**result, "headers": headers}
