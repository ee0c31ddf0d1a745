"""Request rate limits (contract section 11): fixed-window counters in DynamoDB.

A request in a workspace counts against two limits at once: the workspace's budget for the
request's endpoint class (its plan's, shared by all its keys and members: minting keys adds no
budget), and its principal's own limit (its API key's own `rate_limit` narrowed to the plan's
principal limit, or the plan's principal limit for a member). Both counts are in one item, the
workspace's minute (`railguard.access.rate_repository`), and are taken with one conditional
`UpdateItem`: `ADD` to both, on the condition that both are still under their limits. The
condition is evaluated atomically with the increment, so of N + k concurrent requests exactly N
pass, from any number of principals and instances; a read-then-write would let a burst through.
The refusal brings back the counts that refused it, in the same call, which say which limit it
was. Public routes that act for a workspace (webhook ingress, agent UI unlock and session) count
its class alone.

The one exception, which costs a second call: an API key's own limit over a window other than a
minute is counted first in the key's own item (`RATE#api_key:{id}`, as every limit was before
workspace budgets), then the workspace's minute; the key's count is given back if the workspace
refuses. A user acting outside any workspace counts in a per-user item, as before.

Why in the function and not the authorizer: an HTTP API Lambda authorizer can only allow (with
a context), deny (403) or fail (401/500); it cannot answer 429 with `Retry-After`. So the
authorizer decides *which* limits apply (the workspace's plan, the principal's own limit) and
passes them in its context, and the function's entry point (`railguard.http`) counts the request
before any route runs, and answers 429 itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from railguard.access.plans import EndpointClass, PlanTerms, RateLimit
from railguard.access.rate_repository import WORKSPACE_WINDOW_SECONDS, WindowCounters
from railguard.core.clock import Clock
from railguard.core.errors import RateLimited
from railguard.store import Table

# Kept a little past their window so a late request still finds its counter.
_TTL_SLACK_SECONDS = 60

# The limit a 429 names (contract section 11): the workspace's budget for the class, the API
# key's own, or the user's.
LimitName = Literal["workspace", "key", "user"]
LIMIT_NAMES: tuple[LimitName, ...] = get_args(LimitName)


@dataclass(frozen=True)
class Quota:
    """The outcome of counting one request, and what the `RateLimit-*` headers say: of the
    limits counted, the one closest to running out, or the one that refused (`name`: which
    one, None for a limit no 429 names)."""

    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int
    name: LimitName | None = None

    def headers(self) -> dict[str, str]:
        headers = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_seconds),
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.reset_seconds)
        return headers

    def refusal(self, message: str, endpoint_class: EndpointClass | None = None) -> RateLimited:
        """The 429 of a refused request: naming the limit and the class when it has a name."""
        details = (
            {"limit": self.name, "class": endpoint_class}
            if self.name is not None and endpoint_class is not None
            else None
        )
        return RateLimited(self.reset_seconds, message, details=details, headers=self.headers())


@dataclass(frozen=True)
class Counted:
    """Whose request it is, in its workspace: its rate subject (`api_key:{id}`, `user:{id}`),
    its own limit, and that limit's name in a 429 (`key` or `user`)."""

    subject: str
    limit: RateLimit
    name: LimitName


def window(now: float, window_seconds: int) -> tuple[int, int]:
    """The fixed window `now` falls in: its start, and the whole seconds until it ends (>= 1)."""
    seconds = int(now)
    start = seconds - seconds % window_seconds
    return start, max(1, start + window_seconds - seconds)


class RateLimiter:
    def __init__(self, table: Table, clock: Clock):
        self._counters = WindowCounters(table)
        self._clock = clock

    def take(self, subject: str, limit: RateLimit, *, name: LimitName | None = None) -> Quota:
        """Count one request of `subject` against `limit` in the subject's own item."""
        return self._take_own(subject, limit, name, self._clock.now())

    def take_in_workspace(
        self,
        workspace_id: str,
        endpoint_class: EndpointClass,
        plan: PlanTerms,
        principal: Counted | None = None,
        *,
        budgeted: bool = True,
    ) -> Quota:
        """Count one request in its workspace: against the plan's budget for its class (unless
        not `budgeted`: counted in it, never refused by it), and the principal's own limit
        (none on a public route). One call, but for an own limit over another window than a
        minute (two: see the module's docstring)."""
        now = self._clock.now()
        budget = plan.budgets[endpoint_class]
        start, reset = window(now, WORKSPACE_WINDOW_SECONDS)
        in_minute = (
            principal is not None and principal.limit.window_seconds == WORKSPACE_WINDOW_SECONDS
        )
        own: Quota | None = None
        if principal is not None and not in_minute:
            own = self._take_own(principal.subject, principal.limit, principal.name, now)
            if not own.allowed:
                return own
        # In the minute, the principal's own limit, or for a limit over another window the
        # plan's: windows that do not divide a minute could otherwise pass a little more.
        minute_limit = (
            principal.limit if principal is not None and in_minute else plan.principal_limit
        )
        counts = self._counters.count_in_workspace(
            workspace_id,
            start,
            endpoint_class=endpoint_class,
            class_budget=budget.requests if budgeted else None,
            principal=principal.subject if principal is not None else None,
            principal_limit=minute_limit.requests if principal is not None else None,
        )
        if not counts.counted:
            if principal is not None and own is not None:  # the key's count was taken first
                own_start, _ = window(now, principal.limit.window_seconds)
                self._counters.give_back_request(
                    principal.subject, principal.limit.window_seconds, own_start
                )
            # The counts as the condition found them say which limit refused.
            if principal is None or (budgeted and counts.endpoint_class >= budget.requests):
                return Quota(False, budget.requests, 0, reset, "workspace")
            return Quota(False, minute_limit.requests, 0, reset, principal.name)
        quotas = []
        if budgeted:
            remaining = budget.requests - counts.endpoint_class
            quotas.append(Quota(True, budget.requests, remaining, reset, "workspace"))
        if principal is not None and counts.principal is not None:
            remaining = minute_limit.requests - counts.principal
            quotas.append(Quota(True, minute_limit.requests, remaining, reset, principal.name))
        if own is not None:
            quotas.append(own)
        return _closest(quotas)

    def _take_own(
        self, subject: str, limit: RateLimit, name: LimitName | None, now: float
    ) -> Quota:
        start, reset = window(now, limit.window_seconds)
        used = self._counters.count_request(
            subject,
            limit.window_seconds,
            start,
            limit=limit.requests,
            expires_at=start + limit.window_seconds + _TTL_SLACK_SECONDS,
        )
        if used is None:
            return Quota(False, limit.requests, 0, reset, name)
        return Quota(True, limit.requests, max(0, limit.requests - used), reset, name)


def _closest(quotas: list[Quota]) -> Quota:
    """The limit closest to running out: the fewest remaining, then the soonest reset."""
    closest = min(quotas, key=lambda quota: (quota.remaining, quota.reset_seconds))
    return Quota(
        True, closest.limit, max(0, closest.remaining), closest.reset_seconds, closest.name
    )
