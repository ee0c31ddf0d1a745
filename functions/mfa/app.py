"""The signed-in user's MFA (contract section 4): TOTP setup and enabling, disabling, and new
recovery codes. Users only: no API key scope reaches these routes."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, Field, SecretStr

from railguard.access.throttle import ACCOUNT_SUBJECT_KEY_NAME
from railguard.core.runtime import Runtime
from railguard.core.settings import AuditSettings, EnvelopeSettings
from railguard.http import ApiFunction, Data, RequestModel
from railguard.identity.mfa import Mfa


@dataclass(frozen=True, kw_only=True)
class MfaSettings(EnvelopeSettings, AuditSettings):
    """Seals TOTP secrets under KMS and records every change of a user's factors; unseals the
    server key that names accounts' failure budgets."""


def _mfa(runtime: Runtime[MfaSettings]) -> Mfa:
    subjects = runtime.keyed_hash(ACCOUNT_SUBJECT_KEY_NAME)  # names accounts' failure budgets
    return Mfa(
        runtime.table,
        runtime.envelope,
        runtime.clock,
        runtime.audit_trail,
        account_subjects=subjects,
    )


api = ApiFunction(MfaSettings, _mfa, tag="mfa")

_CODE = Field(max_length=64, description="A 6-digit TOTP code, or an unused recovery code")
_PASSWORD = Field(description="The user's password; a wrong one is 401 invalid_credentials")


class TotpSetup(BaseModel):
    secret: str = Field(description="Base32, 160 bits; shown by this response only")
    otpauth_uri: str
    qr_svg: str = Field(description="The otpauth URI as an SVG QR code")


class EnableRequest(RequestModel):
    code: SecretStr = Field(max_length=16, description="A 6-digit code of the new authenticator")
    password: SecretStr = _PASSWORD


class SecondFactorConfirmation(RequestModel):
    """A change of MFA settings: a current code and the password."""

    code: SecretStr = _CODE
    password: SecretStr = _PASSWORD


class RecoveryCodes(BaseModel):
    recovery_codes: list[str] = Field(description="Ten single-use codes, shown this once")


@api.route(
    "POST /api/v1/me/mfa/totp/setup",
    "Start setting up an authenticator app (pending until enabled)",
)
def set_up() -> Data[TotpSetup]:
    enrollment = api.services.set_up(api.principal.id)
    return Data(
        data=TotpSetup(
            secret=enrollment.secret, otpauth_uri=enrollment.otpauth_uri, qr_svg=enrollment.qr_svg
        )
    )


@api.route(
    "POST /api/v1/me/mfa/totp/enable",
    "Turn MFA on with the password and a code of the new authenticator; ends the user's"
    " other sessions",
)
def enable(body: EnableRequest) -> Data[RecoveryCodes]:
    principal = api.principal
    codes = api.services.enable(
        principal.id,
        principal.session_id,
        body.code.get_secret_value(),
        body.password.get_secret_value(),
    )
    return Data(data=RecoveryCodes(recovery_codes=codes))


@api.route(
    "POST /api/v1/me/mfa/totp/disable", "Turn MFA off; ends the user's other sessions", status=204
)
def disable(body: SecondFactorConfirmation) -> None:
    principal = api.principal
    api.services.disable(
        principal.id,
        principal.session_id,
        body.code.get_secret_value(),
        body.password.get_secret_value(),
    )


@api.route(
    "POST /api/v1/me/mfa/recovery-codes",
    "Replace the recovery codes (password and a code); the old set stops working",
)
def replace_recovery_codes(body: SecondFactorConfirmation) -> Data[RecoveryCodes]:
    codes = api.services.replace_recovery_codes(
        api.principal.id, body.code.get_secret_value(), body.password.get_secret_value()
    )
    return Data(data=RecoveryCodes(recovery_codes=codes))


lambda_handler = api.handler
