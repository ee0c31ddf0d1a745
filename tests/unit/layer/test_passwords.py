"""Passwords: the NIST-style policy (length, no truncation, no composition rules, no guessable
passwords) and argon2id hashing (parameters, salts, rehash, and the unknown-account path)."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from argon2 import PasswordHasher

from railguard.core.errors import ValidationFailed
from railguard.crypto import passwords
from railguard.crypto.passwords import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    check_length,
    check_policy,
    hash_secret,
    needs_rehash,
    verify_secret,
)

STRONG_12 = "tR7#vQ2!mZ9k"
# A long, unguessable, deterministic string (lowercase hex) to cut to any length.
RANDOMISH = "".join(hashlib.sha256(str(i).encode()).hexdigest() for i in range(8))


def _of_length(length: int) -> str:
    assert len(RANDOMISH) >= length
    return RANDOMISH[:length]


class _Forbidden:
    """Stands in for the hasher or the estimator: any use of it fails the test."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the password reached {name} before its length was checked")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the password reached the strength estimator")


class _CountingHasher:
    """The module's hasher, with its verifications counted."""

    def __init__(self, inner: PasswordHasher):
        self._inner = inner
        self.verifications = 0

    def verify(self, stored_hash: str, candidate: str) -> bool:
        self.verifications += 1
        return self._inner.verify(stored_hash, candidate)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


@pytest.fixture
def counting_hasher(monkeypatch: pytest.MonkeyPatch) -> _CountingHasher:
    counting = _CountingHasher(passwords._hasher)
    monkeypatch.setattr(passwords, "_hasher", counting)
    return counting


@pytest.fixture(scope="module")
def stored_hash() -> str:
    return hash_secret(STRONG_12)


# ------------------------------------------------------------------------------------ policy


def test_the_limits_are_12_and_256() -> None:
    assert (MIN_PASSWORD_LENGTH, MAX_PASSWORD_LENGTH) == (12, 256)


@pytest.mark.parametrize(
    "password",
    [STRONG_12[:11], "", "x", _of_length(11)],
    ids=["strong-11", "empty", "one-char", "random-11"],
)
def test_a_password_shorter_than_12_characters_is_refused(password: str) -> None:
    # Given a password under 12 characters, however random / When checked / Then refused
    with pytest.raises(ValidationFailed) as refused:
        check_policy(password)
    assert refused.value.details == {"field": "password", "reason": "length"}


@pytest.mark.parametrize(
    "password",
    [STRONG_12, _of_length(MAX_PASSWORD_LENGTH), _of_length(100)],
    ids=["strong-12", "random-256", "random-100"],
)
def test_a_strong_password_of_12_to_256_characters_is_accepted(password: str) -> None:
    # Given a strong password within the limits / When checked / Then it passes
    check_policy(password)


@pytest.mark.parametrize(
    "password",
    [_of_length(MAX_PASSWORD_LENGTH + 1), _of_length(512), "a" * 65_536, "é" * 65_536],
    ids=["257", "512", "64KiB-ascii", "64Ki-chars-non-ascii"],
)
def test_an_over_long_password_is_refused_before_any_hashing_or_estimation(
    monkeypatch: pytest.MonkeyPatch, password: str
) -> None:
    # Given a hasher and an estimator that fail the test if they are ever used
    monkeypatch.setattr(passwords, "_hasher", _Forbidden())
    monkeypatch.setattr(passwords, "zxcvbn", _Forbidden())
    # When an over-long password is checked / Then it is refused for its length alone
    with pytest.raises(ValidationFailed) as refused:
        check_policy(password)
    assert refused.value.details == {"field": "password", "reason": "length"}
    with pytest.raises(ValidationFailed):
        check_length(password)


def test_the_refusal_names_the_field_it_was_given() -> None:
    with pytest.raises(ValidationFailed) as refused:
        check_policy("short", field="new_password")
    assert refused.value.details == {"field": "new_password", "reason": "length"}


def test_a_long_password_is_not_truncated() -> None:
    # Given two 100-character passwords that differ only in their last character
    first = _of_length(99) + "a"
    second = _of_length(99) + "b"
    # When one is hashed / Then the other does not verify against it
    stored = hash_secret(first)
    assert verify_secret(stored, first)
    assert not verify_secret(stored, second)


@pytest.mark.parametrize("password", ["password1234", "qwertyuiop123", "letmeinletmein"])
def test_a_common_password_is_refused_as_weak(password: str) -> None:
    # Given a common password long enough to pass the length rule
    assert len(password) >= MIN_PASSWORD_LENGTH
    # When checked / Then it is refused as weak
    with pytest.raises(ValidationFailed) as refused:
        check_policy(password)
    assert refused.value.details == {"field": "password", "reason": "weak"}


def test_a_password_made_of_the_users_own_email_is_refused_given_that_context() -> None:
    # Given a password that is the user's email: not guessable in general...
    email, name = "Zephyrine.Quackenbush@example.org", "Zephyrine Quackenbush"
    check_policy(email)
    # When it is checked with the user's email and name as context / Then it is refused as weak
    with pytest.raises(ValidationFailed) as refused:
        check_policy(email, context=[email.lower(), name])
    assert refused.value.details["reason"] == "weak"


@pytest.mark.parametrize(
    "password",
    ["mauve otters juggle under quiet lanterns", "correcthorsebatterystaplelantern"],
)
def test_there_are_no_composition_rules(password: str) -> None:
    # Given a long passphrase of lowercase letters only (no digit, capital or symbol)
    assert password == password.lower()
    assert not any(char.isdigit() for char in password)
    # When checked / Then it is accepted
    check_policy(password)


# ----------------------------------------------------------------------------------- hashing


def test_the_hash_is_argon2id_with_the_module_parameters(stored_hash: str) -> None:
    # Given a stored hash / Then its encoding names argon2id, v19, m = 19 MiB, t = 2, p = 1
    assert stored_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")


def test_two_hashes_of_the_same_password_have_distinct_salts(stored_hash: str) -> None:
    # Given the same password hashed twice
    again = hash_secret(STRONG_12)
    # Then the hashes (and their salts) differ, and both verify
    assert again != stored_hash
    assert again.split("$")[4] != stored_hash.split("$")[4]
    assert verify_secret(again, STRONG_12)
    assert verify_secret(stored_hash, STRONG_12)


@pytest.mark.parametrize(
    ("candidate", "expected"),
    [
        (STRONG_12, True),
        (STRONG_12[:-1], False),
        (STRONG_12 + " ", False),
        (STRONG_12.upper(), False),
        ("", False),
    ],
)
def test_verify_accepts_only_the_right_password(
    stored_hash: str, candidate: str, expected: bool
) -> None:
    assert verify_secret(stored_hash, candidate) is expected


@pytest.mark.parametrize(
    "candidate", ["anything", "", "railguard-dummy-password-for-timing", STRONG_12]
)
def test_with_no_stored_hash_verify_says_no(candidate: str) -> None:
    # Given an unknown account (no stored hash) / When any password is tried / Then it is False,
    # including the internal dummy password used to spend the time
    assert verify_secret(None, candidate) is False


def test_a_hash_with_weaker_parameters_needs_a_rehash(stored_hash: str) -> None:
    # Given a hash made with weaker argon2 parameters
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(STRONG_12)
    # Then it still verifies, and is due for a rehash; ours is not
    assert verify_secret(weak, STRONG_12)
    assert needs_rehash(weak) is True
    assert needs_rehash(stored_hash) is False


def _malformed_hashes() -> dict[str, str]:
    real = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(STRONG_12)
    return {
        "empty": "",
        "garbage": "garbage",
        "truncated": real[:-5],
        "no-hash": real.rsplit("$", 1)[0],
        "prefix-only": "$argon2id$v=19$m=19456,t=2,p=1$",
        "bcrypt": "$2b$12$abcdefghijklmnopqrstuuJ0b3vBJwJ9VqPZ5lTq4r5C8Gx0x6K2",
        "zero-parallelism": real.replace("p=1", "p=0"),
        "unknown-version": real.replace("v=19", "v=99"),
        "non-ascii": "$argon2id$v=19$m=19456,t=2,p=1$\u00e9\u00e9$\u00e9",
    }


@pytest.mark.parametrize("kind", list(_malformed_hashes()))
@pytest.mark.parametrize("candidate", [STRONG_12, "railguard-dummy-password-for-timing"])
def test_a_malformed_stored_hash_verifies_nothing(kind: str, candidate: str) -> None:
    # Given a stored hash that is not a valid argon2 hash
    malformed = _malformed_hashes()[kind]
    # When a password is tried against it / Then the answer is False, not an exception
    assert verify_secret(malformed, candidate) is False


def test_an_unknown_account_costs_one_verification_like_a_wrong_password(
    counting_hasher: _CountingHasher, stored_hash: str
) -> None:
    # Given the hasher's verifications counted
    # When a password is tried against an unknown account (no stored hash)
    assert verify_secret(None, STRONG_12) is False
    # Then exactly one argon2 verification ran
    assert counting_hasher.verifications == 1
    # And a wrong password against a real hash costs the same single verification
    assert verify_secret(stored_hash, "not-the-password") is False
    assert counting_hasher.verifications == 2


class _HashCounter:
    """The module's hasher, with its hashes (not verifications) counted."""

    def __init__(self, inner: PasswordHasher):
        self._inner = inner
        self.hashes = 0

    def hash(self, secret: str) -> str:
        self.hashes += 1
        return self._inner.hash(secret)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


@pytest.mark.parametrize("known", [True, False], ids=["wrong_password", "unknown_account"])
def test_finding_6_on_a_cold_instance_a_known_and_an_unknown_account_cost_the_same(
    monkeypatch: pytest.MonkeyPatch, stored_hash: str, known: bool
) -> None:
    """Issue 16 finding 6 (second review): the dummy hash is made by an instance's first
    verification whichever account it is for, not by its first unknown account's."""
    # Given a cold instance (no dummy hash made yet) and the hasher's hashes counted
    passwords._dummy_hash.cache_clear()
    counter = _HashCounter(passwords._hasher)
    monkeypatch.setattr(passwords, "_hasher", counter)
    # When its first verification is of a wrong password, or against no account
    assert verify_secret(stored_hash if known else None, "not-the-password") is False
    # Then it made the one dummy hash either way, and the next verification makes none
    assert counter.hashes == 1
    assert verify_secret(stored_hash if known else None, "not-the-password") is False
    assert counter.hashes == 1
