"""The public half of the token-signing ring, cached in memory: what the authorizer verifies
access tokens with and what the JWKS route serves. Apart from the signing side (no envelope, no
KMS), so the authorizer imports nothing it does not use."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from railguard.core.clock import Clock
from railguard.crypto import tokens
from railguard.crypto.key_repository import SigningKeys
from railguard.store import Table

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec

# Public keys change only when a key is added (rotation); an unknown kid forces a re-read.
PUBLIC_KEYS_MAX_AGE_SECONDS = 300
UNKNOWN_KID_REFRESH_SECONDS = 10


@dataclass
class _Cached:
    keys: dict[str, ec.EllipticCurvePublicKey]
    jwks: list[dict[str, str]]
    loaded_at: float


class PublicKeys:
    """Verification side of the ring, cached in memory: what the authorizer and JWKS use."""

    def __init__(self, table: Table, clock: Clock):
        self._keys = SigningKeys(table)
        self._clock = clock
        self._cached: _Cached | None = None

    def _load(self) -> _Cached:
        published = self._keys.published()
        now = self._clock.now()
        # A retired key whose last token has expired verifies nothing, even before it is removed.
        jwks = [
            key.public_jwk
            for key in published
            if key.verify_until is None or key.verify_until > now
        ]
        keys = {jwk["kid"]: tokens.public_key_from_jwk(jwk) for jwk in jwks}
        self._cached = _Cached(keys, jwks, self._clock.now())
        return self._cached

    def _fresh(self, max_age: float) -> _Cached:
        cached = self._cached
        if cached is None or self._clock.now() - cached.loaded_at >= max_age:
            cached = self._load()
        return cached

    def jwks(self) -> list[dict[str, str]]:
        return self._fresh(PUBLIC_KEYS_MAX_AGE_SECONDS).jwks

    def lookup(self, kid: str) -> ec.EllipticCurvePublicKey | None:
        """The key `kid` names, re-reading the ring (at most every few seconds) when unknown,
        so a key added by rotation is found without waiting for the cache to age out."""
        key = self._fresh(PUBLIC_KEYS_MAX_AGE_SECONDS).keys.get(kid)
        if key is None:
            key = self._fresh(UNKNOWN_KID_REFRESH_SECONDS).keys.get(kid)
        return key
