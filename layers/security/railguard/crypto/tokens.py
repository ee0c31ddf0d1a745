"""Access tokens: ES256 JWTs, signed with a key the service generates and keeps
envelope-encrypted, verified locally against the public keys it publishes as the JWKS.

Verification pins the algorithm to ES256, selects the key by `kid` among our own keys only (a
`jku`, `x5u` or embedded `jwk` header is never consulted), requires `typ: at+jwt` and every
registered claim, and checks the times against an injected clock.

PyJWT and `cryptography` are imported by the functions that use them, on first use: the
authorizer imports this module for the access tokens it may verify, and an API key's decision
never needs them (`tests/unit/test_authorizer_cold_imports.py`).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from railguard.core.errors import Unauthenticated

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec

ALGORITHM = "ES256"
TOKEN_TYPE = "at+jwt"  # noqa: S105 - RFC 9068's media type, not a secret
ACCESS_TOKEN_TTL_SECONDS = 900
REQUIRED_CLAIMS = ("iss", "aud", "sub", "sid", "iat", "nbf", "exp", "jti")
CLOCK_SKEW_SECONDS = 30


@dataclass(frozen=True)
class TokenAudience:
    """Who issues tokens and for whom; both are checked on every verification."""

    issuer: str
    audience: str


@dataclass(frozen=True)
class AccessClaims:
    user_id: str
    session_id: str
    token_id: str
    issued_at: int
    expires_at: int


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: ec.EllipticCurvePrivateKey

    def public_jwk(self) -> dict[str, str]:
        return public_jwk(self.kid, self.private_key.public_key())


def generate_private_key() -> ec.EllipticCurvePrivateKey:
    from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415 - see the top

    return ec.generate_private_key(ec.SECP256R1())


def private_key_to_bytes(key: ec.EllipticCurvePrivateKey) -> bytes:
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415 - see the top

    return key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),  # the bytes are envelope-encrypted before they are stored
    )


def private_key_from_bytes(data: bytes) -> ec.EllipticCurvePrivateKey:
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415 - see the top
    from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415

    key = serialization.load_der_private_key(data, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise TypeError("a signing key must be an EC private key")
    return key


def public_jwk(kid: str, key: ec.EllipticCurvePublicKey) -> dict[str, str]:
    import jwt.algorithms  # noqa: PLC0415 - see the top

    jwk: dict[str, str] = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key))
    return {**jwk, "kid": kid, "use": "sig", "alg": ALGORITHM}


def public_key_from_jwk(jwk: Mapping[str, Any]) -> ec.EllipticCurvePublicKey:
    import jwt.algorithms  # noqa: PLC0415 - see the top
    from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415

    key = jwt.algorithms.ECAlgorithm.from_jwk(dict(jwk))
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise TypeError("a verification key must be an EC public key")
    return key


def issue_access_token(
    key: SigningKey, audience: TokenAudience, *, user_id: str, session_id: str, now: float
) -> str:
    import jwt  # noqa: PLC0415 - see the top

    issued_at = int(now)
    claims = {
        "iss": audience.issuer,
        "aud": audience.audience,
        "sub": user_id,
        "sid": session_id,
        "iat": issued_at,
        "nbf": issued_at,
        "exp": issued_at + ACCESS_TOKEN_TTL_SECONDS,
        "jti": secrets.token_urlsafe(16),
    }
    headers = {"kid": key.kid, "typ": TOKEN_TYPE}
    return jwt.encode(claims, key.private_key, algorithm=ALGORITHM, headers=headers)


def verify_access_token(
    token: str,
    key_for_kid: Callable[[str], ec.EllipticCurvePublicKey | None],
    audience: TokenAudience,
    *,
    now: float,
) -> AccessClaims:
    """The token's claims, or `Unauthenticated` for anything short of a valid access token."""
    import jwt  # noqa: PLC0415 - see the top

    try:
        header = jwt.get_unverified_header(token)
        if header.get("alg") != ALGORITHM or header.get("typ") != TOKEN_TYPE:
            raise Unauthenticated
        kid = header.get("kid")
        key = key_for_kid(kid) if isinstance(kid, str) else None
        if key is None:
            raise Unauthenticated
        claims = jwt.decode(
            token,
            key=key,
            algorithms=[ALGORITHM],
            audience=audience.audience,
            issuer=audience.issuer,
            # Times are checked below against the injected clock, not PyJWT's.
            options={
                "require": list(REQUIRED_CLAIMS),
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
            },
        )
    except jwt.PyJWTError:
        raise Unauthenticated from None
    issued_at, not_before, expires_at = claims["iat"], claims["nbf"], claims["exp"]
    if not all(isinstance(value, int) for value in (issued_at, not_before, expires_at)):
        raise Unauthenticated
    if not_before > now + CLOCK_SKEW_SECONDS or issued_at > now + CLOCK_SKEW_SECONDS:
        raise Unauthenticated
    if expires_at <= now or expires_at - issued_at > ACCESS_TOKEN_TTL_SECONDS:
        raise Unauthenticated
    if not all(isinstance(claims[name], str) for name in ("sub", "sid", "jti")):
        raise Unauthenticated
    return AccessClaims(claims["sub"], claims["sid"], claims["jti"], issued_at, expires_at)
