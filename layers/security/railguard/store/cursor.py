"""Pagination cursors: opaque to clients, meaningless outside the partition that made them.

A cursor holds the sort key(s) of the last item returned, base64url-encoded. The partition key is
never in it: `Table.query` restores it from the caller, so a cursor cannot be replayed against
another workspace's partition.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from railguard.core.errors import ValidationFailed

_MAX_CURSOR_LENGTH = 1024


def encode_cursor(last_key: dict[str, Any], *, index: str | None) -> str:
    fields = {"sk": last_key["sk"]}
    if index:
        fields["pk"] = last_key["pk"]  # a base-table key is part of every index position
        fields[f"{index}sk"] = last_key[f"{index}sk"]
    raw = json.dumps(fields, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, *, partition: str, index: str | None) -> dict[str, Any]:
    invalid = ValidationFailed("The cursor is not valid.", details={"field": "cursor"})
    if len(cursor) > _MAX_CURSOR_LENGTH:
        raise invalid
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        fields = json.loads(raw)
    except (binascii.Error, ValueError):
        raise invalid from None
    expected = {"sk", "pk", f"{index}sk"} if index else {"sk"}
    if not isinstance(fields, dict) or set(fields) != expected:
        raise invalid
    if not all(isinstance(value, str) for value in fields.values()):
        raise invalid
    if index:
        return {**fields, f"{index}pk": partition}
    return {**fields, "pk": partition}
