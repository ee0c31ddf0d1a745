"""Cursors are opaque, bounded, and cannot point into another partition."""

from __future__ import annotations

import pytest

from railguard.core.errors import ValidationFailed
from railguard.store.cursor import decode_cursor, encode_cursor


def test_a_cursor_keeps_the_sort_key_and_takes_the_partition_from_the_caller() -> None:
    # Given a cursor made in workspace A
    cursor = encode_cursor({"pk": "WS#a", "sk": "KEY#1"}, index=None)
    # When it is decoded for workspace B
    start = decode_cursor(cursor, partition="WS#b", index=None)
    # Then the position is the same sort key, but inside B's partition
    assert start == {"pk": "WS#b", "sk": "KEY#1"}
    assert "WS#a" not in cursor.encode().decode()


def test_an_index_cursor_round_trips() -> None:
    key = {"pk": "P", "sk": "S", "gsi1pk": "G", "gsi1sk": "2026"}
    cursor = encode_cursor(key, index="gsi1")
    assert decode_cursor(cursor, partition="G", index="gsi1") == key


@pytest.mark.parametrize(
    "cursor",
    ["!!!", "e30", "eyJwayI6IldTI2EifQ", "x" * 2000, "WyJhIl0", "eyJzayI6MX0"],
    ids=["not-base64", "empty-object", "pk-only", "too-long", "a-list", "non-string"],
)
def test_a_forged_or_broken_cursor_is_a_validation_error(cursor: str) -> None:
    with pytest.raises(ValidationFailed):
        decode_cursor(cursor, partition="WS#b", index=None)
