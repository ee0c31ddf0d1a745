"""moto's transactions, patched by the emulator to roll back only the items they touch: a cancelled
transaction still leaves everything as it was, without a copy of the whole table."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.dynamodb.models import dynamodb_backends

from infra.local.emulator import roll_back_only_touched_items

TABLE = "rollback"


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    roll_back_only_touched_items()
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName=TABLE,
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        for name in ("kept", "updated", "deleted", "bystander"):
            client.put_item(
                TableName=TABLE, Item={"pk": {"S": "P"}, "sk": {"S": name}, "n": {"N": "1"}}
            )
        yield client


def _items(client: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = client.scan(TableName=TABLE)["Items"]
    return sorted(items, key=lambda item: item["sk"]["S"])


def _key(sort_key: str) -> dict[str, Any]:
    return {"pk": {"S": "P"}, "sk": {"S": sort_key}}


def _writes(condition_holds: bool) -> list[dict[str, Any]]:
    return [
        {"Put": {"TableName": TABLE, "Item": {**_key("new"), "n": {"N": "1"}}}},
        {
            "Update": {
                "TableName": TABLE,
                "Key": _key("updated"),
                "UpdateExpression": "SET n = n + :one",
                "ExpressionAttributeValues": {":one": {"N": "1"}},
            }
        },
        {"Delete": {"TableName": TABLE, "Key": _key("deleted")}},
        {
            "ConditionCheck": {
                "TableName": TABLE,
                "Key": _key("kept"),
                "ConditionExpression": "n = :n",
                "ExpressionAttributeValues": {":n": {"N": "1" if condition_holds else "2"}},
            }
        },
    ]


def test_a_cancelled_transaction_leaves_every_item_as_it_was(dynamodb: Any) -> None:
    # Given a table, and the table object and an untouched item as moto holds them
    backend = dynamodb_backends["123456789012"]["us-east-1"]
    table = backend.tables[TABLE]
    bystander = table.items[next(iter(table.items))]
    before = _items(dynamodb)
    # When a transaction that puts, updates and deletes fails on its last condition
    with pytest.raises(ClientError) as raised:
        dynamodb.transact_write_items(TransactItems=_writes(condition_holds=False))
    # Then it is cancelled, and every item is as it was
    assert raised.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert _items(dynamodb) == before
    # And the table was not replaced by a copy: the untouched items are the same objects
    assert backend.tables[TABLE] is table
    assert table.items[next(iter(table.items))] is bystander


def test_a_transaction_that_holds_applies_every_write(dynamodb: Any) -> None:
    # When every condition holds
    dynamodb.transact_write_items(TransactItems=_writes(condition_holds=True))
    # Then the put, the update and the delete are all applied
    assert {item["sk"]["S"]: item["n"]["N"] for item in _items(dynamodb)} == {
        "bystander": "1",
        "kept": "1",
        "new": "1",
        "updated": "2",
    }


def test_a_transaction_refused_for_naming_an_item_twice_changes_nothing(dynamodb: Any) -> None:
    # Given two writes of one item in a transaction, after a put of a new item
    writes = [
        {"Put": {"TableName": TABLE, "Item": {**_key("new"), "n": {"N": "1"}}}},
        {"Delete": {"TableName": TABLE, "Key": _key("kept")}},
        {"Delete": {"TableName": TABLE, "Key": _key("kept")}},
    ]
    before = _items(dynamodb)
    # When it is sent, then it is refused and the put is undone
    with pytest.raises(ClientError):
        dynamodb.transact_write_items(TransactItems=writes)
    assert _items(dynamodb) == before


def test_patching_twice_wraps_once() -> None:
    from moto.dynamodb.models import DynamoDBBackend  # noqa: PLC0415

    roll_back_only_touched_items()
    patched = DynamoDBBackend.transact_write_items
    roll_back_only_touched_items()
    assert DynamoDBBackend.transact_write_items is patched
