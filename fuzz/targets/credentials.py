"""The authorizer on the credential headers a client writes: `X-API-Key`, `Authorization`,
`Origin` and `X-Workspace-ID`, through `extract_credential` and the whole `Authorizer.decide`
over an in-memory table that holds the signing key and nothing else.

Input: one byte of flags (which headers are present, and the route), then the four header values,
NUL-separated. In `Authorization`, `{token}` stands for a valid access token, so the fuzzer can
reach the reads that follow a verified token.

Property: `extract_credential` returns a credential or raises `Unauthenticated`; `decide` raises
`Unauthenticated` or `Forbidden` (the handler denies anything else, but as a bug) and never allows,
since no session, key or workspace exists. Nothing is read for a request whose credential is
malformed: no lookup for a missing, doubled or badly shaped credential, nor for an API key
that fails its checksum or names no workspace.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fuzz.targets._inputs import check, fields, text
from railguard.api_keys.key_format import workspace_named
from railguard.authorizer.credentials import extract_credential
from railguard.authorizer.decision import Authorizer
from railguard.core.errors import Forbidden, Unauthenticated
from railguard.crypto import key_repository, tokens
from railguard.store import Item, ItemKey, Page

NOW = 1_800_000_000
KID = "fuzz-key"
AUDIENCE = tokens.TokenAudience(issuer="https://auth.railguard.test", audience="railguard-api")
TOKEN_PLACEHOLDER = "{token}"  # noqa: S105 - stands for a valid token, is none itself
SOURCE_IP = "203.0.113.7"
# A route per workspace rule: none, the X-Workspace-ID header, and a path parameter.
ROUTES = ("GET /api/v1/me", "GET /api/v1/api-keys", "GET /api/v1/workspaces/{workspace_id}")
HEADERS = ("x-api-key", "authorization", "origin", "x-workspace-id")

_SIGNING_KEY = tokens.SigningKey(KID, tokens.generate_private_key())
_VALID_TOKEN = tokens.issue_access_token(
    _SIGNING_KEY, AUDIENCE, user_id="usr_01JABCDEFGHJKMNPQRSTVWXYZ0", session_id="ses_fuzz", now=NOW
)


class _FixedClock:
    def now(self) -> float:
        return NOW


class _SigningKeyOnlyTable:
    """A table holding the signing key's public half; records every read."""

    def __init__(self) -> None:
        self.reads: list[str] = []

    def query(self, partition: str, **_options: Any) -> Page:
        self.reads.append(f"query {partition}")
        if partition != key_repository.SIGNING_KEY_PARTITION:
            return Page([], None)
        return Page([{"public_jwk": _SIGNING_KEY.public_jwk()}], None)

    def get(self, key: ItemKey, *, consistent: bool = True) -> Item | None:
        self.reads.append(f"get {key[0]}")
        return None

    def get_many(self, keys: Sequence[ItemKey]) -> dict[ItemKey, Item]:
        self.reads.extend(f"get {key[0]}" for key in keys)
        return {}


def _event(data: bytes) -> dict[str, Any]:
    flags = data[0] if data else 0
    values = fields(data[1:], len(HEADERS))
    headers = {
        name: text(value)
        for bit, (name, value) in enumerate(zip(HEADERS, values, strict=True))
        if flags & (1 << bit)
    }
    if "authorization" in headers:
        headers["authorization"] = headers["authorization"].replace(TOKEN_PLACEHOLDER, _VALID_TOKEN)
    return {
        "routeKey": ROUTES[(flags >> 4) % len(ROUTES)],
        "headers": headers,
        "pathParameters": {"workspace_id": headers.get("x-workspace-id", "ws_none")},
        "requestContext": {"requestId": "fuzz", "http": {"sourceIp": SOURCE_IP}},
    }


def _verifies(token: str) -> bool:
    lookup = {KID: _SIGNING_KEY.private_key.public_key()}.get
    try:
        tokens.verify_access_token(token, lookup, AUDIENCE, now=NOW)
    except Unauthenticated:
        return False
    return True


def _reads_justified(headers: Mapping[str, str], reads: Sequence[str]) -> bool:
    """A read needs a well-formed credential: an API key that passes its checksum and names a
    workspace, or an access token, whose signing keys may be read to verify it but nothing more
    unless it verifies."""
    if not reads:
        return True
    try:
        credential = extract_credential(headers)
    except Unauthenticated:
        return False
    if credential.kind == "api_key":
        return workspace_named(credential.value) is not None
    signing_keys = f"query {key_repository.SIGNING_KEY_PARTITION}"
    return all(read == signing_keys for read in reads) or _verifies(credential.value)


def one_input(data: bytes) -> None:
    event = _event(data)
    table = _SigningKeyOnlyTable()
    authorizer = Authorizer(table, _FixedClock(), AUDIENCE)  # type: ignore[arg-type]
    try:
        principal = authorizer.decide(event)
    except (Unauthenticated, Forbidden):
        check(_reads_justified(event["headers"], table.reads), "read for a malformed credential")
        return
    check(False, f"allowed a {principal.kind} that does not exist")
