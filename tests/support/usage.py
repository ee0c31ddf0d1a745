"""Workspace minute items in the rate limiter's layout (`railguard.access.rate_repository`), many
requests at once, for tests of usage, whose readers take the allowed requests from them."""

from __future__ import annotations

from railguard.access.rate_repository import (
    class_attribute,
    principal_attribute,
    workspace_window,
    workspace_window_expiry,
)
from railguard.store import Table
from railguard.store import keys as item_keys


def count_in_minute(
    table: Table,
    workspace_id: str,
    start: int,
    subject: str,
    *,
    requests: int = 1,
    endpoint_class: str = "read",
) -> None:
    """`requests` requests of `subject` (`api_key:{id}`, `user:{id}`) counted in the minute
    window starting at `start` (a multiple of 60)."""
    assert start % 60 == 0
    key = workspace_window(workspace_id, start)
    ttl = workspace_window_expiry(start)
    sweep = item_keys.sweep_index(key[0], ttl)
    table.update(
        key,
        "ADD #class :n, #principal :n SET #ttl = :ttl, gsi2pk = :sweep, gsi2sk = :order",
        names={
            "#class": class_attribute(endpoint_class),
            "#principal": principal_attribute(subject),
            "#ttl": "ttl",
        },
        values={":n": requests, ":ttl": ttl, ":sweep": sweep["gsi2pk"], ":order": sweep["gsi2sk"]},
    )
