"""Opaque secrets as presented (API keys, webhook tokens and secrets): `is_well_formed`, the
check made before any lookup, and the digest and masked forms of what passes it.

Property: for any text, `is_well_formed` answers a bool and never raises. A well-formed value is
the prefix and 38 ASCII base62 characters, changing any one of them breaks the checksum, and the
authorizer's own shape check classifies a well-formed API key as an API key.
"""

from __future__ import annotations

from fuzz.targets._inputs import check, text
from railguard.api_keys import API_KEY_PREFIX
from railguard.authorizer.credentials import extract_credential
from railguard.crypto import opaque_tokens
from railguard.webhooks import SECRET_PREFIX, TOKEN_PREFIX

PREFIXES = (API_KEY_PREFIX, TOKEN_PREFIX, SECRET_PREFIX)
_TAIL_LENGTH = opaque_tokens.BODY_LENGTH + opaque_tokens.CHECKSUM_LENGTH


def _check_well_formed(value: str, prefix: str, data: bytes) -> None:
    tail = value[len(prefix) :]
    check(
        value.startswith(prefix) and len(tail) == _TAIL_LENGTH,
        "a well-formed token has the prefix and 38 characters",
    )
    check(all(char in opaque_tokens.BASE62 for char in tail), "a well-formed token is base62 only")
    digest = opaque_tokens.digest(value)
    check(len(digest) == 64 and digest == digest.lower(), "the digest is SHA-256 hex")
    shown = opaque_tokens.display_prefix(value, prefix)
    check(shown == value[: len(prefix) + 4], "the display prefix is the prefix and 4 characters")
    check(opaque_tokens.masked(value, prefix).startswith(shown + "..."), "masked starts shown")
    # CRC32 catches every change of one character (at most 8 bits): one such change, chosen by
    # the input, must make the token malformed.
    index = len(prefix) + len(data) % _TAIL_LENGTH
    replacement_at = (opaque_tokens.BASE62.index(value[index]) + 1 + data[0]) % 62
    replacement = opaque_tokens.BASE62[replacement_at]
    if replacement != value[index]:
        changed = value[:index] + replacement + value[index + 1 :]
        check(
            not opaque_tokens.is_well_formed(changed, prefix),
            "a one-character change passed the checksum",
        )
    if prefix == API_KEY_PREFIX:
        credential = extract_credential({"x-api-key": value})
        check(credential.kind == "api_key", "a well-formed API key is classified as one")


def one_input(data: bytes) -> None:
    value = text(data)
    for prefix in PREFIXES:
        well_formed = opaque_tokens.is_well_formed(value, prefix)
        check(isinstance(well_formed, bool), "is_well_formed answers a bool")
        if well_formed:
            _check_well_formed(value, prefix, data)
