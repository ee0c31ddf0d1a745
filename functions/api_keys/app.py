"""API keys (contract section 6), managed by a workspace's owners and admins with a user session
and `X-Workspace-ID`. The raw key appears once, in the answer to a create or a rotate. And usage
(section 11): a key's and the whole workspace's requests by hour or day, for the same people."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from pydantic import AwareDatetime, Field, model_validator

from railguard.access.network import MAX_ALLOWED_IPS, MAX_ALLOWED_ORIGINS
from railguard.access.plans import RateLimit
from railguard.access.policy import SCOPES
from railguard.api_keys import (
    DEFAULT_GRACE_SECONDS,
    MAX_GRACE_SECONDS,
    ApiKeys,
    IssuedKey,
    KeySettings,
    KeyView,
)
from railguard.core.runtime import Runtime
from railguard.core.settings import AuditSettings, IdempotencySettings
from railguard.http import ApiFunction, Data, DataList, RequestModel, ViewModel
from railguard.http.models import (
    Cursor,
    DisplayName,
    IdempotencyKeyHeader,
    Limit,
    Rfc3339Time,
    Timestamp,
)
from railguard.usage import Bucket, Granularity, Usage, UsageQuery
from railguard.workspaces import WorkspaceScope


@dataclass(frozen=True, kw_only=True)
class ApiKeySettings(IdempotencySettings, AuditSettings):
    """Keeps keys (as digests) in the table, and records every change to the trail; KMS only
    for the HMAC key that fingerprints Idempotency-Key requests."""


class ApiKeyServices:
    """What the routes call; each part is built on first use."""

    def __init__(self, runtime: Runtime[ApiKeySettings]):
        self._runtime = runtime

    @cached_property
    def keys(self) -> ApiKeys:
        return ApiKeys(self._runtime.table, self._runtime.clock, self._runtime.audit_trail)

    @cached_property
    def usage(self) -> Usage:
        return Usage(self._runtime.table, self._runtime.clock)


api = ApiFunction(ApiKeySettings, ApiKeyServices, scope=WorkspaceScope.of, tag="api keys")

Scope = Literal[SCOPES]  # type: ignore[valid-type]  # the contract's list, one place
IpEntry = Annotated[str, Field(max_length=64)]
OriginEntry = Annotated[str, Field(max_length=255)]


class RateLimitModel(ViewModel):
    requests: int = Field(ge=1, le=1_000_000)
    window_seconds: int = Field(ge=1, le=86_400)

    def to_limit(self) -> RateLimit:
        return RateLimit(self.requests, self.window_seconds)


class NewApiKey(RequestModel):
    name: DisplayName
    scopes: list[Scope] = Field(min_length=1, max_length=len(SCOPES))
    allowed_ips: list[IpEntry] | None = Field(default=None, max_length=MAX_ALLOWED_IPS)
    allowed_origins: list[OriginEntry] | None = Field(default=None, max_length=MAX_ALLOWED_ORIGINS)
    expires_at: AwareDatetime | None = None
    rate_limit: RateLimitModel | None = None


class ApiKeyChanges(RequestModel):
    """A PATCH: fields left out stay as they are; the nullable ones may be null to clear."""

    name: DisplayName | None = None
    scopes: list[Scope] | None = Field(default=None, min_length=1, max_length=len(SCOPES))
    allowed_ips: list[IpEntry] | None = Field(default=None, max_length=MAX_ALLOWED_IPS)
    allowed_origins: list[OriginEntry] | None = Field(default=None, max_length=MAX_ALLOWED_ORIGINS)
    expires_at: AwareDatetime | None = None
    rate_limit: RateLimitModel | None = None

    @model_validator(mode="after")
    def _name_and_scopes_are_not_cleared(self) -> ApiKeyChanges:
        for required in ("name", "scopes"):
            if required in self.model_fields_set and getattr(self, required) is None:
                raise ValueError(f"{required} cannot be null")
        return self

    def changes(self) -> dict[str, Any]:
        present = {name: getattr(self, name) for name in self.model_fields_set}
        if "expires_at" in present:
            present["expires_at"] = _epoch(present["expires_at"])
        if "rate_limit" in present and present["rate_limit"] is not None:
            present["rate_limit"] = present["rate_limit"].to_limit()
        for listed in ("allowed_ips", "allowed_origins", "scopes"):
            if listed in present:
                present[listed] = tuple(present[listed] or ())
        return present


class Rotation(RequestModel):
    grace_period_seconds: int = Field(default=DEFAULT_GRACE_SECONDS, ge=0, le=MAX_GRACE_SECONDS)


class ApiKey(ViewModel, view=KeyView):
    rate_limit: RateLimitModel | None


class NewKey(ApiKey):
    key: str = Field(description="The key itself. Shown this once: store it now.")

    @classmethod
    def issued(cls, issued: IssuedKey) -> Data[NewKey]:
        return Data(data=cls.shown_once(issued.view, key=issued.key))


class UsageBucket(ViewModel, view=Bucket):
    start: Timestamp = Field(description="The hour's or the UTC day's start")


# The range of a usage read: RFC 3339 times with their offset, `to` after `from`, at
# most 90 days apart (the layer checks both); by default the last 24 hours.
From = Annotated[Rfc3339Time | None, Query(alias="from", description="Default: `to` - 24 h")]
To = Annotated[Rfc3339Time | None, Query(alias="to", description="Default: now")]
GranularityParameter = Annotated[Granularity, Query(description="`hour` or UTC `day`")]


def _epoch(moment: datetime | None) -> int | None:
    return int(moment.timestamp()) if moment is not None else None


def _usage_query(
    start: datetime | None,
    end: datetime | None,
    granularity: Granularity,
    limit: int,
    cursor: str | None,
) -> UsageQuery:
    return UsageQuery(_epoch(start), _epoch(end), granularity, limit, cursor)


@api.route("GET /api/v1/api-keys", "The workspace's API keys")
def list_keys(limit: Limit = 20, cursor: Cursor = None) -> DataList[ApiKey]:
    return ApiKey.page(api.services.keys.list_for(api.scope, limit=limit, cursor=cursor))


@api.route("POST /api/v1/api-keys", "Create a key (shown once)", status=201)
def create_key(body: NewApiKey, idempotency_key: IdempotencyKeyHeader = None) -> Data[NewKey]:
    settings = KeySettings(
        name=body.name,
        scopes=tuple(body.scopes),
        allowed_ips=tuple(body.allowed_ips or ()),
        allowed_origins=tuple(body.allowed_origins or ()),
        expires_at=_epoch(body.expires_at),
        rate_limit=body.rate_limit.to_limit() if body.rate_limit else None,
    )
    idempotency = api.idempotency_key(idempotency_key, body)
    return NewKey.issued(api.services.keys.create(api.scope, settings, idempotency))


@api.route("GET /api/v1/api-keys/{key_id}", "One API key")
def get_key(key_id: str) -> Data[ApiKey]:
    return ApiKey.data(api.services.keys.get(api.scope, key_id))


@api.route("PATCH /api/v1/api-keys/{key_id}", "Change a key's settings")
def update_key(key_id: str, body: ApiKeyChanges) -> Data[ApiKey]:
    return ApiKey.data(api.services.keys.update(api.scope, key_id, body.changes()))


@api.route(
    "POST /api/v1/api-keys/{key_id}/rotate",
    "A new key with the same settings; the old one ends after the grace period",
    status=201,
)
def rotate_key(key_id: str, body: Annotated[Rotation | None, Body()] = None) -> Data[NewKey]:
    grace = (body or Rotation()).grace_period_seconds
    return NewKey.issued(api.services.keys.rotate(api.scope, key_id, grace))


@api.route("DELETE /api/v1/api-keys/{key_id}", "Revoke a key (kept)")
def revoke_key(key_id: str) -> None:
    api.services.keys.revoke(api.scope, key_id)


USAGE_DESCRIPTION = (
    "Every bucket of the range, newest first, zeros included: a page is `limit` buckets, and "
    "`meta.next_cursor` continues with older ones (ask for the same range with it)."
)


@api.route(
    "GET /api/v1/api-keys/{key_id}/usage",
    "A key's requests by hour or day, by outcome",
    description=USAGE_DESCRIPTION,
)
def key_usage(
    key_id: str,
    *,
    start: From = None,
    end: To = None,
    granularity: GranularityParameter = "hour",
    limit: Limit = 20,
    cursor: Cursor = None,
) -> DataList[UsageBucket]:
    query = _usage_query(start, end, granularity, limit, cursor)
    return UsageBucket.page(api.services.usage.of_key(api.scope, key_id, query))


@api.route(
    "GET /api/v1/usage",
    "The workspace's requests by hour or day, by outcome",
    tag="usage",
    description=USAGE_DESCRIPTION,
)
def workspace_usage(
    *,
    start: From = None,
    end: To = None,
    granularity: GranularityParameter = "hour",
    limit: Limit = 20,
    cursor: Cursor = None,
) -> DataList[UsageBucket]:
    query = _usage_query(start, end, granularity, limit, cursor)
    return UsageBucket.page(api.services.usage.of_workspace(api.scope, query))


lambda_handler = api.handler
