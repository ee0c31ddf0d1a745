"""Issue 16, finding 9: what a per-address budget counts a source address as. IPv4 per address
(an IPv4-mapped IPv6 address as its IPv4 address), IPv6 per /64, so one subscriber's /64 is one
budget and not 2^64 of them."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from railguard.access.network import UNREADABLE_SOURCE, budget_subject


@pytest.mark.parametrize(
    ("source_ip", "subject"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("203.0.113.8", "203.0.113.8"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("::ffff:cb00:7107", "203.0.113.7"),
        ("::FFFF:CB00:7107", "203.0.113.7"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:db8:1:2::1", "2001:db8:1:2::/64"),
        ("2001:DB8:1:2:FFFF:FFFF:FFFF:FFFF", "2001:db8:1:2::/64"),
        ("2001:0db8:0001:0002:0000:0000:0000:0001", "2001:db8:1:2::/64"),
        ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
        ("::1", "::/64"),
    ],
)
def test_finding_9_ipv4_counts_per_address_and_ipv6_per_64(source_ip: str, subject: str) -> None:
    assert budget_subject(source_ip) == subject


def test_finding_9_two_addresses_of_one_64_share_a_subject_and_the_next_64_does_not() -> None:
    first, second = "2001:db8:aa:bb::1", "2001:db8:aa:bb:ffff:1234:5678:9abc"
    neighbour = "2001:db8:aa:bc::1"
    assert budget_subject(first) == budget_subject(second)
    assert budget_subject(first) != budget_subject(neighbour)


@pytest.mark.parametrize(
    "source_ip", ["", "not-an-ip", "fe80::1%eth0", "010.0.0.1", "203.0.113.7/32", "1.2.3"]
)
def test_an_unreadable_source_shares_one_subject(source_ip: str) -> None:
    # API Gateway never sends these; should one arrive, it cannot mint a budget of its own.
    assert budget_subject(source_ip) == UNREADABLE_SOURCE


def _not_mapped(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is None


@given(st.ip_addresses(v=6).filter(_not_mapped))
def test_an_ipv6_subject_is_the_64_that_holds_the_address(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> None:
    network = ipaddress.IPv6Network(budget_subject(str(address)))
    assert network.prefixlen == 64
    assert address in network
    assert budget_subject(address.exploded.upper()) == str(network)


@given(st.ip_addresses(v=4))
def test_an_ipv4_subject_is_the_address_however_it_arrives(
    address: ipaddress.IPv4Address,
) -> None:
    number = int(address)
    spellings = [str(address), f"::ffff:{address}", f"::ffff:{number >> 16:x}:{number & 0xFFFF:x}"]
    assert {budget_subject(spelling) for spelling in spellings} == {str(address)}
