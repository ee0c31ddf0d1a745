"""Secret values the tests store through the API, so that the end of each test module can check
that no item of its tables holds one of them in plaintext (issue 6: "a scan of every item finds
no plaintext secret")."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

STORED: set[str] = set()


def remember(value: str) -> str:
    STORED.add(value)
    return value


def _texts(attribute: Any) -> Iterable[bytes]:
    """Every string and binary value inside a raw DynamoDB attribute value, as bytes."""
    if isinstance(attribute, dict):
        for kind, value in attribute.items():
            if kind == "S":
                yield value.encode()
            elif kind == "B":
                yield bytes(value)
            else:
                yield from _texts(value)
    elif isinstance(attribute, list):
        for value in attribute:
            yield from _texts(value)


def plaintexts_in(dynamodb: Any, tables: Iterable[str], values: Iterable[str | bytes]) -> list[str]:
    """Where one of `values` (text, or bytes such as a ciphertext) appears in an item of
    `tables`: `table: value` for each find."""
    wanted = [value.encode() if isinstance(value, str) else value for value in values]
    finds: list[str] = []
    for table in tables:
        for page in dynamodb.get_paginator("scan").paginate(TableName=table):
            for item in page["Items"]:
                # One blob per item: a separator no value contains keeps attributes apart.
                blob = b"\x00".join(_texts(item))
                finds.extend(
                    f"{table}: {value.decode(errors='backslashreplace')}"
                    for value in wanted
                    if value in blob
                )
    return finds
