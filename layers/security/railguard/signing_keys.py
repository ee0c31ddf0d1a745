"""The ring of access-token signing keys, kept in the table.

A key's private half is stored only envelope-encrypted (KMS); its public half as a JWK, which
`railguard.public_keys` serves as the JWKS and verifies tokens with, needing no KMS call. The
first signer to find the ring empty creates a key; two doing so at once leaves two valid keys,
which is harmless.
"""

from __future__ import annotations

from railguard import tokens
from railguard.clock import Clock
from railguard.envelope import Envelope, SecretOwner
from railguard.ids import new_id
from railguard.store import ConditionFailed, Table
from railguard.store import keys as item_keys


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
