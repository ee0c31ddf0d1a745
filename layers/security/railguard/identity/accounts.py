"""User accounts: signup, profile and password change.

Composes the password policy and hashing, the failure throttle and sessions; each dependency is
passed in. Logging in and tokens are `railguard.identity.logins`. A sign-up and a password change
are recorded in the user's own audit trail.

Sign-ups are limited per source address (`SIGNUPS_PER_ADDRESS`, an IPv6 address counting as its
/64), every attempt counted: each hashes a password and makes a workspace, and a refused email
(409) tells that it has an account.
"""

from __future__ import annotations

from typing import Any

from railguard.access.network import budget_subject
from railguard.access.throttle import (
    ACCOUNT_SUBJECT_KEY_NAME,
    FailureThrottle,
    ThrottleRule,
    account_budget,
)
from railguard.audit.trail import Actor, AppendRefused, AuditEvent, AuditTrail
from railguard.core.clock import Clock
from railguard.core.errors import Conflict, NotFound, ServiceUnavailable, WrongPassword
from railguard.core.runtime import Runtime
from railguard.crypto import passwords
from railguard.crypto.server_keys import KeyedHash
from railguard.identity.account_repository import AccountRepository, Login, UserProfile
from railguard.identity.sessions import Sessions
from railguard.kinds import USER
from railguard.store import Table
from railguard.store.keys import normalize_email
from railguard.workspaces import WorkspaceView, new_workspace

SIGNUPS_PER_ADDRESS = ThrottleRule("signup-ip", limit=10, window_seconds=3600)


class Accounts:
    def __init__(
        self, table: Table, clock: Clock, audit: AuditTrail, *, account_subjects: KeyedHash
    ):
        self._accounts = AccountRepository(table)
        self._clock = clock
        self._audit = audit
        self._account_subjects = account_subjects
        self._sessions = Sessions(table, clock, audit)
        self._throttle = FailureThrottle(table, clock)

    @classmethod
    def of_runtime(cls, runtime: Runtime[Any]) -> Accounts:
        """A function's accounts: its table, clock and audit trail, and the server key that
        names accounts' failure budgets."""
        return cls(
            runtime.table,
            runtime.clock,
            runtime.audit_trail,
            account_subjects=runtime.keyed_hash(ACCOUNT_SUBJECT_KEY_NAME),
        )

    # -- signup ------------------------------------------------------------------------
    def sign_up(
        self, email: str, password: str, name: str, *, source_ip: str
    ) -> tuple[UserProfile, WorkspaceView]:
        """A new user and their first workspace, owned by them, in one transaction; 429 after
        `SIGNUPS_PER_ADDRESS` attempts from the address of `source_ip`."""
        self._throttle.reserve(
            [(SIGNUPS_PER_ADDRESS, budget_subject(source_ip))],
            refusal="Too many sign-ups from this address; retry later.",
        )
        email = normalize_email(email)
        passwords.check_policy(password, context=[email, name])
        now = int(self._clock.now())
        profile = UserProfile(USER.new_id(), email, name, mfa_enabled=False)
        user_id = profile.id
        workspace, workspace_writes = new_workspace(f"{name}'s workspace", user_id, now)
        # The account, its workspace and both events in one transaction: the user's trail
        # starts with the sign-up, the workspace's with its creation, as any other's does.
        events = [
            AuditEvent(
                "user.signed_up",
                Actor.user(user_id),
                user_id,
                details={"workspace_id": workspace.id},
            ),
            AuditEvent(
                "workspace.created",
                Actor.user(user_id),
                workspace.id,
                workspace.id,
                {"name": workspace.name},
            ),
        ]
        try:
            self._audit.append_all(
                events,
                [
                    *self._accounts.creation(
                        profile,
                        passwords.hash_secret(password),
                        now,
                        email_taken=lambda: Conflict(
                            "An account with this email exists.", details={"field": "email"}
                        ),
                    ),
                    *workspace_writes,
                ],
            )
        except AppendRefused:
            # A new id taken already (the profile's, the workspace's): nothing was written, and
            # a retry draws new ones.
            raise ServiceUnavailable from None
        return profile, workspace

    # -- the signed-in user ------------------------------------------------------------
    def profile(self, user_id: str) -> UserProfile:
        profile = self._accounts.profile(user_id)
        if profile is None:
            raise NotFound("No such user.")
        return profile

    def confirm_password(
        self, user_id: str, password: str, *, field: str = "current_password"
    ) -> tuple[UserProfile, Login]:
        """The signed-in user's profile and login, if `password` is their password; else
        `WrongPassword`. For actions a stolen access token alone must not be able to do."""
        passwords.check_length(password, field=field)
        profile = self.profile(user_id)
        # A stolen access token must not become a password oracle: same budget as logins.
        account = account_budget(self._account_subjects, profile.email)
        reservation = self._throttle.reserve([account])
        login = self._accounts.login(profile.email)
        if login is None or not passwords.verify_secret(login.password_hash, password):
            raise WrongPassword  # the reserved attempt stays counted as a failure
        self._throttle.release(reservation)
        return profile, login

    def change_password(self, user_id: str, current_password: str, new_password: str) -> None:
        """Replace the password and end every session of the user, this one included.

        One transaction stores the new hash, advances the user's session generation (which
        voids every session started so far, for the authorizer and refresh alike) and records
        `user.password_changed`: all three or none; but a trail that cannot take the event does
        not stop the change (`append_protecting`: it is what ends a thief's sessions). Revoking
        the sessions one by one afterwards only tidies their status; nothing depends on it
        finishing."""
        profile, login = self.confirm_password(user_id, current_password)
        passwords.check_policy(
            new_password, context=[profile.email, profile.name], field="new_password"
        )
        try:
            self._audit.append_protecting(
                AuditEvent("user.password_changed", Actor.user(user_id), user_id),
                [
                    # Only over the hash just verified: a concurrent change is never overwritten.
                    self._accounts.password_replacement(login, passwords.hash_secret(new_password)),
                    self._accounts.next_generation(user_id),
                ],
            )
        except AppendRefused:
            raise Conflict("The password was changed at the same time; retry.") from None
        self._sessions.end_all(user_id)
