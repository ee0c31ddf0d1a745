"""The ring of access-token signing keys, kept in the table, and its rotation.

A key's private half is stored only envelope-encrypted (KMS); its public half as a JWK, which
`railguard.crypto.public_keys` serves as the JWKS and verifies tokens with, needing no KMS call.

Each key has `signs_from`: signers use the newest key whose time has come. Rotation (the rotation
job) adds a key that signs `overlap` seconds later, so it is in the JWKS, and in every verifier's
cache, before the first token it signs; once it signs, the key before it gets `verify_until`, the
moment the last token it can have signed expires, and is removed after that. The first signer to
find the ring empty creates a key; two doing so at once leave two valid keys, which is harmless.
"""

from __future__ import annotations

from dataclasses import dataclass

from railguard.core.clock import Clock
from railguard.crypto import tokens
from railguard.crypto.envelope import Envelope, SecretOwner
from railguard.crypto.key_repository import SigningKeyRecord, SigningKeys
from railguard.jobs import JobReport
from railguard.kinds import SIGNING_KEY
from railguard.store import Table

ENVELOPE_PURPOSE = "token-signing-key"
# How long a signer trusts its copy of the ring: a key that starts signing is used within this.
RING_MAX_AGE_SECONDS = 10


def _owner(kid: str) -> SecretOwner:
    return SecretOwner(ENVELOPE_PURPOSE, workspace_id="-", item_id=kid)


def _signer_at(ring: list[SigningKeyRecord], now: float) -> SigningKeyRecord | None:
    """The key that signs at `now`: the one that started signing last, among those started."""
    started = [record for record in ring if record.signs_from <= now]
    return max(started, key=lambda record: (record.signs_from, record.kid), default=None)


def _create(keys: SigningKeys, envelope: Envelope, now: int, signs_from: int) -> tokens.SigningKey:
    kid = SIGNING_KEY.new_id()
    key = tokens.SigningKey(kid, tokens.generate_private_key())
    sealed = envelope.encrypt(tokens.private_key_to_bytes(key.private_key), _owner(kid))
    added = keys.add(
        kid,
        public_jwk=key.public_jwk(),
        private_key=sealed,
        owner=_owner(kid),
        created_at=now,
        signs_from=signs_from,
    )
    if not added:  # a ULID collision: astronomically unlikely, but never overwrite
        return _create(keys, envelope, now, signs_from)
    return key


@dataclass
class _Ring:
    records: list[SigningKeyRecord]
    loaded_at: float


class SigningKeyRing:
    """Signing side (needs the envelope) of the ring; used by the functions that issue tokens."""

    def __init__(self, table: Table, envelope: Envelope, clock: Clock):
        self._keys = SigningKeys(table)
        self._envelope = envelope
        self._clock = clock
        self._ring: _Ring | None = None
        self._unsealed: dict[str, tokens.SigningKey] = {}

    def current(self) -> tokens.SigningKey:
        now = self._clock.now()
        if self._ring is None or now - self._ring.loaded_at >= RING_MAX_AGE_SECONDS:
            self._ring = _Ring(self._keys.ring(), now)
        signer = _signer_at(self._ring.records, now)
        if signer is None:
            key = _create(self._keys, self._envelope, int(now), int(now))
            self._ring = None  # read it again next time, with the new key
            self._unsealed[key.kid] = key
            return key
        kid = signer.kid
        if kid not in self._unsealed:
            private = self._envelope.decrypt(signer.private_key, _owner(kid))
            self._unsealed = {kid: tokens.SigningKey(kid, tokens.private_key_from_bytes(private))}
        return self._unsealed[kid]


class SigningKeyRotation:
    """The rotation job's step: add a key when the signing one is old, retire and remove the
    ones it replaced. Idempotent: while a new key waits to sign, nothing new is added."""

    def __init__(self, table: Table, envelope: Envelope, clock: Clock):
        self._keys = SigningKeys(table)
        self._envelope = envelope
        self._clock = clock

    def rotate(
        self, report: JobReport, *, max_age_seconds: int, overlap_seconds: int, now: bool = False
    ) -> None:
        """`now`: rotate whatever the signing key's age (after a suspected compromise)."""
        moment = int(self._clock.now())
        ring = self._keys.ring()
        signer = _signer_at(ring, moment)
        waiting = [record for record in ring if record.signs_from > moment]
        old = signer is None or moment - signer.signs_from >= max_age_seconds
        if now or (old and not waiting):
            _create(self._keys, self._envelope, moment, moment + overlap_seconds)
            report.count("signing_keys_added")
            ring = self._keys.ring()
            signer = _signer_at(ring, moment)
        if signer is not None:
            self._retire_before(ring, signer, moment, report)

    def _retire_before(
        self, ring: list[SigningKeyRecord], signer: SigningKeyRecord, now: int, report: JobReport
    ) -> None:
        # A signer may keep an older key for up to RING_MAX_AGE_SECONDS after the switch; the
        # last token it signs then lives ACCESS_TOKEN_TTL_SECONDS (and verifiers allow skew).
        last_valid = (
            signer.signs_from
            + RING_MAX_AGE_SECONDS
            + tokens.ACCESS_TOKEN_TTL_SECONDS
            + tokens.CLOCK_SKEW_SECONDS
        )
        for record in ring:
            if record.kid == signer.kid or record.signs_from > signer.signs_from:
                continue
            verify_until = record.verify_until
            if verify_until is None:
                verify_until = self._keys.retire(record.kid, last_valid)
                report.count("signing_keys_retired")
            if verify_until <= now:
                if not self._keys.remove_expired(record.kid, now):
                    continue
                report.count("signing_keys_removed")
