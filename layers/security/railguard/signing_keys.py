"""The ring of access-token signing keys, kept in the table.

A key's private half is stored only envelope-encrypted (KMS); its public half as a JWK, which is
what the JWKS route serves and what the authorizer verifies with, so verification needs no KMS
call and no AWS call at all once the public keys are cached. The first signer to find the ring
empty creates a key; two doing so at once leaves two valid keys, which is harmless.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ec

from railguard import tokens
from railguard.clock import Clock
from railguard.envelope import Envelope, SecretOwner
from railguard.ids import new_id
from railguard.store import ConditionFailed, Table
from railguard.store import keys as item_keys

# Public keys change only when a key is added (rotation); an unknown kid forces a re-read.
PUBLIC_KEYS_MAX_AGE_SECONDS = 300
UNKNOWN_KID_REFRESH_SECONDS = 10


def _owner(kid: str) -> SecretOwner:
    return SecretOwner(purpose="token-signing-key", workspace_id="-", item_id=kid)


class SigningKeyRing:
    """Signing side (needs the envelope) of the ring; used by the functions that issue tokens."""

    def __init__(self, table: Table, envelope: Envelope, clock: Clock):
        self._table = table
        self._envelope = envelope
        self._clock = clock
        self._current: tokens.SigningKey | None = None

    def current(self) -> tokens.SigningKey:
        if self._current is None:
            self._current = self._load_newest() or self._create()
        return self._current

    def _load_newest(self) -> tokens.SigningKey | None:
        page = self._table.query(item_keys.SIGNING_KEY_PARTITION, limit=20, newest_first=True)
        for item in page.items:
            if item["status"] == "active":
                private = self._envelope.decrypt(item["private_key"], _owner(item["sk"]))
                return tokens.SigningKey(item["sk"], tokens.private_key_from_bytes(private))
        return None

    def _create(self) -> tokens.SigningKey:
        kid = new_id("sig")
        key = tokens.SigningKey(kid, tokens.generate_private_key())
        sealed = self._envelope.encrypt(tokens.private_key_to_bytes(key.private_key), _owner(kid))
        pk, sk = item_keys.signing_key(kid)
        try:
            self._table.put(
                {
                    "pk": pk,
                    "sk": sk,
                    "status": "active",
                    "public_jwk": key.public_jwk(),
                    "private_key": sealed,
                    "created_at": int(self._clock.now()),
                },
                condition="attribute_not_exists(pk)",
            )
        except ConditionFailed:  # a ULID collision: astronomically unlikely, but never overwrite
            return self._create()
        return key


@dataclass
class _Cached:
    keys: dict[str, ec.EllipticCurvePublicKey]
    jwks: list[dict[str, str]]
    loaded_at: float


class PublicKeys:
    """Verification side of the ring, cached in memory: what the authorizer and JWKS use."""

    def __init__(self, table: Table, clock: Clock):
        self._table = table
        self._clock = clock
        self._cached: _Cached | None = None

    def _load(self) -> _Cached:
        page = self._table.query(item_keys.SIGNING_KEY_PARTITION, limit=100, newest_first=True)
        jwks = [dict(item["public_jwk"]) for item in page.items]
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
