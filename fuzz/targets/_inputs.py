"""How the targets read fuzz input, and how they report a broken invariant.

Inputs stay readable so that seeds can be written by hand: text is the bytes decoded as UTF-8
(invalid bytes become U+FFFD, so every Unicode scalar is reachable but no lone surrogate, which
no API Gateway event carries), and a target that takes several values reads NUL-separated fields.
"""

from __future__ import annotations

FIELD_SEPARATOR = b"\0"


class InvariantBroken(AssertionError):
    """The code returned, but what it returned is wrong: a crash like any unexpected exception."""


def check(condition: bool, message: str) -> None:
    if not condition:
        raise InvariantBroken(message)


def text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def fields(data: bytes, count: int) -> list[bytes]:
    """Exactly `count` NUL-separated fields; missing ones are empty, the last takes the rest."""
    parts = data.split(FIELD_SEPARATOR, count - 1)
    return parts + [b""] * (count - len(parts))


def mutated(original: bytes, edits: bytes) -> bytes:
    """`original` changed by `edits`, read as 3-byte (position high, position low, xor) triples;
    an xor of 0 cuts the value there, and 1 or 2 trailing bytes are appended."""
    value = bytearray(original)
    whole = len(edits) - len(edits) % 3
    for start in range(0, whole, 3):
        if not value:
            break
        position = ((edits[start] << 8) | edits[start + 1]) % len(value)
        if edits[start + 2] == 0:
            del value[position:]
        else:
            value[position] ^= edits[start + 2]
    value += edits[whole:]
    return bytes(value)
