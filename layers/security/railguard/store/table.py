"""One table, one door: typed reads and writes over the low-level DynamoDB client.

The low-level client (not the boto3 resource) keeps import and call overhead small on the
authorizer's hot path. Every DynamoDB failure leaves this module as one of four things: a
`ConditionFailed` or `TransactionConflict` the domain decides about, the failure a transaction's
write declared (`TransactItem.fails_as`) when its condition did not hold, or `ServiceUnavailable`
(503, retryable) for throttling, timeouts and AWS-side errors.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypedDict, Unpack

from botocore.exceptions import ClientError

from railguard.core.aws_errors import translated_errors
from railguard.core.errors import ServiceUnavailable
from railguard.store.codec import from_attribute, to_attribute
from railguard.store.cursor import decode_cursor, encode_cursor

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef, TransactWriteItemTypeDef

Item = dict[str, Any]
ItemKey = tuple[str, str]  # (pk, sk)
# What an update reads back: the whole item after it, only the attributes it changed, or nothing.
ReadBack = Literal["all", "updated", "nothing"]
_RETURN_VALUES: dict[ReadBack, Literal["ALL_NEW", "UPDATED_NEW", "NONE"]] = {
    "all": "ALL_NEW",
    "updated": "UPDATED_NEW",
    "nothing": "NONE",
}


class Conditions(TypedDict, total=False):
    """What a single write (put, update, delete) is conditioned on: a condition expression and
    the attribute names and values it refers to."""

    condition: str | None
    names: Mapping[str, str] | None
    values: Mapping[str, Any] | None


class SortKeyRange(TypedDict, total=False):
    """A query's one condition on the sort key: a prefix, up to `sk_until` (inclusive), after
    `sk_after` (exclusive), or from `sk_from` (inclusive); or `sk_from` with `sk_until` (both
    inclusive)."""

    sk_prefix: str | None
    sk_until: str | None
    sk_after: str | None
    sk_from: str | None


# Errors that say "not now" rather than "never": the caller gets a 503 and may retry.
_RETRYABLE_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "LimitExceededException",
        # A retried transaction that arrives while its first attempt is still being applied.
        "TransactionInProgressException",
    }
)


# The same "not now", as transactions spell it per cancelled item.
_RETRYABLE_CANCELLATION_REASONS = frozenset(
    {"ProvisionedThroughputExceeded", "ThrottlingError", "RequestLimitExceeded"}
)


class ConditionFailed(Exception):
    """A conditional write's condition did not hold (the item exists, changed, or is missing).
    `item`: the item as the condition found it, when the write asked for it (`old_on_failure`;
    None then means there was no item)."""

    def __init__(self, item: Item | None = None):
        super().__init__("condition failed")
        self.item = item


class TransactionConflict(Exception):
    """A transaction was cancelled, and no write whose condition failed declared what that means
    (or none failed: another transaction was changing the same items); `reasons` has one code per
    item (`None` where it was fine)."""

    def __init__(self, reasons: Sequence[str | None]):
        super().__init__("transaction cancelled")
        self.reasons = list(reasons)

    @property
    def condition_failed(self) -> bool:
        return "ConditionalCheckFailed" in self.reasons

    @property
    def concurrent(self) -> bool:
        """Another transaction was changing the same items at the same moment."""
        return "TransactionConflict" in self.reasons


@dataclass(frozen=True)
class Page:
    items: list[Item]
    next_cursor: str | None


@dataclass(frozen=True)
class TransactItem:
    """One action of a transaction: a put, a delete, a condition check or an update, and what it
    means when its condition fails: `fails_as` makes the exception the commit then raises (a new
    one each time), an error a client sees or a caller's own marker."""

    action: str  # "Put" | "Delete" | "ConditionCheck" | "Update"
    key: ItemKey | None = None
    item: Item | None = None
    condition: str | None = None
    update: str | None = None
    names: Mapping[str, str] = field(default_factory=dict)
    values: Mapping[str, Any] = field(default_factory=dict)
    # Another table of the stack (the audit trail's); by default the one that runs the transaction.
    table: str | None = None
    fails_as: Callable[[], Exception] | None = field(default=None, compare=False)

    @classmethod
    def put(cls, item: Item, condition: str | None = None, **kwargs: Any) -> TransactItem:
        return cls("Put", item=item, condition=condition, **kwargs)

    @classmethod
    def delete(cls, key: ItemKey, condition: str | None = None, **kwargs: Any) -> TransactItem:
        return cls("Delete", key=key, condition=condition, **kwargs)

    @classmethod
    def check(cls, key: ItemKey, condition: str, **kwargs: Any) -> TransactItem:
        return cls("ConditionCheck", key=key, condition=condition, **kwargs)

    @classmethod
    def update_item(
        cls, key: ItemKey, update: str, condition: str | None = None, **kwargs: Any
    ) -> TransactItem:
        return cls("Update", key=key, update=update, condition=condition, **kwargs)


def serialize(item: Mapping[str, Any]) -> dict[str, AttributeValueTypeDef]:
    return {name: to_attribute(value) for name, value in item.items()}  # type: ignore[misc]


def deserialize(item: Mapping[str, Any]) -> Item:
    return {name: from_attribute(value) for name, value in item.items()}


def _key(key: ItemKey) -> dict[str, AttributeValueTypeDef]:
    return serialize({"pk": key[0], "sk": key[1]})


def _expression_arguments(
    condition: str | None = None,
    names: Mapping[str, str] | None = None,
    values: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    arguments: dict[str, Any] = {}
    if condition:
        arguments["ConditionExpression"] = condition
    if names:
        arguments["ExpressionAttributeNames"] = dict(names)
    if values:
        arguments["ExpressionAttributeValues"] = serialize(values)
    return arguments


def _meaning(code: str, error: ClientError) -> None:
    if code == "ConditionalCheckFailedException":
        # With `old_on_failure`, botocore puts the item the condition found beside the error.
        old: Mapping[str, Any] | None = error.response.get("Item")  # type: ignore[assignment]
        raise ConditionFailed(deserialize(old) if old is not None else None) from None
    if code == "TransactionCanceledException":
        reasons = [
            reason.get("Code") if reason.get("Code") not in (None, "None") else None
            for reason in error.response.get("CancellationReasons", [])
        ]
        if any(reason in _RETRYABLE_CANCELLATION_REASONS for reason in reasons):
            raise ServiceUnavailable from error
        raise TransactionConflict(reasons) from None


def _translated_errors() -> AbstractContextManager[None]:
    return translated_errors(_meaning, _RETRYABLE_CODES)


def _declared_failure(
    conflict: TransactionConflict,
    actions: Sequence[TransactItem],
    guards: Sequence[TransactItem],
) -> Exception:
    """What a cancelled transaction (sent as the guards, then the actions) means: among the
    actions whose condition failed, the failure the first of them, in list order, declared; when
    none of those declared one, `conflict` itself. Only when no action failed, the same among the
    guards, and only if no item was cancelled for concurrency: a guard that failed beside a
    concurrent writer lost a race that may yet be won, so it is `conflict` (retry), never what the
    guard declared. A cancellation for concurrency alone is `conflict` too."""
    sent = [*((write, True) for write in guards), *((write, False) for write in actions)]
    # Without reasons (DynamoDB always sends one per item), nothing is taken for a failure.
    failed = [
        (write, is_guard)
        for (write, is_guard), reason in zip(sent, conflict.reasons, strict=False)
        if reason == "ConditionalCheckFailed"
    ]
    for guards_now in (False, True):
        if guards_now and conflict.concurrent:
            return conflict
        writes = [write for write, is_guard in failed if is_guard is guards_now]
        if writes:
            declared = next((write.fails_as for write in writes if write.fails_as), None)
            return declared() if declared is not None else conflict
    return conflict


def _sort_key_condition(
    name: str,
    sk_prefix: str | None = None,
    sk_until: str | None = None,
    sk_after: str | None = None,
    sk_from: str | None = None,
) -> tuple[str, dict[str, str]] | None:
    """The `SortKeyRange` as a key condition on the sort key `name`, with its values."""
    ranged = sk_from is not None or sk_until is not None
    if sum((sk_prefix is not None, sk_after is not None, ranged)) > 1:
        raise ValueError("a query takes one sort-key condition")
    if sk_prefix:
        return f"begins_with({name}, :prefix)", {":prefix": sk_prefix}
    if sk_after:
        return f"{name} > :after", {":after": sk_after}
    if sk_from and sk_until:
        return f"{name} BETWEEN :from AND :until", {":from": sk_from, ":until": sk_until}
    if sk_from:
        return f"{name} >= :from", {":from": sk_from}
    if sk_until:
        return f"{name} <= :until", {":until": sk_until}
    return None


class Table:
    """The Railguard table. Items are plain dicts; keys are `(pk, sk)` pairs."""

    def __init__(self, client: DynamoDBClient, name: str):
        self._client = client
        self.name = name

    def get(self, key: ItemKey, *, consistent: bool = True) -> Item | None:
        with _translated_errors():
            response = self._client.get_item(
                TableName=self.name, Key=_key(key), ConsistentRead=consistent
            )
        raw = response.get("Item")
        return deserialize(raw) if raw is not None else None

    def get_many(self, keys: Sequence[ItemKey]) -> dict[ItemKey, Item]:
        """Up to 100 items in one strongly consistent BatchGetItem; missing keys are absent."""
        request_keys = [_key(key) for key in dict.fromkeys(keys)]
        found: dict[ItemKey, Item] = {}
        while request_keys:
            with _translated_errors():
                response = self._client.batch_get_item(
                    RequestItems={self.name: {"Keys": request_keys, "ConsistentRead": True}}
                )
            for raw in response.get("Responses", {}).get(self.name, []):
                item = deserialize(raw)
                found[(item["pk"], item["sk"])] = item
            # DynamoDB may return part of a batch under load; ask again for the rest.
            unprocessed = response.get("UnprocessedKeys") or {}
            request_keys = list(unprocessed[self.name]["Keys"]) if self.name in unprocessed else []
        return found

    def put(self, item: Item, **conditions: Unpack[Conditions]) -> None:
        with _translated_errors():
            self._client.put_item(
                TableName=self.name, Item=serialize(item), **_expression_arguments(**conditions)
            )

    def update(
        self,
        key: ItemKey,
        update: str,
        *,
        read_back: ReadBack = "all",
        old_on_failure: bool = False,
        **conditions: Unpack[Conditions],
    ) -> Item:
        """Apply an update expression; returns the item as it is after the update, or only the
        attributes it changed (`read_back="updated"`: an item of many attributes is not sent
        back whole), or nothing (an empty item; a role allowed to name only some attributes
        may not read the others back: `dynamodb:ReturnValues`). `old_on_failure`: a
        `ConditionFailed` carries the item as the condition found it, in the same call."""
        extra: dict[str, Any] = {}
        if old_on_failure:
            extra["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        with _translated_errors():
            response = self._client.update_item(
                TableName=self.name,
                Key=_key(key),
                UpdateExpression=update,
                ReturnValues=_RETURN_VALUES[read_back],
                **_expression_arguments(**conditions),
                **extra,
            )
        return deserialize(response.get("Attributes", {}))

    def delete(self, key: ItemKey, **conditions: Unpack[Conditions]) -> None:
        with _translated_errors():
            self._client.delete_item(
                TableName=self.name, Key=_key(key), **_expression_arguments(**conditions)
            )

    def query(
        self,
        partition: str,
        *,
        index: str | None = None,
        limit: int = 20,
        cursor: str | None = None,
        newest_first: bool = False,
        keep: Callable[[Item], bool] | None = None,
        **sort_key_range: Unpack[SortKeyRange],
    ) -> Page:
        """One page of a partition, optionally narrowed by a `SortKeyRange`: to a sort-key
        prefix, to sort keys up to `sk_until` (inclusive), to those after `sk_after` (exclusive),
        or from `sk_from` (inclusive): one of these, or `sk_from` with `sk_until` (both
        inclusive).

        The cursor carries only the sort key(s) of the last item; the partition always comes
        from the caller, so a forged cursor cannot reach another partition. `keep` filters items
        in code (e.g. soft-deleted ones) while still filling the page.
        """
        # An index `x` is keyed by `xpk` and `xsk` (gsi1: gsi1pk, gsi1sk).
        pk_name, sk_name = (f"{index}pk", f"{index}sk") if index else ("pk", "sk")
        condition = f"{pk_name} = :pk"
        values: dict[str, Any] = {":pk": partition}
        sort_key = _sort_key_condition(sk_name, **sort_key_range)
        if sort_key is not None:
            condition += f" AND {sort_key[0]}"
            values.update(sort_key[1])
        arguments: dict[str, Any] = {
            "TableName": self.name,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": serialize(values),
            "ScanIndexForward": not newest_first,
        }
        if index:
            arguments["IndexName"] = index
        else:
            arguments["ConsistentRead"] = True  # (a global index cannot be read consistently)
        start_key = decode_cursor(cursor, partition=partition, index=index) if cursor else None
        items: list[Item] = []
        while True:
            if start_key:
                arguments["ExclusiveStartKey"] = serialize(start_key)
            arguments["Limit"] = limit - len(items)
            with _translated_errors():
                response = self._client.query(**arguments)
            for raw in response.get("Items", []):
                item = deserialize(raw)
                if keep is None or keep(item):
                    items.append(item)
            last = response.get("LastEvaluatedKey")
            if last is None:
                return Page(items, None)
            start_key = deserialize(last)
            if len(items) >= limit:
                return Page(items, encode_cursor(start_key, index=index))

    def iterate(
        self,
        partition: str,
        *,
        index: str | None = None,
        page_size: int = 100,
        **sort_key_range: Unpack[SortKeyRange],
    ) -> Iterator[Item]:
        """Every item of a partition (narrowed as `query` narrows), in order, page by page."""
        cursor: str | None = None
        while True:
            page = self.query(
                partition, index=index, limit=page_size, cursor=cursor, **sort_key_range
            )
            yield from page.items
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def transact(
        self, actions: Sequence[TransactItem], *, guards: Sequence[TransactItem] = ()
    ) -> None:
        """All or nothing, and exactly once: botocore gives each call a `ClientRequestToken`
        (the API marks it an idempotency token) and repeats it when it retries a call whose
        answer timed out, and DynamoDB applies a token once in ten minutes.

        What a failed write means is declared with the write (`TransactItem.fails_as`): when
        writes fail their conditions, this raises what the first of them, in list order, declared;
        when none of the failed ones declared anything, `TransactionConflict`. `guards` are writes
        sent ahead of the actions that keep the transaction in step with other writers (the audit
        chain's head); their failures count only when no action failed, since an act that cannot
        happen is not worth another try."""
        request: list[TransactWriteItemTypeDef] = []
        for action in [*guards, *actions]:
            body: dict[str, Any] = {"TableName": action.table or self.name}
            if action.item is not None:
                body["Item"] = serialize(action.item)
            if action.key is not None:
                body["Key"] = _key(action.key)
            if action.update is not None:
                body["UpdateExpression"] = action.update
            body.update(_expression_arguments(action.condition, action.names, action.values))
            request.append({action.action: body})  # type: ignore[misc]
        try:
            with _translated_errors():
                self._client.transact_write_items(TransactItems=request)
        except TransactionConflict as conflict:
            raise _declared_failure(conflict, actions, guards) from None


class Repository:
    """The storage of one kind of resource: the one place its items are built, read and written
    (in `<package>/repository.py`), over the table it is given."""

    def __init__(self, table: Table):
        self._table = table
