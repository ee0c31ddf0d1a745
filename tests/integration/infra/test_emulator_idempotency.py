"""The emulator honours DynamoDB's transaction request token, which moto alone ignores: the
retry of a transaction whose answer timed out must not conflict with its own first attempt."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from botocore.exceptions import ClientError

from railguard.store import Table


def _counting_transaction(table: Table, pk: str, token: str, step: int = 1) -> dict[str, Any]:
    return {
        "TransactItems": [
            {
                "Update": {
                    "TableName": table.name,
                    "Key": {"pk": {"S": pk}, "sk": {"S": "counter"}},
                    "UpdateExpression": "ADD hits :step",
                    "ExpressionAttributeValues": {":step": {"N": str(step)}},
                }
            }
        ],
        "ClientRequestToken": token,
    }


def _hits(table: Table, pk: str) -> int:
    item = table.get((pk, "counter"))
    assert item is not None
    return int(item["hits"])


def test_a_transaction_repeated_with_its_token_applies_once(table: Table) -> None:
    # Given a transaction applied once with a token
    pk = f"idem-{secrets.token_hex(4)}"
    request = _counting_transaction(table, pk, secrets.token_urlsafe(24))
    table._client.transact_write_items(**request)
    # When the same request arrives again, as botocore's retry after a timeout sends it
    table._client.transact_write_items(**request)
    # Then it succeeded both times and counted once
    assert _hits(table, pk) == 1
    # And a new token is a new transaction
    table._client.transact_write_items(**_counting_transaction(table, pk, "another-token"))
    assert _hits(table, pk) == 2


def test_a_token_reused_for_another_request_is_refused(table: Table) -> None:
    # Given a transaction applied with a token
    pk = f"idem-{secrets.token_hex(4)}"
    token = secrets.token_urlsafe(24)
    table._client.transact_write_items(**_counting_transaction(table, pk, token))
    # When the token comes with other parameters
    with pytest.raises(ClientError) as refused:
        table._client.transact_write_items(**_counting_transaction(table, pk, token, step=5))
    # Then DynamoDB's error, and nothing applied
    assert refused.value.response["Error"]["Code"] == "IdempotentParameterMismatchException"
    assert _hits(table, pk) == 1


def test_a_cancelled_transaction_is_evaluated_again_when_retried(table: Table) -> None:
    # Given a transaction cancelled by its condition
    pk = f"idem-{secrets.token_hex(4)}"
    request = _counting_transaction(table, pk, secrets.token_urlsafe(24))
    request["TransactItems"][0]["Update"]["ConditionExpression"] = "attribute_exists(pk)"
    with pytest.raises(ClientError) as cancelled:
        table._client.transact_write_items(**request)
    assert cancelled.value.response["Error"]["Code"] == "TransactionCanceledException"
    # When the condition comes to hold and the same request is retried
    table.put({"pk": pk, "sk": "counter", "hits": 0})
    table._client.transact_write_items(**request)
    # Then it applied: only successes are remembered
    assert _hits(table, pk) == 1
