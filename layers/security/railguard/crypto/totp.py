"""Time-based one-time passwords (RFC 6238) as the contract fixes them: SHA-1, 6 digits, 30-second
steps, one step of drift either way. Pure: the clock's time and the last accepted step are
passed in; spending a step (each code once) is `railguard.identity.mfa`'s conditional write.

The HOTP arithmetic is pyotp's; what is ours is the acceptance rule: a code is accepted for the
earliest step within the drift window that is later than the last accepted step, so a code is
never accepted twice and never after a later one (RFC 6238 section 5.2).
"""

from __future__ import annotations

import hmac

import pyotp

DIGITS = 6
STEP_SECONDS = 30
DRIFT_STEPS = 1
SECRET_BASE32_CHARACTERS = 32  # 160 bits, RFC 4226's recommended shared-secret length
ISSUER = "Railguard"


def new_secret() -> str:
    """A base32 secret of 160 bits from the CSPRNG (pyotp draws from `secrets`)."""
    return pyotp.random_base32(SECRET_BASE32_CHARACTERS)


def time_step(now: float) -> int:
    return int(now) // STEP_SECONDS


def code_at(secret: str, step: int, *, digits: int = DIGITS) -> str:
    """The code of `step` (RFC 6238's T). `digits` is 8 only for RFC 6238's test vectors."""
    return pyotp.TOTP(secret, digits=digits, interval=STEP_SECONDS).generate_otp(step)


def is_code_shaped(code: str) -> bool:
    return len(code) == DIGITS and code.isascii() and code.isdigit()


def accepted_step(secret: str, code: str, *, now: float, last_step: int | None) -> int | None:
    """The step `code` is accepted for at `now`, or None: a step within the drift window whose
    code it is, later than `last_step`, the earliest if several match."""
    if not is_code_shaped(code):
        return None
    current = time_step(now)
    accepted = None
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        # Every candidate is compared, in constant time: the time taken says nothing of which.
        matches = hmac.compare_digest(code_at(secret, step), code)
        if matches and accepted is None and (last_step is None or step > last_step):
            accepted = step
    return accepted


def provisioning_uri(secret: str, account_name: str) -> str:
    """The `otpauth://totp/...` URI authenticator apps read from the QR code."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(
        name=account_name, issuer_name=ISSUER
    )


def qr_svg(uri: str) -> str:
    """The URI as an SVG QR code (a complete `<svg>` element, no XML declaration)."""
    # Imported here: only setup draws a QR code, and segno is a large import.
    import segno  # noqa: PLC0415

    return str(segno.make(uri, error="m", micro=False).svg_inline(scale=4))
