"""What AWS calls a piece of code makes, as someone watching their shape would see them."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.client import BaseClient


def record_aws_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[object, ...]]:
    """Every AWS call from now on, as what an observer of its shape sees: the service, the
    operation and the tables (for a transaction, each action and its table); never keys."""
    calls: list[tuple[object, ...]] = []
    real = BaseClient._make_api_call  # type: ignore[attr-defined]  # botocore's one call path

    def recording(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
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
        calls.append((client.meta.service_model.service_name, operation, tables))
        return real(client, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", recording)
    return calls
