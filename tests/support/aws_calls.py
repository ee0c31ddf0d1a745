"""What AWS calls a piece of code makes, as someone watching their shape would see them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.client import BaseClient

from tests.support.faults import Call


def _recording[T](
    monkeypatch: pytest.MonkeyPatch, seen: Callable[[BaseClient, str, dict[str, Any]], T]
) -> list[T]:
    """What `seen` makes of every AWS call from now on, in order."""
    calls: list[T] = []
    real = BaseClient._make_api_call  # type: ignore[attr-defined]  # botocore's one call path

    def recording(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        calls.append(seen(client, operation, params))
        return real(client, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", recording)
    return calls


def _shape(client: BaseClient, operation: str, params: dict[str, Any]) -> tuple[object, ...]:
    if operation == "TransactWriteItems":
        tables: object = tuple(
            (action, body["TableName"])
            for entry in params["TransactItems"]
            for action, body in entry.items()
        )
    elif operation == "BatchGetItem":
        tables = tuple(params["RequestItems"])
    else:
        tables = params.get("TableName")
    return (client.meta.service_model.service_name, operation, tables)


def record_aws_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[object, ...]]:
    """Every AWS call from now on, as what an observer of its shape sees: the service, the
    operation and the tables (for a transaction, each action and its table); never keys."""
    return _recording(monkeypatch, _shape)


def record_whole_aws_calls(monkeypatch: pytest.MonkeyPatch) -> list[Call]:
    """Every AWS call from now on, whole: its service, operation and parameters (the items it
    names, for `tests.support.consistency.written_keys`)."""
    return _recording(
        monkeypatch,
        lambda client, operation, params: Call(
            client.meta.service_model.service_name, operation, params
        ),
    )
