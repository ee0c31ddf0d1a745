"""Logging in and staying logged in: credentials for a session, and the session's tokens.

An unknown email and a wrong password fail the same way, after the same work: the same DynamoDB
and KMS calls in the same order, and one argon2 verification each (a dummy one for an unknown
email). Both count against the account's and the source address's failure budgets (an IPv6
address counts as its /64: `railguard.access.network.budget_subject`), and both append
`auth.login_failed`, on condition that the email's login item names the user: for an unknown
email, a new user id of its own (no login item names it), so that transaction is refused and
nothing is stored, and no two attempts share an item to contend for. What remains different is
DynamoDB's own: a transaction that commits may take longer than one that is cancelled.

A user with MFA on gets no session for the password alone but an MFA challenge: an opaque,
single-use `mfa_token` (`rgm_...`, stored as its digest, 5 minutes) that `complete_mfa`
exchanges, with a TOTP or recovery code, for the session. It is not a JWT, so nothing that
accepts access or refresh tokens accepts it. The session is started in the transaction that
spends the challenge, on condition that the password is still the one the challenge was
issued for.

Audited in the user's trail: each login that starts a session (`auth.login_succeeded`), and each
wrong password or wrong MFA code for an existing account (`auth.login_failed`, with the reason).
An unknown email has no trail to record to (see above). Attempts refused by the failure budget
(429) are not recorded: their number has no bound, so recording them would let anyone grow a
user's trail without limit.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field

from railguard.access.network import budget_subject
from railguard.access.throttle import (
    LOGIN_FAILURES_PER_IP,
    FailureThrottle,
    Subject,
    account_budget,
)
from railguard.audit.trail import Actor, AuditEvent, AuditTrail
from railguard.core.clock import Clock
from railguard.core.errors import (
    InvalidCredentials,
    InvalidMfaCode,
    InvalidMfaToken,
    RailguardError,
)
from railguard.crypto import opaque_tokens, passwords, tokens
from railguard.crypto.envelope import Envelope
from railguard.crypto.server_keys import KeyedHash
from railguard.crypto.signing_keys import SigningKeyRing
from railguard.identity.account_repository import AccountRepository, Login
from railguard.identity.mfa import SecondFactors
from railguard.identity.mfa_repository import LoginChallenge, MfaRepository
from railguard.identity.sessions import SessionGrant, Sessions
from railguard.kinds import USER
from railguard.store import Table
from railguard.store.keys import normalize_email


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    refresh_expires_in: int  # seconds the refresh token has left (its session's remaining life)

    def __repr__(self) -> str:  # never let a token reach a log through repr()
        return f"TokenPair(expires_in={self.expires_in})"


MFA_TOKEN_PREFIX = "rgm_"  # noqa: S105 - a prefix, not a secret
MFA_TOKEN_TTL_SECONDS = 300


@dataclass(frozen=True)
class MfaChallenge:
    mfa_token: str = field(repr=False)  # never let a token reach a log through repr()
    expires_in: int


def _fingerprint(password_hash: str) -> str:
    """Names the password a challenge was issued for without keeping a copy of its hash."""
    return hashlib.sha256(password_hash.encode()).hexdigest()


@dataclass(frozen=True)
class ClientInfo:
    source_ip: str
    user_agent: str

    def address_budget(self) -> Subject:
        """The failure budget of the client's address (its /64 for IPv6)."""
        return (LOGIN_FAILURES_PER_IP, budget_subject(self.source_ip))


class Logins:
    def __init__(
        self,
        table: Table,
        clock: Clock,
        *,
        signing_keys: SigningKeyRing,
        audience: tokens.TokenAudience,
        envelope: Envelope,
        audit: AuditTrail,
        account_subjects: KeyedHash,
    ):
        self._accounts = AccountRepository(table)
        self._challenges = MfaRepository(table)
        self._clock = clock
        self._signing_keys = signing_keys
        self._audience = audience
        self._audit = audit
        self._account_subjects = account_subjects
        self._sessions = Sessions(table, clock, audit)
        self._throttle = FailureThrottle(table, clock)
        self._second_factors = SecondFactors(table, envelope, clock, audit)

    def log_in(self, email: str, password: str, client: ClientInfo) -> TokenPair | MfaChallenge:
        """Tokens for a new session, given a correct email and password; for a user with MFA
        on, the challenge to answer with a code instead."""
        email = normalize_email(email)
        account = account_budget(self._account_subjects, email)
        address = client.address_budget()
        reservation = self._throttle.reserve([account, address])
        login = self._accounts.login(email)
        if not passwords.within_length(password):
            # Cannot be right; never hashed (and counted as a failure).
            self._failed(email, login, "wrong_password", client)
            raise InvalidCredentials
        # Verify first, whatever the lookup found: the unknown-account path must do the same work.
        verified = passwords.verify_secret(login.password_hash if login else None, password)
        if login is None or not verified:
            self._failed(email, login, "wrong_password", client)
            raise InvalidCredentials  # the reserved attempts stay counted as failures
        self._throttle.clear(reservation.of(account))
        self._throttle.release(reservation.of(address))
        if passwords.needs_rehash(login.password_hash):
            # Best effort: a re-hash of the same password, with today's parameters.
            self._accounts.replace_password_hash(login, passwords.hash_secret(password))
            login = self._accounts.login(email) or login
        profile = self._accounts.profile(login.user_id)
        generation = profile.generation if profile is not None else 0
        if profile is not None and profile.mfa_enabled:
            return self._challenge(login, generation)
        grant = self._sessions.start(
            login.user_id,
            source_ip=client.source_ip,
            user_agent=client.user_agent,
            # The session exists only if the password it was granted for is still the current
            # one: a login racing a password change cannot outlive it.
            password_hash=login.password_hash,
            generation=generation,
            email=email,
        )
        return self._tokens(grant)

    def _failed(
        self, email: str, account: Login | LoginChallenge | None, reason: str, client: ClientInfo
    ) -> None:
        """Record a failed attempt on an existing account, by whoever sent it (they proved
        nothing). For an unknown email the same calls are made, against a user id drawn for
        this attempt (a trail nobody else touches), whose condition fails: nothing is stored."""
        user_id = account.user_id if account is not None else USER.new_id()
        self._audit.record(
            AuditEvent(
                "auth.login_failed",
                Actor("anonymous", client.source_ip),
                user_id,
                details={"reason": reason},
            ),
            provided=[self._accounts.login_names(email, user_id)],
        )

    def _challenge(self, login: Login, generation: int) -> MfaChallenge:
        token = opaque_tokens.new_token(MFA_TOKEN_PREFIX)
        now = int(self._clock.now())
        self._challenges.put_challenge(
            opaque_tokens.digest(token),
            LoginChallenge(
                login.user_id,
                login.email,
                _fingerprint(login.password_hash),
                generation,
                "pending",
                now + MFA_TOKEN_TTL_SECONDS,
            ),
        )
        return MfaChallenge(token, MFA_TOKEN_TTL_SECONDS)

    def complete_mfa(self, mfa_token: str, code: str, client: ClientInfo) -> TokenPair:
        """Tokens for the session of a login's MFA challenge, given a TOTP or recovery code.
        A wrong code leaves the challenge usable (within the failure budget); a used, expired
        or unknown one, or one issued before a password change, is `InvalidMfaToken`."""
        now = int(self._clock.now())
        if not opaque_tokens.is_well_formed(mfa_token, MFA_TOKEN_PREFIX):
            raise InvalidMfaToken  # an access or refresh token among them: no lookup at all
        digest = opaque_tokens.digest(mfa_token)
        challenge = self._challenges.challenge(digest)
        if challenge is None or not challenge.is_pending(now):
            raise InvalidMfaToken
        user_id = challenge.user_id
        factor = self._second_factors.spend(user_id, code, also_throttled=[client.address_budget()])
        if factor is None:
            self._failed(challenge.email, challenge, "wrong_mfa_code", client)
            raise InvalidMfaCode
        login = self._accounts.login(challenge.email)
        if login is None or not hmac.compare_digest(
            _fingerprint(login.password_hash), challenge.password_fingerprint
        ):
            raise InvalidMfaToken
        try:
            grant = self._sessions.start(
                user_id,
                source_ip=client.source_ip,
                user_agent=client.user_agent,
                password_hash=login.password_hash,
                generation=challenge.generation,
                email=challenge.email,
                spending=self._challenges.challenge_spending(digest, now),
                details={"second_factor": factor},
            )
        except InvalidCredentials:
            raise InvalidMfaToken from None  # spent by a concurrent answer, or expired meanwhile
        return self._tokens(grant)

    def refresh(self, refresh_token: str, client: ClientInfo) -> TokenPair:
        return self._tokens(self._sessions.rotate(refresh_token, source_ip=client.source_ip))

    def log_out(self, *refresh_tokens: str) -> None:
        """End the session of each token (a browser may present several cookies). Each is
        ended on its own: one that cannot be ended now (a busy trail, a throttled table) does
        not keep the others alive; the first such failure is raised once all were tried."""
        failures: list[RailguardError] = []
        for refresh_token in refresh_tokens:
            try:
                self._sessions.end(refresh_token)
            except RailguardError as failure:
                failures.append(failure)
        if failures:
            raise failures[0]

    def _tokens(self, grant: SessionGrant) -> TokenPair:
        access_token = tokens.issue_access_token(
            self._signing_keys.current(),
            self._audience,
            user_id=grant.user_id,
            session_id=grant.session_id,
            now=self._clock.now(),
        )
        return TokenPair(
            access_token,
            grant.refresh_token,
            tokens.ACCESS_TOKEN_TTL_SECONDS,
            refresh_expires_in=max(0, grant.expires_at - int(self._clock.now())),
        )
