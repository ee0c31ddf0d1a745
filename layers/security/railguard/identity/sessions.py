"""Sessions and their rotating refresh tokens.

A login starts a session (the token family); the session id is the `sid` claim of every access
token issued under it, and the authorizer refuses tokens whose session is no longer active. A
refresh token is opaque (256 random bits), stored only as its SHA-256 digest, and single use: a
refresh spends it in a transaction whose condition is that it is still active, so of concurrent
refreshes exactly one wins. Presenting a spent token again is taken as theft (RFC 9700 §4.14):
the whole session is revoked, and recorded (`auth.refresh_reused`, in the user's trail). Sessions
live at most 30 days from login, whatever the refreshes. A logout that ends a session is recorded
(`auth.logged_out`). Each of these events, and a login's (`auth.login_succeeded`), is appended in
the transaction that starts or ends the session: no session starts without its event (an end
may, below).

A password change ends every session at once, whatever becomes of the rest of the change: the user's
profile holds a session generation, which the change advances in the write that stores the new hash.
A session carries its generation (the one it was started in, unless an MFA change moved it along),
and is started on condition that it is still the profile's; the authorizer (`is_valid`) and a
refresh refuse a session of an earlier generation. A counter, not a time: a session started in the
same second as a change, before it, is refused, and one started after it is not, whatever the clocks
of the instances involved say (docs/security.md). Turning MFA on or off advances the generation the
same way, in its own transaction, and moves the caller's session along (`switching_mfa`):
every other session ends with the change, whatever becomes of the revocations one by one that follow
it.

A session started with the password alone is also conditioned on MFA being off still, in the same
check of the profile: a login that read the profile before MFA was turned on gets no session.

Acts that protect the user (a logout, a reused refresh token ending its session, a password
change) go through when their event cannot be stored (`AuditTrail.append_protecting`): breaking a
trail must not keep a stolen session alive.

Storage: `railguard.identity.session_repository` (sessions, refresh tokens) and the profile's
generation in `railguard.identity.account_repository`.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from railguard.audit.trail import Actor, AppendRefused, AuditEvent, AuditTrail
from railguard.core.clock import Clock
from railguard.core.errors import InvalidCredentials, InvalidRefreshToken
from railguard.identity.account_repository import AccountRepository
from railguard.identity.session_repository import (
    RefreshToken,
    Session,
    SessionRepository,
)
from railguard.kinds import SESSION
from railguard.store import Table, TransactionConflict, TransactItem

REFRESH_TOKEN_PREFIX = "rgr_"  # noqa: S105 - a prefix, not a secret
SESSION_LIFETIME_SECONDS = 30 * 24 * 3600
_REFRESH_TOKEN_SHAPE = re.compile(r"^rgr_[A-Za-z0-9_-]{43}$")


@dataclass(frozen=True)
class SessionGrant:
    user_id: str
    session_id: str
    refresh_token: str
    expires_at: int

    def __repr__(self) -> str:
        return f"SessionGrant(user_id={self.user_id!r}, session_id={self.session_id!r})"


def _digest(refresh_token: str) -> str:
    return hashlib.sha256(refresh_token.encode()).hexdigest()


def _new_refresh_token() -> str:
    return REFRESH_TOKEN_PREFIX + secrets.token_urlsafe(32)


class Sessions:
    def __init__(self, table: Table, clock: Clock, audit: AuditTrail):
        self._clock = clock
        self._audit = audit
        self._table = table
        self._sessions = SessionRepository(table)
        self._accounts = AccountRepository(table)

    def start(
        self,
        user_id: str,
        *,
        source_ip: str,
        user_agent: str,
        email: str,
        password_hash: str,
        generation: int,
        spending: TransactItem | None = None,
        details: Mapping[str, str] | None = None,
    ) -> SessionGrant:
        """A new session, on condition that `password_hash` is still the user's password and
        `generation` their sessions' generation, so a login racing a password change cannot
        outlive it; and, when given, that `spending` (the write that uses up what the session
        was granted for: an MFA challenge) applies with it; without, that MFA is still off, so
        a login racing MFA's enabling cannot outlive it either. Recorded as
        `auth.login_succeeded` (with `details`) in the same transaction."""
        now = int(self._clock.now())
        session = Session(SESSION.new_id(), "active", now + SESSION_LIFETIME_SECONDS, generation)
        token = _new_refresh_token()
        event = AuditEvent(
            "auth.login_succeeded",
            Actor.user(user_id),
            user_id,
            details={"session_id": session.session_id, **(details or {})},
        )
        try:
            self._audit.append(
                event,
                [
                    self._accounts.password_unchanged(email, password_hash),
                    self._accounts.in_generation(user_id, generation, mfa_off=spending is None),
                    *self._sessions.start(
                        user_id,
                        session,
                        _digest(token),
                        created_at=now,
                        source_ip=source_ip,
                        user_agent=user_agent[:256],
                    ),
                    *([spending] if spending is not None else []),
                ],
            )
        except AppendRefused:
            raise InvalidCredentials from None
        return SessionGrant(user_id, session.session_id, token, session.expires_at)

    def _find(self, refresh_token: str) -> RefreshToken | None:
        if not _REFRESH_TOKEN_SHAPE.match(refresh_token):
            return None
        return self._sessions.refresh_token(_digest(refresh_token))

    def rotate(self, refresh_token: str, *, source_ip: str) -> SessionGrant:
        """Spend `refresh_token` for a new one in the same session, or `InvalidRefreshToken`.
        `source_ip` names whoever presented a spent token, in the record of the reuse."""
        now = int(self._clock.now())
        current = self._find(refresh_token)
        if current is None or current.expires_at <= now:
            raise InvalidRefreshToken
        if current.status != "active":
            self._reused(current, source_ip)
            raise InvalidRefreshToken
        user_id, session_id = current.user_id, current.session_id
        # The session's generation, not the token's: an MFA change moves the caller's session
        # into the next generation, and its refresh token with it.
        session = self._sessions.session(user_id, session_id)
        generation = session.generation if session is not None else 0
        replacement = _new_refresh_token()
        try:
            self._table.transact(
                [
                    self._sessions.spending(current, now),
                    self._sessions.still_active(user_id, session_id, generation, now),
                    # No password or MFA change since then, whatever else it did.
                    self._accounts.in_generation(user_id, generation),
                    self._sessions.new_refresh_token(
                        _digest(replacement), user_id, session_id, current.expires_at
                    ),
                ]
            )
        except TransactionConflict as conflict:
            # Lost a race for this token (or the session ended): if the token is spent now,
            # someone else presented it too, which is reuse.
            latest = self._find(refresh_token)
            if latest is not None and latest.status != "active":
                self._reused(latest, source_ip)
            raise InvalidRefreshToken from conflict
        return SessionGrant(user_id, session_id, replacement, current.expires_at)

    def end(self, refresh_token: str) -> None:
        """Log out: the token's session stops, whatever state the token is in. Recorded when it
        ended a session; a session already over changes nothing and records nothing."""
        current = self._find(refresh_token)
        if current is None:
            return
        user_id, session_id = current.user_id, current.session_id
        self._revoke(
            user_id,
            session_id,
            AuditEvent(
                "auth.logged_out", Actor.user(user_id), user_id, details={"session_id": session_id}
            ),
        )

    def switching_mfa(
        self, user_id: str, keeping: str | None, *, mfa_enabled: bool
    ) -> list[TransactItem]:
        """The writes that turn MFA on or off (`mfa_enabled` on the profile) and end every
        session of the user but `keeping` (the caller's, moved into the next generation with the
        profile), for a change that must end the other sessions in its own transaction. They
        fail their conditions if the generation moved since it is read here, or `keeping` is not
        an active session of it."""
        generation = self._accounts.generation(user_id)
        writes = [self._accounts.mfa_switch(user_id, generation, mfa_enabled=mfa_enabled)]
        if keeping is not None:
            writes.append(self._sessions.moving_to_next_generation(user_id, keeping, generation))
        return writes

    def end_all(self, user_id: str, *, except_session: str | None = None) -> int:
        """Revoke every active session of the user but `except_session`; returns how many."""
        now = self._clock.now()
        revoked = 0
        for session in self._sessions.sessions_of(user_id):
            if session.is_active(now) and session.session_id != except_session:
                self._revoke(user_id, session.session_id)
                revoked += 1
        return revoked

    def _reused(self, token: RefreshToken, source_ip: str) -> None:
        """A spent token presented again: taken as theft, so its whole session ends, and that is
        recorded (by whoever it was: the presenter proved nothing). Only the presentation that
        ends the session is: later ones change nothing, and anyone holding a spent token could
        otherwise grow the user's trail without bound."""
        user_id, session_id = token.user_id, token.session_id
        self._revoke(
            user_id,
            session_id,
            AuditEvent(
                "auth.refresh_reused",
                Actor("anonymous", source_ip),
                user_id,
                details={"session_id": session_id},
            ),
        )

    def _revoke(self, user_id: str, session_id: str, event: AuditEvent | None = None) -> bool:
        """End an active session, with `event` in the same transaction when given (the act of
        its own: a logout, a reuse; not one of many ends of a password change or MFA change,
        recorded as that change); False when there was none (missing, or already revoked)."""
        now = int(self._clock.now())
        if event is None:
            return self._sessions.revoke(user_id, session_id, now)
        try:
            # Protective: it happens even when the trail cannot take its event.
            self._audit.append_protecting(
                event, [self._sessions.revoking(user_id, session_id, now)]
            )
        except AppendRefused:
            return False  # no such session, or it was over already: nothing left to revoke
        return True
