"""Opaque bearer secrets (API keys now; webhook tokens later): a prefix that says what the secret
is, a random body from the CSPRNG, and a checksum.

A prefix (`pr_live_`) + 32 base62 characters (190 random bits) + what the token carries in the
open, if anything (an API key: its workspace's id, `railguard.api_keys.key_format`) + 6 base62
characters of the CRC32 of everything after the prefix, as GitHub's tokens do: a mistyped or
made-up token fails the checksum and is refused before any database read, and secret scanners
can recognise leaked ones. Only a SHA-256 digest is stored; with 190 random bits there is nothing
to brute-force, so no pepper is needed for the digest to be safe if the table leaks.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import zlib

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
BODY_LENGTH = 32
CHECKSUM_LENGTH = 6
_BASE62_SET = frozenset(BASE62)


def _base62(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, digit = divmod(number, 62)
        digits.append(BASE62[digit])
    return "".join(reversed(digits))


def _checksum(body: str) -> str:
    return _base62(zlib.crc32(body.encode()), CHECKSUM_LENGTH)


def new_token(prefix: str, carried: str = "") -> str:
    """A new token; `carried`: base62 text it carries after its random part, in the open (not
    secret), covered by the checksum."""
    if not _BASE62_SET.issuperset(carried):
        raise ValueError("a token carries base62 text only")
    body = "".join(secrets.choice(BASE62) for _ in range(BODY_LENGTH)) + carried
    return prefix + body + _checksum(body)


def is_well_formed(value: str, prefix: str, carried_length: int = 0) -> bool:
    """Prefix, length, alphabet and checksum: everything that can be checked without a lookup
    (`carried_length`: the length of the text the token carries)."""
    length = len(prefix) + BODY_LENGTH + carried_length + CHECKSUM_LENGTH
    if len(value) != length or not value.startswith(prefix):
        return False
    rest = value[len(prefix) :]
    if not _BASE62_SET.issuperset(rest):
        return False
    body, checksum = rest[:-CHECKSUM_LENGTH], rest[-CHECKSUM_LENGTH:]
    return hmac.compare_digest(_checksum(body), checksum)


def carried(value: str, prefix: str, carried_length: int) -> str:
    """The text a well-formed token carries (`is_well_formed` first)."""
    start = len(prefix) + BODY_LENGTH
    return value[start : start + carried_length]


def digest(value: str) -> str:
    """What is stored and looked up instead of the secret."""
    return hashlib.sha256(value.encode()).hexdigest()


def display_prefix(value: str, prefix: str) -> str:
    """The prefix and the first 4 characters of the body (random): enough to tell keys apart in
    a list."""
    return value[: len(prefix) + 4]


def masked(value: str, prefix: str) -> str:
    """`pr_live_AbCd...wxyz`: what lists show; 8 characters of the random part and the
    checksum, nothing that can be used."""
    return f"{display_prefix(value, prefix)}...{value[-4:]}"
