"""The storage of accounts: the user's profile and the login item found by email.

The profile (`USER#<id> / PROFILE`) holds what `/me` shows, the `mfa_enabled` mirror of the TOTP
factor, and the session generation (`session_generation`, absent = 0) that a password or MFA
change advances to void the sessions started before it. The login (`EMAIL#<email> / LOGIN`)
holds the user id and the password hash, read together in one GetItem (docs/data-model.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from railguard.store import ConditionFailed, Item, Repository, TransactItem
from railguard.store.keys import login as login_key
from railguard.store.keys import user_profile as profile_key

# The attribute of a profile, a session and an MFA challenge that names their session generation.
GENERATION_ATTRIBUTE = "session_generation"


def generation_of(item: Item | None) -> int:
    """The session generation a profile is in, or a session or MFA challenge was started in
    (0 for items written before generations existed)."""
    return int((item or {}).get(GENERATION_ATTRIBUTE, 0))


def generation_is(generation: int) -> str:
    """The condition that an item's generation (`#gen`) is `:gen`."""
    return "(attribute_not_exists(#gen) OR #gen = :gen)" if generation == 0 else "#gen = :gen"


@dataclass(frozen=True)
class UserProfile:
    id: str
    email: str
    name: str
    mfa_enabled: bool
    generation: int = 0


@dataclass(frozen=True)
class Login:
    """An email's login: whose it is, and the hash of their password."""

    email: str
    user_id: str
    password_hash: str = field(repr=False)


class AccountRepository(Repository):
    # -- reads ---------------------------------------------------------------------------
    def profile(self, user_id: str) -> UserProfile | None:
        item = self._table.get(profile_key(user_id))
        return _profile(user_id, item) if item is not None else None

    def generation(self, user_id: str) -> int:
        """The user's session generation now (0 without a profile)."""
        return generation_of(self._table.get(profile_key(user_id)))

    def login(self, email: str) -> Login | None:
        item = self._table.get(login_key(email))
        return Login(email, item["user_id"], item["password_hash"]) if item is not None else None

    # -- a new account -------------------------------------------------------------------
    def creation(
        self,
        profile: UserProfile,
        password_hash: str,
        created_at: int,
        *,
        email_taken: Callable[[], Exception],
    ) -> list[TransactItem]:
        """The writes of a new account: its login, which fails as `email_taken` when the email
        has one, and its profile (a new id: it exists nowhere yet)."""
        login_pk, login_sk = login_key(profile.email)
        profile_pk, profile_sk = profile_key(profile.id)
        return [
            TransactItem.put(
                {
                    "pk": login_pk,
                    "sk": login_sk,
                    "user_id": profile.id,
                    "password_hash": password_hash,
                },
                condition="attribute_not_exists(pk)",
                fails_as=email_taken,
            ),
            TransactItem.put(
                {
                    "pk": profile_pk,
                    "sk": profile_sk,
                    "email": profile.email,
                    "name": profile.name,
                    "mfa_enabled": profile.mfa_enabled,
                    "created_at": created_at,
                },
                condition="attribute_not_exists(pk)",
            ),
        ]

    # -- the password --------------------------------------------------------------------
    def password_replacement(self, login: Login, password_hash: str) -> TransactItem:
        """The write of a new password hash, on condition that the login's hash is still the one
        read (`login`), so a concurrent change is never overwritten."""
        update, condition, values = _password_replacement(login.password_hash, password_hash)
        return TransactItem.update_item(login_key(login.email), update, condition, values=values)

    def replace_password_hash(self, login: Login, password_hash: str) -> bool:
        """The password replacement on its own; False when the hash changed meanwhile."""
        update, condition, values = _password_replacement(login.password_hash, password_hash)
        try:
            self._table.update(login_key(login.email), update, condition=condition, values=values)
        except ConditionFailed:
            return False
        return True

    def password_unchanged(self, email: str, password_hash: str) -> TransactItem:
        """The condition that the email's password hash is still `password_hash`."""
        return TransactItem.check(
            login_key(email), "password_hash = :verified", values={":verified": password_hash}
        )

    def login_names(self, email: str, user_id: str) -> TransactItem:
        """The condition that the email's login exists and is `user_id`'s."""
        return TransactItem.check(
            login_key(email), "user_id = :user_id", values={":user_id": user_id}
        )

    # -- the session generation ------------------------------------------------------------
    def in_generation(
        self, user_id: str, generation: int, *, mfa_off: bool = False
    ) -> TransactItem:
        """The condition that the user's sessions are still in `generation`: no password or MFA
        change has advanced it since it was read; and, `mfa_off`, that MFA is still off."""
        condition = "attribute_exists(pk) AND " + generation_is(generation)
        values: dict[str, Any] = {":gen": generation}
        if mfa_off:
            condition += " AND (attribute_not_exists(mfa_enabled) OR mfa_enabled = :off)"
            values[":off"] = False
        return TransactItem.check(
            profile_key(user_id), condition, names={"#gen": GENERATION_ATTRIBUTE}, values=values
        )

    def next_generation(self, user_id: str) -> TransactItem:
        """The write that voids every session of the user started so far (with a new password)."""
        return TransactItem.update_item(
            profile_key(user_id),
            "ADD #gen :one",
            condition="attribute_exists(pk)",
            names={"#gen": GENERATION_ATTRIBUTE},
            values={":one": 1},
        )

    def mfa_switch(self, user_id: str, generation: int, *, mfa_enabled: bool) -> TransactItem:
        """Turning MFA on or off: `mfa_enabled` written with the generation after `generation`,
        on condition that the profile is still in `generation`."""
        return TransactItem.update_item(
            profile_key(user_id),
            "SET #gen = :next, mfa_enabled = :mfa",
            "attribute_exists(pk) AND " + generation_is(generation),
            names={"#gen": GENERATION_ATTRIBUTE},
            values={":gen": generation, ":next": generation + 1, ":mfa": mfa_enabled},
        )


def _profile(user_id: str, item: Item) -> UserProfile:
    mfa_enabled = bool(item.get("mfa_enabled"))
    return UserProfile(user_id, item["email"], item["name"], mfa_enabled, generation_of(item))


def _password_replacement(previous_hash: str, new_hash: str) -> tuple[str, str, dict[str, str]]:
    return (
        "SET password_hash = :new",
        "password_hash = :previous",
        {":new": new_hash, ":previous": previous_hash},
    )
