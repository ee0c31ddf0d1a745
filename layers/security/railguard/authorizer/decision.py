"""The authorizer's decision: from a payload 2.0 REQUEST event to a principal, or a refusal.

Users (access tokens): the credential's shape and the route's rule (no I/O), the token's
signature (local, cached public keys), then one strongly consistent BatchGetItem for the session
and the user's profile (a session of an earlier generation than the profile's, i.e. started
before a password change, is refused) and, when the route acts in a workspace, the workspace and
the caller's membership, and last the permission table's rule for the route. A workspace that
requires MFA of a member who has not turned it on is marked in the principal (`mfa_required`):
the function answers 403 `mfa_required`, since an authorizer's own refusal can only be API
Gateway's bare 403.

API keys: shape and checksum (no I/O: a malformed key costs nothing), then one strongly
consistent BatchGetItem for the key record by its digest and the workspace the key names (a
record of another workspace is refused as unknown), status and expiry against the clock now, the
workspace alive, the source IP, the Origin, the `X-Workspace-ID` header, and last the route's
scope. The authorizer writes nothing on a decision: when the key's `last_used_at` is due (or a
member's, in the workspace the route acts in, from the membership it read), the principal says
so, and the function serving the request notes it after its count (`railguard.http.function`).

Refusals of a key or member of a live workspace are counted in that workspace's usage
(`railguard.usage.tally`, in memory, written every few seconds by `AuthorizerFunction`): an
expired or revoked key or an ended session as `refused_credential` (a key unknown in the
workspace it names in the operators' metrics alone: anyone can forge one), its address or Origin
as `refused_network`, its scope, role or workspace header as `refused_scope`.

Everything read is cached for at most `STATE_MAX_AGE_SECONDS`, so logouts, role changes, key
changes and revocations apply within 5 seconds. With a key's cached reads go the decisions made
on them (`_KeyEntry`), so a warm instance answers a key's repeated request from its digest, its
expiry and one lookup. The decision also names the principal's own rate limit and its
workspace's plan (whose budgets the function counts the request against: an authorizer cannot
answer 429; see `railguard.access.ratelimit`): a plan change applies within the same 5 seconds.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from railguard.access import policy
from railguard.access.plans import RateLimit, plan_limit, plan_terms
from railguard.access.principal import Principal, rate_subject
from railguard.api_keys.key_format import workspace_named
from railguard.api_keys.repository import KeyLookup, KeyRecord
from railguard.authorizer.credentials import extract_credential
from railguard.core.clock import Clock
from railguard.core.errors import Forbidden, Unauthenticated
from railguard.core.ttl_cache import TtlCache
from railguard.crypto import opaque_tokens
from railguard.kinds import WORKSPACE, Rule
from railguard.store import Item, Table
from railguard.store import keys as item_keys
from railguard.usage.repository import Outcome
from railguard.usage.tally import UsageTally
from railguard.workspaces.repository import Membership, WorkspaceRecord, WorkspaceRepository

if TYPE_CHECKING:
    from railguard.crypto.public_keys import PublicKeys
    from railguard.crypto.tokens import AccessClaims, TokenAudience

# Logout, password change, role changes and key changes must apply within 5 seconds.
STATE_MAX_AGE_SECONDS = 2.0
STATE_CACHE_ENTRIES = 4096


class RefusedByNetwork(Forbidden):
    """A key used from an address or an Origin its allowlists do not hold (`refused_network`;
    every other 403 is the route's scope or role, or the workspace)."""


@dataclass(slots=True)
class _State:
    """What an instance knows of a user's session for at most `STATE_MAX_AGE_SECONDS`.
    `last_use_checked`: as a key entry's (`_KeyEntry`), for the member's last use."""

    session: Item | None
    profile: Item | None  # the session's generation is current; whether the user has MFA on
    membership: Membership | None  # in the workspace the route acts in, when it is live
    last_use_checked: bool = False


# The requests a key entry remembers its decision for (by route, address, Origin and workspace
# header): a bound on what varied clients can make an entry hold.
DECISIONS_PER_KEY = 64
_KeyRequest = tuple[str, str, str | None, str | None]


@dataclass(slots=True)
class _KeyEntry:
    """What an instance knows of a key for at most `STATE_MAX_AGE_SECONDS`: its record, the
    workspace the key names (each None if none), and the principals its checks allowed, by
    request. A decision lives no longer than the reads it was made on. `last_use_checked`: whether
    the key's last use was due has been asked once on it (at most a 2-s delay on a minute's
    resolution)."""

    record: KeyRecord | None
    workspace: WorkspaceRecord | None
    allowed: dict[_KeyRequest, Principal]
    last_use_checked: bool = False


def _state_cache[K: Hashable, V](clock: Clock) -> TtlCache[K, V]:
    return TtlCache(clock, max_age_seconds=STATE_MAX_AGE_SECONDS, max_entries=STATE_CACHE_ENTRIES)


class Authorizer:
    def __init__(self, table: Table, clock: Clock, audience: TokenAudience):
        self._table = table
        self._clock = clock
        self._audience = audience
        self._public_keys: PublicKeys | None = None  # on the first token: `_verified`
        self._key_lookup = KeyLookup(table)
        self._state: TtlCache[tuple[str, str, str | None], _State] = _state_cache(clock)
        self._keys: TtlCache[str, _KeyEntry] = _state_cache(clock)  # by the key's digest
        self._last_used_noted: TtlCache[str, float] = TtlCache(
            clock,
            max_age_seconds=KeyLookup.LAST_USED_RESOLUTION_SECONDS,
            max_entries=STATE_CACHE_ENTRIES,
        )
        self.usage = UsageTally(table, clock)  # written by `AuthorizerFunction`, between decisions

    def decide(self, event: Mapping[str, Any]) -> Principal:
        headers: Mapping[str, str] = event.get("headers") or {}
        known = self._known_key(headers)
        if known is not None:
            rule = policy.rule_for(str(event.get("routeKey", "")))
            return self._decide_for_key(event, headers, rule, *known)
        credential = extract_credential(headers)
        rule = policy.rule_for(str(event.get("routeKey", "")))  # no rule: 403 before any read
        if credential.kind == "api_key":
            return self._decide_for_key(event, headers, rule, *self._read_key(credential.value))
        from railguard.identity.session_repository import is_valid  # noqa: PLC0415 - as `_verified`

        claims = self._verified(credential.value)
        workspace_id = self._named_workspace(event, headers, rule)
        state = self._state.get_or_load(
            (claims.user_id, claims.session_id, workspace_id),
            lambda: self._load_state(claims.user_id, claims.session_id, workspace_id),
        )
        if not is_valid(state.session, state.profile, self._clock.now()):
            if workspace_id is not None and state.membership is not None:
                subject = rate_subject("user", claims.user_id)
                self.usage.count("refused_credential", workspace_id, subject)
            raise Unauthenticated("The session has ended.")
        principal = Principal(
            "user", claims.user_id, session_id=claims.session_id, rate_limit=plan_limit(None)
        )
        if workspace_id is not None and state.membership is not None:
            workspace = state.membership.workspace
            principal = replace(
                principal,
                workspace_id=workspace_id,
                role=state.membership.role,
                rate_limit=plan_limit(workspace.plan),
                plan=plan_terms(workspace.plan).name,
                # Allowed through, for the function to refuse with the contract's body.
                mfa_required=workspace.require_mfa and not (state.profile or {}).get("mfa_enabled"),
            )
        elif workspace_id is not None and rule.workspace == "header":
            raise Forbidden("Not a member of that workspace.")
        # A path workspace the user is not in passes without a workspace: the function answers
        # 404, as for any id that does not exist in the caller's workspaces.
        if principal.workspace_id is not None:
            try:
                policy.check(principal, rule)
            except Forbidden:
                self.usage.count("refused_scope", principal.workspace_id, principal.rate_subject)
                raise
            if not state.last_use_checked and state.membership is not None:
                state.last_use_checked = True
                member = f"{principal.workspace_id} {principal.id}"  # no key's id has a space
                if self._last_use_due(member, state.membership.last_used_at, self._clock.now()):
                    principal = replace(principal, last_use_due=True)
        elif rule.workspace == "none":
            policy.check(principal, rule)
        return principal

    def _verified(self, token: str) -> AccessClaims:
        """The access token's claims. The token path's modules (PyJWT and `cryptography`, the
        signing keys, the sessions' repository) load on the first token an instance verifies:
        an API key's decision never needs them (`tests/unit/test_authorizer_cold_imports.py`)."""
        from railguard.crypto import tokens  # noqa: PLC0415
        from railguard.crypto.public_keys import PublicKeys  # noqa: PLC0415

        if self._public_keys is None:
            self._public_keys = PublicKeys(self._table, self._clock)
        return tokens.verify_access_token(
            token, self._public_keys.lookup, self._audience, now=self._clock.now()
        )

    def _known_key(self, headers: Mapping[str, str]) -> tuple[_KeyEntry, float] | None:
        """The cached entry of the key presented alone in `X-API-Key`, if this instance read
        it within the cache's life, and the time now. An entry is only ever made for a key
        whose every shape check passed (`extract_credential`, then `_read_key`): a hit is that
        very string again, which needs no second look."""
        presented = headers.get("x-api-key")
        if presented is None or "authorization" in headers:
            return None
        key = presented.strip()
        if not key.isascii():  # no key; and the full path answers a malformed one with its 401
            return None
        now = self._clock.now()
        entry = self._keys.get(opaque_tokens.digest(key), now=now)
        return None if entry is None else (entry, now)

    def _read_key(self, key: str) -> tuple[_KeyEntry, float]:
        """The key's entry, read (one BatchGetItem) unless cached, and the time now."""
        digest = opaque_tokens.digest(key)
        now = self._clock.now()
        entry = self._keys.get(digest, now=now)
        if entry is None:
            key_workspace_id = workspace_named(key)
            if key_workspace_id is None:
                raise Unauthenticated("The API key is malformed.")  # and no read is made
            entry = _KeyEntry(*self._key_lookup.find(digest, key_workspace_id), {})
            self._keys.put(digest, entry)
            now = self._clock.now()  # the expiry judged after the read, as the cache's age is
        return entry, now

    def _decide_for_key(
        self,
        event: Mapping[str, Any],
        headers: Mapping[str, str],
        rule: Rule,
        entry: _KeyEntry,
        now: float,
    ) -> Principal:
        record = entry.record
        if record is None or not record.usable_at(now):  # the expiry too, on every request
            # A key of no live workspace is no one's usage; nor is a key unknown in the workspace
            # it names: anyone can forge one naming any workspace (its check digits are no
            # secret), and would fill that workspace's usage with refusals (the operators'
            # metrics still count it).
            if record is not None and entry.workspace is not None:
                subject = rate_subject("api_key", record.id)
                self.usage.count("refused_credential", entry.workspace.id, subject)
            raise Unauthenticated("The API key is unknown, revoked or expired.")
        # Only the TCP peer API Gateway saw counts: X-Forwarded-For and the like are the client's.
        source_ip = str(((event.get("requestContext") or {}).get("http") or {}).get("sourceIp", ""))
        # The address and the Origin only where the key limits them: elsewhere they change no
        # decision, and a client varying them must not make the entry hold more.
        request = (
            str(event.get("routeKey", "")),
            source_ip if record.allowed_ips.entries else "",
            headers.get("origin") if record.allowed_origins else None,
            headers.get("x-workspace-id"),
        )
        principal = entry.allowed.get(request)
        if principal is None:
            try:
                principal = self._checked(record, entry.workspace, rule, request)
            except Forbidden as refusal:
                outcome: Outcome = (
                    "refused_network" if isinstance(refusal, RefusedByNetwork) else "refused_scope"
                )
                subject = rate_subject("api_key", record.id)
                self.usage.count(outcome, record.workspace_id, subject)
                raise
            if len(entry.allowed) < DECISIONS_PER_KEY:
                entry.allowed[request] = principal
        if not entry.last_use_checked:
            entry.last_use_checked = True
            if self._last_use_due(record.id, record.last_used_at, now):
                principal = replace(principal, last_use_due=True)
        return principal

    @staticmethod
    def _checked(
        record: KeyRecord, workspace: WorkspaceRecord | None, rule: Rule, request: _KeyRequest
    ) -> Principal:
        """The principal of a usable key's request, once its workspace, network, Origin,
        workspace header and scope allow it."""
        _, source_ip, origin, named_workspace = request
        if workspace is None:
            raise Unauthenticated("The API key's workspace is deleted.")
        if not record.allowed_ips.allows(source_ip):
            raise RefusedByNetwork("The API key may not be used from this address.")
        if record.allowed_origins and origin not in record.allowed_origins:
            raise RefusedByNetwork("The API key may not be used from this origin.")
        if named_workspace is not None and named_workspace != record.workspace_id:
            raise Forbidden("An API key acts in its own workspace only.")
        principal = Principal(
            "api_key",
            record.id,
            workspace_id=record.workspace_id,
            scopes=record.scopes,
            rate_limit=_effective_limit(record, workspace),
            plan=plan_terms(workspace.plan).name,
            # Echoed in CORS headers only for keys that list their origins (browser keys).
            origin=origin if record.allowed_origins else None,
        )
        policy.check(principal, rule)
        return principal

    def _last_use_due(self, used: str, last_used_at: int | None, now: float) -> bool:
        """Whether this request should note the last use of `used` (a key's id, or a member's
        workspace and user id), last noted at `last_used_at` as read: at most once a minute per
        key or member. The function writes it with its count of the request, and its failure
        (another instance noted it first) never refuses a request the checks allowed."""
        resolution = KeyLookup.LAST_USED_RESOLUTION_SECONDS
        if last_used_at is not None and now - last_used_at < resolution:
            return False
        if self._last_used_noted.get(used) is not None:
            return False  # a request of this instance noted it a moment ago; the read is older
        self._last_used_noted.put(used, now)
        return True

    @staticmethod
    def _named_workspace(
        event: Mapping[str, Any], headers: Mapping[str, str], rule: Rule
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
        if not WORKSPACE.is_id(named):
            if rule.workspace == "header":
                raise Forbidden("The X-Workspace-ID header does not name a workspace.")
            return None
        return str(named)

    def _load_state(self, user_id: str, session_id: str, workspace_id: str | None) -> _State:
        # One BatchGetItem: the session with the profile (its generation, which a password
        # change advances), and the workspace and membership when the route acts in one.
        session_key = item_keys.session(user_id, session_id)
        profile_key = item_keys.user_profile(user_id)
        keys = [session_key, profile_key]
        if workspace_id is not None:
            keys += WorkspaceRepository.membership_keys(workspace_id, user_id)
        found = self._table.get_many(keys)
        membership = (
            WorkspaceRepository.membership_in(found, workspace_id, user_id)
            if workspace_id is not None
            else None
        )
        return _State(found.get(session_key), found.get(profile_key), membership)


def _effective_limit(record: KeyRecord, workspace: WorkspaceRecord) -> RateLimit:
    """The key's own limit, narrowed to its workspace's plan: a key's limit may only narrow its
    plan (a plan lowered since the key was made or rotated wins), and a plan never loosens what
    the key's own limit holds. Where neither is within the other, the fewer requests over the
    longer window, which is within both. Computed when the decision is made, which is
    memoized: nothing more per request."""
    plan = plan_limit(workspace.plan)
    own = record.rate_limit
    if own is None or own.within(plan):
        return own or plan
    if plan.within(own):
        return plan
    return RateLimit(min(own.requests, plan.requests), max(own.window_seconds, plan.window_seconds))
