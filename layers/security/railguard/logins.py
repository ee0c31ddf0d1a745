"""Logging in and staying logged in: credentials for a session, and the session's tokens.

An unknown email and a wrong password fail the same way, after the same work (a dummy argon2
verification), and both count against the account's and the source address's failure budgets.
"""

from __future__ import annotations

from dataclasses import dataclass

from railguard import passwords, tokens
from railguard.accounts import store_password_hash
from railguard.clock import Clock
from railguard.errors import InvalidCredentials
from railguard.sessions import SessionGrant, Sessions
from railguard.signing_keys import SigningKeyRing
from railguard.store import Table
from railguard.store import keys as item_keys
from railguard.throttle import LOGIN_FAILURES_PER_ACCOUNT, LOGIN_FAILURES_PER_IP, FailureThrottle


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int

    def __repr__(self) -> str:  # never let a token reach a log through repr()
        return f"TokenPair(expires_in={self.expires_in})"


@dataclass(frozen=True)
class ClientInfo:
    source_ip: str
    user_agent: str


class Logins:
    def __init__(
        self,
        table: Table,
        clock: Clock,
        *,
        signing_keys: SigningKeyRing,
        audience: tokens.TokenAudience,
    ):
        self._table = table
        self._clock = clock
        self._signing_keys = signing_keys
        self._audience = audience
        self._sessions = Sessions(table, clock)
        self._throttle = FailureThrottle(table, clock)

    def log_in(self, email: str, password: str, client: ClientInfo) -> TokenPair:
        """Tokens for a new session, given a correct email and password."""
        email = item_keys.normalize_email(email)
        account = (LOGIN_FAILURES_PER_ACCOUNT, item_keys.email_digest(email))
        address = (LOGIN_FAILURES_PER_IP, client.source_ip)
        self._throttle.reserve([account, address])
        if not passwords.within_length(password):
            raise InvalidCredentials  # cannot be right; never hashed (and counted as a failure)
        login = self._table.get(item_keys.login(email))
        # Verify first, whatever the lookup found: the unknown-account path must do the same work.
        verified = passwords.verify_secret(login["password_hash"] if login else None, password)
        if login is None or not verified:
            raise InvalidCredentials  # the reserved attempts stay counted as failures
        self._throttle.reset(*account)
        self._throttle.release(*address)
        if passwords.needs_rehash(login["password_hash"]):
            store_password_hash(self._table, email, login["password_hash"], password)  # best effort
        grant = self._sessions.start(
            login["user_id"],
            source_ip=client.source_ip,
            user_agent=client.user_agent,
            # The session exists only if the password it was granted for is still the current
            # one: a login racing a password change cannot outlive it.
            password_hash=login["password_hash"],
            email=email,
        )
        return self._tokens(grant)

    def refresh(self, refresh_token: str) -> TokenPair:
        return self._tokens(self._sessions.rotate(refresh_token))

    def log_out(self, refresh_token: str) -> None:
        self._sessions.end(refresh_token)

    def _tokens(self, grant: SessionGrant) -> TokenPair:
        access_token = tokens.issue_access_token(
            self._signing_keys.current(),
            self._audience,
            user_id=grant.user_id,
            session_id=grant.session_id,
            now=self._clock.now(),
        )
        return TokenPair(access_token, grant.refresh_token, tokens.ACCESS_TOKEN_TTL_SECONDS)
