"""Origin header values no allowlist may match: not an origin at all (a path, a trailing slash,
a port spelled out, upper case, a wildcard, `null`, nothing). The CORS code's tests and the
authorizer's both refuse them, each with cases of its own besides."""

from __future__ import annotations

MALFORMED_ORIGINS = [
    "null",
    "https://a.test/path",
    "https://a.test/",
    "https://A.test",
    "https://a.test:443",
    "*",
    "",
]
