"""Budgets and guards that must hold under concurrency: the failure throttle reserves before it
checks, and a session cannot be granted for a password that is no longer current."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from railguard.clock import SystemClock
from railguard.errors import InvalidCredentials, RateLimited
from railguard.sessions import Sessions
from railguard.store import Table
from railguard.store import keys as item_keys
from railguard.throttle import FailureThrottle, ThrottleRule
from tests.support.audit import RecordingAuditTrail

RULE = ThrottleRule("test-rule", limit=5, window_seconds=900)


def test_of_forty_concurrent_attempts_exactly_the_budget_is_reserved(table: Table) -> None:
    # Given a budget of 5 and 40 attempts at the same moment against one subject
    throttle = FailureThrottle(table, SystemClock())
    subject = f"subject-{id(table)}-{SystemClock().now()}"

    def attempt(_: int) -> str:
        try:
            throttle.reserve([(RULE, subject)])
        except RateLimited:
            return "refused"
        return "reserved"

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(attempt, range(40)))
    # Then exactly 5 went on to check a secret, and 35 were refused without one
    assert outcomes.count("reserved") == 5
    assert outcomes.count("refused") == 35


def test_a_released_attempt_is_given_back_and_a_refusal_undoes_the_others(table: Table) -> None:
    throttle = FailureThrottle(table, SystemClock())
    tight = ThrottleRule("tight", limit=1, window_seconds=900)
    subject = f"s-{SystemClock().now()}"
    throttle.reserve([(RULE, subject)])
    throttle.release(RULE, subject)
    for _ in range(5):
        throttle.reserve([(RULE, subject)])
    # A tight rule at its limit refuses, and the wide rule's reservation is given back
    throttle.reserve([(tight, subject)])
    with pytest.raises(RateLimited):
        throttle.reserve([(RULE, f"{subject}-other"), (tight, subject)])
    for _ in range(5):
        throttle.reserve([(RULE, f"{subject}-other")])


def test_a_session_is_refused_for_a_password_hash_that_is_no_longer_current(table: Table) -> None:
    # Given a login item whose hash changed after a login verified the old one
    email = f"race-{SystemClock().now()}@example.com"
    pk, sk = item_keys.login(email)
    table.put({"pk": pk, "sk": sk, "user_id": "usr_race", "password_hash": "$new"})
    sessions = Sessions(table, SystemClock(), RecordingAuditTrail())
    # When the racing login asks for its session / Then there is none
    with pytest.raises(InvalidCredentials):
        sessions.start(
            "usr_race", source_ip="127.0.0.1", user_agent="", email=email, password_hash="$old"
        )
    grant = sessions.start(
        "usr_race", source_ip="127.0.0.1", user_agent="", email=email, password_hash="$new"
    )
    assert grant.session_id.startswith("ses_")
