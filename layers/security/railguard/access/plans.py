"""Workspace plans (contract section 11): what each allows, as data, and the endpoint classes
their budgets are kept per.

For each plan: a budget per endpoint class per minute (`budgets`, the workspace's, shared by all
its keys and members), the maximum number of active API keys (`max_active_keys`), and the limit
of one principal (`principal_limit`).

A request counts against its workspace's budget for its class (`endpoint_class`) and against its
principal's own limit: its API key's own `rate_limit` narrowed to the plan's `principal_limit`,
or, for a member, the plan's `principal_limit` (`railguard.access.ratelimit`). A user acting
outside any workspace (their profile, their list of workspaces) gets the free plan's principal
limit. The README's table gives the numbers and why.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal, TypeGuard, get_args

Plan = Literal["free", "starter", "pro", "enterprise"]
DEFAULT_PLAN: Plan = "free"
PLAN_NAMES: tuple[Plan, ...] = get_args(Plan)

# The classes of endpoint a workspace's budget is kept per: reads, writes, webhook ingress,
# authentication.
EndpointClass = Literal["read", "write", "webhook", "auth"]
ENDPOINT_CLASSES: tuple[EndpointClass, ...] = get_args(EndpointClass)
# The routes of a class of their own (public: their token or PIN is the credential), as the
# template spells them; any other GET reads, any other method writes. (An agent UI's session
# check spends no workspace budget: `railguard.agent_uis` counts it per session.)
_ROUTE_CLASSES: Mapping[str, EndpointClass] = MappingProxyType(
    {
        "POST /api/v1/webhook/trigger": "webhook",
        "POST /api/v1/agent-uis/{agent_ui_id}/unlock": "auth",
    }
)
# Every budget is per minute: a workspace's counts are kept in one item per minute.
BUDGET_WINDOW_SECONDS = 60


@dataclass(frozen=True)
class RateLimit:
    requests: int
    window_seconds: int

    def to_text(self) -> str:
        """The compact form the authorizer hands to functions: `requests/window_seconds`."""
        return f"{self.requests}/{self.window_seconds}"

    @classmethod
    def from_text(cls, text: str) -> RateLimit:
        requests, _, window = text.partition("/")
        limit = cls(int(requests), int(window))
        if limit.requests < 1 or limit.window_seconds < 1:
            raise ValueError("a rate limit must be positive")
        return limit

    def per_second(self) -> float:
        return self.requests / self.window_seconds

    def within(self, other: RateLimit) -> bool:
        """No more requests in any stretch of time than `other` allows: neither a higher rate
        nor a bigger burst (a long window's whole budget spent at once)."""
        return self.per_second() <= other.per_second() and self.requests <= other.requests


@dataclass(frozen=True)
class PlanTerms:
    """What one plan allows a workspace."""

    name: Plan
    budgets: Mapping[EndpointClass, RateLimit]  # the workspace's, per endpoint class
    max_active_keys: int
    principal_limit: RateLimit  # one API key or user, whatever the endpoint

    def __post_init__(self) -> None:
        if set(self.budgets) != set(ENDPOINT_CLASSES):
            raise ValueError(f"plan {self.name!r} must budget every endpoint class")
        if self.max_active_keys < 1:
            raise ValueError(f"plan {self.name!r} must allow a key")
        if any(budget.window_seconds != BUDGET_WINDOW_SECONDS for budget in self.budgets.values()):
            raise ValueError(f"plan {self.name!r} must budget per {BUDGET_WINDOW_SECONDS} s")


def _terms(
    name: Plan, *, read: int, write: int, webhook: int, auth: int, keys: int, principal: int
) -> PlanTerms:
    """A plan whose budgets and principal limit are all per minute."""
    per_minute = BUDGET_WINDOW_SECONDS
    budgets: dict[EndpointClass, RateLimit] = {
        "read": RateLimit(read, per_minute),
        "write": RateLimit(write, per_minute),
        "webhook": RateLimit(webhook, per_minute),
        "auth": RateLimit(auth, per_minute),
    }
    return PlanTerms(name, MappingProxyType(budgets), keys, RateLimit(principal, 60))


PLANS: Mapping[str, PlanTerms] = MappingProxyType(
    {
        terms.name: terms
        for terms in (
            _terms("free", read=300, write=60, webhook=60, auth=30, keys=10, principal=120),
            _terms("starter", read=1_500, write=300, webhook=300, auth=150, keys=50, principal=600),
            _terms(
                "pro", read=7_500, write=1_500, webhook=1_500, auth=750, keys=250, principal=3_000
            ),
            _terms(
                "enterprise",
                read=30_000,
                write=6_000,
                webhook=6_000,
                auth=3_000,
                keys=2_000,
                principal=15_000,
            ),
        )
    }
)

# One principal's limit by plan (the authorizer names it, the function counts it).
PLAN_LIMITS: Mapping[str, RateLimit] = MappingProxyType(
    {name: terms.principal_limit for name, terms in PLANS.items()}
)


def is_plan(name: object) -> TypeGuard[Plan]:
    """Whether `name` names a plan (an operator's request is refused otherwise)."""
    return name in PLANS


def plan_terms(plan: str | None) -> PlanTerms:
    """The plan's terms; an unknown or missing plan gets the free plan's (never none at all)."""
    return PLANS.get(plan or DEFAULT_PLAN, PLANS[DEFAULT_PLAN])


def plan_limit(plan: str | None) -> RateLimit:
    """One principal's limit under the plan; an unknown or missing plan gets the free plan's."""
    return plan_terms(plan).principal_limit


def endpoint_class(route_key: str) -> EndpointClass:
    """The class of a route (`"GET /api/v1/me"`): its own, else `read` for a GET, else `write`."""
    known = _ROUTE_CLASSES.get(route_key)
    if known is not None:
        return known
    return "read" if route_key.startswith("GET ") else "write"
