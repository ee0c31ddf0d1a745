"""The floor under the authorizer's warm decision: the same checks on an API key, written inline
with no framework around them, its state in plain dicts.

What it does per request, as the authorizer does: one credential header and not both; its SHA-256
digest; the cached record by digest (a key's prefix, length, alphabet and checksum are checked
before its first read, and a key found by its digest is that very key again: neither re-checks
its shape on a hit),
with the cache's age bound (revocations apply within seconds) and the key's status and expiry
against the clock; the workspace alive, from its own cached entry; the source IP within the
key's `allowed_ips` (networks parsed once, each address parsed once); the Origin; the
`X-Workspace-ID` header; the route's scope; and the context API Gateway hands the function.
What it does not do: what the authorizer adds around the checks (the handler's wrapper, the
runtime, the policy and principal types, the TTL cache class). Whatever it can do once per record
(parse networks, build the context) it does when the record is cached, which makes the floor a
little lower than any implementation that stays readable. The bench checks that it allows with
the very answer the authorizer gives before timing either.
"""

from __future__ import annotations

import hashlib
import ipaddress
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MAX_AGE_SECONDS = 2.0
DENY: dict[str, Any] = {"isAuthorized": False}


@dataclass(frozen=True)
class CachedKey:
    """A key record as a bare authorizer would cache it: everything per-key done once."""

    workspace_id: str
    revoked: bool
    expires_at: float | None
    ranges: tuple[tuple[int, int, int], ...]  # allowed_ips: (version, first, last); empty: any
    origins: frozenset[str]
    scopes: frozenset[str]
    context: Mapping[str, str]  # the answer's context, but the Origin


def cached_key(
    *,
    key_id: str,
    workspace_id: str,
    scopes: list[str],
    allowed_ips: list[str],
    allowed_origins: list[str],
    expires_at: float | None,
    rate_limit: str,
    plan: str,
) -> CachedKey:
    networks = [ipaddress.ip_network(entry, strict=False) for entry in allowed_ips]
    context = {
        "principal_type": "api_key",
        "principal_id": key_id,
        "workspace_id": workspace_id,
        "scopes": " ".join(sorted(scopes)),
        "rate_limit": rate_limit,
        "plan": plan,
    }
    return CachedKey(
        workspace_id=workspace_id,
        revoked=False,
        expires_at=expires_at,
        ranges=tuple(
            (network.version, int(network.network_address), int(network.broadcast_address))
            for network in networks
        ),
        origins=frozenset(allowed_origins),
        scopes=frozenset(scopes),
        context=context,
    )


class BareAuthorizer:
    """The checks, inline. `route_scopes`: route key -> the scope it needs ("" when any key may
    call it); a route missing is refused."""

    def __init__(self, route_scopes: Mapping[str, str]) -> None:
        self._route_scopes = route_scopes
        self._keys: dict[str, tuple[float, CachedKey]] = {}
        self._live_workspaces: dict[str, float] = {}
        self._addresses: dict[str, tuple[int, int] | None] = {}

    def cache(self, key: str, record: CachedKey) -> None:
        now = time.monotonic()
        self._keys[hashlib.sha256(key.encode()).hexdigest()] = (now, record)
        self._live_workspaces[record.workspace_id] = now

    def _address(self, source_ip: str) -> tuple[int, int] | None:
        """(version, number), an IPv4-mapped IPv6 address as its IPv4; parsed once per address."""
        if source_ip not in self._addresses:
            try:
                address = ipaddress.ip_address(source_ip)
            except ValueError:
                self._addresses[source_ip] = None
            else:
                mapped = getattr(address, "ipv4_mapped", None)
                address = mapped or address
                self._addresses[source_ip] = (address.version, int(address))
        return self._addresses[source_ip]

    def handler(self, event: Mapping[str, Any]) -> dict[str, Any]:  # noqa: PLR0911 - one per check
        headers = event.get("headers") or {}
        key = headers.get("x-api-key")
        if key is None or "authorization" in headers:
            return DENY
        key = key.strip()
        # A key found by its digest is the very key cached after its shape passed: the shape is
        # checked before a first read, never again on a hit (as the authorizer does).
        entry = self._keys.get(hashlib.sha256(key.encode()).hexdigest())
        if entry is None:
            return DENY  # the floor never loads: only the cached path is measured
        now = time.time()
        monotonic = time.monotonic()
        if monotonic - entry[0] >= MAX_AGE_SECONDS:
            return DENY
        record = entry[1]
        if record.revoked or (record.expires_at is not None and now >= record.expires_at):
            return DENY
        alive_since = self._live_workspaces.get(record.workspace_id)
        if alive_since is None or monotonic - alive_since >= MAX_AGE_SECONDS:
            return DENY
        if record.ranges:
            source_ip = ((event.get("requestContext") or {}).get("http") or {}).get("sourceIp", "")
            address = self._address(source_ip)
            if address is None or not any(
                version == address[0] and first <= address[1] <= last
                for version, first, last in record.ranges
            ):
                return DENY
        origin = headers.get("origin")
        if record.origins and origin not in record.origins:
            return DENY
        named = headers.get("x-workspace-id")
        if named is not None and named != record.workspace_id:
            return DENY
        scope = self._route_scopes.get(event.get("routeKey", ""))
        if scope is None or (scope and scope not in record.scopes):
            return DENY
        context = dict(record.context)
        if record.origins and origin is not None:
            context["origin"] = origin
        return {"isAuthorized": True, "context": context}
