"""Plans in tests: the operator's plan change, as `make plan` invokes it, and budgets made small
for a test (the plans' terms patched for its duration only: nothing in the code lets a workspace
change its budgets)."""

from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType
from typing import Any

import pytest

from railguard.access import plans
from railguard.access.plans import EndpointClass, RateLimit
from tests.support.functions import load_function
from tests.support.lambda_context import FakeLambdaContext


def change_plan(**detail: Any) -> dict[str, Any]:
    """The operator's plan change (`workspace_id`, `plan`), invoked as `make plan` invokes it."""
    function = load_function("plan_change")
    report: dict[str, Any] = function.lambda_handler({"detail": detail}, FakeLambdaContext())
    return report


def patch_budgets(
    monkeypatch: pytest.MonkeyPatch,
    plan: str = "free",
    *,
    principal: int | None = None,
    **budgets: int,
) -> None:
    """For this test, `plan`'s per-minute budgets of the classes named (`read=50`) and, if given,
    its principal limit."""
    terms = plans.PLANS[plan]
    per_class: dict[EndpointClass, RateLimit] = dict(terms.budgets)
    for name, requests in budgets.items():
        assert name in plans.ENDPOINT_CLASSES, name
        per_class[name] = RateLimit(requests, plans.BUDGET_WINDOW_SECONDS)
    changed = replace(
        terms,
        budgets=MappingProxyType(per_class),
        principal_limit=RateLimit(principal, 60) if principal else terms.principal_limit,
    )
    monkeypatch.setattr(plans, "PLANS", MappingProxyType({**plans.PLANS, plan: changed}))
