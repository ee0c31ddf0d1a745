"""The workspace's audit trail (contract section 10), for its owners and admins: the events,
newest first, and the check of the trail's hash chain against its latest anchor."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel, Field

from railguard.audit.chain import Verification
from railguard.audit.trail import AuditLog
from railguard.core.runtime import Runtime
from railguard.core.settings import AnchorSettings, AuditSettings
from railguard.http import ApiFunction, Data, DataList
from railguard.http.audit import ActionFilter, AuditEventOut, event_list
from railguard.http.models import Cursor, Limit
from railguard.store import keys as item_keys


@dataclass(frozen=True, kw_only=True)
class AuditReaderSettings(AuditSettings, AnchorSettings):
    """Reads the trail, its head and its anchors."""


def _audit_log(runtime: Runtime[AuditReaderSettings]) -> AuditLog:
    return runtime.audit_log


api = ApiFunction(AuditReaderSettings, _audit_log, tag="audit")


class BreakOut(BaseModel):
    seq: int
    event_id: str | None
    reason: str


class VerificationOut(BaseModel):
    valid: bool
    events_checked: int
    broken_at: BreakOut | None = None
    anchored_seq: int | None = Field(
        description="The last event anchored where no function can write (null: none yet)"
    )
    anchored_at: str | None = Field(description="When that anchor was written (RFC 3339)")
    full: bool = Field(description="Whether every event was read, from the first")
    caveat: str = Field(description="What this answer does not cover, in plain words")


# `?full=true`: read every event from the first, held to every anchor, instead of starting at
# the latest anchor (a long trail may not finish within the function's time limit).
FullCheck = Annotated[bool, Query(description="Read every event, not only the unanchored ones")]


def _caveat(verification: Verification) -> str:
    anchor = verification.anchor
    if anchor is None:
        return (
            "No event of this trail is anchored yet: someone holding a function's role could"
            " rewrite any of them, and the trail's head, without this check noticing."
        )
    unanchored = (
        f" Events after {anchor.seq} are not anchored yet: someone holding a function's role"
        " could rewrite them, and the trail's head, without this check noticing."
    )
    if verification.full:
        return (
            f"Events 1 to {anchor.seq} are anchored ({anchor.anchored_at}) where no function can"
            " write, and every one was read: a rewrite of any of them is found." + unanchored
        )
    # From the latest anchor only its own event is read again: a rewrite of an earlier event
    # that leaves the anchored event's hash alone goes unseen until a full check.
    return (
        f"Event {anchor.seq} is anchored ({anchor.anchored_at}) where no function can write and"
        f" still matches its anchor. Events before it were not read again: a rewrite of one of"
        " them is found only with full=true." + unanchored
    )


def _trail() -> str:
    principal = api.principal
    assert principal.workspace_id is not None  # noqa: S101 - admitted by a header-scoped rule
    return item_keys.workspace_trail(principal.workspace_id)


@api.route("GET /api/v1/audit-events", "The workspace's audit events")
def list_events(
    limit: Limit = 20, cursor: Cursor = None, action: ActionFilter = None
) -> DataList[AuditEventOut]:
    return event_list(api.services.page(_trail(), action=action, limit=limit, cursor=cursor))


@api.route("GET /api/v1/audit-events/verify", "Check the trail's hash chain")
def verify_events(full: FullCheck = False) -> Data[VerificationOut]:
    verification = api.services.verify(_trail(), full=full)
    broken, anchor = verification.broken_at, verification.anchor
    return Data(
        data=VerificationOut(
            valid=verification.valid,
            events_checked=verification.events_checked,
            broken_at=(
                BreakOut(seq=broken.seq, event_id=broken.event_id, reason=broken.reason)
                if broken
                else None
            ),
            anchored_seq=anchor.seq if anchor else None,
            anchored_at=anchor.anchored_at if anchor else None,
            full=verification.full,
            caveat=_caveat(verification),
        )
    )


lambda_handler = api.handler
