"""Authentication routes (contract sections 3 and 4): signup, login (and its MFA step), refresh,
logout, and the public keys that verify access tokens. All public: the credential is in the
body, or for a browser in the refresh cookie (`railguard.http.browser_sessions`)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.shared.cookies import Cookie
from pydantic import BaseModel, EmailStr, Field, SecretStr

from railguard.access.throttle import ACCOUNT_SUBJECT_KEY_NAME
from railguard.core.runtime import Runtime
from railguard.core.settings import AuditSettings, EnvelopeSettings, TokenSettings
from railguard.crypto.public_keys import PublicKeys
from railguard.crypto.signing_keys import SigningKeyRing
from railguard.crypto.tokens import TokenAudience
from railguard.http import ApiFunction, Data, RequestModel, ViewModel
from railguard.http.browser_sessions import BrowserSession, ClientHeader
from railguard.http.models import DisplayName
from railguard.http.responses import JSON_CONTENT_TYPE
from railguard.identity.accounts import Accounts
from railguard.identity.logins import ClientInfo, Logins, MfaChallenge, TokenPair


@dataclass(frozen=True, kw_only=True)
class AuthSettings(TokenSettings, EnvelopeSettings, AuditSettings):
    """Issues tokens (signing key under KMS) and keeps accounts and sessions in the table."""


class AuthServices:
    """What the routes call; each part is built on first use."""

    def __init__(self, runtime: Runtime[AuthSettings]):
        self._runtime = runtime

    @cached_property
    def accounts(self) -> Accounts:
        return Accounts.of_runtime(self._runtime)

    @cached_property
    def logins(self) -> Logins:
        runtime = self._runtime
        settings = runtime.settings
        return Logins(
            runtime.table,
            runtime.clock,
            signing_keys=SigningKeyRing(runtime.table, runtime.envelope, runtime.clock),
            audience=TokenAudience(settings.token_issuer, settings.token_audience),
            envelope=runtime.envelope,
            audit=runtime.audit_trail,
            account_subjects=runtime.keyed_hash(ACCOUNT_SUBJECT_KEY_NAME),
        )

    @cached_property
    def public_keys(self) -> PublicKeys:
        return PublicKeys(self._runtime.table, self._runtime.clock)


api = ApiFunction(AuthSettings, AuthServices, tag="auth")


# -- models -----------------------------------------------------------------------------
class SignupRequest(RequestModel):
    email: EmailStr = Field(max_length=254)
    password: SecretStr = Field(description="12 to 256 characters; common passwords are refused")
    name: DisplayName


class LoginRequest(RequestModel):
    email: EmailStr = Field(max_length=254)
    password: SecretStr


class MfaVerifyRequest(RequestModel):
    # Long enough that any token sent by mistake (an access token) is refused as not an MFA
    # token (401), not as malformed.
    mfa_token: SecretStr = Field(max_length=4096)
    code: SecretStr = Field(
        max_length=64, description="A 6-digit TOTP code, or an unused recovery code"
    )


class RefreshTokenRequest(RequestModel):
    refresh_token: SecretStr | None = Field(
        default=None,
        max_length=512,
        description="Required, unless a browser sends it as the `rg_refresh` cookie "
        "(with `X-Railguard-Client: browser`)",
    )


class User(BaseModel):
    id: str
    email: str
    name: str
    mfa_enabled: bool


class NewAccountWorkspace(BaseModel):
    """The workspace made with an account: `{id, name, role}` (contract section 4)."""

    id: str
    name: str
    role: Literal["owner", "admin", "user"]


class SignupResult(BaseModel):
    user: User
    workspace: NewAccountWorkspace


class BrowserTokens(ViewModel):
    """The tokens of a browser (`X-Railguard-Client: browser`): the refresh token is in the
    `rg_refresh` cookie, not here."""

    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - the scheme name
    expires_in: int


class Tokens(BrowserTokens):
    refresh_token: str


class MfaRequired(ViewModel):
    """A login of a user with MFA on: answer at /auth/mfa/verify within `expires_in` seconds."""

    mfa_required: Literal[True] = True
    mfa_token: str
    expires_in: int


# The answer of a route that issues tokens (the refresh token in a browser's cookie, not the body).
IssuedTokens = Response[Data[Tokens | BrowserTokens]]


class Jwks(BaseModel):
    keys: list[dict[str, str]]


def _body_token(body: RefreshTokenRequest | None) -> str | None:
    token = body.refresh_token if body is not None else None
    return token.get_secret_value() if token is not None else None


def _client() -> ClientInfo:
    event = api.app.current_event
    return ClientInfo(
        source_ip=event.request_context.http.source_ip,
        user_agent=event.headers.get("user-agent", ""),
    )


def _session(client: str | None) -> BrowserSession:
    return BrowserSession.of(api.app.current_event, client)


def _ok[T](data: T, cookies: list[Cookie] | None = None) -> Response[Data[T]]:
    return Response(200, JSON_CONTENT_TYPE, Data(data=data), cookies=cookies)


def _tokens(pair: TokenPair, session: BrowserSession) -> Tokens | BrowserTokens:
    """The new tokens for the body: for a browser, all but the refresh token (its cookie's)."""
    return BrowserTokens.model_validate(pair) if session.browser else Tokens.model_validate(pair)


# -- routes -----------------------------------------------------------------------------
_BROWSER_TOKENS = (
    "With `X-Railguard-Client: browser`, the refresh token is set as the `rg_refresh` cookie "
    "(HttpOnly, SameSite=Strict, Path=/api/v1/auth, Max-Age its remaining life, Secure except "
    "over plain HTTP to a loopback address) and `data` has no `refresh_token`."
)
_BY_COOKIE = (
    "Without `refresh_token` in the body, the `rg_refresh` cookie is used, and the request "
    "must send `X-Railguard-Client: browser` (else 403 `csrf`); a browser without the cookie "
    "(or with several) gets 401."
)


@api.route(
    "POST /api/v1/auth/signup",
    "Create an account and its first workspace (10 attempts an hour per address)",
    status=201,
)
def sign_up(body: SignupRequest) -> Data[SignupResult]:
    profile, workspace = api.services.accounts.sign_up(
        body.email, body.password.get_secret_value(), body.name, source_ip=_client().source_ip
    )
    result = SignupResult(
        user=User(
            id=profile.id, email=profile.email, name=profile.name, mfa_enabled=profile.mfa_enabled
        ),
        workspace=NewAccountWorkspace(id=workspace.id, name=workspace.name, role=workspace.role),
    )
    return Data(data=result)


@api.route(
    "POST /api/v1/auth/login",
    "Log in for an access and a refresh token",
    description=_BROWSER_TOKENS,
)
def log_in(
    body: LoginRequest, client: ClientHeader = None
) -> Response[Data[Tokens | BrowserTokens | MfaRequired]]:
    outcome = api.services.logins.log_in(body.email, body.password.get_secret_value(), _client())
    if isinstance(outcome, MfaChallenge):
        return _ok(MfaRequired.model_validate(outcome))
    session = _session(client)
    return _ok(_tokens(outcome, session), session.issuing(outcome))


@api.route(
    "POST /api/v1/auth/mfa/verify",
    "Answer a login's MFA challenge with a TOTP or recovery code",
    description=_BROWSER_TOKENS,
)
def verify_mfa(body: MfaVerifyRequest, client: ClientHeader = None) -> IssuedTokens:
    pair = api.services.logins.complete_mfa(
        body.mfa_token.get_secret_value(), body.code.get_secret_value(), _client()
    )
    session = _session(client)
    return _ok(_tokens(pair, session), session.issuing(pair))


@api.route(
    "POST /api/v1/auth/refresh",
    "Spend a refresh token for a new pair",
    description=_BROWSER_TOKENS + " " + _BY_COOKIE,
)
def refresh(body: RefreshTokenRequest | None = None, client: ClientHeader = None) -> IssuedTokens:
    session = _session(client)
    token = session.refresh_token(_body_token(body))
    pair = api.services.logins.refresh(token, _client())
    return _ok(_tokens(pair, session), session.issuing(pair))


@api.route(
    "POST /api/v1/auth/logout",
    "End the session of a refresh token",
    description=_BY_COOKIE + " A browser's logout clears the cookie.",
    status=204,
)
def log_out(body: RefreshTokenRequest | None = None, client: ClientHeader = None) -> Response[None]:
    session = _session(client)
    api.services.logins.log_out(*session.tokens_to_end(_body_token(body)))
    return Response(204, cookies=session.clearing())


@api.route("GET /.well-known/jwks.json", "Public keys that verify access tokens")
def jwks() -> Jwks:
    return Jwks(keys=api.services.public_keys.jwks())


lambda_handler = api.handler
