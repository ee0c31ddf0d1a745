"""Multi-factor authentication: a TOTP authenticator per user, and recovery codes.

Stored by `railguard.identity.mfa_repository` (docs/data-model.md): the TOTP factor holds the
secret, envelope-encrypted and bound to the user, its status (`pending` from setup until a correct
code enables it, then `enabled`) and the last time step a code was accepted for; the recovery
codes are the SHA-256 digests of the unused ones, as one set. The profile's `mfa_enabled`
mirrors the status, written in the same transactions, for the authorizer (workspaces that
require MFA), `/me` and member lists.

Each code works once. A TOTP code is accepted by advancing `last_step` with a write conditioned
on the step being later than the stored one, so of a replay, or of the same code sent
concurrently, one use succeeds. A recovery code is removed from the set with a write conditioned
on its being in it. Recovery codes have 80 random bits each, so their digests, like API keys',
give nothing to brute-force; argon2 would cost ten verifications per attempt for no gain.

Every change of a user's factors (enable, disable, new recovery codes) needs the password as well
as a code: an access token alone must not be enough to enrol an attacker's authenticator.
Turning MFA on or off ends the user's other sessions in its own transaction, by advancing the
session generation with the caller's session moved along (`Sessions.switching_mfa`); the
revocations one by one that follow only tidy their status.

Wrong codes are throttled like passwords: each attempt is counted against the user (and, at
login, the source address) before the code is checked, and given back when it was right.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from railguard.access.throttle import FailureThrottle, Subject, ThrottleRule
from railguard.audit.trail import Actor, AppendRefused, AuditEvent, AuditTrail
from railguard.core.clock import Clock
from railguard.core.errors import Conflict, InvalidCredentials, WrongMfaCode, WrongPassword
from railguard.core.ids import CROCKFORD
from railguard.crypto import totp
from railguard.crypto.envelope import Envelope, SecretOwner
from railguard.crypto.server_keys import KeyedHash
from railguard.identity.accounts import Accounts
from railguard.identity.mfa_repository import MfaRepository, TotpFactor
from railguard.identity.sessions import Sessions
from railguard.store import Table, TransactionConflict

ENVELOPE_PURPOSE = "totp-secret"
RECOVERY_CODE_COUNT = 10
RECOVERY_CODE_CHARACTERS = 16  # Crockford base32: 80 bits
MFA_FAILURES_PER_USER = ThrottleRule("mfa-user", limit=5, window_seconds=900)

SecondFactor = Literal["totp", "recovery_code"]

_CROCKFORD_SET = frozenset(CROCKFORD)
# Crockford's decoding: letters a person may read or type for digits, and separators.
_CROCKFORD_READING = str.maketrans({"O": "0", "I": "1", "L": "1", "-": None, " ": None})


def _owner(user_id: str) -> SecretOwner:
    return SecretOwner(ENVELOPE_PURPOSE, workspace_id="-", item_id=user_id)


def new_recovery_codes() -> list[str]:
    """Ten codes like `7K3M-Q9XA-F2RT-0WZB`, from the CSPRNG."""
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        body = "".join(secrets.choice(CROCKFORD) for _ in range(RECOVERY_CODE_CHARACTERS))
        codes.append("-".join(body[i : i + 4] for i in range(0, RECOVERY_CODE_CHARACTERS, 4)))
    return codes


def recovery_code_digest(code: str) -> str | None:
    """What is stored for a recovery code, from the code as typed (any case, with or without
    hyphens and spaces); None for what cannot be a recovery code."""
    normalized = code.upper().translate(_CROCKFORD_READING)
    if len(normalized) != RECOVERY_CODE_CHARACTERS or not _CROCKFORD_SET.issuperset(normalized):
        return None
    return hashlib.sha256(normalized.encode()).hexdigest()


def _digests(codes: Sequence[str]) -> set[str]:
    """What is stored of a new set of codes (each a recovery code, by construction)."""
    return {digest for digest in map(recovery_code_digest, codes) if digest is not None}


@dataclass(frozen=True)
class TotpEnrollment:
    """What setup shows once: the secret, and the same as an `otpauth://` URI and a QR code."""

    secret: str
    otpauth_uri: str
    qr_svg: str

    def __repr__(self) -> str:  # never let the secret reach a log through repr()
        return "TotpEnrollment(<redacted>)"


class SecondFactors:
    """Checks and spends a user's second factor: the one place codes are accepted, for login
    and for the MFA settings alike."""

    def __init__(self, table: Table, envelope: Envelope, clock: Clock, audit: AuditTrail):
        self._envelope = envelope
        self._clock = clock
        self._audit = audit
        self._throttle = FailureThrottle(table, clock)
        self._factors = MfaRepository(table)

    def spend(
        self, user_id: str, code: str, *, also_throttled: Sequence[Subject] = ()
    ) -> SecondFactor | None:
        """Which factor `code` was (and it is now used up), or None: wrong, replayed, or MFA
        is not on. Counted against the user and `also_throttled` first; 429 over budget."""
        subjects = [(MFA_FAILURES_PER_USER, user_id), *also_throttled]
        reservation = self._throttle.reserve(subjects)
        factor = self._spend(user_id, code)
        if factor is not None:
            self._throttle.release(reservation)
        return factor  # a wrong code's attempts stay counted as failures

    def _spend(self, user_id: str, code: str) -> SecondFactor | None:
        if totp.is_code_shaped(code):
            return "totp" if self._spend_totp(user_id, code) else None
        digest = recovery_code_digest(code)
        if digest is None or not self._spend_recovery_code(user_id, digest):
            return None
        return "recovery_code"

    def _spend_totp(self, user_id: str, code: str) -> bool:
        factor = self._factors.totp(user_id)
        if factor is None or factor.status != "enabled":
            return False
        secret = self._envelope.decrypt(factor.secret, _owner(user_id)).decode()
        step = totp.accepted_step(secret, code, now=self._clock.now(), last_step=factor.last_step)
        # False when this step, or a later one, was accepted meanwhile: a replay.
        return step is not None and self._factors.accept_step(user_id, step)

    def _spend_recovery_code(self, user_id: str, digest: str) -> bool:
        """Remove the code from the set, recorded (`mfa.recovery_code_used`) in the same
        transaction; False when it was not in it."""
        try:
            self._audit.append(
                AuditEvent("mfa.recovery_code_used", Actor.user(user_id), user_id),
                [self._factors.recovery_code_spending(user_id, digest)],
            )
        except AppendRefused:
            return False
        return True


class Mfa:
    """The signed-in user's own MFA settings: set up, enable, disable, new recovery codes."""

    def __init__(
        self,
        table: Table,
        envelope: Envelope,
        clock: Clock,
        audit: AuditTrail,
        *,
        account_subjects: KeyedHash,
    ):
        self._table = table
        self._envelope = envelope
        self._clock = clock
        self._audit = audit
        self._factors = MfaRepository(table)
        # Every change of the factors checks the password, on the account's failure budget.
        self._accounts = Accounts(table, clock, audit, account_subjects=account_subjects)
        self._sessions = Sessions(table, clock, audit)
        self._second_factors = SecondFactors(table, envelope, clock, audit)
        self._throttle = FailureThrottle(table, clock)

    def _totp(self, user_id: str, *, status: str) -> TotpFactor:
        factor = self._factors.totp(user_id)
        if factor is not None and factor.status == status:
            return factor
        if status == "pending":
            raise Conflict(
                "MFA is already on."
                if factor is not None
                else "No authenticator is being set up; call setup first."
            )
        raise Conflict("MFA is not on.")

    def set_up(self, user_id: str) -> TotpEnrollment:
        """A new secret, pending until `enable` receives a correct code; replaces a pending one.
        While MFA is on, 409: turning it off first needs a code and the password."""
        profile = self._accounts.profile(user_id)
        secret = totp.new_secret()
        sealed = self._envelope.encrypt(secret.encode(), _owner(user_id))
        if not self._factors.set_up_totp(user_id, sealed, _owner(user_id), int(self._clock.now())):
            raise Conflict("MFA is already on.")
        uri = totp.provisioning_uri(secret, profile.email)
        return TotpEnrollment(secret, uri, totp.qr_svg(uri))

    def _confirm_password(self, user_id: str, password: str) -> None:
        """Every change of the factors needs the password too: an access token alone (stolen,
        15 minutes) must not enrol an attacker's authenticator, nor turn MFA off, nor read out
        recovery codes. A wrong one is 401 `invalid_credentials` (contract section 4)."""
        try:
            self._accounts.confirm_password(user_id, password, field="password")
        except WrongPassword:
            raise InvalidCredentials("The password is not correct.") from None

    def enable(self, user_id: str, session_id: str | None, code: str, password: str) -> list[str]:
        """Turn MFA on with the password and a correct code of the pending secret; returns the
        recovery codes, shown this once. Every other session of the user ends with it (a new
        session generation, the caller's moved along): any of them may be the one that set up
        an authenticator to lock the owner out with, and a password login racing the enabling
        must not outlive it."""
        factor = self._totp(user_id, status="pending")
        self._confirm_password(user_id, password)
        reservation = self._throttle.reserve([(MFA_FAILURES_PER_USER, user_id)])
        secret = self._envelope.decrypt(factor.secret, _owner(user_id)).decode()
        step = totp.accepted_step(secret, code, now=self._clock.now(), last_step=None)
        if step is None:
            raise WrongMfaCode
        self._throttle.release(reservation)
        now = int(self._clock.now())
        codes = new_recovery_codes()
        event = AuditEvent("mfa.enabled", Actor.user(user_id), user_id)
        try:
            self._audit.append(
                event,
                [
                    # The secret the code was checked against: not one a setup replaced.
                    self._factors.enabling(user_id, factor.secret, step, now),
                    self._factors.recovery_codes(user_id, _digests(codes), now),
                    *self._sessions.switching_mfa(user_id, session_id, mfa_enabled=True),
                ],
            )
        except AppendRefused:
            raise Conflict("The authenticator changed at the same time; retry.") from None
        # Only tidies the sessions' status: the new generation ended them already.
        self._sessions.end_all(user_id, except_session=session_id)
        return codes

    def disable(self, user_id: str, session_id: str | None, code: str, password: str) -> None:
        """Turn MFA off, given the password and a current code (TOTP or recovery); every other
        session of the user ends with it (as for `enable`), since any of them may be the reason
        to turn it off."""
        self._totp(user_id, status="enabled")
        # The password first: a code is spent when checked, and must not be for nothing.
        self._confirm_password(user_id, password)
        if self._second_factors.spend(user_id, code) is None:
            raise WrongMfaCode
        try:
            self._audit.append(
                AuditEvent("mfa.disabled", Actor.user(user_id), user_id),
                [
                    self._factors.totp_removal(user_id),
                    self._factors.recovery_codes_removal(user_id),
                    *self._sessions.switching_mfa(user_id, session_id, mfa_enabled=False),
                ],
            )
        except AppendRefused:
            raise Conflict("MFA changed at the same time; retry.") from None
        self._sessions.end_all(user_id, except_session=session_id)

    def replace_recovery_codes(self, user_id: str, code: str, password: str) -> list[str]:
        """A new set of recovery codes, given the password and a current code; the old set
        stops working."""
        self._totp(user_id, status="enabled")
        self._confirm_password(user_id, password)
        if self._second_factors.spend(user_id, code) is None:
            raise WrongMfaCode
        codes = new_recovery_codes()
        try:
            self._table.transact(
                [
                    self._factors.while_enabled(user_id),
                    self._factors.recovery_codes(user_id, _digests(codes), int(self._clock.now())),
                ]
            )
        except TransactionConflict:
            raise Conflict("MFA is not on.") from None
        return codes
