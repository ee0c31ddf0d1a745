"""Who is calling: the principal the authorizer established, carried to functions in the
authorizer context (flat strings, as API Gateway passes them) and read back here."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

from railguard.access.plans import Plan, RateLimit, is_plan
from railguard.core.errors import Unauthenticated

PrincipalKind = Literal["user", "api_key"]
Role = Literal["owner", "admin", "user"]

_KINDS: frozenset[str] = frozenset({"user", "api_key"})
_ROLES: frozenset[str] = frozenset({"owner", "admin", "user"})


def rate_subject(kind: PrincipalKind, principal_id: str) -> str:
    """Whose counters a request counts in, and whose usage it is: one per API key, one per user."""
    return f"{kind}:{principal_id}"


@dataclass(frozen=True)
class Principal:
    kind: PrincipalKind
    id: str
    workspace_id: str | None = None
    role: Role | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)
    session_id: str | None = None
    # What the function enforces for the authorizer: the principal's own request limit, its
    # workspace's plan (whose budgets its requests share with the workspace's other keys and
    # members), and the browser Origin its key allows, to echo in CORS headers.
    rate_limit: RateLimit | None = None
    plan: Plan | None = None
    origin: str | None = None
    # The workspace requires MFA and this user has not turned it on: the function refuses.
    mfa_required: bool = False
    # The API key's `last_used_at` is due (`railguard.access.usage`): the function's count of
    # the request notes it, since the authorizer writes nothing.
    last_use_due: bool = False

    @property
    def rate_subject(self) -> str:
        """Whose counter a request counts against: one per API key, one per user."""
        return rate_subject(self.kind, self.id)

    def to_context(self) -> dict[str, str]:
        return dict(self._context)  # a copy: the answer is the caller's to change

    @cached_property
    def _context(self) -> dict[str, str]:
        # Once per principal: a warm authorizer answers with the same one again and again.
        context = {"principal_type": self.kind, "principal_id": self.id}
        if self.workspace_id:
            context["workspace_id"] = self.workspace_id
        if self.role:
            context["role"] = self.role
        if self.scopes:
            context["scopes"] = " ".join(sorted(self.scopes))
        if self.session_id:
            context["session_id"] = self.session_id
        if self.rate_limit:
            context["rate_limit"] = self.rate_limit.to_text()
        if self.plan:
            context["plan"] = self.plan
        if self.origin:
            context["origin"] = self.origin
        if self.mfa_required:
            context["mfa_required"] = "true"
        if self.last_use_due:
            context["last_use_due"] = "true"
        return context

    @classmethod
    def from_context(cls, context: Mapping[str, Any] | None) -> Principal:
        """Read the authorizer's context; anything missing or odd means no principal at all."""
        context = context or {}
        kind = context.get("principal_type")
        principal_id = context.get("principal_id")
        role = context.get("role")
        if kind not in _KINDS or not isinstance(principal_id, str) or not principal_id:
            raise Unauthenticated
        if role is not None and role not in _ROLES:
            raise Unauthenticated
        plan = context.get("plan")
        if plan is not None and not is_plan(plan):
            raise Unauthenticated
        scopes = context.get("scopes") or ""
        try:
            rate_limit = (
                RateLimit.from_text(context["rate_limit"]) if "rate_limit" in context else None
            )
        except (TypeError, ValueError):
            raise Unauthenticated from None
        return cls(
            kind=kind,
            id=principal_id,
            workspace_id=context.get("workspace_id") or None,
            role=role,
            scopes=frozenset(str(scopes).split()),
            session_id=context.get("session_id") or None,
            rate_limit=rate_limit,
            plan=plan,
            origin=context.get("origin") or None,
            mfa_required=context.get("mfa_required") == "true",
            last_use_due=context.get("last_use_due") == "true",
        )
