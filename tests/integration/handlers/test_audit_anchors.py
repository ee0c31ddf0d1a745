"""Issue 16, finding 3: the audit trail is tamper-evident against a compromised function role.

Every function may put (so overwrite) audit events and move trail heads, and the chain's hash is
unkeyed: with one function's credentials a forger rewrites an event, recomputes every later hash
and moves the head. The anchor job copies each changed trail's head into an Object Lock bucket no
function can write; verification holds the chain to the latest anchor, and says plainly that
events after it can still be rewritten. Anchors are checkpoints too: a check reads only the
events from the latest one on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError

from railguard.audit import repository as audit_repository
from railguard.audit.anchoring import Anchoring
from railguard.audit.anchors import TrailAnchors, anchor_key
from railguard.audit.chain import Anchor, Head, event_hash
from railguard.audit.trail import Actor, AuditEvent, AuditLog, StoredAuditTrail
from railguard.core.clock import SystemClock
from railguard.core.errors import ServiceUnavailable
from railguard.core.ids import new_id
from railguard.jobs import JobReport
from railguard.store import Table
from railguard.store import keys as item_keys
from tests.support import accounts as a
from tests.support.audit import forge
from tests.support.functions import run_job
from tests.support.inprocess import InProcessClient

VERIFY = "/api/v1/audit-events/verify"


pytestmark = pytest.mark.usefixtures("cheap_passwords")


@dataclass(frozen=True)
class Owner:
    workspace: str
    headers: dict[str, str]

    @property
    def trail(self) -> str:
        return item_keys.workspace_trail(self.workspace)


@pytest.fixture
def owner(client: InProcessClient) -> Owner:
    headers = a.owner_headers()
    return Owner(headers["X-Workspace-ID"], headers)


def _credentials(client: InProcessClient, owner: Owner, count: int) -> None:
    for n in range(count):
        reply = client.request(
            "POST",
            "/api/v1/credentials",
            headers=owner.headers,
            body={"name": f"c{n}", "type": "openai", "value": "sk-anchor-test-0123456789abcd"},
        )
        assert reply.status == 201, reply.body


def _verify(client: InProcessClient, owner: Owner, query: str = "") -> dict[str, Any]:
    reply = client.request("GET", f"{VERIFY}{query}", headers=owner.headers)
    assert reply.status == 200, reply.body
    data: dict[str, Any] = reply.json()["data"]
    return data


def _head(table: Table, trail: str) -> Head:
    item = table.get(audit_repository.audit_head(trail))
    assert item is not None
    return Head(item["seq"], item["hash"])


def _anchor_everything() -> dict[str, Any]:
    """One run of the anchor job, as its schedule runs it, that leaves nothing for the next."""
    report = run_job("anchor")
    assert report["complete"] is True, report
    assert report["counts"].get("broken") is None, report
    return report


def _anchored(client: InProcessClient, owner: Owner, table: Table, credentials: int) -> Head:
    """The owner's trail, with `credentials` credentials created in it, anchored by the job: the
    head it anchored."""
    _credentials(client, owner, credentials)
    _anchor_everything()
    return _head(table, owner.trail)


def test_a_forger_who_recomputes_every_hash_and_moves_the_head_is_found_once_anchored(
    client: InProcessClient, owner: Owner, table: Table, audit_table: Table
) -> None:
    # Given a workspace's trail with a few events, anchored by the job
    head = _anchored(client, owner, table, 3)
    before = _verify(client, owner)
    assert (before["valid"], before["anchored_seq"]) == (True, head.seq)
    # When someone holding a function's role rewrites event 2, recomputes every later hash, and
    # moves the head to the forgery's end
    forge(audit_table, table, owner.trail, 2, {"name": "nothing to see"})
    # Then the check finds it, at the anchored event, from the anchor and from the first event
    for query in ("", "?full=true"):
        after = _verify(client, owner, query)
        assert after["valid"] is False, query
        assert after["broken_at"]["seq"] == head.seq
        assert after["broken_at"]["reason"] == "the event does not match the trail's anchor"
        assert after["anchored_seq"] == head.seq
    # And when the trail goes on (an honest append on the forged head), the anchor job does not
    # anchor the forgery over the true anchor
    _credentials(client, owner, 1)
    report = run_job("anchor")
    assert report["counts"] == {"broken": 1}
    after = _verify(client, owner)
    assert (after["valid"], after["anchored_seq"]) == (False, head.seq)


def test_events_after_the_last_anchor_can_still_be_rewritten_and_the_answer_says_so(
    client: InProcessClient, owner: Owner, table: Table, audit_table: Table
) -> None:
    # Given a trail anchored, then one more event
    anchored = _anchored(client, owner, table, 2).seq
    _credentials(client, owner, 1)
    # When a forger rewrites that event (after the anchor) and moves the head
    forge(audit_table, table, owner.trail, anchored + 1, {"name": "rewritten"})
    verification = _verify(client, owner)
    # Then the check cannot tell, and says which events it cannot vouch for, and why
    assert verification["valid"] is True
    assert verification["anchored_seq"] == anchored
    assert verification["full"] is False
    assert f"Events after {anchored} are not anchored yet" in verification["caveat"]
    assert "someone holding a function's role could rewrite them" in verification["caveat"]


def test_a_check_from_the_anchor_says_an_earlier_rewrite_needs_a_full_check(
    client: InProcessClient, owner: Owner, table: Table, audit_table: Table
) -> None:
    # Given a trail of three events, anchored
    anchored = _anchored(client, owner, table, 3).seq
    # When someone holding a function's role rewrites event 2 alone (its own hash recomputed,
    # the later events and the head untouched)
    event = audit_table.get(audit_repository.audit_event(owner.trail, 2))
    assert event is not None
    event["details"] = {"name": "nothing to see"}
    event["hash"] = event_hash(event)
    audit_table.put(event)
    # Then the check from the anchor does not read event 2, and does not claim it would notice
    default = _verify(client, owner)
    assert (default["valid"], default["full"]) == (True, False)
    assert "found only with full=true" in default["caveat"]
    assert "a rewrite of any of them is found" not in default["caveat"]
    # And the full check finds it, where event 3 no longer follows it
    full = _verify(client, owner, "?full=true")
    assert (full["valid"], full["full"]) == (False, True)
    assert full["broken_at"]["seq"] == 3
    assert f"Events 1 to {anchored} are anchored" in full["caveat"]


def test_a_trail_never_anchored_says_every_event_could_be_rewritten(
    client: InProcessClient, owner: Owner
) -> None:
    # Given a workspace whose trail the anchor job has not seen yet
    # When it is verified
    verification = _verify(client, owner)
    # Then it is valid, every event read, and the answer says none is anchored
    assert (verification["valid"], verification["full"]) == (True, True)
    assert (verification["anchored_seq"], verification["anchored_at"]) == (None, None)
    assert verification["caveat"].startswith("No event of this trail is anchored yet")


def test_an_anchor_cannot_be_overwritten_or_deleted(
    client: InProcessClient, owner: Owner, table: Table, aws: Any, anchor_bucket: str
) -> None:
    # Given a trail anchored by the job
    head = _anchored(client, owner, table, 2)
    s3 = aws.client("s3")
    key = anchor_key(owner.trail, head)
    (original,) = s3.list_object_versions(Bucket=anchor_bucket, Prefix=key)["Versions"]
    body = s3.get_object(Bucket=anchor_bucket, Key=key)["Body"].read()
    # Then it is locked in compliance mode
    locked = s3.head_object(Bucket=anchor_bucket, Key=key, VersionId=original["VersionId"])
    assert locked["ObjectLockMode"] == "COMPLIANCE"
    # When someone tries to delete that version
    with pytest.raises(ClientError) as refused:
        s3.delete_object(Bucket=anchor_bucket, Key=key, VersionId=original["VersionId"])
    # Then Object Lock refuses it
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    # And a put conditioned as the job's are cannot replace it
    with pytest.raises(ClientError) as taken:
        s3.put_object(Bucket=anchor_bucket, Key=key, Body=b"{}", IfNoneMatch="*")
    assert taken.value.response["Error"]["Code"] == "PreconditionFailed"
    # And a put without that condition (the bucket policy refuses it in AWS; moto does not
    # enforce policies) only adds a version: the anchored one is there, unchanged
    s3.put_object(Bucket=anchor_bucket, Key=key, Body=b'{"forged": true}')
    kept = s3.get_object(Bucket=anchor_bucket, Key=key, VersionId=original["VersionId"])
    assert kept["Body"].read() == body
    # And a delete marker (also refused by the policy) does not hide the anchor from the check
    s3.delete_object(Bucket=anchor_bucket, Key=key)
    assert s3.list_objects_v2(Bucket=anchor_bucket, Prefix=key)["KeyCount"] == 0
    assert _verify(client, owner)["anchored_seq"] == head.seq


def _due(table: Table) -> set[str]:
    """The trails in the anchor job's work list."""
    return {
        entry["pk"]
        for shard in range(audit_repository.ANCHOR_SHARDS)
        for entry in table.iterate(audit_repository.anchor_partition(shard), index="gsi2")
    }


def test_the_anchor_job_is_idempotent_and_anchors_only_the_trails_that_changed(
    client: InProcessClient, owner: Owner, table: Table, anchors: TrailAnchors
) -> None:
    # Given every trail anchored, then events in one workspace's trail alone
    _anchor_everything()
    assert _due(table) == set()
    before = anchors.latest(owner.trail)
    _credentials(client, owner, 2)
    assert _due(table) == {owner.trail}
    # When the job runs twice
    first, second = run_job("anchor"), run_job("anchor")
    # Then the first anchors that trail alone, at its head, and the second finds nothing to do
    assert first == {"job": "anchor", "complete": True, "counts": {"anchored": 1}}
    assert second == {"job": "anchor", "complete": True, "counts": {}}
    latest = anchors.latest(owner.trail)
    assert latest is not None
    assert before is not None
    assert (latest.seq, latest.hash) == (before.seq + 2, _head(table, owner.trail).hash)
    assert _due(table) == set()


def _append(trail: StoredAuditTrail, workspace_id: str, count: int) -> None:
    for n in range(count):
        trail.append(
            AuditEvent("credential.updated", Actor.user("usr_x"), f"cred_{n}", workspace_id)
        )


def _keep_going_for(calls: int) -> Any:
    remaining = iter(range(calls))
    return lambda: next(remaining, None) is not None


def test_a_run_out_of_time_anchors_as_far_as_it_checked_and_the_next_goes_on(
    table: Table, audit_table: Table, anchors: TrailAnchors
) -> None:
    # Given every trail anchored, then one trail of 30 events
    anchoring = Anchoring(table, audit_table, anchors)
    anchoring.anchor_changed(lambda: True, JobReport("anchor"))
    workspace_id = new_id("ws")
    trail = item_keys.workspace_trail(workspace_id)
    _append(StoredAuditTrail(audit_table, table, SystemClock()), workspace_id, 30)
    # When a run has time for the trail but none of its events, then one for 10 of them
    anchoring.anchor_changed(_keep_going_for(1), JobReport("anchor"))
    assert anchors.latest(trail) is None
    cut = JobReport("anchor")
    anchoring.anchor_changed(_keep_going_for(1 + 10), cut)
    # Then it anchored event 10 and says it did not finish
    partial = anchors.latest(trail)
    assert partial is not None
    assert (cut.complete, cut.counts, partial.seq) == (False, {"anchored": 1}, 10)
    # And the next run, with time, goes on from there to the head and takes it off the list
    rest = JobReport("anchor")
    anchoring.anchor_changed(lambda: True, rest)
    latest = anchors.latest(trail)
    assert (rest.complete, rest.counts) == (True, {"anchored": 1})
    assert latest is not None
    assert (latest.seq, latest.hash) == (30, _head(table, trail).hash)


class _UnreachableAnchors(TrailAnchors):
    def latest(self, trail: str) -> Anchor | None:
        raise ServiceUnavailable


def test_a_trail_the_job_cannot_anchor_now_waits_for_the_next_run(
    table: Table, audit_table: Table, anchors: TrailAnchors, anchor_bucket: str, aws: Any
) -> None:
    # Given every trail anchored, then one trail with an event, and S3 not answering
    Anchoring(table, audit_table, anchors).anchor_changed(lambda: True, JobReport("anchor"))
    workspace_id = new_id("ws")
    _append(StoredAuditTrail(audit_table, table, SystemClock()), workspace_id, 1)
    unreachable = _UnreachableAnchors(aws.client("s3"), anchor_bucket)
    # When the job runs
    report = JobReport("anchor")
    Anchoring(table, audit_table, unreachable).anchor_changed(lambda: True, report)
    # Then it says it failed, and the trail is still in its work list
    assert (report.complete, report.counts) == (True, {"failed": 1})
    assert _due(table) == {item_keys.workspace_trail(workspace_id)}


class _AnchoredWhileListed(TrailAnchors):
    """Anchors whose listing happens after an honest append and an anchor job run."""

    def __init__(self, anchors: TrailAnchors, meanwhile: Any) -> None:
        self._anchors, self._meanwhile = anchors, meanwhile

    def latest(self, trail: str) -> Anchor | None:
        self._meanwhile()
        return self._anchors.latest(trail)


def test_an_anchor_made_while_a_check_runs_is_not_read_as_tampering(
    table: Table, audit_table: Table, anchors: TrailAnchors
) -> None:
    # Given an anchored trail of three events
    workspace_id = new_id("ws")
    trail = item_keys.workspace_trail(workspace_id)
    appender = StoredAuditTrail(audit_table, table, SystemClock())
    _append(appender, workspace_id, 3)
    anchoring = Anchoring(table, audit_table, anchors)
    anchoring.anchor_changed(lambda: True, JobReport("anchor"))

    def append_and_anchor() -> None:
        _append(appender, workspace_id, 1)
        anchoring.anchor_changed(lambda: True, JobReport("anchor"))

    # When an honest append and an anchor job run while the check lists the anchors
    racing = _AnchoredWhileListed(anchors, append_and_anchor)
    result = AuditLog(audit_table, table, racing).verify(trail)
    # Then the busy trail is valid, held to the anchor it listed
    assert result.valid is True
    assert result.anchor is not None
    assert result.anchor.seq == 4


@pytest.fixture
def audit_items_read(audit_table: Table, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of items each DynamoDB read of the audit table returned."""
    counts: list[int] = []
    real = BaseClient._make_api_call  # type: ignore[attr-defined]  # botocore's one call path

    def counting(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        response = real(client, operation, params)
        if operation in ("Query", "GetItem") and params.get("TableName") == audit_table.name:
            counts.append(len(response.get("Items", [])) + ("Item" in response))
        return response

    monkeypatch.setattr(BaseClient, "_make_api_call", counting)
    return counts


def test_a_check_from_the_anchor_reads_only_the_events_from_it_on(
    table: Table, audit_table: Table, anchors: TrailAnchors, audit_items_read: list[int]
) -> None:
    # Given a trail of 40 events, anchored, then 3 more
    workspace_id = new_id("ws")
    trail = item_keys.workspace_trail(workspace_id)
    appender = StoredAuditTrail(audit_table, table, SystemClock())
    _append(appender, workspace_id, 40)
    Anchoring(table, audit_table, anchors).anchor_changed(lambda: True, JobReport("anchor"))
    _append(appender, workspace_id, 3)
    log = AuditLog(audit_table, table, anchors)
    # When it is checked from the anchor
    audit_items_read.clear()
    checkpoint = log.verify(trail)
    from_anchor = sum(audit_items_read)
    # And then in full
    audit_items_read.clear()
    full = log.verify(trail, full=True)
    # Then the first read the anchored event and the 3 after it, no more; the second all 43
    assert (checkpoint.valid, checkpoint.events_checked, from_anchor) == (True, 4, 4)
    assert checkpoint.anchor is not None
    assert checkpoint.anchor.seq == 40
    assert (full.valid, full.events_checked, sum(audit_items_read)) == (True, 43, 43)
