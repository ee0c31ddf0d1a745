"""The storage of sessions and their refresh tokens.

A session is `USER#<id> / SESSION#<session_id>`: its status (`active`, `revoked`), absolute
expiry and the session generation it is in. A refresh token is `REFRESH#<sha256> / TOKEN`: its
session and status (`active`, `spent`). Both carry a TTL past their expiry, so that a late reuse
of a spent token is still recognised (docs/data-model.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from railguard.identity.account_repository import (
    GENERATION_ATTRIBUTE,
    generation_is,
    generation_of,
)
from railguard.store import ConditionFailed, Item, ItemKey, Repository, TransactItem
from railguard.store.keys import SESSION_PREFIX, sweep_index, user_partition
from railguard.store.keys import session as session_key

# Items outlive their session a little so a late reuse is still recognised as reuse.
_TTL_SLACK_SECONDS = 7 * 24 * 3600

_STATUS = {"#status": "status"}


def refresh_token_key(token_digest: str) -> ItemKey:
    return (f"REFRESH#{token_digest}", "TOKEN")


@dataclass(frozen=True)
class Session:
    """A session of a user (the user is its partition)."""

    session_id: str
    status: str
    expires_at: int
    generation: int

    def is_active(self, now: float) -> bool:
        return self.status == "active" and self.expires_at > now


def session_of(item: Item) -> Session:
    """A session item as read (by the authorizer's batch read, among others)."""
    return Session(
        item["sk"].removeprefix(SESSION_PREFIX),
        item["status"],
        item["expires_at"],
        generation_of(item),
    )


def is_valid(session: Item | None, profile: Item | None, now: float) -> bool:
    """Whether a session may still act: active, unexpired, and started in the profile's current
    generation (no password change since). A missing profile (account gone) voids it too."""
    if session is None or profile is None:
        return False
    record = session_of(session)
    return record.is_active(now) and record.generation >= generation_of(profile)


@dataclass(frozen=True)
class RefreshToken:
    digest: str = field(repr=False)  # the token's digest keys its item: never logged
    user_id: str
    session_id: str
    status: str
    expires_at: int


class SessionRepository(Repository):
    # -- reads ---------------------------------------------------------------------------
    def session(self, user_id: str, session_id: str) -> Session | None:
        item = self._table.get(session_key(user_id, session_id))
        return session_of(item) if item is not None else None

    def sessions_of(self, user_id: str) -> Iterator[Session]:
        """Every session of the user, page by page."""
        for item in self._table.iterate(user_partition(user_id), sk_prefix=SESSION_PREFIX):
            yield session_of(item)

    def refresh_token(self, digest: str) -> RefreshToken | None:
        item = self._table.get(refresh_token_key(digest))
        return _refresh_token(digest, item) if item is not None else None

    # -- writes --------------------------------------------------------------------------
    def start(
        self,
        user_id: str,
        session: Session,
        refresh_digest: str,
        *,
        created_at: int,
        source_ip: str,
        user_agent: str,
    ) -> list[TransactItem]:
        """The writes of a new session and its first refresh token (new ids: neither exists)."""
        pk, sk = session_key(user_id, session.session_id)
        ttl = session.expires_at + _TTL_SLACK_SECONDS
        item = {
            "pk": pk,
            "sk": sk,
            "status": session.status,
            "created_at": created_at,
            "expires_at": session.expires_at,
            GENERATION_ATTRIBUTE: session.generation,
            "ttl": ttl,
            **sweep_index(pk, ttl),
            "source_ip": source_ip,
            "user_agent": user_agent,
        }
        return [
            TransactItem.put(item, condition="attribute_not_exists(pk)"),
            self.new_refresh_token(refresh_digest, user_id, session.session_id, session.expires_at),
        ]

    def new_refresh_token(
        self, digest: str, user_id: str, session_id: str, expires_at: int
    ) -> TransactItem:
        """The put of an active refresh token of a session, until `expires_at` (the session's)."""
        pk, sk = refresh_token_key(digest)
        ttl = expires_at + _TTL_SLACK_SECONDS
        return TransactItem.put(
            {
                "pk": pk,
                "sk": sk,
                "user_id": user_id,
                "session_id": session_id,
                "status": "active",
                "expires_at": expires_at,
                "ttl": ttl,
                **sweep_index(pk, ttl),
            },
            condition="attribute_not_exists(pk)",
        )

    def spending(self, token: RefreshToken, now: int) -> TransactItem:
        """The write that spends a refresh token, on condition that it is still active."""
        return TransactItem.update_item(
            refresh_token_key(token.digest),
            "SET #status = :spent, spent_at = :now",
            condition="#status = :active",
            names=_STATUS,
            values={":spent": "spent", ":active": "active", ":now": now},
        )

    def still_active(
        self, user_id: str, session_id: str, generation: int, now: int
    ) -> TransactItem:
        """The condition that the session is active, unexpired and in `generation`."""
        return TransactItem.check(
            session_key(user_id, session_id),
            "#status = :active AND expires_at > :now AND " + generation_is(generation),
            names={**_STATUS, "#gen": GENERATION_ATTRIBUTE},
            values={":active": "active", ":now": now, ":gen": generation},
        )

    def moving_to_next_generation(
        self, user_id: str, session_id: str, generation: int
    ) -> TransactItem:
        """The write that keeps an active session of `generation` valid in the next one."""
        return TransactItem.update_item(
            session_key(user_id, session_id),
            "SET #gen = :next",
            "#status = :active AND " + generation_is(generation),
            names={"#gen": GENERATION_ATTRIBUTE, **_STATUS},
            values={":gen": generation, ":next": generation + 1, ":active": "active"},
        )

    def revoking(self, user_id: str, session_id: str, now: int) -> TransactItem:
        """The write that ends a session, on condition that it is active."""
        return TransactItem.update_item(
            session_key(user_id, session_id), *_REVOCATION, names=_STATUS, values=_revoked(now)
        )

    def revoke(self, user_id: str, session_id: str, now: int) -> bool:
        """End a session on its own; False when it was not active (missing, or over)."""
        update, condition = _REVOCATION
        try:
            self._table.update(
                session_key(user_id, session_id),
                update,
                condition=condition,
                names=_STATUS,
                values=_revoked(now),
            )
        except ConditionFailed:
            return False
        return True


_REVOCATION = ("SET #status = :revoked, revoked_at = :now", "#status = :active")


def _revoked(now: int) -> dict[str, str | int]:
    return {":revoked": "revoked", ":active": "active", ":now": now}


def _refresh_token(digest: str, item: Item) -> RefreshToken:
    return RefreshToken(
        digest, item["user_id"], item["session_id"], item["status"], item["expires_at"]
    )
