"""The storage of second factors and of logins waiting for one.

`USER#<id> / MFA#TOTP` is the TOTP factor: its sealed secret, `status` (`pending`, `enabled`) and
`last_step`, the last time step a code was accepted for. `USER#<id> / MFA#RECOVERY` holds the
digests of the unused recovery codes as one string set. `MFACHALLENGE#<sha256> / CHALLENGE` is a
login waiting for its second factor (docs/data-model.md).
"""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass, field

from railguard.crypto.envelope import SecretOwner
from railguard.crypto.sealing import sealed_attributes
from railguard.identity.account_repository import GENERATION_ATTRIBUTE, generation_of
from railguard.store import ConditionFailed, Item, ItemKey, Repository, TransactItem
from railguard.store.keys import sweep_index, user_partition

# How long a challenge's item is kept past its expiry, for the sweep to find.
_CHALLENGE_TTL_SLACK_SECONDS = 3600

_STATUS = {"#status": "status"}
# What a write that needs MFA to be on (still, at the moment of writing) is conditioned on.
_ENABLED = "#status = :enabled"
_ENABLED_VALUES = {":enabled": "enabled"}


def totp_key(user_id: str) -> ItemKey:
    """The user's TOTP factor: its sealed secret, pending or enabled, and the last step used."""
    return (user_partition(user_id), "MFA#TOTP")


def recovery_codes_key(user_id: str) -> ItemKey:
    """The digests of the user's unused recovery codes, as one set."""
    return (user_partition(user_id), "MFA#RECOVERY")


def mfa_challenge_key(token_digest: str) -> ItemKey:
    """A login waiting for its second factor, found by the digest of its `mfa_token`."""
    return (f"MFACHALLENGE#{token_digest}", "CHALLENGE")


@dataclass(frozen=True)
class TotpFactor:
    status: str  # "pending" | "enabled"
    secret: bytes = field(repr=False)  # sealed (envelope)
    last_step: int | None


@dataclass(frozen=True)
class LoginChallenge:
    """A login waiting for its second factor: whose, for which password (a fingerprint of its
    hash), in which session generation, and until when."""

    user_id: str
    email: str
    password_fingerprint: str = field(repr=False)
    generation: int
    status: str  # "pending" | "used"
    expires_at: int

    def is_pending(self, now: int) -> bool:
        return self.status == "pending" and self.expires_at > now


class MfaRepository(Repository):
    # -- the TOTP factor -----------------------------------------------------------------
    def totp(self, user_id: str) -> TotpFactor | None:
        item = self._table.get(totp_key(user_id))
        return TotpFactor(item["status"], item["secret"], item.get("last_step")) if item else None

    def set_up_totp(
        self, user_id: str, sealed_secret: bytes, owner: SecretOwner, created_at: int
    ) -> bool:
        """Store a pending factor, replacing a pending one; False when the factor is enabled."""
        pk, sk = totp_key(user_id)
        try:
            self._table.put(
                {
                    "pk": pk,
                    "sk": sk,
                    "status": "pending",
                    "secret": sealed_secret,
                    **sealed_attributes((pk, sk), {"secret": (sealed_secret, owner)}),
                    # Any enabling code's step is later, whatever the clock said at setup.
                    "last_step": -1,
                    "created_at": created_at,
                },
                condition="attribute_not_exists(pk) OR #status = :pending",
                names=_STATUS,
                values={":pending": "pending"},
            )
        except ConditionFailed:
            return False
        return True

    def accept_step(self, user_id: str, step: int) -> bool:
        """Record `step` as used, if the factor is enabled and no later step was; False when
        this step or a later one was accepted already (a replay)."""
        try:
            self._table.update(
                totp_key(user_id),
                "SET last_step = :step",
                condition=_ENABLED + " AND last_step < :step",
                names=_STATUS,
                values={":step": step, **_ENABLED_VALUES},
            )
        except ConditionFailed:
            return False
        return True

    def enabling(self, user_id: str, sealed_secret: bytes, step: int, now: int) -> TransactItem:
        """The write that enables the pending factor whose secret is `sealed_secret` (not one a
        new setup replaced it with), `step` used."""
        return TransactItem.update_item(
            totp_key(user_id),
            "SET #status = :enabled, last_step = :step, enabled_at = :now",
            condition="#status = :pending AND secret = :secret",
            names=_STATUS,
            values={
                **_ENABLED_VALUES,
                ":pending": "pending",
                ":step": step,
                ":now": now,
                ":secret": sealed_secret,
            },
        )

    def totp_removal(self, user_id: str) -> TransactItem:
        """The delete of the factor, on condition that it is enabled."""
        return TransactItem.delete(
            totp_key(user_id), _ENABLED, names=_STATUS, values=_ENABLED_VALUES
        )

    def while_enabled(self, user_id: str) -> TransactItem:
        """The condition that the factor is enabled."""
        return TransactItem.check(
            totp_key(user_id), _ENABLED, names=_STATUS, values=_ENABLED_VALUES
        )

    # -- recovery codes ------------------------------------------------------------------
    def recovery_codes(self, user_id: str, digests: Set[str], created_at: int) -> TransactItem:
        """The put of a new set of recovery codes (by their digests), replacing the old one."""
        pk, sk = recovery_codes_key(user_id)
        return TransactItem.put(
            {"pk": pk, "sk": sk, "codes": set(digests), "created_at": created_at}
        )

    def recovery_code_spending(self, user_id: str, digest: str) -> TransactItem:
        """The removal of one code from the set, on condition that it is in it."""
        return TransactItem.update_item(
            recovery_codes_key(user_id),
            "DELETE codes :used",
            condition="contains(codes, :digest)",
            values={":used": {digest}, ":digest": digest},
        )

    def recovery_codes_removal(self, user_id: str) -> TransactItem:
        return TransactItem.delete(recovery_codes_key(user_id))

    # -- login challenges ----------------------------------------------------------------
    def put_challenge(self, token_digest: str, challenge: LoginChallenge) -> None:
        pk, sk = mfa_challenge_key(token_digest)
        ttl = challenge.expires_at + _CHALLENGE_TTL_SLACK_SECONDS
        self._table.put(
            {
                "pk": pk,
                "sk": sk,
                "user_id": challenge.user_id,
                "email": challenge.email,
                "password_fingerprint": challenge.password_fingerprint,
                GENERATION_ATTRIBUTE: challenge.generation,
                "status": challenge.status,
                "expires_at": challenge.expires_at,
                "ttl": ttl,
                **sweep_index(pk, ttl),
            },
            condition="attribute_not_exists(pk)",
        )

    def challenge(self, token_digest: str) -> LoginChallenge | None:
        item = self._table.get(mfa_challenge_key(token_digest))
        return _challenge(item) if item is not None else None

    def challenge_spending(self, token_digest: str, now: int) -> TransactItem:
        """The write that uses a challenge up, on condition that it is pending and unexpired."""
        return TransactItem.update_item(
            mfa_challenge_key(token_digest),
            "SET #status = :used, used_at = :now",
            condition="#status = :pending AND expires_at > :now",
            names=_STATUS,
            values={":used": "used", ":pending": "pending", ":now": now},
        )


def _challenge(item: Item) -> LoginChallenge:
    return LoginChallenge(
        item["user_id"],
        item["email"],
        item["password_fingerprint"],
        generation_of(item),
        item["status"],
        item["expires_at"],
    )
