"""`Principal.from_context`: how every function reads the authorizer's context (flat strings).

Input: two bytes of flags (which context entries are present), then the entries' values,
NUL-separated, in `NAMES` order.

Property: a principal or `Unauthenticated`; and a principal read back from its own context is
the same principal.
"""

from __future__ import annotations

from fuzz.targets._inputs import check, fields, text
from railguard.access.principal import Principal
from railguard.core.errors import Unauthenticated

NAMES = (
    "principal_type",
    "principal_id",
    "workspace_id",
    "role",
    "scopes",
    "session_id",
    "rate_limit",
    "origin",
    "mfa_required",
)


def one_input(data: bytes) -> None:
    flags = int.from_bytes(data[:2].ljust(2, b"\0"), "big")
    values = fields(data[2:], len(NAMES))
    context = {
        name: text(value)
        for bit, (name, value) in enumerate(zip(NAMES, values, strict=True))
        if flags & (1 << bit)
    }
    try:
        principal = Principal.from_context(context)
    except Unauthenticated:
        return
    check(
        Principal.from_context(principal.to_context()) == principal,
        "a principal read back from its own context changed",
    )
