"""The authorizer's decision: from a payload 2.0 REQUEST event to a principal, or a refusal.

Order: the credential's shape and the route's rule (no I/O), the token's signature (local, cached
public keys), then one strongly consistent BatchGetItem for the session and, when the route acts
in a workspace, the workspace and the caller's membership (cached for at most
`STATE_MAX_AGE_SECONDS`), and last the permission table's rule for the route.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from railguard import policy, tokens
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
        rule = policy.rule_for(str(event.get("routeKey", "")))
        if credential.kind == "api_key":
            raise Unauthenticated("API keys are not accepted yet")
        claims = tokens.verify_access_token(
            credential.value, self._public_keys.lookup, self._audience, now=self._clock.now()
        )
        workspace_id = self._named_workspace(event, headers, rule)
        state = self._state.get_or_load(
            (claims.user_id, claims.session_id, workspace_id),
            lambda: self._load_state(claims.user_id, claims.session_id, workspace_id),
        )
        if not is_active(state.session, self._clock.now()):
            raise Unauthenticated("The session has ended.")
        principal = Principal("user", claims.user_id, session_id=claims.session_id)
        if workspace_id is not None and is_live(state.workspace) and state.member is not None:
            principal = replace(principal, workspace_id=workspace_id, role=state.member["role"])
        elif workspace_id is not None and rule.workspace == "header":
            raise Forbidden("Not a member of that workspace.")
        # A path workspace the user is not in passes without a workspace: the function answers
        # 404, as for any id that does not exist in the caller's workspaces.
        if principal.workspace_id is not None or rule.workspace == "none":
            policy.check(principal, rule)
        return principal

    @staticmethod
    def _named_workspace(
        event: Mapping[str, Any], headers: Mapping[str, str], rule: policy.Rule
    ) -> str | None:
        """The workspace the request acts in, per the route's rule; None when it names none."""
        if rule.workspace == "none":
            return None
        if rule.workspace == "path":
            named = (event.get("pathParameters") or {}).get("workspace_id")
        else:
            named = headers.get("x-workspace-id")
        if named is None:
            return None
        if not is_id(named, "ws"):
            if rule.workspace == "header":
                raise Forbidden("The X-Workspace-ID header does not name a workspace.")
            return None
        return str(named)

    def _load_state(self, user_id: str, session_id: str, workspace_id: str | None) -> _State:
        session_key = item_keys.session(user_id, session_id)
        if workspace_id is None:
            return _State(self._table.get(session_key), None, None)
        workspace_key = item_keys.workspace(workspace_id)
        member_key = item_keys.member(workspace_id, user_id)
        found = self._table.get_many([session_key, workspace_key, member_key])
        return _State(found.get(session_key), found.get(workspace_key), found.get(member_key))
