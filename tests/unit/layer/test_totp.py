"""TOTP codes and their acceptance rule, and recovery codes: RFC 6238's test vectors, drift of
one step either way on a frozen clock, and each step accepted once."""

from __future__ import annotations

import base64
import re
from urllib.parse import parse_qs, urlparse

import pyotp
import pytest

from railguard.crypto import totp
from railguard.identity.mfa import RECOVERY_CODE_COUNT, new_recovery_codes, recovery_code_digest

# RFC 6238 Appendix B: the SHA-1 seed "12345678901234567890", 8 digits, 30-second steps.
RFC_SEED = base64.b32encode(b"12345678901234567890").decode()
RFC_VECTORS = [
    (59, "94287082"),
    (1111111109, "07081804"),
    (1111111111, "14050471"),
    (1234567890, "89005924"),
    (2000000000, "69279037"),
    (20000000000, "65353130"),
]
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
NOW = 1_800_000_015.0  # 15 s into a step
T = int(NOW) // 30


@pytest.mark.parametrize(("unix_time", "expected"), RFC_VECTORS)
def test_codes_match_rfc_6238_appendix_b(unix_time: int, expected: str) -> None:
    # Given the RFC's seed and time / When the code of that time's step is computed
    step = totp.time_step(unix_time)
    # Then it is the RFC's, and the 6-digit code is its last six digits (dynamic truncation)
    assert totp.code_at(RFC_SEED, step, digits=8) == expected
    assert totp.code_at(RFC_SEED, step) == expected[-6:]


@pytest.mark.parametrize(("unix_time", "expected"), RFC_VECTORS)
def test_an_rfc_code_is_accepted_for_its_own_step(unix_time: int, expected: str) -> None:
    # Given a frozen clock at the RFC's time / When its 6-digit code is checked
    step = totp.accepted_step(RFC_SEED, expected[-6:], now=unix_time, last_step=None)
    # Then it is accepted for exactly that step
    assert step == unix_time // 30


@pytest.mark.parametrize("offset", [-1, 0, 1])
def test_one_step_of_drift_either_way_is_accepted(offset: int) -> None:
    # Given the code of step T + offset, from an authenticator app (pyotp itself)
    code = pyotp.TOTP(SECRET).at(NOW + 30 * offset)
    # When it is checked on a clock frozen at step T / Then it is accepted for its step
    assert totp.accepted_step(SECRET, code, now=NOW, last_step=None) == T + offset


@pytest.mark.parametrize("offset", [-3, -2, 2, 3])
def test_two_steps_or_more_away_are_refused(offset: int) -> None:
    code = pyotp.TOTP(SECRET).at(NOW + 30 * offset)
    assert totp.accepted_step(SECRET, code, now=NOW, last_step=None) is None


def test_a_step_at_or_before_the_last_accepted_one_is_refused() -> None:
    # Given step T accepted already
    codes = {offset: pyotp.TOTP(SECRET).at(NOW + 30 * offset) for offset in (-1, 0, 1)}
    # When the codes of T-1, T and T+1 come / Then only T+1 is still accepted
    assert totp.accepted_step(SECRET, codes[-1], now=NOW, last_step=T) is None
    assert totp.accepted_step(SECRET, codes[0], now=NOW, last_step=T) is None
    assert totp.accepted_step(SECRET, codes[1], now=NOW, last_step=T) == T + 1


@pytest.mark.parametrize("code", ["", "12345", "1234567", "12345a", "١٢٣٤٥٦", " 123456", "12 456"])
def test_what_is_not_six_ascii_digits_is_refused_without_computing(code: str) -> None:
    assert totp.is_code_shaped(code) is False
    assert totp.accepted_step(SECRET, code, now=NOW, last_step=None) is None


def test_a_new_secret_has_160_random_bits_in_base32() -> None:
    secrets = {totp.new_secret() for _ in range(100)}
    assert len(secrets) == 100
    for secret in secrets:
        assert re.fullmatch(r"[A-Z2-7]{32}", secret)
        assert len(base64.b32decode(secret)) == 20


def test_the_provisioning_uri_names_issuer_account_and_parameters() -> None:
    # Given a secret and an account / When the otpauth URI is made
    uri = urlparse(totp.provisioning_uri(SECRET, "ada@example.com"))
    query = parse_qs(uri.query)
    # Then an authenticator app reads the issuer, the account and the secret from it
    assert (uri.scheme, uri.netloc) == ("otpauth", "totp")
    assert uri.path == "/Railguard:ada%40example.com"
    assert query["secret"] == [SECRET]
    assert query["issuer"] == ["Railguard"]
    # And pyotp's parser, as an app's, computes the same codes from it
    parsed = pyotp.parse_uri(totp.provisioning_uri(SECRET, "ada@example.com"))
    assert isinstance(parsed, pyotp.TOTP)
    assert parsed.at(NOW) == totp.code_at(SECRET, T)


def test_the_qr_code_is_an_svg_element() -> None:
    svg = totp.qr_svg(totp.provisioning_uri(SECRET, "ada@example.com"))
    assert svg.startswith("<svg")
    assert svg.endswith("</svg>")
    assert "<script" not in svg


def test_recovery_codes_are_ten_distinct_80_bit_codes() -> None:
    codes = new_recovery_codes()
    assert len(codes) == RECOVERY_CODE_COUNT == len(set(codes))
    for code in codes:
        assert re.fullmatch(r"([0-9A-HJKMNP-TV-Z]{4}-){3}[0-9A-HJKMNP-TV-Z]{4}", code)


def test_a_recovery_code_is_recognised_however_it_is_typed() -> None:
    # Given a code as shown
    code = "7K3M-Q9XA-F2R1-0WZB"
    digest = recovery_code_digest(code)
    # When typed in lower case, without hyphens, with spaces, or O and I for 0 and 1
    typed = [
        "7k3m-q9xa-f2r1-0wzb",
        "7K3MQ9XAF2R10WZB",
        "7K3M Q9XA F2R1 0WZB",
        "7K3M-Q9XA-F2RI-OWZB",
    ]
    # Then it is the same code
    assert digest is not None
    assert {recovery_code_digest(variant) for variant in typed} == {digest}


@pytest.mark.parametrize(
    "junk", ["", "123456", "7K3M-Q9XA-F2R1-0WZ", "7K3M-Q9XA-F2R1-0WZBX", "UUUU" * 4]
)
def test_what_cannot_be_a_recovery_code_has_no_digest(junk: str) -> None:
    assert recovery_code_digest(junk) is None
