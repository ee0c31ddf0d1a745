"""Workspace plans and the request rate each allows (contract section 11).

A principal's limit is its API key's own `rate_limit` when set, else its workspace's plan's. A
user acting outside any workspace (their profile, their list of workspaces) gets the free plan's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

Plan = Literal["free", "starter", "pro", "enterprise"]
DEFAULT_PLAN: Plan = "free"


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


PLAN_LIMITS: Mapping[str, RateLimit] = {
    "free": RateLimit(120, 60),
    "starter": RateLimit(600, 60),
    "pro": RateLimit(3_000, 60),
    "enterprise": RateLimit(15_000, 60),
}


def plan_limit(plan: str | None) -> RateLimit:
    """The plan's limit; an unknown or missing plan gets the free plan's (never none at all)."""
    return PLAN_LIMITS.get(plan or DEFAULT_PLAN, PLAN_LIMITS[DEFAULT_PLAN])
