"""`ApiFunction`: the one resolver setup every API function uses.

A function module creates one `ApiFunction`, declares each route with `api.route` (on `api.app`,
Powertools' `APIGatewayHttpResolver` with pydantic validation) and exports
`lambda_handler = api.handler`.
Around the resolver this adds the contract's conventions: the body guards (413, 400 not 422),
one error envelope, `Cache-Control: no-store` and `X-Request-ID` on every response.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import suppress
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from railguard.access import policy
from railguard.access.idempotency import IdempotencyKey
from railguard.access.plans import ENDPOINT_CLASSES, endpoint_class, plan_terms
from railguard.access.principal import Principal
from railguard.access.ratelimit import LIMIT_NAMES, Counted, LimitName, RateLimiter
from railguard.access.usage import note_use
from railguard.audit.trail import RequestOrigin, request_origin
from railguard.authorizer.credentials import extract_credential
from railguard.core.errors import (
    MfaRequired,
    NotFound,
    RailguardError,
    RateLimited,
    ServiceUnavailable,
    ValidationFailed,
)
from railguard.core.runtime import Runtime
from railguard.core.settings import FunctionSettings
from railguard.crypto import opaque_tokens
from railguard.http import cors
from railguard.http.guards import settled_event
from railguard.http.responses import (
    JSON_CONTENT_TYPE,
    error_result,
    error_status_and_body,
    with_standard_headers,
)
from railguard.store import ConditionFailed, ItemKey
from railguard.store import keys as item_keys
from railguard.usage.tally import RATE_LIMITED, UsageTally
from railguard.workspaces.repository import member_key

# A path parameter as the template writes it (`{workspace_id}`) and as the resolver does.
_PATH_PARAMETER = re.compile(r"\{(\w+)\}")


def _no_content(app: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response[Any]:
    """A 204 route's handler returns nothing: the answer has no body, so no media type."""
    response = next_middleware(app)
    if response.body is None:
        response.headers.pop("Content-Type", None)
    return response


def _validation_details(error: RequestValidationError) -> dict[str, Any]:
    # loc, type and message only: pydantic's `input` echoes what the client sent, secrets included.
    fields = [
        {
            "field": ".".join(str(part) for part in item["loc"]),
            "type": item["type"],
            "message": item.get("msg", ""),
        }
        for item in error.errors()
    ]
    return {"fields": fields}


def _caller(event: dict[str, Any]) -> Principal | None:
    """The principal the authorizer established, or None on a public route (no authorizer)."""
    context = ((event.get("requestContext") or {}).get("authorizer") or {}).get("lambda")
    return Principal.from_context(context) if context is not None else None


def _used_item(caller: Principal, event: dict[str, Any]) -> ItemKey | None:
    """The item whose last use the request notes, when the authorizer says it is due: the
    record of the caller's API key, found by the digest of the key the request presents (the
    one the authorizer admitted), or a member's membership of the workspace it acts in."""
    if not caller.last_use_due:
        return None
    if caller.kind == "api_key":
        credential = extract_credential(event.get("headers") or {})
        return item_keys.api_key(opaque_tokens.digest(credential.value))
    if caller.kind == "user" and caller.workspace_id is not None:
        return member_key(caller.workspace_id, caller.id)
    return None


class ApiFunction[S: FunctionSettings, D = None, C = None]:
    """`services` builds, from the cold-start runtime, what the routes call (once per instance);
    `scope` makes, of the caller, the scope those services take (`api.scope`, e.g.
    `WorkspaceScope.of`); `tag` is the OpenAPI tag of its routes."""

    def __init__(
        self,
        settings_model: type[S],
        services: Callable[[Runtime[S]], D] | None = None,
        *,
        scope: Callable[[Principal], C] | None = None,
        tag: str | None = None,
    ):
        self._settings_model = settings_model
        self._scope_of = scope
        self._tag = tag
        self._build_services = services
        self._runtime: Runtime[S] | None = None
        self._services: D | None = None
        self._rate_limiter: RateLimiter | None = None
        self._usage: UsageTally | None = None  # the 429s this instance answered, until flushed
        self.app = APIGatewayHttpResolver(enable_validation=True, debug=False)
        self.app.exception_handler(RailguardError)(self._typed_error)
        self.app.exception_handler(RequestValidationError)(self._validation_error)
        self.app.exception_handler(NotFoundError)(self._route_not_found)
        self.app.exception_handler(Exception)(self._unexpected_error)

    def route[F: Callable[..., Any]](
        self,
        key: str,
        summary: str | None = None,
        *,
        documented: bool = True,
        status: int | None = None,
        tag: str | None = None,
        description: str | None = None,
        responses: dict[int, OpenAPIResponse] | None = None,
    ) -> Callable[[F], F]:
        """Declares the decorated handler as the route `key`, spelled as the template spells it
        (`"POST /api/v1/workspaces/{workspace_id}/members"`), answering `status` on success (a
        DELETE 204, else 200, unless given), documented under `tag` (else the function's) with
        `summary` and `description`. The handler of a 204 route returns nothing (or a
        `Response`, to set cookies)."""
        method, path = key.split(" ", 1)
        status = status or (204 if method == "DELETE" else 200)
        tag = tag or self._tag
        return self.app.route(
            _PATH_PARAMETER.sub(r"<\1>", path),
            method,
            summary=summary,
            description=description,
            responses=responses,
            tags=[tag] if tag else None,
            include_in_schema=documented,
            status_code=status,
            middlewares=[_no_content] if status == 204 else None,
        )

    # -- state built at the cold start -------------------------------------------------
    @property
    def runtime(self) -> Runtime[S]:
        if self._runtime is None:
            raise RuntimeError("the function has not been invoked yet")
        return self._runtime

    @property
    def services(self) -> D:
        if self._services is None:
            if self._build_services is None:
                raise RuntimeError("this function declares no services")
            self._services = self._build_services(self.runtime)
        return self._services

    def reset(self) -> None:
        """Forget the cold-start state, as a new Lambda instance would (tests use this)."""
        self._runtime = None
        self._services = None
        self._rate_limiter = None
        self._usage = None

    @property
    def principal(self) -> Principal:
        """The caller the authorizer established, admitted to this route by the permission
        table (again: defence in depth), with a `{workspace_id}` it is not in as 404."""
        event = self.app.current_event
        principal = Principal.from_context(event.request_context.authorizer.get_lambda)
        path_workspace_id = (event.path_parameters or {}).get("workspace_id")
        return policy.admit(principal, event.request_context.route_key, path_workspace_id)

    @property
    def scope(self) -> C:
        """The admitted caller's scope (see `principal`), as the services take it."""
        if self._scope_of is None:
            raise RuntimeError("this function declares no scope")
        return self._scope_of(self.principal)

    def idempotency_key(self, value: str | None, body: BaseModel) -> IdempotencyKey | None:
        """The request's `Idempotency-Key` header value, if it has one, bound to the caller,
        the route and the validated body (fingerprinted by a MAC under the KMS HMAC key)."""
        return IdempotencyKey.parse(
            value,
            caller=self.principal.rate_subject,
            operation=self.app.current_event.request_context.route_key,
            request=body.model_dump(),
            macs=self.runtime.idempotency_macs,
        )

    # -- the Lambda entry point ---------------------------------------------------------
    def handler(self, event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        if self._runtime is None:
            self._runtime = Runtime.cold_start(self._settings_model)
        request_context = event.get("requestContext") or {}
        request_id = str(request_context.get("requestId") or context.aws_request_id)
        http = request_context.get("http") or {}
        origin = RequestOrigin(http.get("sourceIp"), http.get("userAgent"), request_id)
        logger = self._runtime.logger
        logger.append_keys(request_id=request_id, route=event.get("routeKey"))
        with request_origin(origin):
            return self._handle(event, context, request_id)

    def _handle(
        self, event: dict[str, Any], context: LambdaContext, request_id: str
    ) -> dict[str, Any]:
        logger = self.runtime.logger
        extra_headers: dict[str, str] = {}
        caller: Principal | None = None
        try:
            try:
                caller = _caller(event)
                if caller is not None:
                    extra_headers |= cors.response_headers(caller.origin)
                    self._count_request(caller, event, extra_headers)
                    if caller.mfa_required:
                        raise MfaRequired
                    self._note_last_use(caller, event)  # a use is a request let through
                result = self.app.resolve(settled_event(event), context)
            except RailguardError as error:
                logger.info("request refused before routing", extra={"error_code": error.code})
                if isinstance(error, RateLimited) and caller is not None:
                    self._note_rate_limited(caller, error)
                result = error_result(error)
            logger.info("request handled", extra={"status": result.get("statusCode")})
            self._flush_usage()
            return with_standard_headers(result, request_id, extra_headers)
        finally:
            logger.remove_keys(["request_id", "route"])

    def _count_request(
        self, caller: Principal, event: dict[str, Any], headers: dict[str, str]
    ) -> None:
        """Count the request before any route runs: in its workspace, against the plan's budget
        for the route's class (a route no key may use: counted in it, never refused by it) and
        the caller's own limit; outside any workspace, against the user's own limit. Over a
        limit, `RateLimited` (429) naming it. The headers of the limit closest to running out go
        on every response."""
        if caller.rate_limit is None:
            return
        if self._rate_limiter is None:
            self._rate_limiter = RateLimiter(self.runtime.table, self.runtime.clock)
        route_key = str(event.get("routeKey", ""))
        endpoint = endpoint_class(route_key)
        own: LimitName = "key" if caller.kind == "api_key" else "user"
        if caller.workspace_id is None:
            quota = self._rate_limiter.take(caller.rate_subject, caller.rate_limit, name=own)
        else:
            quota = self._rate_limiter.take_in_workspace(
                caller.workspace_id,
                endpoint,
                plan_terms(caller.plan),
                Counted(caller.rate_subject, caller.rate_limit, own),
                # The routes no API key may use (keys, members, the workspace, its audit trail
                # and usage) are counted, never refused, by the workspace's budget: what a key or
                # a member's script spends of it never keeps an owner from revoking a key.
                budgeted=policy.rule_for(route_key).for_keys,
            )
        headers |= quota.headers()
        if not quota.allowed:
            raise quota.refusal("Rate limit exceeded; see Retry-After.", endpoint)

    def _note_last_use(self, caller: Principal, event: dict[str, Any]) -> None:
        """The caller's last use (time, address, user agent), when due: bookkeeping, not part of
        any decision, so its failure (another instance noted it first; the member removed
        meanwhile) refuses nothing."""
        used = _used_item(caller, event)
        if used is None:
            return
        http = (event.get("requestContext") or {}).get("http") or {}
        with suppress(ConditionFailed, ServiceUnavailable):
            note_use(
                self.runtime.table,
                used,
                int(self.runtime.clock.now()),
                source_ip=http.get("sourceIp"),
                user_agent=http.get("userAgent"),
            )

    # -- usage: the 429s of the rate limit (railguard.usage.tally) -------------------------
    def _note_rate_limited(self, caller: Principal, error: RateLimited) -> None:
        """Count the caller's 429 in its workspace's usage and for the `RateLimited` metric,
        by the limit and class its `details` name."""
        if self._usage is None:
            self._usage = UsageTally(self.runtime.table, self.runtime.clock)
        if caller.workspace_id is not None:
            self._usage.count("rate_limited", caller.workspace_id, caller.rate_subject)
        limit, endpoint = (error.details.get(name) for name in ("limit", "class"))
        dimensions = {
            "limit": limit if limit in LIMIT_NAMES else "other",
            "class": endpoint if endpoint in ENDPOINT_CLASSES else "other",
        }
        self._usage.metric(RATE_LIMITED, **dimensions)

    def _flush_usage(self) -> None:
        """Write the counts waiting, if due. Bookkeeping: a failure is logged and drops them;
        the response stands."""
        if self._usage is None:
            return
        try:
            self._usage.flush_if_due()
        except Exception as error:  # noqa: BLE001 - a response is never changed by its counting
            self.runtime.logger.warning(
                "usage counts not written: dropped", extra={"error_type": type(error).__name__}
            )

    # -- the one mapping of errors to responses ------------------------------------------
    @staticmethod
    def _response(error: RailguardError) -> Response[Any]:
        status, body, headers = error_status_and_body(error)
        return Response(status, JSON_CONTENT_TYPE, body, headers)

    def _typed_error(self, error: RailguardError) -> Response[Any]:
        return self._response(error)

    def _validation_error(self, error: RequestValidationError) -> Response[Any]:
        return self._response(ValidationFailed(details=_validation_details(error)))

    def _route_not_found(self, _error: NotFoundError) -> Response[Any]:
        # The gateway only routes a function its own routes: a miss here is a route the
        # template declares but the code does not (a drift test guards this), or a direct call.
        return self._response(NotFound())

    def _unexpected_error(self, error: Exception) -> Response[Any]:
        # Logged with its traceback (not hidden); the client gets the envelope, no internals.
        self.runtime.logger.exception(
            "unexpected error", extra={"error_type": type(error).__name__}
        )
        return self._response(RailguardError())
