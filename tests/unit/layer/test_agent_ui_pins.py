"""Agent UI deployments' pure parts: the PIN's shape (4 to 8 ASCII digits, checked before any
hashing), the bearer value of the session route, and grants that keep their token out of logs."""

from __future__ import annotations

from typing import Any

import pytest

from railguard.agent_uis import UnlockGrant, check_pin, is_pin
from railguard.core.errors import Unauthenticated, ValidationFailed
from railguard.crypto import passwords
from railguard.http.guards import bearer_token


@pytest.mark.parametrize("pin", ["0000", "1234", "12345678", "00000000", "987654"])
def test_four_to_eight_ascii_digits_are_a_pin(pin: str) -> None:
    assert is_pin(pin)
    check_pin(pin)  # no error


@pytest.mark.parametrize(
    "pin",
    [
        "",
        "123",
        "123456789",
        "12a4",
        "12 34",
        " 1234",
        "1234\n",
        "-123",
        "+1234",
        "1.234",
        "\u0661\u0662\u0663\u0664",  # Arabic-Indic: isdigit() yes, a PIN pad no
        "\uff11\uff12\uff13\uff14",  # full-width digits
        "\u00b9\u00b2\u00b3\u2074",  # superscripts
    ],
)
def test_anything_else_is_not(pin: str) -> None:
    assert not is_pin(pin)


def test_a_malformed_pin_is_refused_before_it_is_hashed(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a hasher that fails the test when used
    class _Forbidden:
        def __getattr__(self, name: str) -> Any:
            raise AssertionError(f"the PIN reached the hasher's {name}")

    monkeypatch.setattr(passwords, "_hasher", _Forbidden())
    # When a malformed PIN is checked / Then a validation error naming the field, not the value
    with pytest.raises(ValidationFailed) as refused:
        check_pin("12a4")
    assert refused.value.details == {"field": "pin", "reason": "format"}
    assert "12a4" not in refused.value.message


@pytest.mark.parametrize("authorization", ["Bearer rgu_abc", "bearer rgu_abc", "BEARER  rgu_abc "])
def test_the_bearer_value_is_read_from_authorization(authorization: str) -> None:
    assert bearer_token(authorization) == "rgu_abc"


@pytest.mark.parametrize(
    "authorization", [None, "", "rgu_abc", "Basic rgu_abc", "Bearer", "Bearer ", "Bearer a b"]
)
def test_anything_but_one_bearer_value_is_unauthenticated(authorization: str | None) -> None:
    with pytest.raises(Unauthenticated):
        bearer_token(authorization)


def test_a_grant_keeps_its_token_out_of_its_repr() -> None:
    grant = UnlockGrant("rgu_secretvalue", 900)
    assert "rgu_secretvalue" not in repr(grant)
    assert "900" in repr(grant)
