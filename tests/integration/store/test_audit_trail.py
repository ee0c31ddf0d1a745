"""The stored audit trail over the emulator: concurrent appends make one unforked chain, an
append carrying a refused write changes nothing, and tampering in storage is found, and where."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise
from typing import Any

import pytest

from railguard.audit import repository as audit_repository
from railguard.audit.trail import (
    Actor,
    AppendRefused,
    AuditEvent,
    AuditLog,
    RequestOrigin,
    StoredAuditTrail,
    TrailBroken,
    request_origin,
)
from railguard.core.clock import SystemClock
from railguard.core.errors import NotFound, ServiceUnavailable
from railguard.core.ids import new_id
from railguard.store import Table, TransactionConflict, TransactItem
from railguard.store import keys as item_keys
from railguard.store.table import serialize


def _event(workspace_id: str, n: int) -> AuditEvent:
    return AuditEvent(
        "credential.updated", Actor.user("usr_writer"), f"cred_{n}", workspace_id, {"n": str(n)}
    )


def _trail_of(trail: StoredAuditTrail, count: int) -> tuple[str, str]:
    """A new workspace whose trail holds `count` events: its id and its trail's name."""
    workspace_id = new_id("ws")
    for n in range(count):
        trail.append(_event(workspace_id, n))
    return workspace_id, item_keys.workspace_trail(workspace_id)


@pytest.fixture
def trail(table: Table, audit_table: Table) -> StoredAuditTrail:
    return StoredAuditTrail(audit_table, table, SystemClock())


@pytest.fixture
def log(table: Table, audit_table: Table) -> AuditLog:
    return AuditLog(audit_table, table)


def _all(log: AuditLog, trail_name: str) -> list[dict[str, Any]]:
    return log.page(trail_name, action=None, limit=100, cursor=None).events


def test_concurrent_appends_make_one_chain_with_every_event_once(
    trail: StoredAuditTrail, log: AuditLog
) -> None:
    # Given 8 writers appending 6 events each to one workspace's trail at the same time
    workspace_id = new_id("ws")

    def write(writer: int) -> None:
        for n in range(6):
            trail.append(_event(workspace_id, writer * 100 + n))

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(write, range(8)))
    # Then there are exactly 48 events, numbered 1..48 with no gap or repeat
    name = item_keys.workspace_trail(workspace_id)
    events = _all(log, name)
    assert len(events) == 48
    assert sorted(event["target"]["id"] for event in events) == sorted(
        f"cred_{w * 100 + n}" for w in range(8) for n in range(6)
    )
    # And the chain is whole: newest first, each linked to the one before
    for newer, older in pairwise(events):
        assert newer["prev_hash"] == older["hash"]
    verification = log.verify(name)
    assert (verification.valid, verification.events_checked) == (True, 48)


def test_an_append_whose_carried_write_is_refused_changes_nothing(
    trail: StoredAuditTrail, log: AuditLog, table: Table
) -> None:
    # Given a trail with one event, and a write conditioned on an item that does not exist
    workspace_id = new_id("ws")
    trail.append(_event(workspace_id, 1))
    refused = TransactItem.update_item(
        (f"WS#{workspace_id}", "NOPE"), "SET x = :x", "attribute_exists(pk)", values={":x": 1}
    )
    # When an event is appended with it
    with pytest.raises(AppendRefused):
        trail.append(_event(workspace_id, 2), with_writes=[refused])
    # Then neither the event nor the write happened, and the head did not move
    name = item_keys.workspace_trail(workspace_id)
    assert [event["target"]["id"] for event in _all(log, name)] == ["cred_1"]
    assert table.get((f"WS#{workspace_id}", "NOPE")) is None
    assert table.get(audit_repository.audit_head(name))["seq"] == 1  # type: ignore[index]


def test_a_carried_write_s_declared_failure_is_raised_even_on_a_broken_trail(
    trail: StoredAuditTrail, table: Table, audit_table: Table
) -> None:
    # Given a trail with an event put past its head (broken), and a carried write that declares
    # its failure and whose condition will not hold
    workspace_id = new_id("ws")
    first = trail.append(_event(workspace_id, 1))
    name = item_keys.workspace_trail(workspace_id)
    pk, sk = audit_repository.audit_event(name, 2)
    forged = {**first, "pk": pk, "sk": sk, "seq": 2, "id": "evt_forged"}
    audit_table._client.put_item(TableName=audit_table.name, Item=serialize(forged))
    refused = TransactItem.update_item(
        (f"WS#{workspace_id}", "NOPE"),
        "SET x = :x",
        "attribute_exists(pk)",
        values={":x": 1},
        fails_as=lambda: NotFound("No such thing."),
    )
    # When an event is appended with it / Then the act's own failure is what the caller sees,
    # not the trail's, though the chain's writes come first in the transaction
    with pytest.raises(NotFound):
        trail.append(_event(workspace_id, 3), with_writes=[refused])
    assert table.get(audit_repository.audit_head(name))["seq"] == 1  # type: ignore[index]


def _broken(trail: StoredAuditTrail, audit_table: Table, workspace_id: str) -> None:
    """A trail with an event put past its head, as a forger with PutItem leaves it."""
    first = trail.append(_event(workspace_id, 1))
    pk, sk = audit_repository.audit_event(item_keys.workspace_trail(workspace_id), 2)
    forged = {**first, "pk": pk, "sk": sk, "seq": 2, "id": "evt_forged"}
    audit_table._client.put_item(TableName=audit_table.name, Item=serialize(forged))


def test_a_protective_act_on_a_broken_trail_that_meets_a_concurrent_writer_is_503(
    trail: StoredAuditTrail, table: Table, audit_table: Table, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a broken trail, and a protective act whose writes then meet a concurrent writer
    workspace_id = new_id("ws")
    _broken(trail, audit_table, workspace_id)
    revoke = TransactItem.update_item(
        (f"WS#{workspace_id}", "KEY"), "SET #s = :s", names={"#s": "status"}, values={":s": "x"}
    )
    real_transact = Table.transact

    def transact(self: Table, actions: Any, *, guards: Any = ()) -> None:
        if not guards:  # the act done without its event, once the trail is found broken
            raise TransactionConflict(["TransactionConflict"])
        real_transact(self, actions, guards=guards)

    monkeypatch.setattr(Table, "transact", transact)
    # When it is appended / Then the client is told to retry (503), not that it failed its
    # condition, nor that it was done: nothing was written
    with pytest.raises(ServiceUnavailable) as raised:
        trail.append_protecting(_event(workspace_id, 3), with_writes=[revoke])
    assert not isinstance(raised.value, TrailBroken)
    assert table.get((f"WS#{workspace_id}", "KEY")) is None


def test_an_event_records_where_its_request_came_from(
    trail: StoredAuditTrail, log: AuditLog
) -> None:
    # Given a request's origin bound for the invocation
    workspace_id = new_id("ws")
    with request_origin(RequestOrigin("127.0.0.9", "agent/1.0", "req-42")):
        trail.record(_event(workspace_id, 1))
    # Then the stored event carries it, and the actor and target
    (event,) = _all(log, item_keys.workspace_trail(workspace_id))
    assert (event["source_ip"], event["user_agent"], event["request_id"]) == (
        "127.0.0.9",
        "agent/1.0",
        "req-42",
    )
    assert event["actor"] == {"type": "user", "id": "usr_writer"}
    assert event["target"] == {"type": "credential", "id": "cred_1"}
    assert event["action"] == "credential.updated"


def test_filtering_by_action_and_paging_newest_first(
    trail: StoredAuditTrail, log: AuditLog
) -> None:
    # Given five updates and two deletions in one trail
    workspace_id = new_id("ws")
    for n in range(5):
        trail.append(_event(workspace_id, n))
    for n in range(2):
        trail.append(
            AuditEvent("credential.deleted", Actor.user("usr_writer"), f"gone_{n}", workspace_id)
        )
    name = item_keys.workspace_trail(workspace_id)
    # When the deletions are asked for, and the whole trail in pages of three
    deleted = log.page(name, action="credential.deleted", limit=10, cursor=None)
    first = log.page(name, action=None, limit=3, cursor=None)
    second = log.page(name, action=None, limit=3, cursor=first.next_cursor)
    # Then the filter returns exactly the deletions, newest first
    assert [event["target"]["id"] for event in deleted.events] == ["gone_1", "gone_0"]
    # And pages continue where the last ended
    assert [event["target"]["id"] for event in first.events + second.events] == [
        "gone_1",
        "gone_0",
        "cred_4",
        "cred_3",
        "cred_2",
        "cred_1",
    ]


@pytest.mark.parametrize("tampering", ["edit", "delete_middle", "delete_last"])
def test_tampering_with_a_stored_event_is_found_and_located(
    trail: StoredAuditTrail, log: AuditLog, audit_table: Table, tampering: str
) -> None:
    # Given a trail of five events
    _, name = _trail_of(trail, 5)
    pk, sk = audit_repository.audit_event(name, 3 if tampering != "delete_last" else 5)
    stored = audit_table.get((pk, sk))
    assert stored is not None
    # When someone with raw access to the table edits or removes an event
    if tampering == "edit":
        stored["details"] = {"n": "999"}
        audit_table._client.put_item(TableName=audit_table.name, Item=serialize(stored))
    else:
        audit_table._client.delete_item(
            TableName=audit_table.name, Key=serialize({"pk": pk, "sk": sk})
        )
    # Then verification fails and names the place
    verification = log.verify(name)
    assert verification.valid is False
    assert verification.broken_at is not None
    expected_seq = {"edit": 3, "delete_middle": 3, "delete_last": 5}[tampering]
    assert verification.broken_at.seq == expected_seq
    assert verification.events_checked == expected_seq - 1


def test_an_event_put_past_the_head_breaks_appends_loudly_and_fails_verification(
    trail: StoredAuditTrail, log: AuditLog, audit_table: Table, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a trail of two events, and a third put in storage without moving the head
    workspace_id = new_id("ws")
    trail.append(_event(workspace_id, 1))
    second = trail.append(_event(workspace_id, 2))
    name = item_keys.workspace_trail(workspace_id)
    pk, sk = audit_repository.audit_event(name, 3)
    forged = {**second, "pk": pk, "sk": sk, "seq": 3, "id": "evt_forged"}
    audit_table._client.put_item(TableName=audit_table.name, Item=serialize(forged))
    # When an append is tried, directly and as a route records
    with pytest.raises(TrailBroken):
        trail.append(_event(workspace_id, 4))
    trail.record(_event(workspace_id, 5))
    # Then it stops at once (no retries), the route's event is logged as not stored
    assert any(r.getMessage() == "audit event not stored" for r in caplog.records)
    # And verification names the event past the head
    verification = log.verify(name)
    assert verification.valid is False
    assert verification.broken_at is not None
    assert verification.broken_at.seq == 3
    assert "not appended through the trail" in verification.broken_at.reason


def test_events_appended_while_a_trail_is_verified_do_not_make_it_invalid(
    trail: StoredAuditTrail, log: AuditLog, table: Table, audit_table: Table
) -> None:
    # Given a trail of three events, and a verifier that has read the head but not the events
    workspace_id, name = _trail_of(trail, 3)
    reading = AuditLog(audit_table, table)
    original_head = reading._head
    heads_read: list[int] = []

    def head_then_append(trail_name: str) -> Any:
        head = original_head(trail_name)
        if not heads_read:
            trail.append(_event(workspace_id, 99))  # lands while the first head is in hand
        heads_read.append(head.seq if head else 0)
        return head

    reading._head = head_then_append  # type: ignore[method-assign,assignment]
    # When it verifies
    verification = reading.verify(name)
    # Then the three it set out to check are valid, and the newcomer is not called a forgery
    assert (verification.valid, verification.events_checked) == (True, 3)
    assert log.verify(name).events_checked == 4
