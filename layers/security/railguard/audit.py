"""Audit events: who did what to which security setting or secret, and when.

`AuditTrail` is where the domain records them; it holds ids and reasons, never a secret. The
trail today is `LogAuditTrail`, one structured log record per event under the `railguard.audit`
logger (kept with the function's logs); the stored, hash-chained trail of the contract's
section 10 is a later issue and will implement the same protocol.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

AuditEventType = Literal[
    "credential.revealed",
    "mfa.enabled",
    "mfa.disabled",
    "mfa.recovery_code_used",
    "webhook_trigger.created",
    "webhook_trigger.updated",
    "webhook_trigger.deleted",
    "webhook_trigger.token_rotated",
    "agent_ui.created",
    "agent_ui.updated",
    "agent_ui.deleted",
    "agent_ui.unlock_failed",
]


@dataclass(frozen=True)
class AuditEvent:
    type: AuditEventType
    actor_id: str
    workspace_id: str | None = None
    target_id: str | None = None
    details: Mapping[str, str] = field(default_factory=dict)


class AuditTrail(Protocol):
    def record(self, event: AuditEvent) -> None: ...


class LogAuditTrail:
    def __init__(self) -> None:
        self._logger = logging.getLogger("railguard.audit")

    def record(self, event: AuditEvent) -> None:
        self._logger.info(
            event.type,
            extra={
                "audit_event": event.type,
                "actor_id": event.actor_id,
                "workspace_id": event.workspace_id,
                "target_id": event.target_id,
                **{f"detail_{name}": value for name, value in event.details.items()},
            },
        )
