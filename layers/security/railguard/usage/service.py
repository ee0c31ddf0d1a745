"""The usage reader: a key's or a workspace's requests by hour or UTC day, as a list in the
contract's conventions (section 1).

A series is a list of buckets, newest first as every list of the API (the default page is the
latest 20 hours), every bucket of the range (empty ones as zeros, so a page is `limit` buckets
and a chart needs no gap filling); `meta.next_cursor` names the next, older, bucket. Each hour's
refusals and 429s come from its usage items; its allowed requests from them too once the rollup
job has summed the hour, and from the workspace minute items themselves for the current and the
previous hour (exact at once, and never missing while the hourly job has yet to run).
"""

from __future__ import annotations

import base64
import binascii
from collections import Counter
from dataclasses import dataclass
from typing import Literal

from railguard.access.principal import rate_subject
from railguard.api_keys.repository import ApiKeyRepository
from railguard.core.clock import Clock
from railguard.core.errors import NotFound, ValidationFailed
from railguard.store import Item, Table
from railguard.usage.repository import (
    ALLOWED,
    HOUR_SECONDS,
    OUTCOMES,
    RETENTION_SECONDS,
    Series,
    UsageRepository,
    hour_of,
)
from railguard.workspaces import Listing, WorkspaceScope

Granularity = Literal["hour", "day"]
BUCKET_SECONDS: dict[Granularity, int] = {"hour": HOUR_SECONDS, "day": 86_400}
DEFAULT_RANGE_SECONDS = 86_400
MAX_RANGE_SECONDS = RETENTION_SECONDS
# The current and the previous hour: their allowed requests are read from the minute items.
RECENT_HOURS = 2


@dataclass(frozen=True)
class Bucket:
    start: int
    allowed: int
    refused_credential: int
    refused_network: int
    refused_scope: int
    rate_limited: int


@dataclass(frozen=True)
class UsageQuery:
    """The range asked for (epoch seconds; None: the last 24 hours), its buckets, and the page."""

    start: int | None = None
    end: int | None = None
    granularity: Granularity = "hour"
    limit: int = 20
    cursor: str | None = None


@dataclass(frozen=True)
class _Range:
    """The buckets asked for: from the one `start` falls in to the last starting before `end`."""

    start: int
    end: int
    size: int

    @property
    def first(self) -> int:
        return self.start - self.start % self.size

    @property
    def last(self) -> int:
        return (self.end - 1) - (self.end - 1) % self.size

    def page_from(self, cursor: str | None) -> int:
        """The newest bucket of the page: the range's last, or the one the cursor names."""
        if cursor is None:
            return self.last
        bucket = _decode_cursor(cursor)
        if bucket is None or bucket % self.size or not self.first <= bucket <= self.last:
            raise ValidationFailed("The cursor is not valid.", details={"field": "cursor"})
        return bucket


def _encode_cursor(bucket: int) -> str:
    return base64.urlsafe_b64encode(str(bucket).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int | None:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 12 else None


class Usage:
    def __init__(self, table: Table, clock: Clock):
        self._usage = UsageRepository(table)
        self._keys = ApiKeyRepository(table)
        self._clock = clock

    def of_key(self, scope: WorkspaceScope, key_id: str, query: UsageQuery) -> Listing[Bucket]:
        """The key's usage; `NotFound` for a key that is not the workspace's."""
        key = self._keys.by_id(scope.workspace_id, key_id)
        if key is None or key.workspace_id != scope.workspace_id:
            raise NotFound("No such API key.")
        series = Series(scope.workspace_id, rate_subject("api_key", key.id))
        return self._page(series, query)

    def of_workspace(self, scope: WorkspaceScope, query: UsageQuery) -> Listing[Bucket]:
        """The whole workspace's usage: every key and member, and keys no longer known."""
        return self._page(Series(scope.workspace_id), query)

    def _range(self, query: UsageQuery) -> _Range:
        """The range asked for, by default the last 24 hours; at most 90 days, `to` after
        `from`, else `ValidationFailed`."""
        end = int(self._clock.now()) if query.end is None else query.end
        start = end - DEFAULT_RANGE_SECONDS if query.start is None else query.start
        if end <= start:
            raise ValidationFailed("to must be after from.", details={"field": "to"})
        if end - start > MAX_RANGE_SECONDS:
            raise ValidationFailed(
                "The range may span at most 90 days.",
                details={"field": "from", "max_days": MAX_RANGE_SECONDS // 86_400},
            )
        return _Range(start, end, BUCKET_SECONDS[query.granularity])

    def _page(self, series: Series, query: UsageQuery) -> Listing[Bucket]:
        span = self._range(query)
        newest = span.page_from(query.cursor)
        starts = list(range(newest, span.first - 1, -span.size))[: query.limit]
        older = starts[-1] - span.size
        hours = self._hours(series, starts[-1], newest + span.size - HOUR_SECONDS)
        buckets = [_bucket(b, span.size, hours) for b in starts]
        return Listing(buckets, _encode_cursor(older) if older >= span.first else None)

    def _hours(self, series: Series, first_hour: int, last_hour: int) -> dict[int, Counter[str]]:
        """Each hour's counts: from its usage item, and for the recent hours the allowed
        requests from the minute items."""
        items = self._usage.hours(series, first_hour, last_hour)
        recent = hour_of(self._clock.now()) - (RECENT_HOURS - 1) * HOUR_SECONDS
        counts = {hour: _counts(item, with_allowed=hour < recent) for hour, item in items.items()}
        if last_hour >= recent:
            allowed = self._usage.allowed_by_hour(series, max(first_hour, recent), last_hour)
            for hour, requests in allowed.items():
                counts.setdefault(hour, Counter())[ALLOWED] += requests
        return counts


def _counts(item: Item, *, with_allowed: bool) -> Counter[str]:
    names = (*OUTCOMES, ALLOWED) if with_allowed else OUTCOMES
    return Counter({name: int(item.get(name, 0)) for name in names})


def _bucket(start: int, size: int, hours: dict[int, Counter[str]]) -> Bucket:
    total: Counter[str] = Counter()
    for hour in range(start, start + size, HOUR_SECONDS):
        total.update(hours.get(hour, Counter()))
    return Bucket(
        start=start,
        allowed=total[ALLOWED],
        refused_credential=total["refused_credential"],
        refused_network=total["refused_network"],
        refused_scope=total["refused_scope"],
        rate_limited=total["rate_limited"],
    )
