"""Storage of usage: one item per hour per principal (API key or member) of a workspace and one
per hour per workspace, kept 90 days; and the reads of the workspace minute items that the rate
limiter counts every request in (its one write per request), from which the rollup job and the
reader take the allowed requests.

Hourly items: `("USAGE#{workspace_id}#{rate_subject}", "HOUR#{hour_start:012d}")` per principal
and `("USAGE#{workspace_id}", "HOUR#{hour_start:012d}")` per workspace; `allowed` is SET by the
rollup job (the hour's minute items summed: the same value however often it runs), the refusals
and 429s are ADDed by the instances that decided them (`railguard.usage.tally`). They carry a
DynamoDB TTL only: they are not on the sweep index, whose range the rollup job reads, and
nothing depends on their leaving at the minute.

The minute items are the rate limiter's, and so is their layout (`railguard.access.rate_repository`:
`workspace_window`, `principal_counts`, `workspace_window_expiry`); this module only reads them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Literal, get_args

from railguard.access.rate_repository import (
    WORKSPACE_WINDOW_SECONDS,
    principal_counts,
    window_start_of,
    workspace_of_window,
    workspace_window,
    workspace_window_expiry,
)
from railguard.store import Item, Repository
from railguard.store import keys as item_keys

HOUR_SECONDS = 3600
RETENTION_SECONDS = 90 * 86_400

# Counted in memory by the instance that decided it, and added to the hour's items.
Outcome = Literal["refused_credential", "refused_network", "refused_scope", "rate_limited"]
OUTCOMES: tuple[Outcome, ...] = get_args(Outcome)
ALLOWED = "allowed"  # set by the rollup job


def hour_of(moment: float) -> int:
    """The start of the UTC hour `moment` falls in."""
    seconds = int(moment)
    return seconds - seconds % HOUR_SECONDS


@dataclass(frozen=True)
class Series:
    """Whose hours: one principal's (`subject`: its rate subject, `api_key:{id}` or
    `user:{id}`) in a workspace, or the whole workspace's (`subject` None)."""

    workspace_id: str
    subject: str | None = None

    @property
    def partition(self) -> str:
        if self.subject is None:
            return f"USAGE#{self.workspace_id}"
        return f"USAGE#{self.workspace_id}#{self.subject}"

    def allowed_in(self, minute: Item) -> int:
        """The requests of this series a workspace minute item counted."""
        return sum(
            requests
            for subject, requests in principal_counts(minute)
            if self.subject is None or subject == self.subject
        )


def _hour_sort_key(hour_start: int) -> str:
    return f"HOUR#{hour_start:012d}"


def allowed_by_principal(minutes: Iterator[Item]) -> Counter[str]:
    """The requests each principal (by rate subject) made in these minute items."""
    counts: Counter[str] = Counter()
    for minute in minutes:
        counts.update(dict(principal_counts(minute)))
    return counts


class UsageRepository(Repository):
    # -- the hourly items ------------------------------------------------------------------
    def add(self, series: Series, hour_start: int, counts: Mapping[Outcome, int]) -> None:
        """Add refusals or 429s to the hour's item (made if missing). Naming only these
        counts and the ttl, reading nothing back: all the roles that count may do (IAM)."""
        names = {f"#o{i}": outcome for i, outcome in enumerate(counts)}
        values: dict[str, int] = {f":o{i}": n for i, n in enumerate(counts.values())}
        adds = ", ".join(f"#o{i} :o{i}" for i in range(len(counts)))
        self._table.update(
            (series.partition, _hour_sort_key(hour_start)),
            f"ADD {adds} SET #ttl = :ttl",
            names={**names, "#ttl": "ttl"},
            values={**values, ":ttl": hour_start + HOUR_SECONDS + RETENTION_SECONDS},
            read_back="nothing",
        )

    def set_allowed(self, series: Series, hour_start: int, allowed: int) -> None:
        """Set the hour's allowed requests (the rollup's sum: a rerun writes the same)."""
        self._table.update(
            (series.partition, _hour_sort_key(hour_start)),
            "SET #allowed = :allowed, #ttl = :ttl",
            names={"#allowed": ALLOWED, "#ttl": "ttl"},
            values={
                ":allowed": allowed,
                ":ttl": hour_start + HOUR_SECONDS + RETENTION_SECONDS,
            },
            read_back="nothing",
        )

    def hours(self, series: Series, first_hour: int, last_hour: int) -> dict[int, Item]:
        """The series' hourly items from `first_hour` to `last_hour` (both included), by hour."""
        items = self._table.iterate(
            series.partition,
            sk_from=_hour_sort_key(first_hour),
            sk_until=_hour_sort_key(last_hour),
        )
        return {int(item["sk"].removeprefix("HOUR#")): item for item in items}

    # -- the workspace minute items (the rate limiter's) ----------------------------------
    def minutes(self, workspace_id: str, first_start: int, last_start: int) -> Iterator[Item]:
        """The workspace's minute items whose windows start from `first_start` to `last_start`
        (both included). Their sort keys hold the start in decimal, ten digits until 2286, so
        text order is time order."""
        first, last = (workspace_window(workspace_id, s) for s in (first_start, last_start))
        return self._table.iterate(first[0], sk_from=first[1], sk_until=last[1])

    def allowed_by_hour(self, series: Series, first_hour: int, last_hour: int) -> Counter[int]:
        """The series' allowed requests in each hour from `first_hour` to `last_hour` (both
        included), summed from the workspace's minute items."""
        counts: Counter[int] = Counter()
        last_start = last_hour + HOUR_SECONDS - WORKSPACE_WINDOW_SECONDS
        for minute in self.minutes(series.workspace_id, first_hour, last_start):
            counts[hour_of(window_start_of(minute["sk"]))] += series.allowed_in(minute)
        return counts

    def workspaces_counted(self, hour_start: int) -> Iterator[str]:
        """The workspaces that have minute items in the hour (one or more times each), found
        on the sweep index by their ttl: every shard's range of the hour's minute items."""
        first = workspace_window_expiry(hour_start)
        last = first + HOUR_SECONDS - WORKSPACE_WINDOW_SECONDS
        for shard in range(item_keys.SWEEP_SHARDS):
            for item in self._table.iterate(
                item_keys.sweep_partition(shard),
                index="gsi2",
                sk_from=f"{first:012d}",
                sk_until=f"{last:012d}",
            ):
                workspace_id = workspace_of_window(item["pk"])
                if workspace_id is not None:
                    yield workspace_id
