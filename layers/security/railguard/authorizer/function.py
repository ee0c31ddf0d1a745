"""`AuthorizerFunction`: the entry point of the Lambda authorizer.

API Gateway HTTP API, payload 2.0, simple responses: `{"isAuthorized": true, "context": {...}}`
lets the request through with the principal in the context; `{"isAuthorized": false}` is a 403;
an error whose message is exactly `Unauthorized` is a 401. Every other failure denies.

After each decision, its outcome is counted for the `Decisions` metric, and the instance's
counts are written when due (`railguard.usage.tally`). That bookkeeping never changes a decision:
its failure is logged, and the counts it held are dropped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from railguard.access.principal import Principal
from railguard.authorizer.decision import Authorizer, RefusedByNetwork
from railguard.core.errors import Forbidden, Unauthenticated
from railguard.core.runtime import Runtime
from railguard.core.settings import TokenSettings
from railguard.crypto.tokens import TokenAudience
from railguard.usage.tally import DECISIONS

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


class AuthorizerSettings(TokenSettings):
    """The authorizer verifies tokens and reads sessions, keys and memberships."""


class Unauthorized(Exception):
    """Raised to make API Gateway answer 401 `{"message": "Unauthorized"}`."""

    def __init__(self) -> None:
        super().__init__("Unauthorized")


def allow(principal: Principal) -> dict[str, Any]:
    return {"isAuthorized": True, "context": principal.to_context()}


DENY: dict[str, Any] = {"isAuthorized": False}


def _dropped(runtime: Runtime[AuthorizerSettings], error: Exception) -> None:
    runtime.logger.warning(
        "usage counts not written: dropped", extra={"error_type": type(error).__name__}
    )


def _request_id(event: dict[str, Any]) -> str | None:
    """The gateway's id of the request, for a refusal's log line (an allow is not logged)."""
    request_context = event.get("requestContext")
    return request_context.get("requestId") if isinstance(request_context, dict) else None


class AuthorizerFunction:
    def __init__(self) -> None:
        self._runtime: Runtime[AuthorizerSettings] | None = None
        self._authorizer: Authorizer | None = None

    def reset(self) -> None:
        self._runtime = None
        self._authorizer = None

    def _cold_start(self) -> tuple[Runtime[AuthorizerSettings], Authorizer]:
        if self._runtime is None or self._authorizer is None:
            runtime = Runtime.cold_start(AuthorizerSettings)
            audience = TokenAudience(runtime.settings.token_issuer, runtime.settings.token_audience)
            self._runtime = runtime
            self._authorizer = Authorizer(runtime.table, runtime.clock, audience)
        return self._runtime, self._authorizer

    def handler(self, event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        runtime, authorizer = self._cold_start()
        try:
            principal = authorizer.decide(event)
        except Unauthenticated as refusal:
            runtime.logger.info(
                "refused: 401", extra={"request_id": _request_id(event), "reason": refusal.message}
            )
            self._counted(runtime, authorizer, "refused_credential")
            raise Unauthorized from None
        except Forbidden as refusal:
            runtime.logger.info(
                "refused: 403", extra={"request_id": _request_id(event), "reason": refusal.message}
            )
            network = isinstance(refusal, RefusedByNetwork)
            self._counted(runtime, authorizer, "refused_network" if network else "refused_scope")
            return DENY
        except Exception as error:  # fail closed on anything unforeseen
            # Denied, and logged with its traceback so the bug is seen, never hidden.
            runtime.logger.exception(
                "authorizer error: denied",
                extra={"request_id": _request_id(event), "error_type": type(error).__name__},
            )
            self._counted(runtime, authorizer, "error")
            return DENY
        try:
            authorizer.usage.allowed()  # and the flush, when due
        except Exception as error:  # noqa: BLE001 - a decision is never changed by its counting
            _dropped(runtime, error)
        return allow(principal)  # not logged: the gateway's access log records every request

    @staticmethod
    def _counted(
        runtime: Runtime[AuthorizerSettings], authorizer: Authorizer, refusal: str
    ) -> None:
        """The refusal counted for the metrics, and the instance's counts written if due.
        Bookkeeping: whatever fails here is logged, and the decision stands."""
        try:
            authorizer.usage.metric(DECISIONS, outcome=refusal)
            authorizer.usage.flush_if_due()
        except Exception as error:  # noqa: BLE001 - a decision is never changed by its counting
            _dropped(runtime, error)
