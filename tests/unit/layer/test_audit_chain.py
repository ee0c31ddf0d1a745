"""The audit trail's hash chain: any change to a stored event is found, and where."""

from __future__ import annotations

from typing import Any

import pytest

from railguard.audit_chain import GENESIS_HASH, Head, event_hash, verify


def _chain(length: int) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    prev = GENESIS_HASH
    for seq in range(1, length + 1):
        event: dict[str, Any] = {
            "id": f"evt_{seq}",
            "seq": seq,
            "trail": "WS#ws_1",
            "occurred_at": f"2026-11-29T12:00:{seq:02d}Z",
            "action": "api_key.created",
            "actor": {"type": "user", "id": "usr_1"},
            "target": {"type": "api_key", "id": f"key_{seq}"},
            "source_ip": "127.0.0.1",
            "user_agent": "test",
            "request_id": f"req-{seq}",
            "details": {"name": f"key {seq}"},
            "prev_hash": prev,
        }
        event["hash"] = event_hash(event)
        prev = event["hash"]
        events.append(event)
    return events


def _head(events: list[dict[str, Any]]) -> Head:
    return Head(events[-1]["seq"], events[-1]["hash"])


def test_an_untouched_chain_is_valid_and_counts_every_event() -> None:
    # Given a chain of five events and its head
    events = _chain(5)
    # When it is verified
    result = verify(events, _head(events))
    # Then it is valid, all five checked
    assert (result.valid, result.events_checked, result.broken_at) == (True, 5, None)


def test_an_empty_trail_without_a_head_is_valid() -> None:
    assert verify([], None).valid is True


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("action", "api_key.revoked"),
        ("actor", {"type": "user", "id": "usr_2"}),
        ("target", {"type": "api_key", "id": "key_x"}),
        ("source_ip", "10.0.0.1"),
        ("user_agent", "other"),
        ("request_id", "req-x"),
        ("details", {"name": "renamed"}),
        ("occurred_at", "2026-11-29T13:00:00Z"),
        ("id", "evt_x"),
        ("trail", "WS#ws_2"),
    ],
)
def test_changing_any_field_of_an_event_breaks_the_chain_at_that_event(
    field: str, value: Any
) -> None:
    # Given a chain whose third event was edited in storage
    events = _chain(5)
    head = _head(events)
    events[2] = {**events[2], field: value}
    # When it is verified
    result = verify(events, head)
    # Then it is invalid at event 3, after two good ones
    assert result.valid is False
    assert result.broken_at is not None
    assert (result.broken_at.seq, result.broken_at.event_id) == (3, events[2]["id"])
    assert result.events_checked == 2
    assert "content" in result.broken_at.reason


def test_an_edit_that_recomputes_its_own_hash_still_breaks_the_next_link() -> None:
    # Given a forger who edits event 2 and gives it a matching hash
    events = _chain(4)
    head = _head(events)
    forged = {**events[1], "details": {"name": "innocent"}}
    forged["hash"] = event_hash(forged)
    events[1] = forged
    # When it is verified
    result = verify(events, head)
    # Then event 3 no longer follows it
    assert result.broken_at is not None
    assert result.broken_at.seq == 3
    assert "prev_hash" in result.broken_at.reason


def test_a_removed_event_is_named() -> None:
    # Given a chain with event 3 deleted
    events = _chain(5)
    head = _head(events)
    del events[2]
    # When it is verified
    result = verify(events, head)
    # Then the gap is reported at 3
    assert result.broken_at is not None
    assert result.broken_at.seq == 3
    assert "missing" in result.broken_at.reason


def test_events_removed_from_the_end_are_found_through_the_head() -> None:
    # Given a chain whose last two events were deleted (the chain alone still looks whole)
    events = _chain(5)
    head = _head(events)
    # When it is verified against its head
    result = verify(events[:3], head)
    # Then events 4 and 5 are reported missing
    assert result.valid is False
    assert result.broken_at is not None
    assert result.broken_at.seq == 4
    assert result.broken_at.reason == "events 4 to 5 are missing"


def test_an_event_added_past_the_head_is_not_vouched_for() -> None:
    # Given a well-formed event appended to storage without moving the head
    events = _chain(4)
    head = Head(3, events[2]["hash"])
    # When it is verified
    result = verify(events, head)
    # Then the trail is invalid from event 4
    assert result.broken_at is not None
    assert result.broken_at.seq == 4


def test_a_head_that_does_not_match_the_last_event_is_reported() -> None:
    events = _chain(3)
    result = verify(events, Head(3, "f" * 64))
    assert result.valid is False
    assert result.broken_at is not None
    assert "head" in result.broken_at.reason


def test_reordered_events_break_the_chain() -> None:
    # Given events 2 and 3 swapped (with their sequence numbers swapped too)
    events = _chain(4)
    head = _head(events)
    second, third = dict(events[1]), dict(events[2])
    second["seq"], third["seq"] = 3, 2
    events[1], events[2] = third, second
    # When it is verified
    result = verify(events, head)
    # Then the chain breaks at the first moved event
    assert result.valid is False
    assert result.broken_at is not None
    assert result.broken_at.seq == 2
