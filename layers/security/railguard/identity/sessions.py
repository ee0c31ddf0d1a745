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
same way, in its own transaction, and moves the caller's session along (`advancing_generation`):
every other session ends with the change, whatever becomes of the revocations one by one that follow
it.

A session started with the password alone is also conditioned on MFA being off still, in the same
check of the profile: a login that read the profile before MFA was turned on gets no session.

Acts that protect the user (a logout, a reused refresh token ending its session, a password
change) go through when their event cannot be stored (`AuditTrail.append_protecting`): breaking a
trail must not keep a stolen session alive.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from railguard.audit.trail import Actor, AppendRefused, AuditEvent, AuditTrail
from railguard.core.clock import Clock
from railguard.core.errors import InvalidCredentials, InvalidRefreshToken
from railguard.core.ids import new_id
from railguard.store import ConditionFailed, Item, Table, TransactionConflict, TransactItem
from railguard.store import keys as item_keys

REFRESH_TOKEN_PREFIX = "rgr_"  # noqa: S105 - a prefix, not a secret
SESSION_LIFETIME_SECONDS = 30 * 24 * 3600
# Items outlive their session a little so a late reuse is still recognised as reuse.
_TTL_SLACK_SECONDS = 7 * 24 * 3600
_REFRESH_TOKEN_SHAPE = re.compile(r"^rgr_[A-Za-z0-9_-]{43}$")
GENERATION_ATTRIBUTE = "session_generation"


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


def _refresh_item(token: str, user_id: str, session_id: str, expires_at: int) -> Item:
    pk, sk = item_keys.refresh_token(_digest(token))
    return {
        "pk": pk,
        "sk": sk,
        "user_id": user_id,
        "session_id": session_id,
        "status": "active",
        "expires_at": expires_at,
        "ttl": expires_at + _TTL_SLACK_SECONDS,
        **item_keys.sweep_index(pk, expires_at + _TTL_SLACK_SECONDS),
    }


def is_active(session: Item | None, now: float) -> bool:
    return session is not None and session["status"] == "active" and session["expires_at"] > now


def generation_of(item: Item | None) -> int:
    """The session generation a profile is in, or a session or MFA challenge was started in
    (0 for items written before generations existed)."""
    return int((item or {}).get(GENERATION_ATTRIBUTE, 0))


def is_valid(session: Item | None, profile: Item | None, now: float) -> bool:
    """Whether a session may still act: active, unexpired, and started in the profile's current
    generation (no password change since). A missing profile (account gone) voids it too."""
    return (
        is_active(session, now)
        and profile is not None
        and generation_of(session) >= generation_of(profile)
    )


def _generation_is(generation: int) -> str:
    """The condition that an item's generation (`#gen`) is `:gen`."""
    return "(attribute_not_exists(#gen) OR #gen = :gen)" if generation == 0 else "#gen = :gen"


def in_generation(user_id: str, generation: int, *, mfa_off: bool = False) -> TransactItem:
    """The condition that the user's sessions are still in `generation`: no password or MFA
    change has advanced it since it was read; and, `mfa_off`, that MFA is still off."""
    condition = "attribute_exists(pk) AND " + _generation_is(generation)
    values: dict[str, Any] = {":gen": generation}
    if mfa_off:
        condition += " AND (attribute_not_exists(mfa_enabled) OR mfa_enabled = :off)"
        values[":off"] = False
    return TransactItem.check(
        item_keys.user_profile(user_id),
        condition,
        names={"#gen": GENERATION_ATTRIBUTE},
        values=values,
    )


def next_generation(user_id: str) -> TransactItem:
    """The write that voids every session of the user started so far (with a new password)."""
    return TransactItem.update_item(
        item_keys.user_profile(user_id),
        "ADD #gen :one",
        condition="attribute_exists(pk)",
        names={"#gen": GENERATION_ATTRIBUTE},
        values={":one": 1},
    )


class Sessions:
    def __init__(self, table: Table, clock: Clock, audit: AuditTrail):
        self._table = table
        self._clock = clock
        self._audit = audit

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
        session_id = new_id("ses")
        expires_at = now + SESSION_LIFETIME_SECONDS
        token = _new_refresh_token()
        pk, sk = item_keys.session(user_id, session_id)
        session = {
            "pk": pk,
            "sk": sk,
            "status": "active",
            "created_at": now,
            "expires_at": expires_at,
            GENERATION_ATTRIBUTE: generation,
            "ttl": expires_at + _TTL_SLACK_SECONDS,
            **item_keys.sweep_index(pk, expires_at + _TTL_SLACK_SECONDS),
            "source_ip": source_ip,
            "user_agent": user_agent[:256],
        }
        event = AuditEvent(
            "auth.login_succeeded",
            Actor.user(user_id),
            user_id,
            details={"session_id": session_id, **(details or {})},
        )
        try:
            self._audit.append(
                event,
                [
                    TransactItem.check(
                        item_keys.login(email),
                        "password_hash = :verified",
                        values={":verified": password_hash},
                    ),
                    in_generation(user_id, generation, mfa_off=spending is None),
                    TransactItem.put(session, condition="attribute_not_exists(pk)"),
                    TransactItem.put(
                        _refresh_item(token, user_id, session_id, expires_at),
                        condition="attribute_not_exists(pk)",
                    ),
                    *([spending] if spending is not None else []),
                ],
            )
        except AppendRefused:
            raise InvalidCredentials from None
        return SessionGrant(user_id, session_id, token, expires_at)

    def _find(self, refresh_token: str) -> Item | None:
        if not _REFRESH_TOKEN_SHAPE.match(refresh_token):
            return None
        return self._table.get(item_keys.refresh_token(_digest(refresh_token)))

    def rotate(self, refresh_token: str, *, source_ip: str) -> SessionGrant:
        """Spend `refresh_token` for a new one in the same session, or `InvalidRefreshToken`.
        `source_ip` names whoever presented a spent token, in the record of the reuse."""
        now = int(self._clock.now())
        current = self._find(refresh_token)
        if current is None or current["expires_at"] <= now:
            raise InvalidRefreshToken
        if current["status"] != "active":
            self._reused(current, source_ip)
            raise InvalidRefreshToken
        user_id, session_id = current["user_id"], current["session_id"]
        # The session's generation, not the token's: an MFA change moves the caller's session
        # into the next generation, and its refresh token with it.
        generation = generation_of(self._table.get(item_keys.session(user_id, session_id)))
        replacement = _new_refresh_token()
        try:
            self._table.transact(
                [
                    TransactItem.update_item(
                        (current["pk"], current["sk"]),
                        "SET #status = :spent, spent_at = :now",
                        condition="#status = :active",
                        names={"#status": "status"},
                        values={":spent": "spent", ":active": "active", ":now": now},
                    ),
                    TransactItem.check(
                        item_keys.session(user_id, session_id),
                        "#status = :active AND expires_at > :now AND " + _generation_is(generation),
                        names={"#status": "status", "#gen": GENERATION_ATTRIBUTE},
                        values={":active": "active", ":now": now, ":gen": generation},
                    ),
                    # No password or MFA change since then, whatever else it did.
                    in_generation(user_id, generation),
                    TransactItem.put(
                        _refresh_item(replacement, user_id, session_id, current["expires_at"]),
                        condition="attribute_not_exists(pk)",
                    ),
                ]
            )
        except TransactionConflict as conflict:
            # Lost a race for this token (or the session ended): if the token is spent now,
            # someone else presented it too, which is reuse.
            latest = self._find(refresh_token)
            if latest is not None and latest["status"] != "active":
                self._reused(latest, source_ip)
            raise InvalidRefreshToken from conflict
        return SessionGrant(user_id, session_id, replacement, current["expires_at"])

    def end(self, refresh_token: str) -> None:
        """Log out: the token's session stops, whatever state the token is in. Recorded when it
        ended a session; a session already over changes nothing and records nothing."""
        current = self._find(refresh_token)
        if current is None:
            return
        user_id, session_id = current["user_id"], current["session_id"]
        self._revoke(
            user_id,
            session_id,
            AuditEvent(
                "auth.logged_out", Actor.user(user_id), user_id, details={"session_id": session_id}
            ),
        )

    def advancing_generation(
        self, user_id: str, keeping: str | None, *, also_set: Mapping[str, Any]
    ) -> list[TransactItem]:
        """The writes that end every session of the user but `keeping` (the caller's, moved into
        the next generation with the profile), writing `also_set` on the profile in the same
        update: for a change that must end the other sessions in its own transaction. They fail
        their conditions if the generation moved since it is read here, or `keeping` is not an
        active session of it."""
        generation = generation_of(self._table.get(item_keys.user_profile(user_id)))
        values: dict[str, Any] = {":gen": generation, ":next": generation + 1}
        names = {"#gen": GENERATION_ATTRIBUTE}
        assignments = ["#gen = :next"]
        for number, (name, value) in enumerate(also_set.items()):
            names[f"#set{number}"], values[f":set{number}"] = name, value
            assignments.append(f"#set{number} = :set{number}")
        writes = [
            TransactItem.update_item(
                item_keys.user_profile(user_id),
                "SET " + ", ".join(assignments),
                "attribute_exists(pk) AND " + _generation_is(generation),
                names=names,
                values=values,
            )
        ]
        if keeping is not None:
            writes.append(
                TransactItem.update_item(
                    item_keys.session(user_id, keeping),
                    "SET #gen = :next",
                    "#status = :active AND " + _generation_is(generation),
                    names={"#gen": GENERATION_ATTRIBUTE, "#status": "status"},
                    values={":gen": generation, ":next": generation + 1, ":active": "active"},
                )
            )
        return writes

    def end_all(self, user_id: str, *, except_session: str | None = None) -> int:
        """Revoke every active session of the user but `except_session`; returns how many."""
        now = self._clock.now()
        revoked, cursor = 0, None
        while True:
            page = self._table.query(
                item_keys.user_partition(user_id),
                sk_prefix=item_keys.SESSION_PREFIX,
                limit=100,
                cursor=cursor,
            )
            for session in page.items:
                session_id = session["sk"].removeprefix(item_keys.SESSION_PREFIX)
                if is_active(session, now) and session_id != except_session:
                    self._revoke(user_id, session_id)
                    revoked += 1
            cursor = page.next_cursor
            if cursor is None:
                return revoked

    def _reused(self, token_item: Item, source_ip: str) -> None:
        """A spent token presented again: taken as theft, so its whole session ends, and that is
        recorded (by whoever it was: the presenter proved nothing). Only the presentation that
        ends the session is: later ones change nothing, and anyone holding a spent token could
        otherwise grow the user's trail without bound."""
        user_id, session_id = token_item["user_id"], token_item["session_id"]
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
        key = item_keys.session(user_id, session_id)
        update = "SET #status = :revoked, revoked_at = :now"
        condition = "#status = :active"
        names = {"#status": "status"}
        values = {":revoked": "revoked", ":active": "active", ":now": int(self._clock.now())}
        try:
            if event is None:
                self._table.update(key, update, condition=condition, names=names, values=values)
            else:
                # Protective: it happens even when the trail cannot take its event.
                self._audit.append_protecting(
                    event,
                    [TransactItem.update_item(key, update, condition, names=names, values=values)],
                )
        except (ConditionFailed, AppendRefused):
            return False  # no such session, or it was over already: nothing left to revoke
        return True
