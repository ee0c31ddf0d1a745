"""The authorizer's decision: from a payload 2.0 REQUEST event to a principal, or a refusal.

Order: the credential's shape (no I/O), its signature (local, cached public keys), then one
strongly consistent BatchGetItem for the session and, when the request names a workspace, the
workspace and the caller's membership (cached for at most `STATE_MAX_AGE_SECONDS`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from railguard import tokens
from railguard.authorizer.cache import TtlCache
from railguard.authorizer.credentials import extract_credential
from railguard.clock import Clock
from railguard.errors import Forbidden, Unauthenticated
from railguard.ids import is_id
from railguard.principal import Principal
from railguard.sessions import is_active
from railguard.signing_keys import PublicKeys
from railguard.store import Item, Table
from railguard.store import keys as item_keys
from railguard.workspaces import is_live

# Logout, password change and role changes must apply within 5 seconds.
STATE_MAX_AGE_SECONDS = 2.0
STATE_CACHE_ENTRIES = 4096


@dataclass(frozen=True)
class _State:
    session: Item | None
    workspace: Item | None
    member: Item | None


class Authorizer:
    def __init__(self, table: Table, clock: Clock, audience: tokens.TokenAudience):
        self._table = table
        self._clock = clock
        self._audience = audience
        self._public_keys = PublicKeys(table, clock)
        self._state: TtlCache[tuple[str, str, str | None], _State] = TtlCache(
            clock, max_age_seconds=STATE_MAX_AGE_SECONDS, max_entries=STATE_CACHE_ENTRIES
        )

    def decide(self, event: Mapping[str, Any]) -> Principal:
        headers: Mapping[str, str] = event.get("headers") or {}
        credential = extract_credential(headers)
        if credential.kind == "api_key":
            raise Unauthenticated("API keys are not accepted yet")
        claims = tokens.verify_access_token(
            credential.value, self._public_keys.lookup, self._audience, now=self._clock.now()
        )
        workspace_id = headers.get("x-workspace-id")
        if workspace_id is not None and not is_id(workspace_id, "ws"):
            raise Forbidden("The X-Workspace-ID header does not name a workspace.")
        state = self._state.get_or_load(
            (claims.user_id, claims.session_id, workspace_id),
            lambda: self._load_state(claims.user_id, claims.session_id, workspace_id),
        )
        if not is_active(state.session, self._clock.now()):
            raise Unauthenticated("The session has ended.")
        if workspace_id is None:
            return Principal("user", claims.user_id, session_id=claims.session_id)
        if not is_live(state.workspace) or state.member is None:
            raise Forbidden("Not a member of that workspace.")
        return Principal(
            "user",
            claims.user_id,
            workspace_id=workspace_id,
            role=state.member["role"],
            session_id=claims.session_id,
        )

    def _load_state(self, user_id: str, session_id: str, workspace_id: str | None) -> _State:
        session_key = item_keys.session(user_id, session_id)
        if workspace_id is None:
            return _State(self._table.get(session_key), None, None)
        workspace_key = item_keys.workspace(workspace_id)
        member_key = item_keys.member(workspace_id, user_id)
        found = self._table.get_many([session_key, workspace_key, member_key])
        return _State(found.get(session_key), found.get(workspace_key), found.get(member_key))
