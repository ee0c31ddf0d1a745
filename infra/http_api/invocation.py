"""What invoking a function returns, and the interface the gateway invokes through."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class FunctionError:
    """Lambda's error payload: `{"errorType": ..., "errorMessage": ...}` (no stack trace)."""

    error_type: str
    error_message: str


@dataclass(frozen=True)
class InvokeResult:
    payload: Any = None  # the handler's return value, JSON-decoded
    error: FunctionError | None = None


class Invoker(Protocol):
    def invoke(self, function_id: str, event: Mapping[str, Any]) -> InvokeResult: ...
