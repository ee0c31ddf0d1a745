"""Budgets and guards that must hold under concurrency: the failure throttle reserves before it
checks, and a session cannot be granted for a password that is no longer current."""

from __future__ import annotations

import pytest

from railguard.access import rate_repository
from railguard.access.throttle import FailureThrottle, ThrottleRule
from railguard.core.clock import SystemClock
from railguard.core.errors import InvalidCredentials, RateLimited
from railguard.identity.sessions import Sessions
from railguard.store import Item, Table
from railguard.store import keys as item_keys
from tests.support.audit import RecordingAuditTrail
from tests.support.fake_time import FakeClock
from tests.support.races import at_once

RULE = ThrottleRule("test-rule", limit=5, window_seconds=900)


def test_of_forty_concurrent_attempts_exactly_the_budget_is_reserved(table: Table) -> None:
    # Given a budget of 5 and 40 attempts at the same moment against one subject
    throttle = FailureThrottle(table, SystemClock())
    subject = f"subject-{id(table)}-{SystemClock().now()}"
    outcomes = at_once(
        lambda _: throttle.reserve([(RULE, subject)]),
        range(40),
        ("reserved", "refused"),
        RateLimited,
        workers=8,
    )
    # Then exactly 5 went on to check a secret, and 35 were refused without one
    assert outcomes.count("reserved") == 5
    assert outcomes.count("refused") == 35


def test_a_released_attempt_is_given_back_and_a_refusal_undoes_the_others(table: Table) -> None:
    throttle = FailureThrottle(table, SystemClock())
    tight = ThrottleRule("tight", limit=1, window_seconds=900)
    subject = f"s-{SystemClock().now()}"
    throttle.release(throttle.reserve([(RULE, subject)]))
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
    profile_pk, profile_sk = item_keys.user_profile("usr_race")
    table.put({"pk": profile_pk, "sk": profile_sk, "email": email})
    sessions = Sessions(table, SystemClock(), RecordingAuditTrail(table))
    # When the racing login asks for its session / Then there is none
    with pytest.raises(InvalidCredentials):
        sessions.start(
            "usr_race",
            source_ip="127.0.0.1",
            user_agent="",
            email=email,
            password_hash="$old",
            generation=0,
        )
    grant = sessions.start(
        "usr_race",
        source_ip="127.0.0.1",
        user_agent="",
        email=email,
        password_hash="$new",
        generation=0,
    )
    assert grant.session_id.startswith("ses_")


def _counter(table: Table, subject: str, window_start: int) -> Item | None:
    return table.get(rate_repository.throttle_window(f"{RULE.name}#{subject}", window_start))


def test_finding_5_a_release_after_the_window_boundary_gives_back_only_what_was_reserved(
    table: Table,
) -> None:
    # Given an attempt reserved half a second before a window ends
    clock = FakeClock(float(int(SystemClock().now())))
    clock.to_window_start(RULE.window_seconds)
    first = int(clock.now())
    clock.advance(RULE.window_seconds - 1)
    throttle = FailureThrottle(table, clock)
    subject = f"straddle-{first}"
    reservation = throttle.reserve([(RULE, subject)])
    # When the secret turns out right only after the boundary, and the attempt is released
    clock.advance(1)
    throttle.release(reservation)
    # Then the count went back in the window it was taken from, and the next window's counter
    # was not touched (no -1 in it, raising its budget)
    reserved_in = _counter(table, subject, first)
    assert reserved_in is not None
    assert reserved_in["failures"] == 0
    second = first + RULE.window_seconds
    assert _counter(table, subject, second) is None
    # And the next window's budget is exact: five attempts, and the sixth refused
    for _ in range(RULE.limit):
        throttle.reserve([(RULE, subject)])
    with pytest.raises(RateLimited):
        throttle.reserve([(RULE, subject)])
    counter = _counter(table, subject, second)
    assert counter is not None
    assert (counter["failures"], counter["ttl"]) == (RULE.limit, second + RULE.window_seconds + 60)


def test_finding_5_a_release_never_writes_a_counter_that_is_gone(table: Table) -> None:
    # Given a reservation whose counter was cleared meanwhile (a success elsewhere forgave it)
    throttle = FailureThrottle(table, SystemClock())
    subject = f"cleared-{SystemClock().now()}"
    reservation = throttle.reserve([(RULE, subject)])
    throttle.clear(reservation)
    # When it is released / Then no counter appears (a -1 without a ttl would never expire)
    throttle.release(reservation)
    counter_key = reservation.counters[0][1]
    assert table.get(counter_key) is None
