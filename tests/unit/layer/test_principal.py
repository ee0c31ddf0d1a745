"""The principal survives the trip through the authorizer context, and nothing else passes."""

from __future__ import annotations

import pytest

from railguard.access.plans import RateLimit
from railguard.access.principal import Principal
from railguard.core.errors import Unauthenticated


def test_a_principal_round_trips_through_the_context() -> None:
    # Given a principal with every field set
    principal = Principal(
        kind="api_key",
        id="key_1",
        workspace_id="ws_1",
        role=None,
        scopes=frozenset({"agents:read", "credentials:write"}),
        rate_limit=RateLimit(50, 3600),
        plan="pro",
    )
    # When it is written to and read from the authorizer context
    context = principal.to_context()
    # Then the context is flat strings and reads back to the same principal
    assert all(isinstance(value, str) for value in context.values())
    assert Principal.from_context(context) == principal


def test_a_user_held_back_by_mfa_round_trips_and_others_are_not() -> None:
    # Given a member whose workspace requires MFA they lack, and one it does not hold back
    held = Principal("user", "usr_1", workspace_id="ws_1", role="user", mfa_required=True)
    free = Principal("user", "usr_2", workspace_id="ws_1", role="user")
    # When both go through the context / Then only the first is marked
    assert Principal.from_context(held.to_context()).mfa_required is True
    assert "mfa_required" not in free.to_context()
    assert (
        Principal.from_context({**free.to_context(), "mfa_required": "yes"}).mfa_required is False
    )


def test_a_keys_due_last_use_round_trips_and_is_otherwise_absent() -> None:
    # Given a key whose last use is due, and one whose is not
    due = Principal("api_key", "key_1", workspace_id="ws_1", last_use_due=True)
    not_due = Principal("api_key", "key_2", workspace_id="ws_1")
    # When both go through the context / Then only the first says so
    assert Principal.from_context(due.to_context()).last_use_due is True
    assert "last_use_due" not in not_due.to_context()
    assert Principal.from_context({**not_due.to_context(), "last_use_due": "1"}) == not_due


@pytest.mark.parametrize(
    "context",
    [
        None,
        {},
        {"principal_type": "admin", "principal_id": "x"},
        {"principal_type": "user"},
        {"principal_type": "user", "principal_id": ""},
        {"principal_type": "user", "principal_id": "u", "role": "superuser"},
        {"principal_type": "user", "principal_id": "u", "plan": "platinum"},
        {"principal_type": "user", "principal_id": "u", "rate_limit": "0/60"},
    ],
)
def test_an_incomplete_or_odd_context_is_no_principal(context: dict[str, str] | None) -> None:
    with pytest.raises(Unauthenticated):
        Principal.from_context(context)
