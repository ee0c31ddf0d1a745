"""The body guards that keep the contract's 400/413 before Powertools sees a body."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from railguard.core.errors import MalformedBody, PayloadTooLarge, UnsupportedMediaType
from railguard.http.guards import MAX_BODY_BYTES, settled_event


def _event(
    body: str | None, *, b64: bool = False, content_type: str = "application/json"
) -> dict[str, Any]:
    event = {"headers": {"content-type": content_type}, "isBase64Encoded": b64}
    if body is not None:
        event["body"] = body
    return event


def test_a_json_body_passes_as_text() -> None:
    # Given a small JSON body
    event = _event('{"name": "x"}')
    # When it is settled
    settled = settled_event(event)
    # Then it is unchanged text
    assert json.loads(settled["body"]) == {"name": "x"}
    assert settled["isBase64Encoded"] is False


def test_a_base64_json_body_is_decoded_for_the_resolver() -> None:
    # Given a body the gateway base64-encoded
    event = _event(base64.b64encode(b'{"a": 1}').decode(), b64=True)
    # When settled
    settled = settled_event(event)
    # Then the resolver gets plain text
    assert settled["body"] == '{"a": 1}'
    assert settled["isBase64Encoded"] is False


def test_an_empty_body_is_left_alone() -> None:
    assert settled_event(_event(None))["isBase64Encoded"] is False


def test_exactly_64_kib_passes_and_one_byte_more_is_413() -> None:
    # Given bodies at and just over the limit (valid JSON strings of the right size)
    at_limit = json.dumps("x" * (MAX_BODY_BYTES - 2))
    over_limit = json.dumps("x" * (MAX_BODY_BYTES - 1))
    assert len(at_limit.encode()) == MAX_BODY_BYTES
    # When settled / Then the first passes and the second is refused
    settled_event(_event(at_limit))
    with pytest.raises(PayloadTooLarge):
        settled_event(_event(over_limit))


def test_the_limit_counts_decoded_bytes_not_base64_text() -> None:
    # Given a base64 body whose text is over 64 KiB but whose bytes are not
    raw = json.dumps("y" * 60_000).encode()
    encoded = base64.b64encode(raw).decode()
    assert len(encoded) > MAX_BODY_BYTES
    # When settled / Then it passes
    assert settled_event(_event(encoded, b64=True))["body"] == raw.decode()


@pytest.mark.parametrize(
    "raw",
    [b"\xff\xfe{}", b'{"a": "\xc3"}', b"\xed\xa0\x80"],
    ids=["bom-like", "truncated-sequence", "surrogate"],
)
def test_bytes_that_are_not_utf8_are_400(raw: bytes) -> None:
    # Given a base64 body whose bytes are not UTF-8
    event = _event(base64.b64encode(raw).decode(), b64=True)
    # When settled / Then it is a malformed body, never an exception of another type
    with pytest.raises(MalformedBody, match="UTF-8"):
        settled_event(event)


@pytest.mark.parametrize("text", ["{", "not json", '{"a": 1,}', "[1, 2", "NaN-ish"])
def test_text_that_is_not_json_is_400(text: str) -> None:
    with pytest.raises(MalformedBody):
        settled_event(_event(text))


def test_repeated_keys_are_refused() -> None:
    # Given a body that says role twice (parsers disagree on which one wins)
    with pytest.raises(MalformedBody, match="role"):
        settled_event(_event('{"role": "user", "role": "owner"}'))


def test_deep_nesting_is_a_400_not_a_crash() -> None:
    deep = "[" * 50_000 + "]" * 50_000
    with pytest.raises((MalformedBody, PayloadTooLarge)):
        settled_event(_event(deep))


def test_invalid_base64_is_400() -> None:
    with pytest.raises(MalformedBody):
        settled_event(_event("***", b64=True))


def test_a_body_of_another_media_type_is_refused() -> None:
    with pytest.raises(UnsupportedMediaType):
        settled_event(_event("a=b", content_type="application/x-www-form-urlencoded"))


def test_json_with_a_charset_is_accepted_and_other_json_flavours_are_refused() -> None:
    settled_event(_event("{}", content_type="application/json; charset=utf-8"))
    settled_event(_event("{}", content_type="Application/JSON"))
    with pytest.raises(UnsupportedMediaType):
        settled_event(_event("{}", content_type="application/merge-patch+json"))
