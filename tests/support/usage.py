"""Workspace minute items as the rate limiter writes them (issue 21's design: its one counting
write per request), for tests of usage, whose readers take the allowed requests from them.

Key `("RATE#workspace:{workspace_id}", "WINDOW#60#{start}")`; `c:{class}` the requests of that
endpoint class, `p:{rate_subject}` the principal's; `ttl` = start + 60 + 6 h, on the sweep index.
"""

from __future__ import annotations

from railguard.store import Table
from railguard.store import keys as item_keys

MINUTE_TTL_SECONDS = 60 + 6 * 3600


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
    pk = f"RATE#workspace:{workspace_id}"
    ttl = start + MINUTE_TTL_SECONDS
    sweep = item_keys.sweep_index(pk, ttl)
    table.update(
        (pk, f"WINDOW#60#{start}"),
        "ADD #class :n, #principal :n SET #ttl = :ttl, gsi2pk = :sweep, gsi2sk = :order",
        names={"#class": f"c:{endpoint_class}", "#principal": f"p:{subject}", "#ttl": "ttl"},
        values={":n": requests, ":ttl": ttl, ":sweep": sweep["gsi2pk"], ":order": sweep["gsi2sk"]},
    )
