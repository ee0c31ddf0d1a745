"""Credential extraction: one credential, well-formed, or a 401 before any read."""

from __future__ import annotations

import pytest

from railguard.authorizer.credentials import MAX_CREDENTIAL_LENGTH, extract_credential
from railguard.authorizer.decision import Authorizer
from railguard.core.errors import Unauthenticated
from railguard.crypto.tokens import TokenAudience
from tests.support.fake_time import FakeClock

JWT = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1In0.c2lnbmF0dXJl"
KEY = "pr_live_" + "A1b2C3d4" * 5


def test_an_api_key_header_is_an_api_key() -> None:
    credential = extract_credential({"x-api-key": KEY})
    assert (credential.kind, credential.value) == ("api_key", KEY)


def test_a_bearer_api_key_is_an_api_key() -> None:
    credential = extract_credential({"authorization": f"Bearer {KEY}"})
    assert credential.kind == "api_key"


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER"])
def test_a_bearer_jwt_is_an_access_token_whatever_the_scheme_case(scheme: str) -> None:
    credential = extract_credential({"authorization": f"{scheme} {JWT}"})
    assert (credential.kind, credential.value) == ("access_token", JWT)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"authorization": ""},
        {"authorization": "Bearer"},
        {"authorization": "Bearer "},
        {"authorization": f"Basic {JWT}"},
        {"authorization": f"Bearer {JWT} extra"},
        {"authorization": "Bearer not-a-jwt"},
        {"authorization": "Bearer a.b"},
        {"authorization": f"Bearer {JWT},{JWT}"},  # a repeated header, as the gateway joins it
        {"x-api-key": ""},
        {"x-api-key": JWT},  # X-API-Key carries keys only
        {"x-api-key": "pr_live_"},
        {"x-api-key": "pr_live_abc-def"},
        {"x-api-key": f"{KEY},{KEY}"},
        {"x-api-key": KEY, "authorization": f"Bearer {JWT}"},
        {"x-api-key": "pr_live_" + "a" * MAX_CREDENTIAL_LENGTH},
    ],
    ids=lambda headers: ",".join(f"{k}:{v[:20]}" for k, v in headers.items()) or "none",
)
def test_missing_ambiguous_or_malformed_credentials_are_refused(headers: dict[str, str]) -> None:
    with pytest.raises(Unauthenticated):
        extract_credential(headers)


def test_a_credential_never_shows_in_its_repr() -> None:
    credential = extract_credential({"x-api-key": KEY})
    assert KEY not in repr(credential)


@pytest.mark.parametrize("value", ["\ud800", "pr_live_\ud800", "pr_live_é"])
def test_a_key_header_that_is_not_ascii_is_refused_as_malformed_before_any_read(
    value: str,
) -> None:
    # Given a warm authorizer whose table must not be read
    class NoTable:
        def get_many(self, keys: object) -> None:
            raise AssertionError("read")

    authorizer = Authorizer(NoTable(), FakeClock(), TokenAudience("issuer", "audience"))  # type: ignore[arg-type]
    # When a request presents a key header that is not ASCII (one no key can be)
    event = {"headers": {"x-api-key": value}, "routeKey": "GET /api/v1/me"}
    # Then it is refused as malformed (401), with no read
    with pytest.raises(Unauthenticated):
        authorizer.decide(event)
