"""Keys the service makes for itself: 256 random bits under a name, kept in the table sealed by
the envelope (KMS), unsealed once per function instance.

The first writer creates the key with a conditional put; a writer that loses that race reads the
winner's, so every instance agrees on one key. Such a key is never rotated: what it protects
(e.g. the keyed hashes that find webhook triggers) would stop being found.

Their use is `KeyedHash`: wherever the table keeps a fingerprint of something guessable (an
email in a throttle counter's key, a PIN under its argon2id hash), it is an HMAC under such a
key, so a copy of the table alone (a backup, a point-in-time restore) cannot confirm a guess.
Each use has a key of its own (its name is in the KMS encryption context, so IAM can grant one
and not another). A role that may unseal a key holds it, and can check guesses offline: what
even the roles that use it must not check offline (a credential's value in an idempotency
record) is MACed under a KMS HMAC key instead (`railguard.crypto.envelope.KmsMac`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from railguard.core.clock import Clock
from railguard.crypto.envelope import Envelope, SecretOwner
from railguard.crypto.key_repository import ServerKeys
from railguard.store import Table

ENVELOPE_PURPOSE = "server-key"
KEY_BYTES = 32


class ServerKey:
    def __init__(self, table: Table, envelope: Envelope, clock: Clock, name: str):
        self._keys = ServerKeys(table)
        self._envelope = envelope
        self._clock = clock
        self._name = name
        self._material: bytes | None = None

    def _owner(self) -> SecretOwner:
        return SecretOwner(ENVELOPE_PURPOSE, workspace_id="-", item_id=self._name)

    def load(self) -> bytes | None:
        """The key, or None if nobody has made it yet."""
        if self._material is None:
            sealed = self._keys.sealed(self._name)
            if sealed is not None:
                self._material = self._envelope.decrypt(sealed, self._owner())
        return self._material

    def load_or_create(self) -> bytes:
        material = self.load()
        if material is not None:
            return material
        fresh = secrets.token_bytes(KEY_BYTES)
        sealed = self._envelope.encrypt(fresh, self._owner())
        if not self._keys.add(self._name, sealed, self._owner(), created_at=int(self._clock.now())):
            winner = self.load()  # another instance made it first: use theirs
            assert winner is not None  # noqa: S101 - it exists: that is why the put failed
            return winner
        self._material = fresh
        return fresh


class KeyedHash:
    """HMAC-SHA256 under one server key, in hex."""

    def __init__(self, server_key: ServerKey):
        self._server_key = server_key

    def of(self, value: str | bytes) -> str:
        """The keyed hash of `value`; the key is made if nobody has made it yet."""
        return self._hash(self._server_key.load_or_create(), value)

    def of_existing(self, value: str | bytes) -> str | None:
        """The keyed hash of `value`, or None while there is no key: then nothing stored can
        hold a hash under it, and a lookup need not make one."""
        key = self._server_key.load()
        return self._hash(key, value) if key is not None else None

    @staticmethod
    def _hash(key: bytes, value: str | bytes) -> str:
        message = value.encode() if isinstance(value, str) else value
        return hmac.new(key, message, hashlib.sha256).hexdigest()
