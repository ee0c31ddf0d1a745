"""`AuthorizerFunction`: the entry point of the Lambda authorizer.

API Gateway HTTP API, payload 2.0, simple responses: `{"isAuthorized": true, "context": {...}}`
lets the request through with the principal in the context; `{"isAuthorized": false}` is a 403;
an error whose message is exactly `Unauthorized` is a 401. Every other failure denies.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from railguard.authorizer.credentials import extract_credential
from railguard.errors import Forbidden, Unauthenticated
from railguard.principal import Principal
from railguard.runtime import Runtime
from railguard.settings import TableSettings


class AuthorizerSettings(TableSettings):
    """The authorizer reads keys and sessions from the table."""


class Unauthorized(Exception):
    """Raised to make API Gateway answer 401 `{"message": "Unauthorized"}`."""

    def __init__(self) -> None:
        super().__init__("Unauthorized")


def allow(principal: Principal) -> dict[str, Any]:
    return {"isAuthorized": True, "context": principal.to_context()}


DENY: dict[str, Any] = {"isAuthorized": False}


class AuthorizerFunction:
    def __init__(self, settings_model: type[AuthorizerSettings] = AuthorizerSettings):
        self._settings_model = settings_model
        self._runtime: Runtime[AuthorizerSettings] | None = None

    def reset(self) -> None:
        self._runtime = None

    def decide(self, event: dict[str, Any]) -> Principal:
        """The principal this request acts as, or `Unauthenticated` / `Forbidden`.

        No credential kind is verifiable yet: keys and sessions arrive with their issues, so a
        well-formed credential is still refused, after the shape checks that cost no reads.
        """
        credential = extract_credential(event.get("headers") or {})
        raise Unauthenticated(f"{credential.kind} credentials are not accepted yet")

    def handler(self, event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        if self._runtime is None:
            self._runtime = Runtime(self._settings_model.from_environ(os.environ))
        logger = self._runtime.logger
        request_id = (event.get("requestContext") or {}).get("requestId")
        try:
            principal = self.decide(event)
        except Unauthenticated:
            logger.info("refused: no valid credential", extra={"request_id": request_id})
            raise Unauthorized from None
        except Forbidden as refusal:
            logger.info(
                "refused: forbidden", extra={"request_id": request_id, "reason": refusal.message}
            )
            return DENY
        except Exception as error:
            # Denied, and logged with its traceback so the bug is seen, never hidden.
            logger.exception(
                "authorizer error: denied",
                extra={"request_id": request_id, "error_type": type(error).__name__},
            )
            return DENY
        return allow(principal)
