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
from railguard.core.ids import new_id
from railguard.crypto import tokens
from railguard.crypto.envelope import Envelope, SecretOwner
from railguard.crypto.sealing import sealed_attributes
from railguard.jobs import JobReport
from railguard.store import ConditionFailed, Item, Table
from railguard.store import keys as item_keys

ENVELOPE_PURPOSE = "token-signing-key"
# How long a signer trusts its copy of the ring: a key that starts signing is used within this.
RING_MAX_AGE_SECONDS = 10
_RING_LIMIT = 100


def _owner(kid: str) -> SecretOwner:
    return SecretOwner(ENVELOPE_PURPOSE, workspace_id="-", item_id=kid)


def _signs_from(item: Item) -> int:
    return int(item["signs_from"] if "signs_from" in item else item["created_at"])


def _signer_at(ring: list[Item], now: float) -> Item | None:
    """The key that signs at `now`: the one that started signing last, among those started."""
    started = [item for item in ring if _signs_from(item) <= now]
    return max(started, key=lambda item: (_signs_from(item), item["sk"]), default=None)


def _read_ring(table: Table) -> list[Item]:
    return table.query(item_keys.SIGNING_KEY_PARTITION, limit=_RING_LIMIT).items


def _create(table: Table, envelope: Envelope, now: int, signs_from: int) -> tokens.SigningKey:
    kid = new_id("sig")
    key = tokens.SigningKey(kid, tokens.generate_private_key())
    sealed = envelope.encrypt(tokens.private_key_to_bytes(key.private_key), _owner(kid))
    pk, sk = item_keys.signing_key(kid)
    try:
        table.put(
            {
                "pk": pk,
                "sk": sk,
                "status": "active",
                "public_jwk": key.public_jwk(),
                "private_key": sealed,
                **sealed_attributes((pk, sk), {"private_key": (sealed, _owner(kid))}),
                "created_at": now,
                "signs_from": signs_from,
            },
            condition="attribute_not_exists(pk)",
        )
    except ConditionFailed:  # a ULID collision: astronomically unlikely, but never overwrite
        return _create(table, envelope, now, signs_from)
    return key


@dataclass
class _Ring:
    items: list[Item]
    loaded_at: float


class SigningKeyRing:
    """Signing side (needs the envelope) of the ring; used by the functions that issue tokens."""

    def __init__(self, table: Table, envelope: Envelope, clock: Clock):
        self._table = table
        self._envelope = envelope
        self._clock = clock
        self._ring: _Ring | None = None
        self._unsealed: dict[str, tokens.SigningKey] = {}

    def current(self) -> tokens.SigningKey:
        now = self._clock.now()
        if self._ring is None or now - self._ring.loaded_at >= RING_MAX_AGE_SECONDS:
            self._ring = _Ring(_read_ring(self._table), now)
        signer = _signer_at(self._ring.items, now)
        if signer is None:
            key = _create(self._table, self._envelope, int(now), int(now))
            self._ring = None  # read it again next time, with the new key
            self._unsealed[key.kid] = key
            return key
        kid = signer["sk"]
        if kid not in self._unsealed:
            private = self._envelope.decrypt(signer["private_key"], _owner(kid))
            self._unsealed = {kid: tokens.SigningKey(kid, tokens.private_key_from_bytes(private))}
        return self._unsealed[kid]


class SigningKeyRotation:
    """The rotation job's step: add a key when the signing one is old, retire and remove the
    ones it replaced. Idempotent: while a new key waits to sign, nothing new is added."""

    def __init__(self, table: Table, envelope: Envelope, clock: Clock):
        self._table = table
        self._envelope = envelope
        self._clock = clock

    def rotate(
        self, report: JobReport, *, max_age_seconds: int, overlap_seconds: int, now: bool = False
    ) -> None:
        """`now`: rotate whatever the signing key's age (after a suspected compromise)."""
        moment = int(self._clock.now())
        ring = _read_ring(self._table)
        signer = _signer_at(ring, moment)
        waiting = [item for item in ring if _signs_from(item) > moment]
        old = signer is None or moment - _signs_from(signer) >= max_age_seconds
        if now or (old and not waiting):
            _create(self._table, self._envelope, moment, moment + overlap_seconds)
            report.count("signing_keys_added")
            ring = _read_ring(self._table)
            signer = _signer_at(ring, moment)
        if signer is not None:
            self._retire_before(ring, signer, moment, report)

    def _retire_before(self, ring: list[Item], signer: Item, now: int, report: JobReport) -> None:
        # A signer may keep an older key for up to RING_MAX_AGE_SECONDS after the switch; the
        # last token it signs then lives ACCESS_TOKEN_TTL_SECONDS (and verifiers allow skew).
        last_valid = (
            _signs_from(signer)
            + RING_MAX_AGE_SECONDS
            + tokens.ACCESS_TOKEN_TTL_SECONDS
            + tokens.CLOCK_SKEW_SECONDS
        )
        for item in ring:
            if item["sk"] == signer["sk"] or _signs_from(item) > _signs_from(signer):
                continue
            key = (item["pk"], item["sk"])
            verify_until = item.get("verify_until")
            if verify_until is None:
                verify_until = self._table.update(
                    key,
                    "SET verify_until = if_not_exists(verify_until, :until)",
                    values={":until": last_valid},
                )["verify_until"]
                report.count("signing_keys_retired")
            if verify_until <= now:
                try:
                    self._table.delete(key, condition="verify_until <= :now", values={":now": now})
                except ConditionFailed:
                    continue
                report.count("signing_keys_removed")
