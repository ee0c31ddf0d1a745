"""Resource ids: opaque, unique and time-sortable (a ULID), with a type prefix that tells a
reader what an id names (`ws_01J...`, `usr_01J...`)."""

from __future__ import annotations

import re
from typing import Literal

from ulid import ULID

IdKind = Literal["usr", "ws", "ses", "key", "cred", "wht", "aui", "evt", "sig"]

_ID_PATTERN = re.compile(r"^(?P<kind>[a-z]{2,4})_[0-9A-HJKMNP-TV-Z]{26}$")


def new_id(kind: IdKind) -> str:
    return f"{kind}_{ULID()}"


def is_id(value: str, kind: IdKind) -> bool:
    """Whether `value` is shaped like an id of `kind`; a cheap check before any lookup."""
    match = _ID_PATTERN.match(value)
    return match is not None and match["kind"] == kind
