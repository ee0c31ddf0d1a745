"""Settings are validated, and errors name variables without their values; ids sort by time."""

from __future__ import annotations

import time
from dataclasses import dataclass

import pytest

from railguard.core.errors import ConfigurationError
from railguard.core.ids import is_id, new_id
from railguard.core.settings import FunctionSettings, TableSettings, variable

VALID = {
    "POWERTOOLS_SERVICE_NAME": "railguard",
    "POWERTOOLS_LOG_LEVEL": "INFO",
    "STAGE": "dev",
    "TABLE_NAME": "railguard-table",
}


def test_a_valid_environment_gives_settings() -> None:
    settings = TableSettings.from_environ(VALID)
    assert (settings.stage, settings.table_name) == ("dev", "railguard-table")


def test_an_invalid_environment_names_the_variables_not_the_values() -> None:
    # Given a bad stage and a missing table name, with a secret-looking value
    environ = {**VALID, "STAGE": "pr_live_SECRETVALUE"}
    del environ["TABLE_NAME"]
    # When validated
    with pytest.raises(ConfigurationError) as raised:
        TableSettings.from_environ(environ)
    # Then the message names both variables and leaks no value
    message = str(raised.value)
    assert "STAGE" in message
    assert "TABLE_NAME" in message
    assert "SECRETVALUE" not in message


@dataclass(frozen=True, kw_only=True)
class _PatternSettings(FunctionSettings):
    address: str = variable("ADDRESS", pattern=r"https://\S+")


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("https://example.org/a", True),
        ("http://example.org/a", False),
        ("https://example.org/a\nInjected: yes", False),
        ("see https://example.org/a", False),
    ],
    ids=["match", "other-scheme", "newline", "not-whole"],
)
def test_a_pattern_must_match_the_whole_value(value: str, valid: bool) -> None:
    environ = {**VALID, "ADDRESS": value}
    if valid:
        assert _PatternSettings.from_environ(environ).address == value
    else:
        with pytest.raises(ConfigurationError, match=r"^invalid or missing settings: ADDRESS$"):
            _PatternSettings.from_environ(environ)


def test_ids_are_typed_unique_and_time_sortable() -> None:
    first = new_id("ws")
    time.sleep(0.002)
    second = new_id("ws")
    assert is_id(first, "ws")
    assert not is_id(first, "usr")
    assert first != second
    assert first < second
