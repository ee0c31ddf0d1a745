"""Data access: the only package that talks to DynamoDB. See docs/data-model.md."""

from railguard.store.table import (
    ConditionFailed,
    Item,
    ItemKey,
    Page,
    Repository,
    Table,
    TransactionConflict,
    TransactItem,
)

__all__ = [
    "ConditionFailed",
    "Item",
    "ItemKey",
    "Page",
    "Repository",
    "Table",
    "TransactItem",
    "TransactionConflict",
]
