"""Browser sessions (contract section 4, v1.1): the refresh token in a cookie a page cannot read.

A request to log in, answer MFA or refresh that sends `X-Railguard-Client: browser` gets its
refresh token as the `rg_refresh` cookie (HttpOnly, SameSite=Strict, scoped to the auth routes,
living as long as the token) instead of in the body. A refresh or logout without a token in the
body reads that cookie, and then requires the same header: a cross-site form or link cannot add
it (and the CORS preflight does not allow it: `railguard.http.cors`), so a request that has the
cookie but not the header is refused (403 `csrf`) before anything is spent.

The cookie is `Secure` unless the request came over plain HTTP to a loopback address (the local
stack): API Gateway only serves HTTPS, and says which scheme and host it was reached by in
`X-Forwarded-Proto` and `requestContext.domainName`. Neither the cookie nor the token is ever
logged.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Header
from aws_lambda_powertools.shared.cookies import Cookie, SameSite
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from railguard.core.errors import CsrfRefused, InvalidRefreshToken, ValidationFailed
from railguard.identity.logins import TokenPair

COOKIE_NAME = "rg_refresh"
COOKIE_PATH = "/api/v1/auth"
BROWSER_CLIENT = "browser"
# More than a browser holds unless cookies were planted beside its own (cookie tossing).
MAX_COOKIES_ENDED = 8

ClientHeader = Annotated[
    str | None,
    Header(
        alias="X-Railguard-Client",
        description="`browser`: the refresh token travels in the `rg_refresh` cookie (HttpOnly, "
        "SameSite=Strict, Path=/api/v1/auth) instead of the body, and a refresh or logout "
        "without a body token reads it from there.",
    ),
]

# What a JSON client that forgot the field got before the body became optional.
_MISSING_TOKEN = {"field": "body.refresh_token", "type": "missing", "message": "Field required"}


def _is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class BrowserSession:
    """What one request says about the browser flow."""

    browser: bool  # it sent `X-Railguard-Client: browser`
    secure: bool  # the cookies it gets are `Secure`
    # The values of the `rg_refresh` cookies it sent: never let a token reach a log through repr().
    presented: tuple[str, ...] = field(repr=False)

    @classmethod
    def of(cls, event: APIGatewayProxyEventV2, client: str | None) -> BrowserSession:
        """`client`: the `X-Railguard-Client` header's value."""
        over_http = event.headers.get("x-forwarded-proto") == "http"
        prefix = COOKIE_NAME + "="
        return cls(
            browser=client == BROWSER_CLIENT,
            secure=not (over_http and _is_loopback(event.request_context.domain_name)),
            presented=tuple(
                cookie.removeprefix(prefix)
                for cookie in event.cookies or []
                if cookie.startswith(prefix)
            ),
        )

    def refresh_token(self, in_body: str | None) -> str:
        """The refresh token a refresh or logout acts on: the body's when it has one, else the
        cookie's, which needs the browser header (`CsrfRefused`) and must be one and only one
        (`InvalidRefreshToken`: of several, none is guessed at). Neither: `ValidationFailed`."""
        if in_body is not None:
            return in_body
        if self.presented and not self.browser:
            raise CsrfRefused
        if not self.browser:
            raise ValidationFailed(details={"fields": [_MISSING_TOKEN]})
        if len(self.presented) != 1:
            raise InvalidRefreshToken
        return self.presented[0]

    def tokens_to_end(self, in_body: str | None) -> tuple[str, ...]:
        """The refresh tokens a logout ends: the body's, else every cookie's (the header is
        required as for a refresh). Ending them all, none or several, and clearing the cookie
        whatever they were, means a 204 leaves no session of this browser alive: a cookie
        planted beside the real one (cookie tossing) cannot turn a logout into a failure that
        the real session outlives."""
        if in_body is not None:
            return (in_body,)
        if self.presented and not self.browser:
            raise CsrfRefused
        if not self.browser:
            raise ValidationFailed(details={"fields": [_MISSING_TOKEN]})
        # Each costs reads and a write: repeats once, and a bounded number (a header of copies
        # must not buy hundreds of table operations).
        return tuple(dict.fromkeys(self.presented))[:MAX_COOKIES_ENDED]

    def issuing(self, pair: TokenPair) -> list[Cookie]:
        """The cookie that carries `pair`'s refresh token, for a browser; none otherwise."""
        return [self._cookie(pair.refresh_token, pair.refresh_expires_in)] if self.browser else []

    def clearing(self) -> list[Cookie]:
        """The cookie that makes a browser forget its refresh token; none for other clients."""
        return [self._cookie("", 0)] if self.browser else []

    def _cookie(self, value: str, max_age: int) -> Cookie:
        return Cookie(
            COOKIE_NAME,
            value,
            path=COOKIE_PATH,
            secure=self.secure,
            http_only=True,
            max_age=max_age,
            same_site=SameSite.STRICT_MODE,
        )
