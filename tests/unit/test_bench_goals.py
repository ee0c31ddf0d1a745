"""The full `make bench` exits 1 when a figure misses its goal: how goals are read and judged."""

from __future__ import annotations

import pytest

from benchmarks.run import GOALS, meets, missed_goals


@pytest.mark.parametrize(
    ("value", "goal", "met"),
    [
        (49.9, "< 50", True),
        (50, "< 50", False),
        (2, "<= 2", True),
        (3, "<= 2", False),
        (0, "0", True),
        (1, "0", False),
        (50, "== 50", True),
        (49, "== 50", False),
        (5, ">= 5", True),
        (4.9, ">= 5", False),
    ],
)
def test_a_figure_meets_its_goal_exactly_by_the_goal_s_comparison(
    value: float, goal: str, met: bool
) -> None:
    assert meets(value, goal) is met


def test_each_missed_goal_is_named_and_met_ones_are_not() -> None:
    # Given results meeting every goal but one
    results: dict[str, float] = {
        "authorizer_warm_us": 10,
        "authorizer_warm_to_floor": 1.4,
        "aws_calls_key_cold": 3,
        "aws_calls_key_warm": 1,
        "aws_calls_malformed": 0,
        "counting_calls_workspace": 1,
        "authorizer_import_ratio": 1.5,  # the goal is <= 1.15
        "cold_start_ratio": 1.1,
        "rate_limit_exact": 50,
        "kms_calls_per_1000_reads": 10,
        "envelope_kms_calls_while_timed": 0,
        "esdk_kms_calls_while_timed": 0,
        "envelope_to_aesgcm": 1.9,
        "esdk_signed_over_envelope": 400,
        "esdk_unsigned_over_envelope": 60,
    }
    assert set(results) == set(GOALS)
    # When judged, then only that one is reported
    assert missed_goals(results) == ["authorizer_import_ratio = 1.5, goal <= 1.15"]
