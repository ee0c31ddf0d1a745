"""The pure pieces under API keys and rate limits: opaque tokens, fixed windows and their headers,
rate-limit text, the principal's trip through the authorizer context, the DynamoDB codec, the
authorizer's TTL cache, and the CORS headers."""

from __future__ import annotations

import hashlib
import zlib
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from railguard.access.plans import PLAN_LIMITS, RateLimit, plan_limit
from railguard.access.principal import Principal
from railguard.access.ratelimit import Quota, window
from railguard.api_keys.key_format import new_key, workspace_named
from railguard.core.errors import Unauthenticated
from railguard.core.ttl_cache import TtlCache
from railguard.crypto import opaque_tokens
from railguard.http import cors
from railguard.kinds import WORKSPACE
from railguard.store.codec import from_attribute, to_attribute
from tests.support.fake_time import FakeClock
from tests.support.origins import MALFORMED_ORIGINS

PREFIX = "pr_live_"
BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
KEY_LENGTH = len(PREFIX) + 32 + 6


def _reference_checksum(body: str) -> str:
    """An independent spelling of the documented checksum: CRC32 of the body, 6 base62 digits."""
    number = zlib.crc32(body.encode())
    digits = ""
    for _ in range(6):
        number, digit = divmod(number, 62)
        digits = BASE62[digit] + digits
    return digits


# -- opaque tokens ---------------------------------------------------------------------------
def test_a_new_token_is_prefix_32_random_base62_and_its_checksum() -> None:
    # When tokens are made
    tokens = [opaque_tokens.new_token(PREFIX) for _ in range(200)]
    # Then each has the documented shape, checksum and no two are alike
    for token in tokens:
        assert len(token) == KEY_LENGTH
        assert token.startswith(PREFIX)
        body, checksum = token[len(PREFIX) : -6], token[-6:]
        assert set(body) <= set(BASE62)
        assert checksum == _reference_checksum(body)
        assert opaque_tokens.is_well_formed(token, PREFIX)
    assert len(set(tokens)) == len(tokens)
    # And the body uses the whole alphabet (190 random bits, not a narrow subset)
    assert set("".join(token[len(PREFIX) : -6] for token in tokens)) == set(BASE62)


def test_the_checksum_of_a_known_body() -> None:
    body = "0" * 32
    assert opaque_tokens.is_well_formed(PREFIX + body + _reference_checksum(body), PREFIX)
    assert not opaque_tokens.is_well_formed(PREFIX + body + "000000", PREFIX)


def test_every_single_character_change_breaks_the_checksum() -> None:
    # Given a token / When any one character after the prefix is changed to any other base62 one
    token = opaque_tokens.new_token(PREFIX)
    for position in range(len(PREFIX), len(token)):
        for replacement in BASE62:
            if replacement == token[position]:
                continue
            changed = token[:position] + replacement + token[position + 1 :]
            # Then the result is no longer well formed
            assert not opaque_tokens.is_well_formed(changed, PREFIX), (position, replacement)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda t: t[:-1],
        lambda t: t + "A",
        lambda t: "",
        lambda t: PREFIX,
        lambda t: "pr_test_" + t[len(PREFIX) :],
        lambda t: t.upper(),
        lambda t: t[len(PREFIX) :],
        lambda t: PREFIX + "-" + t[len(PREFIX) + 1 :],
        lambda t: PREFIX + "\u0663" + t[len(PREFIX) + 1 :],  # ARABIC-INDIC DIGIT THREE
        lambda t: PREFIX + " " + t[len(PREFIX) + 1 :],
        lambda t: t[:-6] + "ZZZZZZZ"[:6],
    ],
    ids=[
        "short",
        "long",
        "empty",
        "prefix-only",
        "other-prefix",
        "upper",
        "no-prefix",
        "dash",
        "unicode-digit",
        "space",
        "forged-checksum",
    ],
)
def test_a_malformed_token_is_refused(mutate: Any) -> None:
    token = opaque_tokens.new_token(PREFIX)
    assert not opaque_tokens.is_well_formed(mutate(token), PREFIX)


def test_tokens_with_another_prefix_check_against_that_prefix() -> None:
    token = opaque_tokens.new_token("wht_")
    assert opaque_tokens.is_well_formed(token, "wht_")
    assert not opaque_tokens.is_well_formed(token, PREFIX)


def test_the_digest_is_the_sha256_hex_of_the_whole_token() -> None:
    token = opaque_tokens.new_token(PREFIX)
    digest = opaque_tokens.digest(token)
    assert digest == hashlib.sha256(token.encode()).hexdigest()
    assert len(digest) == 64
    assert token not in digest
    assert opaque_tokens.digest(opaque_tokens.new_token(PREFIX)) != digest


def test_display_prefix_and_mask_show_8_of_38_secret_characters() -> None:
    token = opaque_tokens.new_token(PREFIX)
    assert opaque_tokens.display_prefix(token, PREFIX) == token[:12]
    masked = opaque_tokens.masked(token, PREFIX)
    assert masked == f"{token[:12]}...{token[-4:]}"
    assert token[12:-4] not in masked


# -- API keys: a token that names its workspace ------------------------------------------------
def test_an_api_key_carries_its_workspaces_id_under_the_checksum() -> None:
    # Given a workspace / When keys of it are made
    workspace_id = WORKSPACE.new_id()
    keys = [new_key(workspace_id) for _ in range(50)]
    for key in keys:
        # Then each is the prefix, 32 random characters, the workspace's ULID, and a checksum
        # of both
        assert len(key) == len(PREFIX) + 32 + 26 + 6
        body = key[len(PREFIX) : -6]
        assert set(body[:32]) <= set(BASE62)
        assert body[32:] == workspace_id.removeprefix("ws_")
        assert key[-6:] == _reference_checksum(body)
        # And it names its workspace, read without any lookup
        assert workspace_named(key) == workspace_id
    # And the shown prefix is random: it tells one workspace's keys apart
    assert len({opaque_tokens.display_prefix(key, PREFIX) for key in keys}) > 1


def test_a_key_that_names_no_workspace_id_is_malformed() -> None:
    # Given a key, and keys with a valid checksum that carry no workspace id where a key does
    key = new_key(WORKSPACE.new_id())
    start, end = len(PREFIX) + 32, len(key) - 6
    not_ids = [
        opaque_tokens.new_token(PREFIX, "8" + key[start + 1 : end]),  # past a ULID's range
        opaque_tokens.new_token(PREFIX, key[start:end].lower()),
        opaque_tokens.new_token(PREFIX, "I" * 26),  # not Crockford's
        opaque_tokens.new_token(PREFIX),  # room for none (the format before)
    ]
    # Then none names a workspace
    assert [workspace_named(value) for value in not_ids] == [None] * 4
    # And changing one character of the workspace's part breaks the checksum
    for position in range(start, end):
        other = "0" if key[position] != "0" else "1"
        assert workspace_named(key[:position] + other + key[position + 1 :]) is None


# -- fixed windows and their headers ---------------------------------------------------------
@pytest.mark.parametrize(
    ("now", "seconds", "expected"),
    [
        (0.0, 60, (0, 60)),
        (0.5, 60, (0, 60)),
        (59.0, 60, (0, 1)),
        (59.999, 60, (0, 1)),
        (60.0, 60, (60, 60)),
        (1_800_000_030.2, 60, (1_800_000_000, 30)),
        (1_800_000_000.0, 1, (1_800_000_000, 1)),
        (1_800_000_000.9, 1, (1_800_000_000, 1)),
        (7_199.0, 3_600, (3_600, 1)),
        (10.0, 7, (7, 4)),
    ],
)
def test_the_window_a_moment_falls_in(now: float, seconds: int, expected: tuple[int, int]) -> None:
    assert window(now, seconds) == expected


@given(now=st.floats(min_value=0, max_value=4e9), seconds=st.integers(1, 86_400))
def test_a_window_contains_its_moment_and_resets_within_it(now: float, seconds: int) -> None:
    start, reset = window(now, seconds)
    assert start % seconds == 0
    assert start <= now < start + seconds
    assert 1 <= reset <= seconds
    assert start + seconds - reset <= now < start + seconds - reset + 1


def test_an_allowed_quota_has_the_three_ratelimit_headers_only() -> None:
    assert Quota(allowed=True, limit=120, remaining=119, reset_seconds=42).headers() == {
        "RateLimit-Limit": "120",
        "RateLimit-Remaining": "119",
        "RateLimit-Reset": "42",
    }


def test_a_refused_quota_adds_retry_after_equal_to_the_reset() -> None:
    assert Quota(allowed=False, limit=3, remaining=0, reset_seconds=7).headers() == {
        "RateLimit-Limit": "3",
        "RateLimit-Remaining": "0",
        "RateLimit-Reset": "7",
        "Retry-After": "7",
    }


# -- rate-limit text and plans -----------------------------------------------------------------
@given(requests=st.integers(1, 10**9), seconds=st.integers(1, 10**7))
def test_a_rate_limit_round_trips_through_text(requests: int, seconds: int) -> None:
    limit = RateLimit(requests, seconds)
    assert limit.to_text() == f"{requests}/{seconds}"
    assert RateLimit.from_text(limit.to_text()) == limit


@pytest.mark.parametrize(
    "text", ["", "10", "10/", "/60", "0/60", "10/0", "-1/60", "10/-60", "a/b", "10/60/1", "1.5/60"]
)
def test_a_rate_limit_text_that_is_not_two_positive_integers_is_refused(text: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - int() and the check both raise ValueError
        RateLimit.from_text(text)


def test_plan_limits_and_their_default() -> None:
    assert plan_limit("free") == RateLimit(120, 60)
    assert plan_limit(None) == plan_limit("free")
    assert plan_limit("no-such-plan") == plan_limit("free")
    rates = [PLAN_LIMITS[plan].per_second() for plan in ("free", "starter", "pro", "enterprise")]
    assert rates == sorted(rates)
    assert RateLimit(120, 60).per_second() == 2.0


# -- the principal through the authorizer context ----------------------------------------------
@pytest.mark.parametrize(
    "principal",
    [
        Principal(
            "api_key",
            "key_1",
            workspace_id="ws_1",
            scopes=frozenset({"agents:read", "credentials:write"}),
            rate_limit=RateLimit(3, 60),
            origin="https://app.example.com",
        ),
        Principal(
            "user",
            "usr_1",
            workspace_id="ws_1",
            role="admin",
            session_id="ses_1",
            rate_limit=RateLimit(120, 60),
        ),
        Principal("user", "usr_2", session_id="ses_2"),
    ],
    ids=["browser-key", "member", "bare-user"],
)
def test_a_principal_with_its_limit_and_origin_round_trips(principal: Principal) -> None:
    context = principal.to_context()
    assert all(isinstance(value, str) for value in context.values())
    assert Principal.from_context(context) == principal


def test_the_context_carries_limit_and_origin_as_text() -> None:
    context = Principal(
        "api_key", "key_1", rate_limit=RateLimit(3, 60), origin="http://localhost:5173"
    ).to_context()
    assert context["rate_limit"] == "3/60"
    assert context["origin"] == "http://localhost:5173"
    assert "rate_limit" not in Principal("user", "usr_1").to_context()
    assert "origin" not in Principal("user", "usr_1").to_context()


@pytest.mark.parametrize("rate_limit", ["", "0/60", "10/0", "ten/60", "10"])
def test_a_context_with_an_unreadable_limit_is_no_principal(rate_limit: str) -> None:
    context = {"principal_type": "api_key", "principal_id": "key_1", "rate_limit": rate_limit}
    with pytest.raises(Unauthenticated):
        Principal.from_context(context)


def test_rate_subjects_are_per_principal() -> None:
    assert Principal("api_key", "key_1").rate_subject == "api_key:key_1"
    assert Principal("user", "key_1").rate_subject == "user:key_1"


# -- the DynamoDB codec ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "attribute"),
    [
        (None, {"NULL": True}),
        (True, {"BOOL": True}),
        (False, {"BOOL": False}),
        ("", {"S": ""}),
        ("pr_live_x", {"S": "pr_live_x"}),
        (0, {"N": "0"}),
        (-17, {"N": "-17"}),
        (2**70, {"N": str(2**70)}),
        (b"\x00\xff", {"B": b"\x00\xff"}),
        ([], {"L": []}),
        ({}, {"M": {}}),
        (
            {"a": [1, None, {"b": "c"}]},
            {"M": {"a": {"L": [{"N": "1"}, {"NULL": True}, {"M": {"b": {"S": "c"}}}]}}},
        ),
        ({"z", "a"}, {"SS": ["a", "z"]}),
        ({10, 9}, {"NS": ["10", "9"]}),
        ({b"b", b"a"}, {"BS": [b"a", b"b"]}),
    ],
)
def test_values_encode_and_decode_both_ways(value: Any, attribute: dict[str, Any]) -> None:
    assert to_attribute(value) == attribute
    assert from_attribute(attribute) == value
    assert type(from_attribute(attribute)) is type(value)


@pytest.mark.parametrize(
    ("value", "decoded"),
    [
        ((1, "a"), [1, "a"]),
        (bytearray(b"ab"), b"ab"),
        (frozenset({"a"}), {"a"}),
        (Decimal("5"), 5),
        (Decimal("1.50"), 1.5),
        (Decimal("-0.25"), -0.25),
    ],
)
def test_other_types_decode_to_their_plain_form(value: Any, decoded: Any) -> None:
    result = from_attribute(to_attribute(value))
    assert result == decoded
    assert type(result) is type(decoded)


@pytest.mark.parametrize(
    "value",
    [1.5, 1.0, float("nan"), set(), frozenset(), {1, "a"}, {True, False}, object(), {"a": 1.5}],
    ids=[
        "float",
        "integral-float",
        "nan",
        "empty-set",
        "empty-frozenset",
        "mixed-set",
        "bool-set",
        "object",
        "nested-float",
    ],
)
def test_values_dynamodb_cannot_hold_are_refused(value: Any) -> None:
    with pytest.raises(TypeError):
        to_attribute(value)


def test_an_unknown_attribute_type_is_refused() -> None:
    with pytest.raises(TypeError):
        from_attribute({"X": "1"})


_plain = st.recursive(
    st.none()
    | st.booleans()
    | st.text(max_size=20)
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.binary(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(_plain)
def test_plain_values_round_trip(value: Any) -> None:
    assert from_attribute(to_attribute(value)) == value


# -- the authorizer's TTL cache ----------------------------------------------------------------
def test_a_cached_value_is_served_until_its_max_age_then_forgotten() -> None:
    # Given a value put at t0 in a cache of 2 s
    clock = FakeClock()
    cache: TtlCache[str, str] = TtlCache(clock, max_age_seconds=2.0, max_entries=4)
    cache.put("k", "v")
    # Then it is served just before 2 s have passed, and not at 2 s
    clock.current += 1.999
    assert cache.get("k") == "v"
    clock.current += 0.001
    assert cache.get("k") is None
    assert cache.get("missing") is None


def test_a_get_does_not_extend_an_entrys_life_but_a_put_does() -> None:
    clock = FakeClock()
    cache: TtlCache[str, str] = TtlCache(clock, max_age_seconds=2.0, max_entries=4)
    cache.put("k", "v1")
    clock.current += 1.5
    assert cache.get("k") == "v1"  # read: its age is still counted from the put
    clock.current += 0.5
    assert cache.get("k") is None
    cache.put("k", "v2")
    clock.current += 1.9
    assert cache.get("k") == "v2"


def test_a_cached_none_is_a_value_for_get_or_load() -> None:
    # An unknown key is remembered as None for the window, not looked up on every request
    clock = FakeClock()
    cache: TtlCache[str, str | None] = TtlCache(clock, max_age_seconds=2.0, max_entries=4)
    loads: list[str] = []

    def load() -> str | None:
        loads.append("x")
        return None

    assert cache.get_or_load("k", load) is None
    assert cache.get_or_load("k", load) is None
    assert loads == ["x"]
    clock.current += 2.0
    cache.get_or_load("k", load)
    assert loads == ["x", "x"]


def test_the_cache_holds_at_most_max_entries() -> None:
    clock = FakeClock()
    cache: TtlCache[int, int] = TtlCache(clock, max_age_seconds=60.0, max_entries=3)
    for number in range(10):
        cache.put(number, number)
    assert [cache.get(number) for number in range(10)] == [None] * 7 + [7, 8, 9]


# -- CORS headers ----------------------------------------------------------------------------
def _preflight(headers: dict[str, Any] | None, request_id: str | None = "req-1") -> dict[str, Any]:
    event: dict[str, Any] = {"headers": headers, "requestContext": {"requestId": request_id}}
    return cors.preflight(event, None)


@pytest.mark.parametrize(
    "origin",
    [
        "https://app.example.com",
        "http://localhost:5173",
        "https://app.example.com:8443",
        "http://127.0.0.1:3000",
        "http://[::1]:8080",
    ],
)
def test_a_preflight_names_a_well_formed_origin(origin: str) -> None:
    result = _preflight({"origin": origin, "access-control-request-method": "POST"})
    headers = result["headers"]
    assert result["statusCode"] == 204
    assert result["body"] == ""
    assert headers["Access-Control-Allow-Origin"] == origin
    assert headers["Vary"] == "Origin"
    methods = {method.strip() for method in headers["Access-Control-Allow-Methods"].split(",")}
    assert {"GET", "POST", "PATCH", "DELETE"} <= methods
    allowed = {name.strip().lower() for name in headers["Access-Control-Allow-Headers"].split(",")}
    assert {"x-api-key", "authorization", "x-workspace-id", "content-type"} <= allowed
    assert int(headers["Access-Control-Max-Age"]) > 0
    assert headers["Cache-Control"] == "no-store"
    assert headers["X-Request-ID"] == "req-1"
    assert "Access-Control-Allow-Credentials" not in headers


@pytest.mark.parametrize(
    "origin",
    [
        *MALFORMED_ORIGINS,
        "http://a.test",
        "https://*.a.test",
        "https://user@a.test",
        "ftp://a.test",
        " https://a.test",
        "https://a.test, https://b.test",
        42,
        None,
    ],
)
def test_a_preflight_for_a_malformed_origin_names_none(origin: object) -> None:
    result = _preflight({"origin": origin})
    headers = result["headers"]
    assert result["statusCode"] == 204
    assert not any(name.startswith("Access-Control-") for name in headers)
    assert headers["Vary"] == "Origin"
    assert headers["Cache-Control"] == "no-store"


def test_a_preflight_never_grants_credentials_nor_the_browser_session_header() -> None:
    # Given a page of another origin asking to send X-Railguard-Client (the header that lets a
    # request use the refresh cookie, contract section 4 v1.1), with credentials
    result = _preflight(
        {
            "origin": "https://elsewhere.example",
            "access-control-request-method": "POST",
            "access-control-request-headers": "x-railguard-client, content-type",
        }
    )
    # Then the answer allows neither: the cookie only goes with same-origin requests
    headers = result["headers"]
    allowed = {name.strip().lower() for name in headers["Access-Control-Allow-Headers"].split(",")}
    assert "x-railguard-client" not in allowed
    assert not any(name.lower() == "access-control-allow-credentials" for name in headers)
    assert "Access-Control-Allow-Credentials" not in cors.response_headers("https://a.example")


def test_a_preflight_without_headers_still_answers() -> None:
    result = _preflight(None)
    assert result["statusCode"] == 204
    assert "Access-Control-Allow-Origin" not in result["headers"]


def test_response_headers_name_the_allowed_origin_or_nothing() -> None:
    assert cors.response_headers(None) == {}
    headers = cors.response_headers("https://app.example.com")
    assert headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert headers["Vary"] == "Origin"
    exposed = {name.strip() for name in headers["Access-Control-Expose-Headers"].split(",")}
    assert {
        "X-Request-ID",
        "RateLimit-Limit",
        "RateLimit-Remaining",
        "RateLimit-Reset",
        "Retry-After",
    } <= exposed
    assert "*" not in headers.values()
