"""A key's own rate limit may only narrow its plan's, and a plan never loosens the key's own
(`railguard.authorizer.decision._effective_limit`, the review of issue 21's first part)."""

from __future__ import annotations

import pytest

from railguard.access.network import IpAllowlist
from railguard.access.plans import RateLimit, plan_limit
from railguard.api_keys.repository import KeyRecord
from railguard.authorizer.decision import _effective_limit
from railguard.workspaces.repository import WorkspaceRecord

FREE = plan_limit("free")  # 120 a minute


def _limit(own: RateLimit | None, plan: str = "free") -> RateLimit:
    record = KeyRecord(
        "key_1", "ws_1", frozenset(), IpAllowlist(()), frozenset(), None, own, False, None
    )
    return _effective_limit(record, WorkspaceRecord("ws_1", "w", plan, False, 0))


@pytest.mark.parametrize(
    ("own", "expected"),
    [
        (None, FREE),  # no limit of its own: the plan's
        (RateLimit(10, 60), RateLimit(10, 60)),  # narrower: its own
        (RateLimit(15_000, 60), FREE),  # wider (made under a bigger plan): the plan's
        # Neither within the other (a lower rate, a bigger burst): the fewer requests over the
        # longer window, so the plan's burst and the key's rate both hold
        (RateLimit(200, 600), RateLimit(120, 600)),
        (RateLimit(600, 86_400), RateLimit(120, 86_400)),
    ],
)
def test_the_limit_a_key_gets_is_within_its_own_and_its_plans(
    own: RateLimit | None, expected: RateLimit
) -> None:
    # Given a key on the free plan with `own` as its limit / When its limit is decided
    effective = _limit(own)
    # Then it is the expected one, and never looser than either
    assert effective == expected
    assert effective.within(FREE)
    assert own is None or effective.within(own)
