"""Contract section 11 (v1.1): plans are data. Each plan budgets every endpoint class per window
and caps active keys; one principal's limit is what it was before plans had budgets."""

from __future__ import annotations

from itertools import pairwise
from types import MappingProxyType

import pytest

from railguard.access.plans import (
    ENDPOINT_CLASSES,
    PLAN_LIMITS,
    PLAN_NAMES,
    PLANS,
    PlanTerms,
    RateLimit,
    endpoint_class,
    is_plan,
    plan_limit,
    plan_terms,
)

MINUTE = 60


def test_the_four_plans_budget_every_class_and_cap_keys() -> None:
    # Given the plans / Then there are the contract's four, each budgeting every class
    assert PLAN_NAMES == ("free", "starter", "pro", "enterprise")
    assert tuple(PLANS) == PLAN_NAMES
    assert ENDPOINT_CLASSES == ("read", "write", "webhook", "auth")
    for terms in PLANS.values():
        assert set(terms.budgets) == set(ENDPOINT_CLASSES)
        assert all(budget.window_seconds == MINUTE for budget in terms.budgets.values())
        assert terms.max_active_keys >= 1


def test_each_plan_allows_more_than_the_one_below_in_everything() -> None:
    for lower, higher in pairwise(PLAN_NAMES):
        below, above = PLANS[lower], PLANS[higher]
        assert above.max_active_keys > below.max_active_keys
        assert above.principal_limit.per_second() > below.principal_limit.per_second()
        for each_class in ENDPOINT_CLASSES:
            assert above.budgets[each_class].requests > below.budgets[each_class].requests


def test_the_numbers_are_the_readmes() -> None:
    table = {
        name: (
            *(terms.budgets[c].requests for c in ENDPOINT_CLASSES),
            terms.max_active_keys,
            terms.principal_limit.requests,
        )
        for name, terms in PLANS.items()
    }
    assert table == {
        "free": (300, 60, 60, 30, 10, 120),
        "starter": (1_500, 300, 300, 150, 50, 600),
        "pro": (7_500, 1_500, 1_500, 750, 250, 3_000),
        "enterprise": (30_000, 6_000, 6_000, 3_000, 2_000, 15_000),
    }


def test_a_workspaces_budgets_fit_one_partitions_writes() -> None:
    # A workspace's counters share what one DynamoDB partition writes (about 1,000 a second),
    # with room for refusals and retries (docs/scaling.md)
    for terms in PLANS.values():
        assert sum(budget.per_second() for budget in terms.budgets.values()) <= 750


def test_one_principals_limit_is_todays() -> None:
    assert dict(PLAN_LIMITS) == {
        "free": RateLimit(120, 60),
        "starter": RateLimit(600, 60),
        "pro": RateLimit(3_000, 60),
        "enterprise": RateLimit(15_000, 60),
    }
    assert all(plan_limit(name) == PLAN_LIMITS[name] for name in PLAN_NAMES)


@pytest.mark.parametrize("name", [None, "", "platinum", "Pro"])
def test_an_unknown_or_missing_plan_gets_the_free_plans_terms(name: str | None) -> None:
    assert plan_terms(name) is PLANS["free"]
    assert plan_limit(name) == RateLimit(120, 60)


@pytest.mark.parametrize(
    ("name", "known"),
    [("free", True), ("enterprise", True), ("Pro", False), ("", False), (None, False), (3, False)],
)
def test_only_the_plans_names_are_plans(name: object, known: bool) -> None:
    assert is_plan(name) is known


def test_terms_that_leave_a_class_unbudgeted_or_allow_no_key_are_refused() -> None:
    budgets = {name: RateLimit(1, 60) for name in ENDPOINT_CLASSES if name != "auth"}
    with pytest.raises(ValueError, match="every endpoint class"):
        PlanTerms("free", MappingProxyType(budgets), 1, RateLimit(1, 60))  # type: ignore[arg-type]
    every = {name: RateLimit(1, 60) for name in ENDPOINT_CLASSES}
    with pytest.raises(ValueError, match="must allow a key"):
        PlanTerms("free", MappingProxyType(every), 0, RateLimit(1, 60))


@pytest.mark.parametrize(
    ("route", "expected"),
    [
        ("POST /api/v1/webhook/trigger", "webhook"),
        ("POST /api/v1/agent-uis/{agent_ui_id}/unlock", "auth"),
        ("GET /api/v1/agent-uis/{agent_ui_id}/session", "read"),
        ("GET /api/v1/agent-uis/{agent_ui_id}", "read"),
        ("GET /api/v1/me", "read"),
        ("POST /api/v1/api-keys", "write"),
        ("PATCH /api/v1/agent-uis/{agent_ui_id}", "write"),
        ("DELETE /api/v1/credentials/{credential_id}", "write"),
        ("", "write"),
    ],
)
def test_a_routes_class_is_its_own_else_read_for_a_get_else_write(
    route: str, expected: str
) -> None:
    assert endpoint_class(route) == expected


def test_a_plan_budgets_per_minute_only() -> None:
    # Given terms whose read budget is per hour / Then they are no plan: a workspace's counts
    # are kept per minute
    terms = PLANS["free"]
    hourly = {**terms.budgets, "read": RateLimit(300, 3600)}
    with pytest.raises(ValueError, match="per 60 s"):
        PlanTerms("free", MappingProxyType(hourly), 10, terms.principal_limit)
