"""The audit trail's hash chain: any change to a stored event is found, and where; anchors fix
what a forger who recomputes every hash and moves the head cannot match, and checkpoints."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from railguard.audit.chain import (
    GENESIS_HASH,
    Break,
    Head,
    Verification,
    Walk,
    event_hash,
    verify,
    walk,
)


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


def _broken_at(result: Verification | Walk) -> Break:
    """Where `result` says the chain broke, after checking that it says it broke."""
    assert result.broken_at is not None
    return result.broken_at


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
    broken = _broken_at(result)
    assert (broken.seq, broken.event_id) == (3, events[2]["id"])
    assert result.events_checked == 2
    assert "content" in broken.reason


def _event_2_edited_with_a_matching_hash(events: list[dict[str, Any]]) -> None:
    forged = {**events[1], "details": {"name": "innocent"}}
    forged["hash"] = event_hash(forged)
    events[1] = forged


def _event_3_deleted(events: list[dict[str, Any]]) -> None:
    del events[2]


@pytest.mark.parametrize(
    ("length", "tamper", "found"),
    [
        # an edit that recomputes its own hash still breaks the next link: event 3's prev_hash
        pytest.param(4, _event_2_edited_with_a_matching_hash, "prev_hash", id="edit-own-hash"),
        # a removed event is named
        pytest.param(5, _event_3_deleted, "missing", id="removed-event"),
    ],
)
def test_an_edit_with_its_own_hash_or_a_removed_event_breaks_the_chain_at_event_3(
    length: int, tamper: Callable[[list[dict[str, Any]]], None], found: str
) -> None:
    # Given a forger who edits event 2 and gives it a matching hash, or deletes event 3
    events = _chain(length)
    head = _head(events)
    tamper(events)
    # When it is verified
    result = verify(events, head)
    # Then event 3 no longer follows it, or the gap is reported at 3
    broken = _broken_at(result)
    assert broken.seq == 3
    assert found in broken.reason


@pytest.mark.parametrize(
    ("head_at", "anchored_at", "reason"),
    [
        # events removed from the end are found through the head
        pytest.param(5, [], "events 4 to 5 are missing", id="removed-from-the-end"),
        # a head moved behind its anchor is a break, right after the head, naming the anchor
        pytest.param(
            3,
            [5],
            "the trail's head is at 3, behind its anchor at 5",
            id="head-moved-behind-its-anchor",
        ),
    ],
)
def test_events_removed_from_the_end_are_found_through_the_head_or_an_anchor(
    head_at: int, anchored_at: list[int], reason: str
) -> None:
    # Given a chain whose last two events were deleted (the chain alone still looks whole), its
    # head left at 5, or moved back to 3 behind an anchor at 5
    events = _chain(5)
    head = Head(head_at, events[head_at - 1]["hash"])
    anchors = [Head(seq, events[seq - 1]["hash"]) for seq in anchored_at]
    # When it is verified against its head (and anchors)
    result = verify(events[:3], head, anchors=anchors)
    # Then it is invalid from event 4, saying why
    assert result.valid is False
    broken = _broken_at(result)
    assert broken.seq == 4
    assert broken.reason == reason


def test_an_event_added_past_the_head_is_not_vouched_for() -> None:
    # Given a well-formed event appended to storage without moving the head
    events = _chain(4)
    head = Head(3, events[2]["hash"])
    # When it is verified
    result = verify(events, head)
    # Then the trail is invalid from event 4
    assert _broken_at(result).seq == 4


def test_a_head_that_does_not_match_the_last_event_is_reported() -> None:
    events = _chain(3)
    result = verify(events, Head(3, "f" * 64))
    assert result.valid is False
    assert "head" in _broken_at(result).reason


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
    assert _broken_at(result).seq == 2


def _forged(events: list[dict[str, Any]], at: int) -> list[dict[str, Any]]:
    """`events` with event `at` (1-based) rewritten, and every hash from it on recomputed."""
    forged = [dict(event) for event in events]
    forged[at - 1]["details"] = {"name": "rewritten"}
    prev = forged[at - 2]["hash"] if at > 1 else GENESIS_HASH
    for event in forged[at - 1 :]:
        event["prev_hash"] = prev
        event["hash"] = prev = event_hash(event)
    return forged


def test_a_forgery_with_every_hash_recomputed_passes_the_chain_alone() -> None:
    # Given event 2 of 5 rewritten, every later hash recomputed and the head moved
    forged = _forged(_chain(5), at=2)
    # When it is verified without anchors
    result = verify(forged, _head(forged))
    # Then nothing can tell: this is what anchors are for
    assert result.valid is True


def test_a_forgery_before_an_anchor_breaks_at_the_anchored_event() -> None:
    # Given a chain anchored at event 4, then event 2 rewritten, later hashes recomputed, and
    # the head moved to the forgery's end
    events = _chain(5)
    anchor = Head(4, events[3]["hash"])
    forged = _forged(events, at=2)
    # When it is verified from the first event against the anchor, or from the anchor on
    full = verify(forged, _head(forged), anchors=[anchor])
    checkpoint = verify(forged[3:], _head(forged), start=anchor)
    # Then both break at the anchored event, which no longer hashes to the anchor
    for result in (full, checkpoint):
        assert result.valid is False
        broken = _broken_at(result)
        assert (broken.seq, broken.event_id) == (4, "evt_4")
        assert broken.reason == "the event does not match the trail's anchor"


def test_a_forgery_after_the_anchor_is_not_found() -> None:
    # Given a chain anchored at event 3, then event 4 rewritten and the head moved
    events = _chain(5)
    anchor = Head(3, events[2]["hash"])
    forged = _forged(events, at=4)
    # When it is verified from the anchor
    result = verify(forged[2:], _head(forged), start=anchor)
    # Then it passes: events after the last anchor are what a forger can still rewrite
    assert (result.valid, result.events_checked) == (True, 3)


def test_a_checkpoint_reads_from_the_anchored_event_and_checks_it() -> None:
    # Given a chain of 6 anchored at 4
    events = _chain(6)
    anchor = Head(4, events[3]["hash"])
    # When it is verified from the anchor: the anchored event and the two after it
    result = verify(events[3:], _head(events), start=anchor)
    # Then it is valid, three events checked
    assert (result.valid, result.events_checked) == (True, 3)
    # And the anchored event itself, edited in storage, is found
    edited = [{**events[3], "details": {"name": "x"}}, *events[4:]]
    assert _broken_at(verify(edited, _head(events), start=anchor)).seq == 4
    # And a missing anchored event is a gap at the anchor
    missing = _broken_at(verify(events[4:], _head(events), start=anchor))
    assert (missing.seq, missing.reason) == (4, "event 4 is missing")


def test_a_walk_says_how_far_the_chain_held() -> None:
    # Given a chain of 5, walked from an anchor at 2, and a copy broken at 4
    events = _chain(5)
    anchor = Head(2, events[1]["hash"])
    broken = [*events[1:3], {**events[3], "prev_hash": "0" * 64}, events[4]]
    # When each is walked
    whole, cut = walk(events[1:], start=anchor), walk(broken, start=anchor)
    # Then the whole one reached event 5 with its hash; the broken one stopped after 3
    assert (whole.checked, whole.last_seq, whole.last_hash) == (4, 5, events[4]["hash"])
    assert whole.broken_at is None
    assert (cut.checked, cut.last_seq, cut.last_hash) == (2, 3, events[2]["hash"])
    assert _broken_at(cut).seq == 4
