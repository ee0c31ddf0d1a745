"""The audit event's response shape (contract section 10), shared by the workspace's trail and
a user's own security events."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel

from railguard.audit.trail import AuditPage
from railguard.http.models import DataList, page_of

# `?action=`: only events of this action (an unknown one is a 400).
ActionFilter = Annotated[str | None, Query(max_length=64, description="Only events of this action")]


class Party(BaseModel):
    type: str
    id: str


class AuditEventOut(BaseModel):
    id: str
    occurred_at: str
    action: str
    actor: Party
    target: Party
    source_ip: str | None
    user_agent: str | None
    request_id: str | None
    details: dict[str, str]
    hash: str
    prev_hash: str


def event_list(page: AuditPage) -> DataList[AuditEventOut]:
    return page_of(AuditEventOut, page.events, page.next_cursor)
