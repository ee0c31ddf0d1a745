"""Resource ids: opaque, unique and time-sortable (a ULID), with a type prefix that tells a
reader what an id names (`ws_01J...`, `usr_01J...`).

A ULID is 48 bits of milliseconds then 80 random bits, in Crockford's base32 (26 characters), so
ids sort by creation time. It is built here from `secrets` in a few lines rather than imported:
the ULID library pulls `importlib.metadata` into every cold start (about 17 ms, `make bench`).
"""

from __future__ import annotations

import re
import secrets
import time

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_ID_PATTERN = re.compile(r"^(?P<kind>[a-z]{2,4})_[0-7][0-9A-HJKMNP-TV-Z]{25}$")


def ulid(now_ms: int | None = None) -> str:
    """A new ULID: the time in milliseconds (`now_ms`, or the clock's) and 80 random bits."""
    milliseconds = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    value = (milliseconds << 80) | secrets.randbits(80)
    return "".join(CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def new_id(prefix: str) -> str:
    """An id of the kind whose prefix is `prefix` (`railguard.kinds`: never a secret's prefix,
    such as `wht_`, since logs scrub those and ids must stay readable)."""
    return f"{prefix}_{ulid()}"


def is_id(value: str, prefix: str) -> bool:
    """Whether `value` is shaped like an id with `prefix`; a cheap check before any lookup."""
    match = _ID_PATTERN.match(value)
    return match is not None and match["kind"] == prefix
