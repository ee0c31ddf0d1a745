"""The store over the template's table in moto: conditional writes, transactions, pagination,
and the translation of DynamoDB failures."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from botocore.stub import Stubber

from railguard.core.errors import Conflict, NotFound, ServiceUnavailable, ValidationFailed
from railguard.store import ConditionFailed, Table, TransactionConflict, TransactItem


def _partition() -> str:
    return f"TEST#{uuid.uuid4()}"


def test_an_item_reads_back_with_python_types(table: Table) -> None:
    # Given an item with a string, a number, a map, a list and bytes
    pk = _partition()
    table.put({"pk": pk, "sk": "A", "n": 42, "m": {"x": [1, "y"]}, "b": b"\x00\x01"})
    # When read back
    item = table.get((pk, "A"))
    # Then the numbers are ints again and the rest is as written
    assert item == {"pk": pk, "sk": "A", "n": 42, "m": {"x": [1, "y"]}, "b": b"\x00\x01"}
    assert item is not None
    assert type(item["b"]) is bytes
    assert table.get((pk, "missing")) is None


def test_a_conditional_put_refuses_a_second_writer(table: Table) -> None:
    # Given an item created with "must not exist"
    pk = _partition()
    table.put({"pk": pk, "sk": "A"}, condition="attribute_not_exists(pk)")
    # When a second create of the same key runs / Then its condition fails
    with pytest.raises(ConditionFailed):
        table.put({"pk": pk, "sk": "A", "other": 1}, condition="attribute_not_exists(pk)")
    assert table.get((pk, "A")) == {"pk": pk, "sk": "A"}


def test_a_conditional_update_returns_the_new_item(table: Table) -> None:
    pk = _partition()
    table.put({"pk": pk, "sk": "C", "count": 1})
    updated = table.update(
        (pk, "C"),
        "ADD #c :one",
        condition="#c < :max",
        names={"#c": "count"},
        values={":one": 1, ":max": 2},
    )
    assert updated["count"] == 2
    with pytest.raises(ConditionFailed):
        table.update(
            (pk, "C"),
            "ADD #c :one",
            condition="#c < :max",
            names={"#c": "count"},
            values={":one": 1, ":max": 2},
        )


def test_a_transaction_is_all_or_nothing_and_says_which_item_failed(table: Table) -> None:
    # Given an existing lookup item
    pk = _partition()
    table.put({"pk": pk, "sk": "LOOKUP"})
    # When a transaction writes a new item and (again) the lookup, which must not exist
    with pytest.raises(TransactionConflict) as raised:
        table.transact(
            [
                TransactItem.put({"pk": pk, "sk": "ITEM"}, condition="attribute_not_exists(pk)"),
                TransactItem.put({"pk": pk, "sk": "LOOKUP"}, condition="attribute_not_exists(pk)"),
            ]
        )
    # Then nothing was written, and the failing position is reported
    assert raised.value.condition_failed
    assert raised.value.reasons == [None, "ConditionalCheckFailed"]
    assert table.get((pk, "ITEM")) is None


class _Marker(Exception):
    """A caller's own failure marker, as a write declares it."""


def test_a_failed_write_raises_the_failure_it_declared(table: Table) -> None:
    # Given an existing lookup item
    pk = _partition()
    table.put({"pk": pk, "sk": "LOOKUP"})
    lookup_taken = TransactItem.put(
        {"pk": pk, "sk": "LOOKUP"},
        condition="attribute_not_exists(pk)",
        fails_as=lambda: Conflict("The lookup is taken."),
    )
    writes = [TransactItem.put({"pk": pk, "sk": "ITEM"}), lookup_taken]
    # When a transaction carrying a write that declares its failure runs, twice
    raised = []
    for _ in range(2):
        with pytest.raises(Conflict) as refusal:
            table.transact(writes)
        raised.append(refusal.value)
    # Then the declared error is raised, a new one each time, and nothing was written
    assert [error.message for error in raised] == ["The lookup is taken."] * 2
    assert raised[0] is not raised[1]
    assert table.get((pk, "ITEM")) is None


def test_the_first_declared_failure_in_the_list_wins(table: Table) -> None:
    # Given three items that exist, so that every "must not exist" write below fails
    pk = _partition()
    for sk in ("A", "B", "C"):
        table.put({"pk": pk, "sk": sk})

    def taken(sk: str, fails_as: type[Exception] | None) -> TransactItem:
        return TransactItem.put(
            {"pk": pk, "sk": sk}, condition="attribute_not_exists(pk)", fails_as=fails_as
        )

    # When a transaction fails on an undeclared write, then on two declared ones
    # Then what the first declared failure says is raised: an undeclared one before it does not
    # hide it, a later one does not replace it
    with pytest.raises(_Marker):
        table.transact([taken("A", None), taken("B", _Marker), taken("C", NotFound)])
    with pytest.raises(NotFound):
        table.transact([taken("A", None), taken("C", NotFound), taken("B", _Marker)])


def test_a_failed_write_that_declared_nothing_is_still_a_transaction_conflict(
    table: Table,
) -> None:
    # Given an existing item, and a write declaring a failure whose condition will hold
    pk = _partition()
    table.put({"pk": pk, "sk": "TAKEN"})
    holds = TransactItem.put({"pk": pk, "sk": "NEW"}, "attribute_not_exists(pk)", fails_as=NotFound)
    # When the transaction fails on a write that declared nothing
    with pytest.raises(TransactionConflict) as raised:
        table.transact(
            [holds, TransactItem.put({"pk": pk, "sk": "TAKEN"}, "attribute_not_exists(pk)")]
        )
    # Then it is the conflict of old, with its reasons
    assert raised.value.reasons == [None, "ConditionalCheckFailed"]


@contextmanager
def _cancelled_for(table: Table, reasons: list[str]) -> Iterator[None]:
    """DynamoDB answering the next transaction with a cancellation, one reason per item."""
    with Stubber(table._client) as stubber:
        stubber.add_client_error(
            "transact_write_items",
            service_error_code="TransactionCanceledException",
            http_status_code=400,
            modeled_fields={"CancellationReasons": [{"Code": code} for code in reasons]},
        )
        yield


def test_a_cancellation_for_concurrency_is_not_taken_for_a_declared_failure(table: Table) -> None:
    # Given DynamoDB cancelling a transaction because another was writing its first item
    declared = TransactItem.put(
        {"pk": "a", "sk": "b"}, "attribute_not_exists(pk)", fails_as=NotFound
    )
    # When the store runs it / Then it is a concurrent conflict, not the declared failure
    with (
        _cancelled_for(table, ["TransactionConflict", "None"]),
        pytest.raises(TransactionConflict) as raised,
    ):
        table.transact([declared, TransactItem.put({"pk": "a", "sk": "c"})])
    assert raised.value.concurrent
    assert not raised.value.condition_failed


def test_a_guard_that_failed_beside_a_concurrent_writer_is_a_conflict_to_retry(
    table: Table,
) -> None:
    # Given DynamoDB cancelling a transaction whose first guard met a concurrent writer and
    # whose second guard failed its condition (an append that read a stale head while another
    # was moving it)
    head_move = TransactItem.put({"pk": "h", "sk": "HEAD"}, "attribute_exists(pk)")
    slot = TransactItem.put({"pk": "h", "sk": "7"}, "attribute_not_exists(pk)", fails_as=_Marker)
    action = TransactItem.put({"pk": "a", "sk": "b"}, fails_as=NotFound)
    # When the store runs it / Then it is a conflict to retry, not what the guard declared
    with (
        _cancelled_for(table, ["TransactionConflict", "ConditionalCheckFailed", "None"]),
        pytest.raises(TransactionConflict) as raised,
    ):
        table.transact([action], guards=[head_move, slot])
    assert raised.value.concurrent


def test_a_guard_s_failure_counts_only_when_no_action_failed(table: Table) -> None:
    # Given an existing guard item and an existing action item
    pk = _partition()
    table.put({"pk": pk, "sk": "GUARD"})
    table.put({"pk": pk, "sk": "TAKEN"})
    guard = TransactItem.put(
        {"pk": pk, "sk": "GUARD"}, "attribute_not_exists(pk)", fails_as=_Marker
    )
    # When both the guard and an action fail / Then the action's failure is raised, declared or
    # not, though the guard was sent first
    with pytest.raises(NotFound):
        table.transact(
            [
                TransactItem.put(
                    {"pk": pk, "sk": "TAKEN"}, "attribute_not_exists(pk)", fails_as=NotFound
                )
            ],
            guards=[guard],
        )
    with pytest.raises(TransactionConflict):
        table.transact(
            [TransactItem.put({"pk": pk, "sk": "TAKEN"}, "attribute_not_exists(pk)")],
            guards=[guard],
        )
    # When only the guard fails / Then the guard's failure is raised
    with pytest.raises(_Marker):
        table.transact([TransactItem.put({"pk": pk, "sk": "FREE"})], guards=[guard])
    assert table.get((pk, "FREE")) is None


def test_a_transaction_applies_every_action(table: Table) -> None:
    pk = _partition()
    table.put({"pk": pk, "sk": "OLD", "state": "active"})
    table.put({"pk": pk, "sk": "PARENT"})
    table.transact(
        [
            TransactItem.update_item(
                (pk, "OLD"),
                "SET #s = :spent",
                condition="#s = :active",
                names={"#s": "state"},
                values={":spent": "spent", ":active": "active"},
            ),
            TransactItem.put({"pk": pk, "sk": "NEW"}),
            TransactItem.check((pk, "PARENT"), "attribute_exists(pk)"),
        ]
    )
    assert table.get((pk, "OLD"))["state"] == "spent"  # type: ignore[index]
    assert table.get((pk, "NEW")) is not None


def test_every_transaction_carries_its_own_request_token(table: Table) -> None:
    # Given the client's requests recorded as they leave (the emulator's idempotency, like
    # DynamoDB's, relies on the token botocore adds and repeats on a retry)
    sent: list[str] = []
    event = "before-call.dynamodb.TransactWriteItems"

    def record(params: dict[str, Any], **_: Any) -> None:
        sent.append(json.loads(params["body"])["ClientRequestToken"])

    table._client.meta.events.register(event, record, "record-token")
    try:
        # When two transactions run
        for _ in range(2):
            table.transact([TransactItem.put({"pk": _partition(), "sk": "x"})])
    finally:
        table._client.meta.events.unregister(event, unique_id="record-token")
    # Then each had a token of its own
    assert len(sent) == 2
    assert len(set(sent)) == 2


def test_pages_follow_each_other_without_gaps_or_repeats(table: Table) -> None:
    # Given 7 items in a partition, 2 of them filtered out by the caller
    pk = _partition()
    for number in range(7):
        table.put({"pk": pk, "sk": f"ITEM#{number}", "hidden": number in (1, 4)})
    seen: list[str] = []
    cursor = None
    # When read 2 at a time, newest first
    for _ in range(10):
        page = table.query(
            pk,
            sk_prefix="ITEM#",
            limit=2,
            cursor=cursor,
            newest_first=True,
            keep=lambda item: not item["hidden"],
        )
        seen.extend(item["sk"] for item in page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    # Then every visible item came exactly once, in order
    assert seen == ["ITEM#6", "ITEM#5", "ITEM#3", "ITEM#2", "ITEM#0"]


def test_a_range_of_sort_keys_reads_only_that_range(table: Table) -> None:
    # Given 6 items in a partition
    pk = _partition()
    for number in range(6):
        table.put({"pk": pk, "sk": f"ITEM#{number}"})
    # When a range is read, both ends named, or only its start
    between = table.query(pk, sk_from="ITEM#2", sk_until="ITEM#4", limit=10).items
    onwards = list(table.iterate(pk, sk_from="ITEM#4", page_size=1))
    # Then each holds exactly its range, both ends included
    assert [item["sk"] for item in between] == ["ITEM#2", "ITEM#3", "ITEM#4"]
    assert [item["sk"] for item in onwards] == ["ITEM#4", "ITEM#5"]
    # And a range does not combine with another sort-key condition
    with pytest.raises(ValueError, match="one sort-key condition"):
        table.query(pk, sk_from="ITEM#2", sk_after="ITEM#1")


def test_a_cursor_from_one_partition_reads_nothing_of_another(table: Table) -> None:
    # Given a cursor obtained in partition A
    partition_a, partition_b = _partition(), _partition()
    for number in range(3):
        table.put({"pk": partition_a, "sk": f"ITEM#{number}"})
        table.put({"pk": partition_b, "sk": f"ITEM#{number}", "secret": True})
    cursor = table.query(partition_a, limit=1).next_cursor
    assert cursor is not None
    # When it is used for partition A again / Then it continues A, and items of B never appear
    page = table.query(partition_a, limit=10, cursor=cursor)
    assert [item["sk"] for item in page.items] == ["ITEM#1", "ITEM#2"]
    assert all("secret" not in item for item in page.items)


def test_a_garbage_cursor_is_a_validation_error(table: Table) -> None:
    with pytest.raises(ValidationFailed):
        table.query(_partition(), cursor="not-a-cursor!")


@pytest.mark.parametrize(
    "code",
    [
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "InternalServerError",
        "RequestLimitExceeded",
    ],
)
def test_throttling_and_aws_errors_become_503(table: Table, code: str) -> None:
    # Given DynamoDB answering with a retryable error
    stubbed = Table(table._client, table.name)
    with Stubber(table._client) as stubber:
        stubber.add_client_error("get_item", service_error_code=code, http_status_code=400)
        # When the store reads / Then the caller sees ServiceUnavailable (503)
        with pytest.raises(ServiceUnavailable):
            stubbed.get(("pk", "sk"))


@pytest.mark.parametrize(
    ("reasons", "expected"),
    [
        (["None", "ThrottlingError"], ServiceUnavailable),
        (["ProvisionedThroughputExceeded", "None"], ServiceUnavailable),
        (["None", "TransactionConflict"], TransactionConflict),
        (["ConditionalCheckFailed", "None"], TransactionConflict),
    ],
)
def test_a_cancelled_transaction_is_503_when_throttled_and_a_conflict_otherwise(
    table: Table, reasons: list[str], expected: type[Exception]
) -> None:
    # Given DynamoDB cancelling a transaction for the given per-item reasons
    # When the store runs it / Then throttling is retryable and the rest is the domain's
    with _cancelled_for(table, reasons), pytest.raises(expected) as raised:
        table.transact([TransactItem.put({"pk": "a", "sk": "b"})] * len(reasons))
    if isinstance(raised.value, TransactionConflict):
        assert raised.value.concurrent == ("TransactionConflict" in reasons)
        assert raised.value.condition_failed == ("ConditionalCheckFailed" in reasons)
