"""`tokens.verify_access_token` on any token text, and on a valid token altered.

Input: one byte for the mode, then its data. Mode 0: the data is the token. Mode 1: a valid
token with the data's edits (`_inputs.mutated`). Mode 2: a valid token with one segment (chosen
by the data's first byte) replaced by the base64url of the rest, so the fuzzer writes the JSON of
a header (`alg`, `kid`, `typ`, ...) or of claims that arrive with a real signature.

Property: `Unauthenticated` or the claims; claims only for the valid token's own header and
payload (a signature segment may differ only in ways that decode to the same signature).
"""

from __future__ import annotations

import base64

from fuzz.targets._inputs import check, mutated, text
from railguard.core.errors import Unauthenticated
from railguard.crypto import tokens

NOW = 1_800_000_000
KID = "fuzz-key"
AUDIENCE = tokens.TokenAudience(issuer="https://auth.railguard.test", audience="railguard-api")

_SIGNING_KEY = tokens.SigningKey(KID, tokens.generate_private_key())
_PUBLIC_KEYS = {KID: _SIGNING_KEY.private_key.public_key()}
_VALID_TOKEN = tokens.issue_access_token(
    _SIGNING_KEY, AUDIENCE, user_id="usr_fuzz", session_id="ses_fuzz", now=NOW
)
_VALID_SIGNED_PART = _VALID_TOKEN.rsplit(".", 1)[0]


def _token(data: bytes) -> str:
    mode, rest = (data[0] % 3, data[1:]) if data else (0, b"")
    if mode == 0:
        return text(rest)
    if mode == 1:
        return text(mutated(_VALID_TOKEN.encode(), rest))
    segments = _VALID_TOKEN.split(".")
    index = rest[0] % len(segments) if rest else 0
    segments[index] = base64.urlsafe_b64encode(rest[1:]).rstrip(b"=").decode()
    return ".".join(segments)


def one_input(data: bytes) -> None:
    token = _token(data)
    try:
        claims = tokens.verify_access_token(token, _PUBLIC_KEYS.get, AUDIENCE, now=NOW)
    except Unauthenticated:
        return
    check(
        token.rsplit(".", 1)[0] == _VALID_SIGNED_PART,
        "verified a token whose header or claims were changed",
    )
    check(
        (claims.user_id, claims.session_id, claims.issued_at) == ("usr_fuzz", "ses_fuzz", NOW),
        "verified claims that were not issued",
    )
