"""Passwords (and later PINs): argon2id hashing, and the password policy.

Parameters are OWASP's argon2id minimum (m = 19 MiB, t = 2, p = 1) with a 16-byte random salt per
hash; a stored hash made with other parameters is re-hashed at the next successful login.
The policy follows NIST SP 800-63B: length 12..256 characters, no truncation, no composition
rules, and a refusal of common or guessable passwords by the zxcvbn estimator.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from zxcvbn import zxcvbn

from railguard.core.errors import ValidationFailed

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256
MIN_STRENGTH_SCORE = 3  # zxcvbn: 3 = "safely unguessable" (< 10^10 guesses is refused)
_ESTIMATOR_MAX_LENGTH = 72  # zxcvbn's own ceiling; a strong 72-character prefix is strong enough

ARGON2_TIME_COST = 2
ARGON2_MEMORY_KIB = 19_456
ARGON2_PARALLELISM = 1

_hasher = PasswordHasher(
    time_cost=ARGON2_TIME_COST,
    memory_cost=ARGON2_MEMORY_KIB,
    parallelism=ARGON2_PARALLELISM,
    hash_len=32,
    salt_len=16,
)


def hash_secret(secret: str) -> str:
    return _hasher.hash(secret)


@cache
def _dummy_hash() -> str:
    return _hasher.hash("railguard-dummy-password-for-timing")


def verify_secret(stored_hash: str | None, candidate: str) -> bool:
    """Whether `candidate` matches; with no stored hash, spends the same time and says no, so an
    unknown account cannot be told from a wrong password by the clock."""
    # Made by the instance's first verification whatever it checks (not at import, which must
    # not hash): otherwise a cold instance's first unknown account costs one more argon2 run.
    dummy = _dummy_hash()
    reference = stored_hash if stored_hash is not None else dummy
    try:
        return _hasher.verify(reference, candidate) and stored_hash is not None
    # ValueError: a stored value argon2 cannot even encode (e.g. non-ASCII) verifies nothing.
    except (VerifyMismatchError, VerificationError, InvalidHashError, ValueError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _hasher.check_needs_rehash(stored_hash)


def within_length(password: str) -> bool:
    return MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH


def check_length(password: str, field: str = "password") -> None:
    """Before any hashing: a password over the limit never reaches argon2."""
    if not within_length(password):
        raise ValidationFailed(
            f"A password has {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters.",
            details={"field": field, "reason": "length"},
        )


def check_policy(password: str, context: Sequence[str] = (), field: str = "password") -> None:
    """Length, then strength: `context` (email, name) counts against the password."""
    check_length(password, field)
    estimate = zxcvbn(password[:_ESTIMATOR_MAX_LENGTH], user_inputs=list(context))
    if estimate["score"] < MIN_STRENGTH_SCORE:
        raise ValidationFailed(
            "This password is too common or too easy to guess.",
            details={"field": field, "reason": "weak"},
        )
