"""Origins: `canonical_origin` and `parse_origins` on client-written allowlist entries, and
`is_origin` on any `Origin` header (it answers CORS preflights, which anyone may send).

Property: `canonical_origin` returns or raises `ValidationFailed`; `is_origin` never raises. A
canonical origin canonicalises to itself, `is_origin` accepts exactly the canonical forms,
`parse_origins` removes a duplicate after canonicalising, and a URL parser reads the canonical
form as nothing but a scheme and a host (no user information, path, query or fragment).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from fuzz.targets._inputs import check, text
from railguard.access.network import canonical_origin, is_origin, parse_origins
from railguard.core.errors import ValidationFailed


def one_input(data: bytes) -> None:
    value = text(data)
    accepted = is_origin(value)
    check(isinstance(accepted, bool), "is_origin answers a bool")
    try:
        canonical = canonical_origin(value)
    except ValidationFailed:
        check(not accepted, "is_origin accepted what canonical_origin refuses")
        return
    check(accepted == (canonical == value), "is_origin disagrees with the canonical form")
    check(canonical_origin(canonical) == canonical, "a canonical origin changed again")
    check(is_origin(canonical), "is_origin refused a canonical origin")
    check(parse_origins([value, canonical]) == (canonical,), "parse_origins kept a duplicate")
    parts = urlsplit(canonical)
    check(parts.scheme in {"https", "http"}, "the scheme is https or http")
    check(parts.username is None and parts.password is None, "a canonical origin has user info")
    check(
        (parts.path, parts.query, parts.fragment) == ("", "", ""),
        "a canonical origin has a path, query or fragment",
    )
    check(f"{parts.scheme}://{parts.netloc}" == canonical, "a URL parser reads another origin")
