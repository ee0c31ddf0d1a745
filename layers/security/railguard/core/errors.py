"""Typed errors. Each names its HTTP status and contract code; `railguard.http` is the one place
that turns them into responses. Messages are written for API clients and never hold a secret."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar


class RailguardError(Exception):
    """Base of every error a client may see. Subclasses fix the status and the code."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"
    default_message: ClassVar[str] = "The request could not be completed."

    def __init__(self, message: str | None = None, *, details: Mapping[str, Any] | None = None):
        self.message = message or self.default_message
        self.details: dict[str, Any] = dict(details or {})
        super().__init__(self.message)


class MalformedBody(RailguardError):
    status = 400
    code = "malformed_body"
    default_message = "The request body is not valid UTF-8 JSON."


class ValidationFailed(RailguardError):
    status = 400
    code = "validation_error"
    default_message = "The request is not valid."


class Unauthenticated(RailguardError):
    status = 401
    code = "unauthenticated"
    default_message = "A valid credential is required."


class InvalidCredentials(Unauthenticated):
    """Login failed. One body for an unknown email and a wrong password (no enumeration)."""

    code = "invalid_credentials"
    default_message = "The email or password is not correct."


class InvalidRefreshToken(Unauthenticated):
    code = "invalid_refresh_token"
    default_message = "The refresh token is not valid; log in again."


class InvalidMfaToken(Unauthenticated):
    """The `mfa_token` of a login is unknown, expired, used, or from before a password change."""

    code = "invalid_mfa_token"
    default_message = "The MFA token is not valid; log in again."


class InvalidMfaCode(Unauthenticated):
    """A login's second factor was wrong or replayed; the `mfa_token` stays usable."""

    code = "invalid_mfa_code"
    default_message = "The code is not correct, or was already used."


class InvalidSignature(Unauthenticated):
    """A signed webhook call whose signature or timestamp is wrong, or which was seen before."""

    code = "invalid_signature"
    default_message = "The webhook signature is missing, wrong, stale or replayed."


class WrongPin(Unauthenticated):
    code = "invalid_pin"
    default_message = "The PIN is not correct."


class Forbidden(RailguardError):
    status = 403
    code = "forbidden"
    default_message = "The credential is not allowed to do this."


class CsrfRefused(Forbidden):
    """A refresh or logout by the session cookie without `X-Railguard-Client: browser`: a header
    a cross-site form or link cannot add, so its absence may be a forged request."""

    code = "csrf"
    default_message = (
        "A request that uses the session cookie must send X-Railguard-Client: browser."
    )


class WrongPassword(Forbidden):
    """A signed-in user confirmed an action with the wrong password (not a session problem)."""

    code = "invalid_current_password"
    default_message = "The current password is not correct."


class WrongMfaCode(Forbidden):
    """A signed-in user confirmed an MFA change with a wrong or replayed code."""

    code = "invalid_mfa_code"
    default_message = "The code is not correct, or was already used."


class MfaRequired(Forbidden):
    """The workspace requires MFA and the caller has not turned it on (the function says so: an
    authorizer's refusal cannot carry a code)."""

    code = "mfa_required"
    default_message = "This workspace requires multi-factor authentication; turn it on first."


class NotFound(RailguardError):
    status = 404
    code = "not_found"
    default_message = "No such resource."


class Conflict(RailguardError):
    status = 409
    code = "conflict"
    default_message = "The request conflicts with the current state."


class PayloadTooLarge(RailguardError):
    status = 413
    code = "payload_too_large"
    default_message = "The request body is larger than 64 KiB."


class UnsupportedMediaType(RailguardError):
    """400, not 415: the contract answers every body that is not JSON with 400."""

    status = 400
    code = "unsupported_media_type"
    default_message = "Request bodies must be application/json."


class RateLimited(RailguardError):
    status = 429
    code = "rate_limited"
    default_message = "Too many requests."

    def __init__(self, retry_after_seconds: int, message: str | None = None):
        super().__init__(message)
        self.retry_after_seconds = max(1, retry_after_seconds)


class ServiceUnavailable(RailguardError):
    """A dependency (DynamoDB, KMS) failed or throttled; the client may retry."""

    status = 503
    code = "service_unavailable"
    default_message = "The service is briefly unavailable; retry shortly."
    retry_after_seconds = 1


class ConfigurationError(Exception):
    """The function's environment does not satisfy its settings model: a deployment bug."""
