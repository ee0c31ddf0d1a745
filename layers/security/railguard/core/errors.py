"""Typed errors. Each names its HTTP status and contract code; `railguard.http` is the one place
that turns them into responses. Messages are written for API clients and never hold a secret."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar


class RailguardError(Exception):
    """Base of every error a client may see. Each subclass names its status and code in its
    class line (`class NotFound(RailguardError, status=404, code="not_found")`) and its message
    for clients in its body."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"
    default_message: ClassVar[str] = "The request could not be completed."

    def __init_subclass__(cls, *, status: int | None = None, code: str | None = None) -> None:
        super().__init_subclass__()  # without them, a subclass keeps its base's status or code
        cls.status = status or cls.status
        cls.code = code or cls.code

    def __init__(self, message: str | None = None, *, details: Mapping[str, Any] | None = None):
        self.message = message or self.default_message
        self.details: dict[str, Any] = dict(details or {})
        super().__init__(self.message)


class MalformedBody(RailguardError, status=400, code="malformed_body"):
    """A body that is not UTF-8 JSON, repeats a key or nests too deeply (the body guards)."""

    default_message = "The request body is not valid UTF-8 JSON."


class ValidationFailed(RailguardError, status=400, code="validation_error"):
    """A request its model or the layer's rules refuse (pydantic's as `details.fields`)."""

    default_message = "The request is not valid."


class Unauthenticated(RailguardError, status=401, code="unauthenticated"):
    """No valid credential: missing, malformed, expired or revoked."""

    default_message = "A valid credential is required."


class InvalidCredentials(Unauthenticated, status=401, code="invalid_credentials"):
    """Login failed. One body for an unknown email and a wrong password (no enumeration)."""

    default_message = "The email or password is not correct."


class InvalidRefreshToken(Unauthenticated, status=401, code="invalid_refresh_token"):
    """A refresh token that is unknown, expired, already spent or revoked."""

    default_message = "The refresh token is not valid; log in again."


class InvalidMfaToken(Unauthenticated, status=401, code="invalid_mfa_token"):
    """The `mfa_token` of a login is unknown, expired, used, or from before a password change."""

    default_message = "The MFA token is not valid; log in again."


class InvalidMfaCode(Unauthenticated, status=401, code="invalid_mfa_code"):
    """A login's second factor was wrong or replayed; the `mfa_token` stays usable."""

    default_message = "The code is not correct, or was already used."


class InvalidSignature(Unauthenticated, status=401, code="invalid_signature"):
    """A signed webhook call whose signature or timestamp is wrong, or which was seen before."""

    default_message = "The webhook signature is missing, wrong, stale or replayed."


class WrongPin(Unauthenticated, status=401, code="invalid_pin"):
    """An agent UI unlock with a wrong or missing PIN (counted toward its lockout)."""

    default_message = "The PIN is not correct."


class Forbidden(RailguardError, status=403, code="forbidden"):
    """A valid credential that may not do this: its role, its scopes, or the route's rules."""

    default_message = "The credential is not allowed to do this."


class CsrfRefused(Forbidden, status=403, code="csrf"):
    """A refresh or logout by the session cookie without `X-Railguard-Client: browser`: a header
    a cross-site form or link cannot add, so its absence may be a forged request."""

    default_message = (
        "A request that uses the session cookie must send X-Railguard-Client: browser."
    )


class WrongPassword(Forbidden, status=403, code="invalid_current_password"):
    """A signed-in user confirmed an action with the wrong password (not a session problem)."""

    default_message = "The current password is not correct."


class WrongMfaCode(Forbidden, status=403, code="invalid_mfa_code"):
    """A signed-in user confirmed an MFA change with a wrong or replayed code."""

    default_message = "The code is not correct, or was already used."


class MfaRequired(Forbidden, status=403, code="mfa_required"):
    """The workspace requires MFA and the caller has not turned it on (the function says so: an
    authorizer's refusal cannot carry a code)."""

    default_message = "This workspace requires multi-factor authentication; turn it on first."


class NotFound(RailguardError, status=404, code="not_found"):
    """No such resource where the caller may look (another workspace's looks the same)."""

    default_message = "No such resource."


class Conflict(RailguardError, status=409, code="conflict"):
    """A duplicate, or a change that met a concurrent one."""

    default_message = "The request conflicts with the current state."


class PayloadTooLarge(RailguardError, status=413, code="payload_too_large"):
    """A body over 64 KiB (the body guards)."""

    default_message = "The request body is larger than 64 KiB."


class UnsupportedMediaType(RailguardError, status=400, code="unsupported_media_type"):
    """400, not 415: the contract answers every body that is not JSON with 400."""

    default_message = "Request bodies must be application/json."


class RateLimited(RailguardError, status=429, code="rate_limited"):
    """Over a rate limit; `Retry-After` says when to come back. `details` name the limit
    (`{"limit": "workspace" | "key" | "user", "class": ...}`); `headers`: the limit's
    `RateLimit-*` headers."""

    default_message = "Too many requests."

    def __init__(
        self,
        retry_after_seconds: int,
        message: str | None = None,
        *,
        details: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ):
        super().__init__(message, details=details)
        self.retry_after_seconds = max(1, retry_after_seconds)
        self.headers = dict(headers or {})


class ServiceUnavailable(RailguardError, status=503, code="service_unavailable"):
    """A dependency (DynamoDB, KMS) failed or throttled; the client may retry."""

    default_message = "The service is briefly unavailable; retry shortly."
    retry_after_seconds = 1


class ConfigurationError(Exception):
    """The function's environment does not satisfy its settings model: a deployment bug."""
