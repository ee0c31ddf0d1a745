"""Secret values the tests store through the API, so that the end of the session can check that
no item of any table holds one of them in plaintext (issue 6: "a scan of every item finds no
plaintext secret")."""

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


def plaintexts_in(dynamodb: Any) -> list[str]:
    """Where a remembered value appears: `table: value` for each find."""
    finds = []
    for table in dynamodb.list_tables()["TableNames"]:
        for page in dynamodb.get_paginator("scan").paginate(TableName=table):
            for item in page["Items"]:
                blobs = list(_texts(item))
                finds.extend(
                    f"{table}: {value}"
                    for value in STORED
                    if any(value.encode() in blob for blob in blobs)
                )
    return finds
