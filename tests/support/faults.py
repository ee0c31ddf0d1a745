"""Fault injection for DynamoDB and KMS: make the AWS calls a function makes fail, on a schedule
(the n-th call) or at random with a fixed seed, the way they fail in AWS after the SDK's own
retries gave up.

Every botocore client in the process goes through `BaseClient._make_api_call`, so patching it
reaches the clients a function built at its cold start as well as later ones. Faults apply only
while the injector is armed, so a test's own reads (to check what was stored) never fail.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError, ReadTimeoutError

from tests.support.http_api import Invoker, InvokeResult

FAULTED_SERVICES = frozenset({"dynamodb", "kms"})
_ENDPOINT = "https://aws.invalid"
_WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"})


class Fault(StrEnum):
    """How a call fails. Each is something AWS does; `LOST_REPLY` is the worst: the write
    applied, and the caller still sees a timeout."""

    THROTTLED = "throttled"  # ThrottlingException (DynamoDB and KMS)
    THROUGHPUT = "throughput"  # ProvisionedThroughputExceededException
    CONDITION = "condition"  # the condition of a write (or a transaction's) did not hold
    CANCELLED = "cancelled"  # a transaction cancelled for a conflict with another
    KMS_INTERNAL = "kms_internal"  # KMSInternalException
    TIMEOUT = "timeout"  # no reply, and nothing applied
    LOST_REPLY = "lost_reply"  # applied, then no reply


@dataclass(frozen=True)
class Call:
    service: str
    operation: str
    params: Mapping[str, Any]

    @property
    def is_write(self) -> bool:
        return self.operation in _WRITES

    @property
    def partition(self) -> str:
        """The kind of item a single-item call is on (`RATE`, `WS`, ...), else ''."""
        key = self.params.get("Key") or self.params.get("Item") or {}
        return str(key.get("pk", {}).get("S", "")).split("#", 1)[0]


def _client_error(code: str, operation: str, **extra: Any) -> ClientError:
    response: dict[str, Any] = {
        "Error": {"Code": code, "Message": "injected fault"},
        "ResponseMetadata": {"HTTPStatusCode": 400},
        **extra,
    }
    return ClientError(response, operation)  # type: ignore[arg-type]


def applies_to(fault: Fault, call: Call) -> bool:
    """Whether `fault` is a way `call` can fail at all (KMS has no conditions, reads no
    transactions)."""
    if fault is Fault.THROUGHPUT or fault is Fault.CANCELLED:
        return call.service == "dynamodb" and (
            fault is Fault.THROUGHPUT or call.operation == "TransactWriteItems"
        )
    if fault is Fault.CONDITION:
        return call.service == "dynamodb" and call.is_write
    if fault is Fault.KMS_INTERNAL:
        return call.service == "kms"
    if fault is Fault.LOST_REPLY:
        return call.is_write
    return True


def _error(fault: Fault, call: Call) -> Exception:
    if fault is Fault.THROTTLED:
        return _client_error("ThrottlingException", call.operation)
    if fault is Fault.THROUGHPUT:
        return _client_error("ProvisionedThroughputExceededException", call.operation)
    if fault is Fault.KMS_INTERNAL:
        return _client_error("KMSInternalException", call.operation)
    if fault in (Fault.TIMEOUT, Fault.LOST_REPLY):
        return ReadTimeoutError(endpoint_url=_ENDPOINT)
    if call.operation == "TransactWriteItems":
        # One reason per item; the first is the one that failed.
        reason = "ConditionalCheckFailed" if fault is Fault.CONDITION else "TransactionConflict"
        items = len(call.params.get("TransactItems", []))
        reasons = [{"Code": reason}] + [{"Code": "None"}] * (items - 1)
        return _client_error(
            "TransactionCanceledException", call.operation, CancellationReasons=reasons
        )
    return _client_error("ConditionalCheckFailedException", call.operation)


Schedule = Callable[[int, Call], Fault | None]


def at_call(position: int, fault: Fault) -> Schedule:
    """Fail the `position`-th call (from 0) with `fault`, if it is a way that call can fail."""

    def schedule(index: int, call: Call) -> Fault | None:
        return fault if index == position and applies_to(fault, call) else None

    return schedule


def ways_to_fail(call: Call, position: int) -> list[Fault]:
    """The faults worth trying on `call`: every way a write can fail; for reads and KMS, one
    of the "not now" errors the code treats alike, a modelled error or a timeout (two paths)
    in turn by position."""
    if call.service == "kms":
        return [(Fault.KMS_INTERNAL, Fault.TIMEOUT)[position % 2]]
    if not call.is_write:
        return [(Fault.THROUGHPUT, Fault.TIMEOUT)[position % 2]]
    return [Fault.THROTTLED] + [
        fault
        for fault in (Fault.CONDITION, Fault.CANCELLED, Fault.LOST_REPLY)
        if applies_to(fault, call)
    ]


def at_random(seed: int, rate: float, faults: frozenset[Fault] = frozenset(Fault)) -> Schedule:
    """Fail each call with probability `rate`, with a fault drawn from those that apply to it;
    the same seed gives the same faults for the same calls."""
    rng = random.Random(seed)
    ordered = sorted(faults)

    def schedule(_index: int, call: Call) -> Fault | None:
        if rng.random() >= rate:
            return None
        possible = [fault for fault in ordered if applies_to(fault, call)]
        return rng.choice(possible) if possible else None

    return schedule


@dataclass
class FaultInjector:
    """Arm with a schedule; every DynamoDB and KMS call while armed is recorded, and failed
    where the schedule says. `calls` holds those of the latest arming; `history` every one
    since whoever reads it last cleared it."""

    calls: list[Call] = field(default_factory=list)
    history: list[Call] = field(default_factory=list)
    injected: list[tuple[Fault, Call]] = field(default_factory=list)
    _schedule: Schedule | None = None

    @contextmanager
    def armed(self, schedule: Schedule | None = None) -> Iterator[FaultInjector]:
        """Record (and, with a schedule, fail) calls until the block ends."""
        self.calls.clear()
        self.injected.clear()
        self._schedule = schedule or (lambda _index, _call: None)
        try:
            yield self
        finally:
            self._schedule = None

    @classmethod
    def installed(cls, monkeypatch: pytest.MonkeyPatch) -> FaultInjector:
        """An injector between every botocore client and AWS, until the test ends."""
        injector = cls()
        monkeypatch.setattr(
            BaseClient,
            "_make_api_call",
            injector._around(BaseClient._make_api_call),  # type: ignore[attr-defined]
        )
        return injector

    def _around(self, original: Callable[..., Any]) -> Callable[..., Any]:
        injector = self

        def make_api_call(client: BaseClient, operation: str, params: Mapping[str, Any]) -> Any:
            service = client.meta.service_model.service_name
            if injector._schedule is None or service not in FAULTED_SERVICES:
                return original(client, operation, params)
            call = Call(service, operation, params)
            fault = injector._schedule(len(injector.calls), call)
            injector.calls.append(call)
            injector.history.append(call)
            if fault is None:
                return original(client, operation, params)
            injector.injected.append((fault, call))
            if fault is Fault.LOST_REPLY:
                original(client, operation, params)
            raise _error(fault, call)

        return make_api_call


class SelectiveInvoker:
    """Invokes functions in-process, arming the injector only while the functions a test
    targets run: so the authorizer in front of a route can be kept out of the faults, or be
    the only one in them."""

    def __init__(self, inner: Invoker, injector: FaultInjector):
        self._inner = inner
        self._injector = injector
        self._targets: frozenset[str] = frozenset()
        self._schedule: Schedule | None = None

    @contextmanager
    def targeting(self, function_ids: frozenset[str], schedule: Schedule) -> Iterator[None]:
        self._targets, self._schedule = function_ids, schedule
        try:
            yield
        finally:
            self._targets, self._schedule = frozenset(), None

    def invoke(self, function_id: str, event: Mapping[str, Any]) -> InvokeResult:
        if function_id not in self._targets:
            return self._inner.invoke(function_id, event)
        with self._injector.armed(self._schedule):
            return self._inner.invoke(function_id, event)
