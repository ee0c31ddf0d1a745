"""The workspace's audit trail (contract section 10), for its owners and admins: the events,
newest first, and the check of the trail's hash chain."""

from __future__ import annotations

from pydantic import BaseModel

from railguard.audit import AuditLog
from railguard.http import ApiFunction, Data, DataList
from railguard.http.audit import ActionFilter, AuditEventOut, event_list
from railguard.http.models import Cursor, Limit
from railguard.runtime import Runtime
from railguard.settings import AuditSettings
from railguard.store import keys as item_keys


def _audit_log(runtime: Runtime[AuditSettings]) -> AuditLog:
    return runtime.audit_log


api = ApiFunction(AuditSettings, _audit_log)


class BreakOut(BaseModel):
    seq: int
    event_id: str | None
    reason: str


class VerificationOut(BaseModel):
    valid: bool
    events_checked: int
    broken_at: BreakOut | None = None


def _trail() -> str:
    principal = api.principal
    assert principal.workspace_id is not None  # noqa: S101 - admitted by a header-scoped rule
    return item_keys.workspace_trail(principal.workspace_id)


@api.app.get("/api/v1/audit-events", summary="The workspace's audit events", tags=["audit"])
def list_events(
    limit: Limit = 20, cursor: Cursor = None, action: ActionFilter = None
) -> DataList[AuditEventOut]:
    return event_list(api.services.page(_trail(), action=action, limit=limit, cursor=cursor))


@api.app.get(
    "/api/v1/audit-events/verify",
    summary="Check the trail's hash chain",
    tags=["audit"],
)
def verify_events() -> Data[VerificationOut]:
    verification = api.services.verify(_trail())
    broken = verification.broken_at
    return Data(
        data=VerificationOut(
            valid=verification.valid,
            events_checked=verification.events_checked,
            broken_at=(
                BreakOut(seq=broken.seq, event_id=broken.event_id, reason=broken.reason)
                if broken
                else None
            ),
        )
    )


lambda_handler = api.handler
