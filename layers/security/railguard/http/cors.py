"""CORS for browser callers (contract section 6).

Preflights (`OPTIONS`) carry no credential, so they cannot know which key will follow: they are
answered for any well-formed Origin, which grants nothing. The decision is made on the real
request, where the authorizer checks the key's `allowed_origins` (403 otherwise) and hands the
matched Origin on; only then does a response name that Origin in `Access-Control-Allow-Origin`,
with `Vary: Origin`, and never `*`. Keys without `allowed_origins` are server keys: their
responses carry no CORS headers, so a page cannot read them.
"""

from __future__ import annotations

from typing import Any

from railguard.access.network import is_origin
from railguard.http.responses import with_standard_headers

ALLOWED_METHODS = "GET, POST, PATCH, DELETE"
ALLOWED_HEADERS = (
    "Authorization, X-API-Key, X-Workspace-ID, Content-Type, X-Webhook-Timestamp, "
    "X-Webhook-Signature"
)
EXPOSED_HEADERS = "X-Request-ID, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, Retry-After"
PREFLIGHT_MAX_AGE_SECONDS = 600


def response_headers(origin: str | None) -> dict[str, str]:
    """CORS headers of a response to a request whose Origin the authorizer allowed."""
    if origin is None:
        return {}
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Expose-Headers": EXPOSED_HEADERS,
        "Vary": "Origin",
    }


def preflight(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    """The answer to any `OPTIONS` request: 204, naming the Origin when it is well formed."""
    headers = event.get("headers") or {}
    origin = headers.get("origin")
    cors: dict[str, str] = {"Vary": "Origin"}
    if isinstance(origin, str) and is_origin(origin):
        cors |= {
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Methods": ALLOWED_METHODS,
            "Access-Control-Allow-Headers": ALLOWED_HEADERS,
            "Access-Control-Max-Age": str(PREFLIGHT_MAX_AGE_SECONDS),
        }
    request_id = str((event.get("requestContext") or {}).get("requestId") or "")
    return with_standard_headers({"statusCode": 204, "headers": cors, "body": ""}, request_id)
