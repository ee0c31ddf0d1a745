"""A webhook call's credential and signature headers: `bearer_token` and `is_well_formed` on
`Authorization`, then `TriggerIngress._check_signature` on `X-Webhook-Timestamp`,
`X-Webhook-Signature` and the raw body, over an in-memory table of seen signatures.

Input: one byte of flags (bit 0: the timestamp header is present, bit 1: the signature header),
then `Authorization`, the timestamp, the signature and the body, NUL-separated. In the signature,
`{signature}` stands for the correct one, so the fuzzer reaches the accepting path.

Property: `bearer_token` returns or raises `Unauthenticated`, `is_well_formed` answers a bool, and
the check returns or raises `InvalidSignature`. It accepts only a Unix-seconds timestamp within
the window and the exact HMAC (spaces around it and upper-case hex allowed), and then refuses the
same call again (a replay); it accepts the exact HMAC of a fresh canonical timestamp.
"""

from __future__ import annotations

from typing import Any

from fuzz.targets._inputs import check, fields, text
from railguard.core.clock import Clock
from railguard.core.errors import InvalidSignature, Unauthenticated
from railguard.crypto.opaque_tokens import is_well_formed
from railguard.http.guards import bearer_token
from railguard.store import ConditionFailed, Item
from railguard.webhooks import (
    SIGNATURE_WINDOW_SECONDS,
    TOKEN_PREFIX,
    TriggerCall,
    TriggerIngress,
    signature,
)

NOW = 1_800_000_000
TRIGGER_ID = "trg_fuzz"
SECRET = "whsec_fuzz-harness-secret"  # noqa: S105 - the harness's own, protects nothing
SIGNATURE_PLACEHOLDER = "{signature}"


class _FixedClock:
    def now(self) -> float:
        return NOW


class _SeenSignatures:
    """The one table write the check makes: a conditional put that fails on a replay."""

    def __init__(self) -> None:
        self.keys: set[tuple[str, str]] = set()

    def put(self, item: Item, *, condition: str | None = None, **_expressions: Any) -> None:
        key = (item["pk"], item["sk"])
        if condition == "attribute_not_exists(pk)" and key in self.keys:
            raise ConditionFailed
        self.keys.add(key)


def _ingress(table: _SeenSignatures, clock: Clock) -> TriggerIngress:
    # Only the table and the clock take part in the signature check.
    return TriggerIngress(table, None, clock, None, None)  # type: ignore[arg-type]


def _check_token(authorization: str) -> None:
    try:
        token = bearer_token(authorization)
    except Unauthenticated:
        return
    check(isinstance(is_well_formed(token, TOKEN_PREFIX), bool), "is_well_formed answers a bool")


def _accepts(call: TriggerCall) -> bool:
    ingress = _ingress(_SeenSignatures(), _FixedClock())
    try:
        delivery = ingress._signed(SECRET, call)
        ingress._remember(TRIGGER_ID, *delivery)
    except InvalidSignature:
        return False
    # The same call again is a replay, whatever the first one was.
    try:
        ingress._remember(TRIGGER_ID, *ingress._signed(SECRET, call))
    except InvalidSignature:
        return True
    check(False, "a signed call was accepted twice")
    return True


def one_input(data: bytes) -> None:
    flags = data[0] if data else 0
    authorization, timestamp_field, signature_field, body = fields(data[1:], 4)
    _check_token(text(authorization))
    timestamp = text(timestamp_field) if flags & 1 else None
    expected = signature(SECRET, timestamp or "", body)
    presented = (
        text(signature_field).replace(SIGNATURE_PLACEHOLDER, expected) if flags & 2 else None
    )
    call = TriggerCall("wht_", "203.0.113.7", timestamp, presented, body, None)
    accepted = _accepts(call)
    fresh = (
        timestamp is not None
        and timestamp.isascii()
        and timestamp.isdigit()
        and len(timestamp) <= 12
        and abs(NOW - int(timestamp)) <= SIGNATURE_WINDOW_SECONDS
    )
    exact = presented is not None and presented.strip().lower() == expected
    check(accepted == (fresh and exact), f"accepted={accepted} for fresh={fresh}, exact={exact}")
