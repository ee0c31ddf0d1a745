"""security.txt (RFC 9116) as the docs function serves it: the contract's fields, exactly, with
an Expires always ahead of the time it is written."""

from __future__ import annotations

from datetime import UTC, datetime

from railguard.http.security_txt import LIFETIME_SECONDS, SecurityTxt

NOW = datetime(2026, 11, 29, 4, 30, 22, tzinfo=UTC).timestamp()


def test_the_file_has_the_contracts_fields_in_order() -> None:
    # Given a contact and a policy, and no canonical address
    file = SecurityTxt(contact="mailto:security@example.org", policy="https://example.org/p")
    # When it is written at a given time
    text = file.render(NOW)
    # Then it is the four fields, one a line, Expires 30 days later
    assert text == (
        "Contact: mailto:security@example.org\n"
        "Expires: 2026-12-29T04:30:22Z\n"
        "Policy: https://example.org/p\n"
        "Preferred-Languages: en\n"
    )


def test_a_canonical_address_is_the_last_field() -> None:
    file = SecurityTxt(
        contact="https://example.org/report",
        policy="https://example.org/p",
        canonical="https://api.example.org/.well-known/security.txt",
    )
    assert file.render(NOW).splitlines()[-1] == (
        "Canonical: https://api.example.org/.well-known/security.txt"
    )


def test_expires_is_ahead_of_the_time_written_and_under_a_year() -> None:
    # RFC 9116 section 2.5.5: in the future, and preferably less than a year ahead
    assert 0 < LIFETIME_SECONDS < 365 * 86_400
    fraction = NOW + 0.999  # written in whole seconds, rounded down
    line = SecurityTxt("mailto:s@example.org", "https://example.org/p").render(fraction)
    expires = datetime.strptime(line.splitlines()[1], "Expires: %Y-%m-%dT%H:%M:%SZ")
    assert expires.replace(tzinfo=UTC).timestamp() == NOW + LIFETIME_SECONDS
