"""Usage (issue 21) on an in-process DynamoDB: refusals counted in memory and flushed once the
oldest is 5 s old; the rollup's hourly sums of the workspace minute items; the reader joining
the recent hours' minute items with the rolled-up hours, by hour or UTC day, page by page."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from railguard.core.errors import ValidationFailed
from railguard.jobs import JobReport
from railguard.store import Table
from railguard.usage.repository import Series, UsageRepository
from railguard.usage.rollup import UsageRollup
from railguard.usage.service import Usage, UsageQuery
from railguard.usage.tally import (
    FLUSH_AFTER_SECONDS,
    MAX_PENDING_PER_WORKSPACE,
    MAX_WRITES_PER_FLUSH,
    UsageTally,
)
from railguard.workspaces import WorkspaceScope
from tests.support.fake_time import FakeClock
from tests.support.usage import count_in_minute

HOUR, DAY = 3600, 86_400
# A UTC midnight: days and hours line up with it.
MIDNIGHT = 1_800_000_000 - 1_800_000_000 % DAY
KEY, MEMBER = "api_key:key_1", "user:usr_1"


@pytest.fixture
def table() -> Iterator[Table]:
    """The table's keys and its sweep index (keys only), as the template declares them."""
    with mock_aws():
        client = boto3.client("dynamodb", region_name="eu-west-1")
        attributes = ("pk", "sk", "gsi2pk", "gsi2sk")
        client.create_table(
            TableName="t",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in attributes],
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "gsi2",
                    "KeySchema": [
                        {"AttributeName": "gsi2pk", "KeyType": "HASH"},
                        {"AttributeName": "gsi2sk", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "KEYS_ONLY"},
                }
            ],
        )
        yield Table(client, "t")


class CountingTable(Table):
    """The table, counting its updates (the writes a flush makes)."""

    def __init__(self, table: Table):
        super().__init__(table._client, table.name)
        self.updates = 0

    def update(self, *args: Any, **kwargs: Any) -> Any:
        self.updates += 1
        return super().update(*args, **kwargs)


def _hour_item(table: Table, series: Series, hour: int) -> dict[str, Any]:
    return UsageRepository(table).hours(series, hour, hour).get(hour, {})


# -- counted in memory, flushed ---------------------------------------------------------------
def test_refusals_wait_in_memory_until_the_oldest_is_5_seconds_old(table: Table) -> None:
    # Given refusals of a key and of a member counted by an instance
    clock = FakeClock(MIDNIGHT + 10)
    counting = CountingTable(table)
    tally = UsageTally(counting, clock)
    tally.count("refused_network", "ws_1", KEY)
    tally.count("refused_network", "ws_1", KEY)
    tally.count("refused_scope", "ws_1", MEMBER)
    # When an invocation asks for a flush just before the oldest is 5 s old
    clock.advance(FLUSH_AFTER_SECONDS - 0.1)
    tally.flush_if_due()
    # Then nothing is written
    assert counting.updates == 0
    # When one asks once it is 5 s old
    clock.advance(0.1)
    tally.flush_if_due()
    # Then one ADD per principal's hour and one for the workspace's hour
    assert counting.updates == 3
    assert _hour_item(table, Series("ws_1", KEY), MIDNIGHT)["refused_network"] == 2
    assert _hour_item(table, Series("ws_1", MEMBER), MIDNIGHT)["refused_scope"] == 1
    workspace = _hour_item(table, Series("ws_1"), MIDNIGHT)
    assert (workspace["refused_network"], workspace["refused_scope"]) == (2, 1)
    # And the item lives 90 days past its hour
    assert workspace["ttl"] == MIDNIGHT + HOUR + 90 * DAY
    # And nothing waits any more: the next flush writes nothing
    clock.advance(FLUSH_AFTER_SECONDS)
    tally.flush_if_due()
    assert counting.updates == 3


def test_a_flood_of_refused_keys_costs_a_flush_its_bound_and_never_pushes_out_other_workspaces(
    table: Table,
) -> None:
    # Given an instance that refused many distinct keys of one workspace (revoked on purpose
    # to make many series), then one key of another
    clock = FakeClock(MIDNIGHT + 10)
    counting = CountingTable(table)
    tally = UsageTally(counting, clock)
    flood = MAX_PENDING_PER_WORKSPACE + 10
    for n in range(flood):
        tally.count("refused_credential", "ws_flood", f"api_key:key_{n}")
    tally.count("refused_scope", "ws_victim", KEY)
    # When a flush is due
    clock.advance(FLUSH_AFTER_SECONDS)
    tally.flush_if_due()
    # Then it writes its bound, the workspaces' totals first, every refusal in them
    assert counting.updates == MAX_WRITES_PER_FLUSH
    assert _hour_item(table, Series("ws_flood"), MIDNIGHT)["refused_credential"] == flood
    assert _hour_item(table, Series("ws_victim"), MIDNIGHT)["refused_scope"] == 1
    # And the rest wait for the next flushes: the flooding workspace's first keys, up to its
    # share, and the other workspace's key, which the flood did not push out
    for _ in range(3):
        clock.advance(FLUSH_AFTER_SECONDS)
        tally.flush_if_due()
    assert counting.updates == 2 + MAX_PENDING_PER_WORKSPACE + 1
    assert _hour_item(table, Series("ws_victim", KEY), MIDNIGHT)["refused_scope"] == 1
    last_held = f"api_key:key_{MAX_PENDING_PER_WORKSPACE - 1}"
    assert _hour_item(table, Series("ws_flood", last_held), MIDNIGHT)["refused_credential"] == 1
    past_its_share = f"api_key:key_{MAX_PENDING_PER_WORKSPACE}"
    assert _hour_item(table, Series("ws_flood", past_its_share), MIDNIGHT) == {}


def test_counts_add_to_what_other_instances_wrote_in_their_hour(table: Table) -> None:
    # Given two instances that refused the same key in the same hour, and one an hour later
    clock = FakeClock(MIDNIGHT + HOUR - 2)
    first, second = UsageTally(table, clock), UsageTally(table, clock)
    first.count("refused_credential", "ws_1", KEY)
    second.count("refused_credential", "ws_1", KEY)
    clock.advance(3)  # the next hour
    second.count("refused_credential", "ws_1", KEY)
    # When both flush
    clock.advance(FLUSH_AFTER_SECONDS)
    first.flush_if_due()
    second.flush_if_due()
    # Then each hour holds its own refusals, from both
    assert _hour_item(table, Series("ws_1", KEY), MIDNIGHT)["refused_credential"] == 2
    assert _hour_item(table, Series("ws_1", KEY), MIDNIGHT + HOUR)["refused_credential"] == 1


def test_a_failed_flush_drops_its_counts(table: Table, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a refusal waiting, and a table that fails its next write
    clock = FakeClock(MIDNIGHT)
    tally = UsageTally(table, clock)
    tally.count("refused_scope", "ws_1", KEY)
    clock.advance(FLUSH_AFTER_SECONDS)

    def failing(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("DynamoDB is down")

    monkeypatch.setattr(UsageRepository, "add", failing)
    # When a flush fails
    with pytest.raises(RuntimeError):
        tally.flush_if_due()
    # Then the counts are dropped, never written twice: the next flush has nothing to write
    monkeypatch.undo()
    assert not tally.due
    tally.flush_if_due()
    assert _hour_item(table, Series("ws_1", KEY), MIDNIGHT) == {}


def test_decisions_alone_are_flushed_as_metrics_without_a_write(
    table: Table, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given allowed decisions and a metric counted, and no refusal of a workspace
    clock = FakeClock(MIDNIGHT)
    counting = CountingTable(table)
    tally = UsageTally(counting, clock)
    for _ in range(3):
        tally.allowed()
    tally.metric("RateLimited", limit="workspace", **{"class": "read"})
    # When they are flushed
    clock.advance(FLUSH_AFTER_SECONDS)
    tally.flush_if_due()
    # Then one EMF line per metric and dimension set went to the log, and no table write
    emitted = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert sorted(_metric(line) for line in emitted) == [
        ("Decisions", {"outcome": "allowed"}, 3.0),
        ("RateLimited", {"class": "read", "limit": "workspace"}, 1.0),
    ]
    assert counting.updates == 0


def _metric(line: dict[str, Any]) -> tuple[str, dict[str, str], float]:
    """An EMF line's metric, its dimensions and its value."""
    (declared,) = line["_aws"]["CloudWatchMetrics"]
    (metric,) = declared["Metrics"]
    (dimensions,) = declared["Dimensions"]
    (value,) = line[metric["Name"]]
    return metric["Name"], {name: line[name] for name in dimensions}, value


# -- the rollup ------------------------------------------------------------------------------
def test_the_rollup_sums_each_workspaces_minutes_into_hours(table: Table) -> None:
    # Given requests counted in minute items of the hour before the last, by two principals of
    # one workspace and one of another, and in the hour now running
    hour = MIDNIGHT + 5 * HOUR
    count_in_minute(table, "ws_1", hour, KEY, requests=3)
    count_in_minute(table, "ws_1", hour + 59 * 60, KEY, requests=2, endpoint_class="write")
    count_in_minute(table, "ws_1", hour + 60, MEMBER, requests=4)
    count_in_minute(table, "ws_2", hour + 120, KEY, requests=1)
    count_in_minute(table, "ws_1", hour + HOUR + 60, KEY, requests=7)
    # When the rollup runs ten minutes into the hour after the next
    clock = FakeClock(hour + 2 * HOUR + 600)
    report = JobReport("usage")
    UsageRollup(table, clock).run(lambda: True, report)
    # Then each principal's and each workspace's hour holds its allowed requests
    assert _hour_item(table, Series("ws_1", KEY), hour)["allowed"] == 5
    assert _hour_item(table, Series("ws_1", MEMBER), hour)["allowed"] == 4
    assert _hour_item(table, Series("ws_1"), hour)["allowed"] == 9
    assert _hour_item(table, Series("ws_2"), hour)["allowed"] == 1
    # And the next hour, whole too, on its own
    assert _hour_item(table, Series("ws_1", KEY), hour + HOUR)["allowed"] == 7
    assert report.complete
    assert report.counts == {"principal_hours": 4, "workspace_hours": 3}


def test_a_rerun_of_the_rollup_writes_the_same(table: Table) -> None:
    # Given an hour rolled up once
    hour = MIDNIGHT
    count_in_minute(table, "ws_1", hour, KEY, requests=3)
    clock = FakeClock(hour + HOUR + 600)
    UsageRollup(table, clock).run(lambda: True, JobReport("usage"))
    # When the job runs again (overlapping, or the next hour)
    for later in (0, HOUR):
        clock.advance(later)
        UsageRollup(table, clock).run(lambda: True, JobReport("usage"))
    # Then the hour still holds the same sum
    assert _hour_item(table, Series("ws_1", KEY), hour)["allowed"] == 3


def test_the_rollup_waits_for_an_hour_to_settle(table: Table) -> None:
    # Given requests in an hour that ended two minutes ago
    hour = MIDNIGHT
    count_in_minute(table, "ws_1", hour + 59 * 60, KEY)
    # When the rollup runs now
    UsageRollup(table, FakeClock(hour + HOUR + 120)).run(lambda: True, JobReport("usage"))
    # Then that hour is left for the next run
    assert _hour_item(table, Series("ws_1", KEY), hour) == {}


def test_a_rollup_out_of_time_says_so_and_the_next_run_finishes(table: Table) -> None:
    # Given two workspaces counted in an hour, and a run with no time left
    hour = MIDNIGHT
    count_in_minute(table, "ws_1", hour, KEY)
    count_in_minute(table, "ws_2", hour, KEY)
    clock = FakeClock(hour + HOUR + 600)
    report = JobReport("usage")
    UsageRollup(table, clock).run(lambda: False, report)
    # Then it reports itself incomplete
    assert not report.complete
    # And the next run sums both
    UsageRollup(table, clock).run(lambda: True, JobReport("usage"))
    assert _hour_item(table, Series("ws_2"), hour)["allowed"] == 1


# -- the reader ------------------------------------------------------------------------------
SCOPE = WorkspaceScope("ws_1", "usr_1", "owner")


def _cursor(bucket: int) -> str:
    """A cursor naming `bucket`, made the way the reader makes them (they are not secret)."""
    return base64.urlsafe_b64encode(str(bucket).encode()).decode().rstrip("=")


def _buckets(page: Any) -> list[tuple[int, int, int]]:
    return [(b.start, b.allowed, b.refused_scope) for b in page.items]


def test_the_reader_joins_recent_minutes_with_rolled_up_hours(table: Table) -> None:
    # Given an old hour rolled up, and the previous and the current hour only in minute items
    # (the rollup not run for them), with refusals flushed in the old and the current hour
    now = MIDNIGHT + 10 * HOUR + 1800
    old, previous, current = MIDNIGHT + 7 * HOUR, MIDNIGHT + 9 * HOUR, MIDNIGHT + 10 * HOUR
    count_in_minute(table, "ws_1", old, KEY, requests=2)
    UsageRollup(table, FakeClock(old + HOUR + 600)).run(lambda: True, JobReport("usage"))
    count_in_minute(table, "ws_1", previous + 60, KEY, requests=4)
    count_in_minute(table, "ws_1", current, KEY, requests=1)
    count_in_minute(table, "ws_1", current, MEMBER, requests=5)
    repository = UsageRepository(table)
    for hour in (old, current):
        repository.add(Series("ws_1"), hour, {"refused_scope": 1})
    # When the workspace's last 4 hours are read, by hour
    query = UsageQuery(start=now - 4 * HOUR, end=now, granularity="hour", limit=100)
    page = Usage(table, FakeClock(now)).of_workspace(SCOPE, query)
    # Then every hour is there, newest first, empty ones as zeros, the recent ones exact
    assert _buckets(page) == [
        (current, 6, 1),
        (previous, 4, 0),
        (MIDNIGHT + 8 * HOUR, 0, 0),
        (old, 2, 1),
        (MIDNIGHT + 6 * HOUR, 0, 0),
    ]
    assert page.next_cursor is None


def test_days_are_the_sums_of_their_utc_hours(table: Table) -> None:
    # Given requests on two UTC days, rolled up, and refusals on the first
    count_in_minute(table, "ws_1", MIDNIGHT + HOUR, KEY, requests=2)
    count_in_minute(table, "ws_1", MIDNIGHT + 23 * HOUR, KEY, requests=3)
    count_in_minute(table, "ws_1", MIDNIGHT + DAY, KEY, requests=4)
    for hour in (MIDNIGHT + 2 * HOUR, MIDNIGHT + DAY + HOUR):
        UsageRollup(table, FakeClock(hour + 600)).run(lambda: True, JobReport("usage"))
    UsageRepository(table).add(Series("ws_1"), MIDNIGHT + 5 * HOUR, {"refused_scope": 2})
    # When three days are read by day, well after
    now = MIDNIGHT + 3 * DAY
    query = UsageQuery(start=MIDNIGHT + 3600, end=now, granularity="day")
    page = Usage(table, FakeClock(now)).of_workspace(SCOPE, query)
    # Then each day (from the one `from` falls in) sums its hours
    assert _buckets(page) == [(MIDNIGHT + 2 * DAY, 0, 0), (MIDNIGHT + DAY, 4, 0), (MIDNIGHT, 5, 2)]


def test_a_long_range_comes_in_pages(table: Table) -> None:
    # Given a range of 5 hours read 2 at a time
    now = MIDNIGHT + DAY
    usage = Usage(table, FakeClock(now))
    query = UsageQuery(start=now - 5 * HOUR, end=now, limit=2)
    # When every page is read, each with the last one's cursor
    starts: list[int] = []
    cursor: str | None = None
    while True:
        page = usage.of_workspace(SCOPE, UsageQuery(query.start, query.end, limit=2, cursor=cursor))
        starts += [b.start for b in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    # Then every hour came once, newest first
    assert starts == [now - n * HOUR for n in range(1, 6)]


@pytest.mark.parametrize(
    ("start", "end", "cursor", "field"),
    [
        (MIDNIGHT, MIDNIGHT, None, "to"),
        (MIDNIGHT + 10, MIDNIGHT, None, "to"),
        (MIDNIGHT, MIDNIGHT + 90 * DAY + 1, None, "from"),
        (MIDNIGHT, MIDNIGHT + DAY, "bm90LWEtbnVtYmVy", "cursor"),  # not a number
        (MIDNIGHT, MIDNIGHT + DAY, _cursor(MIDNIGHT + 60), "cursor"),  # not a bucket's start
        (MIDNIGHT, MIDNIGHT + DAY, _cursor(MIDNIGHT - HOUR), "cursor"),  # before the range
        (MIDNIGHT, MIDNIGHT + DAY, _cursor(MIDNIGHT + DAY), "cursor"),  # after it (`to` is out)
    ],
)
def test_a_range_that_is_empty_too_long_or_a_foreign_cursor_is_refused(
    table: Table, start: int, end: int, cursor: str | None, field: str
) -> None:
    # Given a range with `to` not after `from`, over 90 days, or a cursor not of the range
    query = UsageQuery(start=start, end=end, cursor=cursor)
    # When it is read
    with pytest.raises(ValidationFailed) as refused:
        Usage(table, FakeClock(MIDNIGHT + DAY)).of_workspace(SCOPE, query)
    # Then it is refused, naming the field
    assert refused.value.details["field"] == field
