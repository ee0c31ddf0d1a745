"""The plaintext scan the integration tier runs after each module finds what it must."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tests.support.plaintexts import plaintexts_in


class _Scans:
    """Just enough of a DynamoDB client for a scan: one page per table."""

    def __init__(self, tables: dict[str, list[dict[str, Any]]]) -> None:
        self._tables = tables

    def get_paginator(self, _operation: str) -> _Scans:
        return self

    def paginate(self, TableName: str) -> Iterator[dict[str, Any]]:  # noqa: N803 - boto3's name
        yield {"Items": self._tables[TableName]}


def test_a_secret_nested_in_a_map_list_or_binary_is_found() -> None:
    # Given items holding the secret in a nested string, and another in a binary
    items = [
        {"pk": {"S": "W#1"}, "meta": {"M": {"notes": {"L": [{"S": "x sk_live_123 y"}]}}}},
        {"pk": {"S": "W#2"}, "blob": {"B": b"\x01pin-4711\x02"}},
    ]
    # When the table is scanned for both
    finds = plaintexts_in(_Scans({"t": items}), ["t"], ["sk_live_123", "pin-4711"])
    # Then each is named with its table
    assert sorted(finds) == ["t: pin-4711", "t: sk_live_123"]


def test_a_secret_split_across_two_attributes_is_not_a_find() -> None:
    # Given an item whose two attributes only together spell the secret
    items = [{"a": {"S": "sk_live"}, "b": {"S": "_123"}}]
    # When scanned / Then nothing is reported, and a table not asked for is not read
    assert plaintexts_in(_Scans({"t": items, "other": []}), ["t"], ["sk_live_123"]) == []
